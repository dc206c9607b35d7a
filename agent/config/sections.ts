// Config sections owned by other folders (drivers/, adapters/), embedded here so the daemon validates one file.
import { z } from 'zod';
import { cameraConfigSchema } from '../../drivers/config.ts';

export const cameraSourceSchema = cameraConfigSchema;

// Interim until adapters/ commits opcuaConfigSchema / mqttConfigSchema: the documented keys, strict.
export const opcuaSectionSchema = z.strictObject({
  enabled: z.boolean().default(true),
  port: z.number().int().min(0).max(65535).default(4840),
  allowAnonymous: z.boolean().default(false),
});

export const mqttSectionSchema = z.strictObject({
  url: z.string().regex(/^(mqtts?|wss?):\/\/.+/, 'url must look like mqtt://host:1883'),
});
