// Username/password users and their roles. plc → Operator (writes Control/Recipe), operator → Operator + Engineer
// (also calls methods), viewer → Observer.
// Every login attempt costs the same: one scrypt (the record's salt, or a dummy record's for an unknown user, same
// parameters) and a constant-time comparison, so the answer time does not tell which user names exist. Clear-text
// demo passwords are hashed once at start-up and then checked the same way. Repeated failures from one client
// address or for one user name slow the next attempts down (growing delay, capped); a success or a quiet period
// resets it. Failures are reported (user name, client, reason; never the password) with rate-limited logging.
// The hash format, the check and the throttle are shared with the agent's web logins (adapters/passwords.ts).
import { makeRoles, type NodeId, WellKnownRoles } from 'node-opcua';
import { createLoginThrottle, DEFAULT_THROTTLE, dummyRecord, passwordMatches, passwordRecord } from '../passwords.ts';
import type { OpcUaConfig, OpcUaUser } from './config.ts';

export { hashPassword } from '../passwords.ts';

export const ROLE_NODES = {
  plc: makeRoles([WellKnownRoles.Operator]),
  operator: makeRoles([WellKnownRoles.Operator, WellKnownRoles.Engineer]),
  viewer: makeRoles([WellKnownRoles.Observer]),
} satisfies Record<OpcUaUser['role'], NodeId[]>;

export type LoginFailureReason = 'unknown_user' | 'bad_password';

export interface LoginFailure {
  username: string;
  /** The client's address:port as the server saw it ('' when unknown). */
  client: string;
  reason: LoginFailureReason;
  /** The delay this attempt waited before it was checked (0 when not throttled). */
  delayedMs: number;
}

export type LoginThrottle = OpcUaConfig['loginThrottle'];

export interface UserManagerOptions {
  throttle?: LoginThrottle;
  /** Every failed attempt (for metrics); logging is done here, rate-limited. */
  onFailure?: (f: LoginFailure) => void;
  log?: { warn(msg: string): void };
  /** Log lines per user/client and window; beyond that one summary line at the end of the window. */
  logPerWindow?: number;
  logWindowMs?: number;
}

const MAX_TRACKED = 10_000;

/** A user name as it may appear in a log line: printable, at most 64 characters, quoted. */
const shown = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);

export function createUserManager(users: OpcUaUser[], demo: boolean, opts: UserManagerOptions = {}) {
  const byName = new Map(users.map((u) => [u.username, { user: u, record: passwordRecord(u) }]));
  // Unknown users are checked against this record: same KDF, parameters and key length as a real one.
  const dummy = dummyRecord();
  const throttle = createLoginThrottle(opts.throttle ?? DEFAULT_THROTTLE);
  const logPerWindow = opts.logPerWindow ?? 5;
  const logWindowMs = opts.logWindowMs ?? 60_000;
  type LogWindow = { username: string; address: string; start: number; logged: number; suppressed: number; timer: NodeJS.Timeout | null };
  const logWindows = new Map<string, LogWindow>();
  // All keys together also get a bound (a client spraying user names makes a new key per name).
  const all: LogWindow = { username: '', address: '', start: 0, logged: 0, suppressed: 0, timer: null };
  const logTotalPerWindow = logPerWindow * 10;

  const logFailure = (f: LoginFailure, address: string) => {
    const log = opts.log;
    if (!log) return;
    const key = JSON.stringify([f.username, address]);
    const now = Date.now();
    let w = logWindows.get(key);
    if (!w || now - w.start >= logWindowMs) {
      if (w) flush(key, w);
      w = { username: f.username, address, start: now, logged: 0, suppressed: 0, timer: null };
      logWindows.set(key, w);
      if (logWindows.size > MAX_TRACKED) {
        const [oldKey, old] = logWindows.entries().next().value as [string, LogWindow];
        flush(oldKey, old);
      }
    }
    if (now - all.start >= logWindowMs) {
      flushAll();
      all.start = now;
      all.logged = 0;
    }
    if (w.logged < logPerWindow && all.logged >= logTotalPerWindow) {
      all.suppressed++;
      if (!all.timer) {
        all.timer = setTimeout(flushAll, Math.max(0, all.start + logWindowMs - now));
        all.timer.unref();
      }
      return;
    }
    if (w.logged < logPerWindow) {
      w.logged++;
      all.logged++;
      const why = f.reason === 'unknown_user' ? 'unknown user' : 'wrong password';
      log.warn(`opcua: login failed for user ${shown(f.username)} from ${f.client || 'an unknown client'}: ${why}${f.delayedMs ? ` (after a ${f.delayedMs} ms throttle delay)` : ''}`);
      return;
    }
    w.suppressed++;
    if (!w.timer) {
      const win = w;
      win.timer = setTimeout(() => flush(key, win), Math.max(0, win.start + logWindowMs - now));
      win.timer.unref();
    }
  };
  const flushAll = () => {
    if (all.timer) clearTimeout(all.timer);
    all.timer = null;
    if (all.suppressed) opts.log?.warn(`opcua: ${all.suppressed} more failed login(s) for various users and clients in ${Math.round(logWindowMs / 1000)} s, not logged one by one`);
    all.suppressed = 0;
  };
  const flush = (key: string, w: LogWindow) => {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    if (logWindows.get(key) === w) logWindows.delete(key);
    if (w.suppressed === 0) return;
    opts.log?.warn(`opcua: ${w.suppressed} more failed login(s) for user ${shown(w.username)} from ${w.address || 'an unknown client'} in ${Math.round(logWindowMs / 1000)} s, not logged one by one`);
    w.suppressed = 0;
  };

  /** Constant cost whether or not the user exists: scrypt against the user's record or the dummy, constant-time compare. */
  async function verify(username: string, password: string): Promise<{ ok: boolean; reason?: LoginFailureReason }> {
    const entry = byName.get(username);
    const record = entry?.record ?? dummy;
    const match = await passwordMatches(password, record);
    if (!entry) return { ok: false, reason: 'unknown_user' };
    return match ? { ok: true } : { ok: false, reason: 'bad_password' };
  }

  return {
    verify,
    /** One login attempt as the server sees it: throttle delay, check, then failure accounting or reset. */
    async login(username: string, password: string, client: { address: string; port?: number }): Promise<boolean> {
      const keys = [`u:${username}`, `a:${client.address}`];
      const delayedMs = throttle.delayFor(keys);
      if (delayedMs) await new Promise((r) => setTimeout(r, delayedMs));
      const r = await verify(username, password);
      if (r.ok) {
        throttle.succeed(keys);
        return true;
      }
      throttle.fail(keys);
      const f: LoginFailure = { username, client: client.address ? `${client.address}${client.port ? `:${client.port}` : ''}` : '', reason: r.reason!, delayedMs };
      logFailure(f, client.address);
      opts.onFailure?.(f);
      return false;
    },
    /** Pending summary lines are written now (server stop). */
    close() {
      for (const [k, w] of [...logWindows]) flush(k, w);
      flushAll();
    },
    getUserRoles(username: string): NodeId[] {
      const u = byName.get(username)?.user;
      if (u) return ROLE_NODES[u.role];
      // Anonymous sessions exist only in demo mode; there they may drive the station like an operator.
      return demo && username === 'anonymous' ? [...ROLE_NODES.operator, ...makeRoles([WellKnownRoles.Anonymous])] : makeRoles([WellKnownRoles.Anonymous]);
    },
  };
}
