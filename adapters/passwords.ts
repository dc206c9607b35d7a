// Password logins shared by the OPC UA server (adapters/opcua/users.ts) and the agent's web logins (agent/users.ts):
// the scrypt hash format `scrypt$<salt hex>$<key hex>`, a constant-cost check (unknown users are checked against a
// dummy record with the same parameters, then a constant-time comparison) and the failed-login throttle (a growing,
// capped delay per key — a user name, a client address — that a success or a quiet period resets).
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const KEY_LEN = 32;

export const PASSWORD_HASH_PATTERN = /^scrypt\$[0-9a-f]+\$[0-9a-f]+$/;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('hex')}$${scryptSync(password, salt, KEY_LEN).toString('hex')}`;
}

export interface PasswordRecord { salt: Buffer; key: Buffer }

/** The record of a stored hash, or (demos only) of a clear password, hashed now with a fresh salt. */
export function passwordRecord(source: { passwordHash?: string | undefined; password?: string | undefined }): PasswordRecord {
  if (source.passwordHash) {
    const [, saltHex, keyHex] = source.passwordHash.split('$');
    return { salt: Buffer.from(saltHex!, 'hex'), key: Buffer.from(keyHex!, 'hex') };
  }
  const salt = randomBytes(16);
  return { salt, key: scryptSync(source.password ?? '', salt, KEY_LEN) };
}

/** A record no password matches: what an unknown user name is checked against, at the same cost as a real one. */
export const dummyRecord = (): PasswordRecord => ({ salt: randomBytes(16), key: randomBytes(KEY_LEN) });

function derive(password: string, salt: Buffer, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, len, (err, key) => (err ? reject(err) : resolve(key))));
}

/** One scrypt and a constant-time comparison, whatever the record. */
export async function passwordMatches(password: string, record: PasswordRecord): Promise<boolean> {
  const key = await derive(password, record.salt, record.key.length);
  return timingSafeEqual(key, record.key);
}

export interface ThrottleSettings { afterFailures: number; initialDelayMs: number; maxDelayMs: number; resetAfterMs: number }

export const DEFAULT_THROTTLE: ThrottleSettings = { afterFailures: 3, initialDelayMs: 500, maxDelayMs: 8000, resetAfterMs: 60_000 };
const MAX_TRACKED = 10_000;

/** Failure counts per key; `delayFor(keys)` is the wait the next attempt gets (the worst of its keys). */
export function createLoginThrottle(throttle: ThrottleSettings = DEFAULT_THROTTLE) {
  const failures = new Map<string, { count: number; last: number }>();
  const countOf = (key: string, now: number) => {
    const f = failures.get(key);
    if (!f) return 0;
    if (now - f.last > throttle.resetAfterMs) {
      failures.delete(key);
      return 0;
    }
    return f.count;
  };
  return {
    delayFor(keys: string[], now = Date.now()): number {
      const n = Math.max(...keys.map((k) => countOf(k, now)));
      return n < throttle.afterFailures ? 0 : Math.min(throttle.initialDelayMs * 2 ** Math.min(n - throttle.afterFailures, 30), throttle.maxDelayMs);
    },
    fail(keys: string[], now = Date.now()): void {
      for (const k of keys) {
        const count = countOf(k, now) + 1;
        failures.delete(k); // re-inserted last: the map stays in least-recently-failed order
        failures.set(k, { count, last: now });
      }
      while (failures.size > MAX_TRACKED) failures.delete(failures.keys().next().value as string);
    },
    /** How long until the worst of these keys may try again (0: now); for a server that refuses instead of waiting. */
    waitLeft(keys: string[], now = Date.now()): number {
      const delay = this.delayFor(keys, now);
      if (delay === 0) return 0;
      const last = Math.max(...keys.map((k) => failures.get(k)?.last ?? 0));
      return Math.max(0, last + delay - now);
    },
    succeed(keys: string[]): void {
      for (const k of keys) failures.delete(k);
    },
  };
}
