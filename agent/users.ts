// The web UI's users (config http.users) and their roles: the password check and the failed-login throttle are the
// OPC UA server's (adapters/passwords.ts), so both doors answer a wrong password alike and cost the same for unknown
// user names. A throttled attempt is refused at once (429 with the wait) rather than held open.
import { createLoginThrottle, dummyRecord, passwordMatches, passwordRecord, type ThrottleSettings } from '../adapters/passwords.ts';
import { HTTP_ROLES } from './config/schema.ts';

export type Role = (typeof HTTP_ROLES)[number];

/** Who a request acts as: a logged-in user, or the bearer token (machine clients, engineer rights). */
export interface Caller { name: string; role: Role; via: 'session' | 'token' }

export const TOKEN_CALLER: Caller = { name: 'api-token', role: 'engineer', via: 'token' };

/** Refused outright (429) while on: 3 failures lock the user name and the address for 2 s, doubling to 1 min. */
const HTTP_THROTTLE: ThrottleSettings = { afterFailures: 3, initialDelayMs: 2000, maxDelayMs: 60_000, resetAfterMs: 5 * 60_000 };

const RANK: Record<Role, number> = { viewer: 0, operator: 1, engineer: 2 };
export const mayAct = (role: Role, needed: Role) => RANK[role] >= RANK[needed];

export type LoginResult =
  | { ok: true; user: { name: string; role: Role } }
  | { ok: false; reason: 'wrong' }
  | { ok: false; reason: 'throttled'; retryAfterS: number };

export interface UserDirectory {
  readonly enabled: boolean;
  login(name: string, password: string, clientAddress: string): Promise<LoginResult>;
  /** The role a user has now (a user removed or changed by a reload loses or changes it at once). */
  roleOf(name: string): Role | undefined;
}

export function createUserDirectory(
  users: { name: string; passwordHash: string; role: Role }[],
  opts: { throttle?: ThrottleSettings; log?: { warn(obj: object, msg: string): void } } = {},
): UserDirectory {
  const byName = new Map(users.map((u) => [u.name, { role: u.role, record: passwordRecord(u) }]));
  const dummy = dummyRecord();
  const throttle = createLoginThrottle(opts.throttle ?? HTTP_THROTTLE);
  return {
    enabled: users.length > 0,
    async login(name, password, clientAddress) {
      const keys = [`u:${name}`, `a:${clientAddress}`];
      const wait = throttle.waitLeft(keys);
      if (wait > 0) return { ok: false, reason: 'throttled', retryAfterS: Math.ceil(wait / 1000) };
      const entry = byName.get(name);
      const match = await passwordMatches(password, entry?.record ?? dummy);
      if (entry && match) {
        throttle.succeed(keys);
        return { ok: true, user: { name, role: entry.role } };
      }
      throttle.fail(keys);
      // The name is shown quoted and cut (it is what the client typed); never the password.
      opts.log?.warn({ user: JSON.stringify(name.slice(0, 64)), client: clientAddress, reason: entry ? 'wrong password' : 'unknown user' }, 'http: login failed');
      return { ok: false, reason: 'wrong' };
    },
    roleOf: (name) => byName.get(name)?.role,
  };
}
