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
  .refine((c) => !c.enabled || c.demo || c.users.length > 0, { message: 'no users configured: add opcua.users (or set opcua.demo: true for anonymous access)', path: ['users'] });

/** adapters/ MQTT section; site, line and agentId default to the agent section's. */
export const mqttSectionSchema = mqttConfigSchema.partial({ site: true, line: true, agentId: true });
