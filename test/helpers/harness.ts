// Starts a real daemon in-process from a config object (free port, temp data folder): used by tests and tools/soak.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { configSchema, type AgentConfig } from '../../agent/config/schema.ts';
import { Daemon, type DaemonParts } from '../../agent/daemon.ts';
import { realParts } from '../../agent/parts.ts';

export const DEMO_PACK = new URL('../../models/packs/demo-tiny', import.meta.url).pathname;
export const TEST_TOKEN = 'test-token-1234';

export interface Harness {
  daemon: Daemon;
  url: string;
  dataDir: string;
  config: AgentConfig;
  /** Writes with the token. */
  api<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  dataDir?: string;
  keepData?: boolean;
  parts?: Partial<DaemonParts>;
  logLevel?: string;
}

/** A synthetic-camera config; `extra` is merged on top (cameras replace the default list). */
export function testConfig(extra: Record<string, unknown> = {}, dataDir = '.'): AgentConfig {
  const base: Record<string, unknown> = {
    agent: { id: 'test', dataDir, logLevel: 'silent', shutdownTimeoutMs: 8000 },
    model: { pack: DEMO_PACK, maxBatch: 4, batchTimeoutMs: 5, inferTimeoutMs: 2000, threads: 1 },
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 4, width: 160, height: 120, seed: 3 } }],
    http: { host: '127.0.0.1', port: 0, token: TEST_TOKEN },
    store: { minFreeMb: 0 },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    merged[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' && !Array.isArray(base[k]) ? { ...(base[k] as object), ...(v as object) } : v;
  }
  (merged.agent as Record<string, unknown>).dataDir = dataDir;
  return configSchema.parse(merged);
}

export async function startHarness(extra: Record<string, unknown> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'agent-test-'));
  const config = testConfig(extra, dataDir);
  const daemon = new Daemon({
    configFile: '<test>',
    config,
    parts: { ...realParts(), ...opts.parts },
    logger: pino({ level: opts.logLevel ?? 'silent' }),
    version: 'test',
  });
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop().catch(() => {});
    throw err;
  }
  const url = daemon.http!.url.replace('localhost', '127.0.0.1');
  return {
    daemon,
    url,
    dataDir,
    config,
    api: async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const isBuf = Buffer.isBuffer(body);
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(body === undefined ? {} : { 'content-type': isBuf ? 'image/png' : 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: isBuf ? new Uint8Array(body as Buffer) : JSON.stringify(body) }),
      });
      const type = res.headers.get('content-type') ?? '';
      return { status: res.status, body: (type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer())) as T };
    },
    stop: async () => {
      await daemon.stop();
      if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
/** `what` names what was awaited in the timeout error; a function is asked only then (it may say what it saw). */
export async function waitFor<T>(fn: () => T | Promise<T>, ms: number, what: string | (() => string)): Promise<Exclude<T, false | null | undefined | 0 | "">> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as Exclude<T, false | null | undefined | 0 | "">;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
