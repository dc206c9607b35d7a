// The daemon's one YAML config. Strict everywhere: an unknown key is an error, never silently ignored.
import { z } from 'zod';
import { PASSWORD_HASH_PATTERN } from '../../adapters/passwords.ts';
import { cameraSourceSchema, mqttSectionSchema, opcuaSectionSchema } from './sections.ts';

const id = (what: string) => z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, `${what}: 1-64 letters, digits, "_" or "-"`);

export const agentSchema = z.strictObject({
  id: id('agent id').default('agent1'),
  site: id('site').default('site'),
  line: id('line').default('line'),
  /** SQLite database, backups and logs live here; relative paths are relative to the config file's folder's parent working dir. */
  dataDir: z.string().min(1).default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** SIGTERM to exit; must stay under 10 s so a service manager never has to SIGKILL. */
  shutdownTimeoutMs: z.number().int().min(500).max(10_000).default(8000),
  refuseNetworkFs: z.boolean().default(false),
});

export const modelSchema = z.strictObject({
  /** Folder of a model pack (manifest.json + ONNX files). */
  pack: z.string().min(1),
  /** Where inference runs; each unavailable provider falls back to the next with one log line: tensorrt → cuda → cpu. */
  device: z.enum(['cpu', 'cuda', 'tensorrt']).default('cpu'),
  /** The GPU (cuda, tensorrt). */
  deviceId: z.number().int().min(0).max(15).default(0),
  /** TensorRT engines: fp16, a cache folder (the first start builds them, minutes; later starts reuse them), workspace. */
  tensorrt: z.strictObject({
    fp16: z.boolean().default(true),
    /** Default: <agent.dataDir>/tensorrt-cache. */
    engineCacheDir: z.string().min(1).optional(),
    workspaceMb: z.number().int().min(64).max(1_048_576).optional(),
  }).prefault({}),
  /** ORT's CPU memory pool (on: fastest; it keeps the largest call's memory for the process's life). Off: resident
   *  memory follows the current call (observed at ViT-L S=518: 2.05 vs 3.55 GB after a 4-shot registration, per
   *  frame 1.09–1.30× slower). */
  cpuMemArena: z.boolean().default(true),
  /** Frames per inference call, across cameras. */
  maxBatch: z.number().int().min(1).max(64).default(4),
  /** How long the worker waits to fill a batch after the first frame. */
  batchTimeoutMs: z.number().int().min(0).max(1000).default(10),
  /** An inference slower than this is a hang: its frames become NO_VERDICT{timeout} and the session is recreated. */
  inferTimeoutMs: z.number().int().min(50).max(120_000).default(2000),
  threads: z.number().int().min(1).max(64).optional(),
  /** Inference is DEGRADED in Health while a hang (timeout) or a session restart happened within this many seconds. */
  degradedWindowS: z.number().int().min(1).max(86_400).default(300),
});

export const queueSchema = z.strictObject({
  size: z.number().int().min(1).max(1000).default(4),
  /** drop-oldest keeps the line's newest parts; drop-newest keeps order of arrival. Either way a dropped frame is a NO_VERDICT{dropped}. */
  policy: z.enum(['drop-oldest', 'drop-newest']).default('drop-oldest'),
});

export const cameraSchema = z.strictObject({
  /** PLC-facing station id (OPC UA ns=1;s=<station>.…, MQTT P/<station>/…). One camera per station. */
  station: id('station'),
  queue: queueSchema.prefault({}),
  /** Keep masks of: failed parts (default), every result, or none. Retention still applies. */
  keepMasks: z.enum(['fail', 'all', 'none']).default('fail'),
  /** Keep the part's frame (JPEG) and anomaly map with: failed parts (default), every result, or none. Retention applies. */
  keepImages: z.enum(['fail', 'all', 'none']).default('fail'),
  /** JPEG quality of kept frames. */
  imageQuality: z.number().int().min(30).max(100).default(85),
  /** Kept frames larger than this (longest side, px) are scaled down, keeping aspect. */
  imageMaxSide: z.number().int().min(64).max(8192).default(1280),
  source: cameraSourceSchema,
});

export const storeSchema = z.strictObject({
  retentionDays: z.number().positive().default(30),
  maskRetentionDays: z.number().positive().default(7),
  /** Kept frames and anomaly maps (cameras[].keepImages); the default is maskRetentionDays. */
  imageRetentionDays: z.number().positive().optional(),
  /** Free space the store keeps on its disk; below it the oldest images, then masks, then results, are deleted. */
  minFreeMb: z.number().min(0).default(512),
  walCheckpointMb: z.number().positive().default(64),
  pruneIntervalS: z.number().positive().default(60),
});

// ---- web logins (agent/users.ts) ----
export const HTTP_ROLES = ['viewer', 'operator', 'engineer'] as const;
export const httpUserSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'http.users[].name: 1-64 letters, digits, "_", "." or "-"')
    .refine((n) => n !== 'api-token', 'http.users[].name: "api-token" is how the bearer token is audited; pick another name'),
  /** scrypt hash `scrypt$<salt hex>$<key hex>`, the OPC UA users' format: `adaptclip-edge hash-password`. */
  passwordHash: z.string().regex(PASSWORD_HASH_PATTERN, 'http.users[].passwordHash must look like scrypt$<salt hex>$<key hex>; make one with `adaptclip-edge hash-password`'),
  /** viewer: reads; operator: changeover, shot capture, trigger; engineer: also thresholds, products, shot delete, restore. */
  role: z.enum(HTTP_ROLES),
});
export const httpSessionSchema = z.strictObject({
  /** A browser login ends after this long without the user doing anything (background refreshes do not count). */
  idleTimeoutMin: z.number().positive().max(24 * 60).default(30),
  /** Secure cookie flag: turn on when the agent is reached over HTTPS (a reverse proxy), never on plain HTTP. */
  cookieSecure: z.boolean().default(false),
});
// ---- end web logins ----

export const httpSchema = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(8080),
  /** Bearer token for every write (POST/PATCH/DELETE). Without one, writes are refused. */
  token: z.string().min(8, 'http.token: at least 8 characters').optional(),
  /** Read the token from this environment variable instead of the file. */
  tokenEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  /** Reads (GET) without a token; fine on a demo, turn off on a shared network. */
  openReads: z.boolean().default(true),
  maxUploadMb: z.number().positive().max(100).default(10),
  /** Largest uploaded shot, in pixels (width × height from the image header, checked before decoding): 413 above it. */
  maxUploadPixels: z.number().int().min(1_000_000).max(64_000_000).default(25_000_000),
  /** Base URL the outside world reaches this agent on (mask URIs); default http://<host>:<port>. */
  publicUrl: z.string().regex(/^https?:\/\/[^/]+$/, 'http.publicUrl: like http://10.0.0.5:8080, no trailing slash').optional(),
  /** Browser logins with roles; without any, the token alone guards writes (as before). */
  users: z.array(httpUserSchema).default([]).superRefine((users, ctx) => {
    const seen = new Set<string>();
    users.forEach((u, i) => {
      if (seen.has(u.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate user name "${u.name}"; each user needs their own`, input: u.name });
      seen.add(u.name);
    });
  }),
  session: httpSessionSchema.prefault({}),
});

/** Test-only fault injection (agent/pipeline/faults.ts), never set in production. A config key, not an injected part,
 *  because tests that start the real CLI from a YAML file (watchdog, kill -9) need it too. */
export const faultsSchema = z.strictObject({
  /** Every inference call after the first `hangAfterCalls` sleeps `hangMs` before answering. */
  hangAfterCalls: z.number().int().min(0).optional(),
  hangCalls: z.number().int().min(1).default(1),
  hangMs: z.number().int().min(0).default(0),
  /** After `failAfterCalls` calls, the next `failCalls` calls throw (a session error). */
  failAfterCalls: z.number().int().min(0).optional(),
  failCalls: z.number().int().min(1).default(1),
  /** A cold session: each new session's first inference per graph (zero-/few-shot) and batch size sleeps `coldMs` first. */
  coldMs: z.number().int().min(0).optional(),
});

// ---- shift counters: scheduled shift starts ----
const shiftTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'shifts.times: each like "06:00" (24 h, local time; seconds allowed: "06:00:30")');
export const shiftsSchema = z.strictObject({
  /** Each time a new shift starts (the shift counters of every station reset), in `timezone` (default: the box's). */
  times: z.array(shiftTime).default([]),
  /** An IANA zone like "Europe/Berlin"; default the box's local time zone. */
  timezone: z.string().refine((tz) => { try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return true; } catch { return false; } }, 'shifts.timezone: an IANA time zone like "Europe/Berlin"').optional(),
});

export const configSchema = z.strictObject({
  agent: agentSchema.prefault({}),
  model: modelSchema,
  cameras: z.array(cameraSchema).default([]),
  store: storeSchema.prefault({}),
  http: httpSchema.prefault({}),
  opcua: opcuaSectionSchema.optional(),
  mqtt: mqttSectionSchema.optional(),
  faults: faultsSchema.optional(),
  shifts: shiftsSchema.optional(),
}).superRefine((cfg, ctx) => {
  // Runs even when other fields are invalid (every problem in one pass), so it reads the entries defensively.
  const seen = new Map<string, number>();
  const stations = new Map<string, number>();
  const list = (cfg as { cameras?: unknown } | null)?.cameras;
  const cameras: unknown[] = Array.isArray(list) ? list : [];
  cameras.forEach((entry, i) => {
    const c = (entry ?? {}) as { station?: unknown; source?: { id?: unknown } };
    const camId = c.source?.id;
    if (typeof camId === 'string') {
      if (seen.has(camId)) ctx.addIssue({ code: 'custom', path: ['cameras', i, 'source', 'id'], message: `duplicate camera id (also cameras[${seen.get(camId)}]); give each camera its own id`, input: camId });
      seen.set(camId, i);
    }
    if (typeof c.station === 'string') {
      if (stations.has(c.station)) ctx.addIssue({ code: 'custom', path: ['cameras', i, 'station'], message: `station already used by cameras[${stations.get(c.station)}]; one camera per station`, input: c.station });
      stations.set(c.station, i);
    }
  });
}, { when: () => true });

export type AgentConfig = z.output<typeof configSchema>;
export type CameraEntry = AgentConfig['cameras'][number];
