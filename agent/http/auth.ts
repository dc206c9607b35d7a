// Browser logins: a session cookie (@fastify/cookie + @fastify/session, httpOnly, SameSite=Strict, in memory: a restart
// logs everyone out), login/logout/session routes, the idle timeout, and `identify()`, which server.ts's guard uses
// to learn who a request acts as (a session user, the bearer token, or nobody). Passwords and session ids are never
// logged or echoed.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import session, { type SessionStore } from '@fastify/session';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createUserDirectory, TOKEN_CALLER, type Caller, type Role, type UserDirectory } from '../users.ts';
import { access, HttpError, type ZodApp } from './common.ts';

export const SESSION_COOKIE = 'adaptclip_session';
/** Requests the UI makes on its own (page refresh timers) carry this header; they do not keep a login alive. */
export const BACKGROUND_HEADER = 'x-background';

export interface LoginOptions {
  users: { name: string; passwordHash: string; role: Role }[];
  session: { idleTimeoutMin: number; cookieSecure: boolean };
  log?: { warn(obj: object, msg: string): void };
  /** http.publicUrl: behind a reverse proxy a page's Origin is this address, not the Host the agent is sent. */
  publicUrl?: string | undefined;
}

declare module 'fastify' {
  interface Session { user?: string | undefined; seen?: number; endedIdle?: boolean }
  interface FastifyRequest { caller: Caller | null }
}

/** Why a request has no caller, for the 401's words. */
export type NoCaller = 'none' | 'expired' | 'bad-token';

export interface Auth {
  directory: UserDirectory;
  idleMs: number;
  /** The origin of http.publicUrl: pages served under it are the agent's own. */
  publicOrigin: string | undefined;
  /** The caller, or why there is none. A wrong bearer token counts as no caller even with a valid session. */
  identify(req: FastifyRequest, token: string | undefined): Promise<Caller | NoCaller>;
}

const sameBytes = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** The plugin's in-memory store, but sessions past their expiry are swept (closed browsers never log out). */
function sweptStore(): SessionStore {
  type Stored = Parameters<SessionStore['set']>[1];
  const sessions = new Map<string, Stored>();
  let swept = Date.now();
  return {
    set(id, value, done) {
      sessions.set(id, value);
      const now = Date.now();
      if (now - swept > 60_000) {
        swept = now;
        for (const [k, v] of sessions) if (v.cookie.expires && new Date(v.cookie.expires).getTime() < now) sessions.delete(k);
      }
      done();
    },
    get: (id, done) => done(null, sessions.get(id) ?? null),
    destroy(id, done) {
      sessions.delete(id);
      done();
    },
  };
}

export async function registerLogins(app: ZodApp, opts: LoginOptions): Promise<Auth> {
  const directory = createUserDirectory(opts.users, opts.log ? { log: opts.log } : {});
  const idleMs = opts.session.idleTimeoutMin * 60_000;
  app.decorateRequest('caller', null);
  await app.register(cookie);
  await app.register(session, {
    cookieName: SESSION_COOKIE,
    // In memory only, so a random secret per start is enough (sessions do not outlive the process anyway).
    secret: randomBytes(32).toString('hex'),
    saveUninitialized: false,
    store: sweptStore(),
    // Longer than the idle timeout: identify() ends an idle login itself and can then say so ("session ended").
    cookie: { httpOnly: true, sameSite: 'strict', secure: opts.session.cookieSecure, path: '/', maxAge: 2 * idleMs },
  });

  const identify = async (req: FastifyRequest, token: string | undefined): Promise<Caller | NoCaller> => {
    const header = req.headers.authorization;
    if (header !== undefined) return token !== undefined && sameBytes(header, `Bearer ${token}`) ? TOKEN_CALLER : 'bad-token';
    const name = req.session.get('user');
    if (name === undefined) return req.session.get('endedIdle') ? 'expired' : 'none';
    const role = directory.roleOf(name);
    if (role === undefined) {
      await req.session.destroy();
      return 'none';
    }
    if (Date.now() - (req.session.get('seen') ?? 0) > idleMs) {
      // Logged out, but remembered as "ended", so whatever the user does next can say why (a refresh may come first).
      req.session.set('user', undefined);
      req.session.set('endedIdle', true);
      return 'expired';
    }
    if (req.headers[BACKGROUND_HEADER] === undefined) req.session.set('seen', Date.now());
    return { name, role, via: 'session' };
  };
  const publicOrigin = opts.publicUrl === undefined ? undefined : new URL(opts.publicUrl).origin;
  return { directory, idleMs, publicOrigin, identify };
}

const who = z.object({ name: z.string(), role: z.enum(['viewer', 'operator', 'engineer']) });
const sessionView = z.object({
  loginsEnabled: z.boolean().describe('http.users is configured: the UI shows a login instead of the token box'),
  user: who.nullable().describe('who this browser is logged in as (null: nobody)'),
  idleTimeoutMin: z.number(),
});

/** Another site's page may not log this browser in or out (login CSRF); a client sending no Origin (curl) may. */
function refuseForeignPage(req: FastifyRequest, publicOrigin: string | undefined) {
  if ((req.headers.origin ?? req.headers.referer) === undefined) return;
  const refusal = crossSiteRefusal(req, publicOrigin);
  if (refusal) throw new HttpError(403, refusal);
}

/** POST /auth/login, POST /auth/logout, GET /auth/session: open routes (the login itself is the check). */
export const loginRoutes: FastifyPluginAsyncZod<{ auth: Auth; openReads: boolean }> = async (app, { auth, openReads }) => {
  const open = access('open', openReads);
  const tags = ['session'];
  const idleTimeoutMin = auth.idleMs / 60_000;

  app.post('/auth/login', {
    config: open.config,
    schema: {
      summary: 'Log in with a user of http.users; sets the session cookie (httpOnly, SameSite=Strict)', tags,
      body: z.strictObject({ name: z.string().min(1).max(64), password: z.string().min(1).max(1024) }),
      response: { 200: sessionView, ...open.errors(400, 401, 403, 429) },
    },
  }, async (req, reply) => {
    if (!auth.directory.enabled) throw new HttpError(403, 'logins are not configured (no http.users); use the token');
    refuseForeignPage(req, auth.publicOrigin);
    const r = await auth.directory.login(req.body.name, req.body.password, req.ip);
    if (!r.ok && r.reason === 'throttled') {
      reply.header('retry-after', String(r.retryAfterS));
      throw new HttpError(429, `too many failed logins for this user or from this address; wait ${r.retryAfterS} s and try again`);
    }
    if (!r.ok) throw new HttpError(401, 'wrong user name or password');
    // A new session id at login: an id planted before it (session fixation) is worth nothing.
    await req.session.regenerate();
    req.session.set('user', r.user.name);
    req.session.set('seen', Date.now());
    return { loginsEnabled: true, user: r.user, idleTimeoutMin };
  });

  app.post('/auth/logout', {
    config: open.config,
    schema: { summary: 'Log out: ends this browser\'s session', tags, body: z.strictObject({}).nullish().describe('no fields'), response: { 200: sessionView, ...open.errors(403) } },
  }, async (req) => {
    refuseForeignPage(req, auth.publicOrigin);
    await req.session.destroy();
    return { loginsEnabled: auth.directory.enabled, user: null, idleTimeoutMin };
  });

  app.get('/auth/session', {
    config: open.config,
    schema: { summary: 'Who this browser is logged in as, and whether logins are configured', tags, response: { 200: sessionView } },
  }, async (req) => {
    const caller = req.headers.authorization === undefined ? await auth.identify(req, undefined) : 'none';
    return { loginsEnabled: auth.directory.enabled, user: typeof caller === 'object' ? { name: caller.name, role: caller.role } : null, idleTimeoutMin };
  });
};

/** What a refused role was trying to do, in the words of the 403 ("your role operator may not change thresholds"). */
const ACTIONS: Record<string, string> = {
  'POST /api/products': 'create products',
  'PATCH /api/products/:id': 'change thresholds or rename products',
  'DELETE /api/products/:id': 'delete products',
  'DELETE /api/shots/:id': 'delete shots',
  'POST /api/products/:id/reference-sets/:version/restore': 'restore reference sets',
  'POST /api/stations/:id/activate': 'change the active product (changeover)',
  'POST /api/stations/:id/trigger': 'trigger inspections',
  'PUT /api/products/:id/region': 'change inspection regions',
  'POST /api/stations/:id/counters/reset': 'start a new shift (reset the counters)',
};

export function roleRefusal(req: FastifyRequest, caller: Caller, needed: Role): string {
  const key = `${req.method} ${req.routeOptions.url ?? ''}`;
  const summary = (req.routeOptions.schema as { summary?: string } | undefined)?.summary;
  const what = ACTIONS[key] ?? (summary ? `do this (${summary.replace(/^./, (c) => c.toLowerCase())})` : `use ${key}`);
  return `your role ${caller.role} may not ${what}; ask ${needed === 'engineer' ? 'an engineer' : 'an operator or an engineer'}`;
}

/**
 * A write with the session cookie must come from this agent's own pages: SameSite=Strict keeps the cookie off other
 * sites' requests, and this check refuses one whose Origin (or, without it, Referer) names another site, or neither.
 */
export function crossSiteRefusal(req: FastifyRequest, publicOrigin?: string): string | undefined {
  const from = req.headers.origin ?? req.headers.referer;
  let page: URL | undefined;
  try {
    page = from === undefined || from === 'null' ? undefined : new URL(from);
  } catch {
    page = undefined;
  }
  if (page !== undefined && (page.host === req.headers.host || page.origin === publicOrigin)) return undefined;
  const proxyHint = page === undefined ? '' : publicOrigin === undefined
    ? '; behind a reverse proxy, set http.publicUrl to the address people open'
    : `; the agent's own pages are at ${publicOrigin} (http.publicUrl)`;
  return `cross-site request refused: a change made with a login must come from this agent's own pages (Origin ${from === undefined ? 'missing' : JSON.stringify(from.slice(0, 100))})${proxyHint}; machine clients use the bearer token`;
}
