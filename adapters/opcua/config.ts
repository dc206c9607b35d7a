// Config section `opcua` (PROTOCOLS.md "OPC UA"); the daemon embeds this schema in its own config.
import { isIP } from 'node:net';
import { z } from 'zod';
import { OPCUA_SERVER_LIMITS, RESULT_BUFFER_SIZE } from '../protocol.ts';

const ID = /^[A-Za-z0-9_-]+$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const opcuaUserSchema = z
  .object({
    username: z.string().min(1),
    /** scrypt hash `scrypt$<salt hex>$<key hex>` (see hashPassword) or, for demos only, `password` in clear. */
    passwordHash: z.string().regex(/^scrypt\$[0-9a-f]+\$[0-9a-f]+$/, 'passwordHash must look like scrypt$<salt hex>$<key hex>; create one with hashPassword()').optional(),
    password: z.string().min(1).optional(),
    /** plc: write Control.* and Recipe.Requested*; operator: also call methods; viewer: read and subscribe only. */
    role: z.enum(['plc', 'operator', 'viewer']),
  })
  .strict()
  .refine((u) => !!u.passwordHash !== !!u.password, { message: 'give exactly one of passwordHash or password' });
export type OpcUaUser = z.infer<typeof opcuaUserSchema>;

export const SECURITY_POLICIES = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;

export const opcuaConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(4840),
    /** Hostname in the endpoint URL and certificate (what clients connect to); it does not restrict where the server listens. */
    hostname: z.string().min(1).optional(),
    /** The local address the server listens on (e.g. 127.0.0.1 or the PLC network's interface address); default: all interfaces. */
    host: z
      .string()
      .refine((h) => isIP(h) !== 0 || (!/^[0-9.]+$/.test(h) && HOSTNAME.test(h)), 'must be an IP address of this machine (e.g. 192.168.10.5, 127.0.0.1, ::1) or a host name; leave it out to listen on all interfaces')
      .optional(),
    /** The agent's data directory: the PKI lives in <dataDir>/pki/{own,trusted,rejected,issuers}. */
    dataDir: z.string().min(1),
    stations: z.array(z.string().regex(ID, 'station ids must match [A-Za-z0-9_-]+')).min(1),
    users: z.array(opcuaUserSchema).default([]),
    /** Demo only: allows anonymous sessions (still SignAndEncrypt) and then grants them the operator role. */
    demo: z.boolean().default(false),
    securityPolicies: z.array(z.enum(SECURITY_POLICIES)).min(1).default([...SECURITY_POLICIES]),
    /** false: a restricted None endpoint answers GetEndpoints only (no session can be activated on it); true: none at all. */
    disableDiscovery: z.boolean().default(false),
    /** Trigger accepted but no result within this time → Verdict 3 with ErrorCode (handshake rule 4). */
    triggerTimeoutMs: z.number().int().positive().default(2000),
    /** Buffer: results wait for the PLC's acknowledgement (rule 3). None: newest result always shown. */
    ackMode: z.enum(['Buffer', 'None']).default('Buffer'),
    resultBufferSize: z.number().int().min(1).max(64).default(RESULT_BUFFER_SIZE),
    heartbeatIntervalMs: z.number().int().positive().default(500),
    plcHeartbeatTimeoutMs: z.number().int().positive().default(2000),
    /** Which results raise a VisionResultEventType event. */
    resultEvents: z.enum(['nok', 'all']).default('nok'),
    resultHistory: z.number().int().min(1000).default(1000),
    maxSessions: z.number().int().positive().default(OPCUA_SERVER_LIMITS.maxSessions),
    /** The OPC 40100-1 Machine Vision view: one VisionSystemType object per station under Objects (adapters/README.md). */
    machineVision: z.boolean().default(true),
    /** Failed logins (per client address and per user name): from the `afterFailures`-th on, each further attempt
     *  waits initialDelayMs, doubling up to maxDelayMs; a success, or resetAfterMs without a failure, resets it. */
    loginThrottle: z
      .strictObject({
        afterFailures: z.number().int().min(1).default(3),
        initialDelayMs: z.number().int().min(0).max(60_000).default(500),
        maxDelayMs: z.number().int().min(0).max(60_000).default(8000),
        resetAfterMs: z.number().int().positive().default(60_000),
      })
      .prefault({}),
  })
  .strict()
  .refine((c) => c.demo || c.users.length > 0, { message: 'no users configured: add opcua.users (or set opcua.demo: true for anonymous access)', path: ['users'] });
export type OpcUaConfig = z.infer<typeof opcuaConfigSchema>;
