// What every HTTP area module shares: the error type, who may call a route, and the schema pieces the OpenAPI
// document is generated from (error shape, binary bodies and responses).
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AgentApi } from './api.ts';

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * open: no token ever (probes, scrapers, docs, UI files); read: a login or the token unless http.openReads;
 * operator / engineer: a login with at least that role, or the token (engineer rights); write: the same as engineer
 * (the default for a write route until its level is chosen).
 */
export type Access = 'open' | 'read' | 'write' | 'operator' | 'engineer';

/** The role a write level needs (undefined: not a write). */
export const neededRole = (level: Access): 'operator' | 'engineer' | undefined => (level === 'write' || level === 'engineer' ? 'engineer' : level === 'operator' ? 'operator' : undefined);

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

export interface AreaOptions {
  api: AgentApi;
  openReads: boolean;
}

export type ZodApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

const errorBody = z.strictObject({ error: z.string() });
const ERROR_MEANING: Record<number, string> = {
  400: 'bad input',
  401: 'not logged in, session ended, or token missing or wrong',
  403: 'your role may not do this, a cross-site request, or writes (or logins) are disabled (no http.token nor http.users)',
  429: 'too many failed logins: wait (Retry-After) and try again',
  404: 'not found',
  409: 'conflict with the current state',
  413: 'upload too large',
  415: 'not an image / unsupported content type',
  503: 'unavailable (safe mode, inference not running)',
};

/**
 * A route's access level as fastify config (server.ts guards by it), its security entry in the document, and
 * `errors(...codes)`: the `{ error }` responses it documents, plus 401 (and 403 for writes) where a token is needed.
 */
export function access(level: Access, openReads: boolean) {
  const writes = neededRole(level) !== undefined;
  const secured = writes || (level === 'read' && !openReads);
  return {
    config: { access: level },
    security: secured ? ([{ bearer: [] }, { session: [] }] as Record<string, string[]>[]) : undefined,
    errors: (...codes: number[]) => {
      const all = new Set(codes);
      if (secured) all.add(401);
      if (writes) all.add(403);
      return Object.fromEntries([...all].sort().map((code) => [code, errorBody.describe(ERROR_MEANING[code] ?? 'error')]));
    },
  };
}

const binarySchemas = new WeakSet<object>();

/** Raw bytes (an image, a file) in the document; server.ts never validates such a body as JSON. */
export function binary(description: string) {
  const schema = z.any().meta({ type: 'string', format: 'binary', description });
  binarySchemas.add(schema);
  return schema;
}

export const isBinary = (schema: unknown) => typeof schema === 'object' && schema !== null && binarySchemas.has(schema);

/** A response of raw bytes with this content type. */
export function binaryResponse(contentType: string, description: string) {
  return { description, content: { [contentType]: { schema: binary(description) } } };
}

export const idParams = (what: string) => z.object({ id: z.string().describe(what) });

export function intParam(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(400, `${what} must be a positive integer, got "${v}"`);
  return n;
}

/** Who a write is recorded as in the audit log: `api:<user>@<client>`, the bearer token being user "api-token". */
export const actor = (req: FastifyRequest) => (req.caller ? `api:${req.caller.name}@${req.ip}` : `api:${req.ip}`);
