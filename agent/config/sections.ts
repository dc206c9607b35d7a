// Config sections owned by other folders (drivers/, adapters/), embedded here so the daemon validates one file.
import { z } from 'zod';
import { mqttConfigSchema } from '../../adapters/mqtt/config.ts';
import { cameraConfigSchema } from '../../drivers/config.ts';

export const cameraSourceSchema = cameraConfigSchema;

// Interim until adapters/ commits opcuaConfigSchema: the documented keys, strict.
export const opcuaSectionSchema = z.strictObject({
  enabled: z.boolean().default(true),
  port: z.number().int().min(0).max(65535).default(4840),
  allowAnonymous: z.boolean().default(false),
});

/** adapters/ MQTT section; site, line and agentId default to the agent section's. */
export const mqttSectionSchema = mqttConfigSchema.partial({ site: true, line: true, agentId: true });
