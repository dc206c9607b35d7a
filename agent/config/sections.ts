// Config sections owned by other folders (drivers/, adapters/), embedded here so the daemon validates one file.
import { z } from 'zod';
import { mqttConfigSchema } from '../../adapters/mqtt/config.ts';
import { opcuaConfigSchema } from '../../adapters/opcua/config.ts';
import { cameraConfigSchema } from '../../drivers/config.ts';

export const cameraSourceSchema = cameraConfigSchema;

/** adapters/ OPC UA section, minus what the daemon fills in (dataDir = agent.dataDir, stations = the cameras' stations). */
const { dataDir: _dataDir, stations: _stations, ...opcuaKeys } = opcuaConfigSchema.shape;
export const opcuaSectionSchema = z
  .strictObject({ enabled: z.boolean().default(true), ...opcuaKeys })
  // The cross-field rules run even when other opcua keys are invalid (all problems in one pass): read defensively.
  .superRefine((c, ctx) => {
    const v = (c ?? {}) as { enabled?: unknown; demo?: unknown; users?: unknown };
    if (v.enabled !== false && v.demo !== true && Array.isArray(v.users) && v.users.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['users'], message: 'no users configured: add opcua.users (or set opcua.demo: true for anonymous access)', input: v.users });
    }
    // A user's own "exactly one of" rule is skipped when that user has another error; say it here too (load.ts keeps one).
    (Array.isArray(v.users) ? (v.users as unknown[]) : []).forEach((u, i) => {
      const user = (u ?? {}) as { password?: unknown; passwordHash?: unknown };
      if (u !== null && typeof u === 'object' && !Array.isArray(u) && !!user.password === !!user.passwordHash) ctx.addIssue({ code: 'custom', path: ['users', i], message: 'give exactly one of passwordHash or password', input: '' });
    });
  }, { when: () => true });

/** adapters/ MQTT section; site, line and agentId default to the agent section's. */
export const mqttSectionSchema = mqttConfigSchema.partial({ site: true, line: true, agentId: true });
