// Config section `mqtt` (PROTOCOLS.md "MQTT"); the daemon embeds this schema in its own config.
import { z } from 'zod';

const ID = /^[A-Za-z0-9_-]+$/;
const id = (what: string) => z.string().regex(ID, `${what} must match [A-Za-z0-9_-]+`);

export const outboxLimitsSchema = z
  .object({
    maxMessages: z.number().int().positive().default(200_000),
    maxBytes: z.number().int().positive().default(512 * 1024 * 1024),
    maxAgeS: z.number().int().positive().default(7 * 24 * 3600),
  })
  .strict();
export type OutboxLimits = z.infer<typeof outboxLimitsSchema>;

export const mqttConfigSchema = z
  .object({
    url: z.string().regex(/^(mqtts?|wss?):\/\/.+/, 'url must look like mqtt://host:1883 or mqtts://host:8883'),
    site: id('site'),
    line: id('line'),
    agentId: id('agentId'),
    clientId: z.string().min(1).optional(), // default adaptclip-edge-<agentId>
    username: z.string().optional(),
    password: z.string().optional(),
    tls: z
      .object({
        caFile: z.string().optional(),
        certFile: z.string().optional(), // client certificate authentication
        keyFile: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .optional(),
    keepaliveS: z.number().int().min(1).max(65535).default(15),
    reconnectPeriodMs: z.number().int().min(100).default(2000),
    connectTimeoutMs: z.number().int().min(100).default(10_000),
    maxInFlight: z.number().int().min(1).max(1000).default(32),
    /** On a graceful stop, how long queued messages may still take to reach the broker; the rest stays in the outbox. */
    flushOnStopMs: z.number().int().min(0).max(8000).default(2000),
    statusIntervalS: z.number().positive().default(60),
    metricsIntervalS: z.number().positive().default(10),
    maskExpiryS: z.number().int().positive().default(86_400),
    outbox: outboxLimitsSchema.prefault({}),
  })
  .strict();
export type MqttConfig = z.infer<typeof mqttConfigSchema>;

export function topicPrefix(c: Pick<MqttConfig, 'site' | 'line' | 'agentId'>): string {
  return `adaptclip/v1/${c.site}/${c.line}/${c.agentId}`;
}
