// HTTP API (fastify) + the operator web UI. One plugin per area (system, stations, products, results, ui); this file
// adds what they share: the token guard, the raw-image body parser, the error shape and the OpenAPI document, which
// @fastify/swagger generates from the routes' zod schemas (served at /openapi.json, browsable at /docs).
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifySchemaCompiler, type FastifySerializerCompiler } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ZodType } from 'zod';
import { ImageError } from '../../models/errors.ts';
import { UnavailableError } from '../pipeline/ports.ts';
import { StoreError } from '../store/store.ts';
import type { AgentApi } from './api.ts';
import { HttpError, isBinary, neededRole, type Access } from './common.ts';
// ---- logins and roles ----
import { mayAct } from '../users.ts';
import { crossSiteRefusal, loginRoutes, registerLogins, roleRefusal, SESSION_COOKIE, type LoginOptions } from './auth.ts';
import { evidenceRoutes } from './evidence.ts';
import { productRoutes } from './products.ts';
import { resultRoutes } from './results.ts';
import { stationRoutes } from './stations.ts';
import { systemRoutes } from './system.ts';
import { uiRoutes } from './ui.ts';
// ---- threshold workbench, validation messages in plain words ----
import { thresholdRoutes } from './thresholds.ts';
import { validationMessage } from './validation.ts';
// ---- guided shot capture, shot-quality advice, reference sets ----
import { captureRoutes } from './capture.ts';
import { referenceSetRoutes } from './reference-sets.ts';
import { shotAdviceRoutes } from './shot-advice.ts';
// ---- line overview and shift counters ----
import { overviewRoutes } from './overview.ts';
// ---- inspection regions ----
import { regionRoutes } from './regions.ts';

export { HttpError } from './common.ts';

export interface HttpOptions {
  host: string;
  port: number;
  openReads: boolean;
  maxUploadBytes: number;
  /** Browser logins with roles (http.users, http.session); without users, the token alone guards writes. */
  logins?: LoginOptions;
}

export interface HttpHandle {
  app: FastifyInstance;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startHttp(api: AgentApi, opts: HttpOptions): Promise<HttpHandle> {
  const app = Fastify({ logger: false, bodyLimit: opts.maxUploadBytes, forceCloseConnections: true }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validate);
  app.setSerializerCompiler(serializeAsIs(api));

  app.addContentTypeParser(/^(image\/.*|application\/octet-stream)$/, { parseAs: 'buffer', bodyLimit: opts.maxUploadBytes }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validationContext?: string }, req, reply) => {
    if (err instanceof HttpError || err instanceof StoreError || err instanceof UnavailableError) return reply.code(err.status).send({ error: err.message });
    if (hasZodFastifySchemaValidationErrors(err)) {
      // In plain words, from the route's own schema: "invalid request body: threshold must be between 0 and 1 (got 1.5)".
      const part = err.validationContext ?? 'body';
      const sent = part === 'querystring' ? req.query : part === 'params' ? req.params : part === 'headers' ? req.headers : req.body;
      return reply.code(400).send({ error: validationMessage(err.validation, part, (req.routeOptions.schema as Record<string, unknown> | undefined)?.[part], sent) });
    }
    if (err instanceof ImageError) return reply.code(415).send({ error: `${err.message}; upload a PNG, JPEG, BMP or TIFF photo of a good part` });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `upload too large: the limit is ${(opts.maxUploadBytes / 1048576).toFixed(1)} MiB (http.maxUploadMb); scale the image down` });
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ error: 'unsupported content type: send image bytes (image/png, image/jpeg, …) or JSON' });
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err.statusCode === 400)) return reply.code(400).send({ error: `bad request: ${err.message}` });
    api.logError({ err: err.message }, 'http handler failed');
    return reply.code(500).send({ error: `internal error: ${err.message}` });
  });

  // ---- logins and roles ----
  const auth = await registerLogins(app, opts.logins ?? { users: [], session: { idleTimeoutMin: 30, cookieSecure: false } });
  // Every route gets the guard; it reads the route's access level when a request comes (see common.ts `access`).
  const guard = async (req: FastifyRequest) => {
    const level: Access = req.routeOptions.config.access ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write');
    if (level === 'open') return;
    const token = api.token();
    const found = await auth.identify(req, token);
    req.caller = typeof found === 'object' ? found : null;
    if (level === 'read' && opts.openReads) return;
    const needed = neededRole(level);
    const caller = req.caller;
    if (!caller) {
      if (needed && token === undefined && !auth.directory.enabled) throw new HttpError(403, 'writes are disabled: set http.token (or http.users) in the config to allow them');
      const what = needed ? 'writes' : 'reads';
      if (found === 'expired') throw new HttpError(401, `your session ended after ${auth.idleMs / 60_000} min without activity; log in again`);
      throw new HttpError(401, auth.directory.enabled ? `${what} need a login (sign in on the UI) or the header "Authorization: Bearer <http.token>"` : `${what} need the header "Authorization: Bearer <http.token>"`);
    }
    if (!needed) return;
    if (!mayAct(caller.role, needed)) throw new HttpError(403, roleRefusal(req, caller, needed));
    if (caller.via === 'session') {
      const refusal = crossSiteRefusal(req, auth.publicOrigin);
      if (refusal) throw new HttpError(403, refusal);
    }
  };
  app.addHook('onRoute', (route) => {
    const own = route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation];
    route.preValidation = [guard, ...own];
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'adaptclip-edge agent API', version: api.info().version },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } } },
    },
    transform: jsonSchemaTransform,
  });
  // Swagger UI with its assets from the installed package (nothing is fetched from elsewhere); as open as the document.
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: 'open' };
    });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });

  const areas = { api, openReads: opts.openReads };
  await app.register(uiRoutes);
  await app.register(loginRoutes, { auth, openReads: opts.openReads });
  await app.register(systemRoutes, areas);
  await app.register(stationRoutes, areas);
  await app.register(productRoutes, areas);
  await app.register(resultRoutes, areas);
  // ---- guided shot capture, shot-quality advice, reference sets ----
  await app.register(captureRoutes, areas);
  await app.register(shotAdviceRoutes, areas);
  await app.register(referenceSetRoutes, areas);
  await app.register(evidenceRoutes, areas);
  // ---- threshold workbench ----
  await app.register(thresholdRoutes, areas);
  // ---- line overview and shift counters ----
  await app.register(overviewRoutes, areas);
  await app.register(regionRoutes, areas);

  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host;
  return { app: app as unknown as FastifyInstance, port, url: `http://${shownHost}:${port}`, close: () => app.close() };
}

/** zod validation of params, query and JSON bodies; raw image bodies pass as the bytes they are. */
const validate: FastifySchemaCompiler<ZodType> = (route) => (isBinary(route.schema) ? (data: unknown) => ({ value: data }) : validatorCompiler(route));

/**
 * Responses go out as the handler built them (the type provider's serializer would drop undeclared fields, hiding
 * drift from test/http-openapi.test.ts). A response that does not match its schema is logged, once per route and
 * status, and still sent: a documentation slip must not turn an operator's request into a 500.
 */
function serializeAsIs(api: AgentApi): FastifySerializerCompiler<ZodType> {
  return ({ schema, method, url, httpStatus }) => {
    let reported = false;
    return (data) => {
      if (!reported && typeof schema?.safeParse === 'function') {
        const checked = schema.safeParse(data);
        if (!checked.success) {
          reported = true;
          const issue = checked.error.issues[0];
          api.logError({ method, url, status: httpStatus, path: issue?.path.join('.'), issue: issue?.message }, 'response does not match its documented schema');
        }
      }
      return JSON.stringify(data);
    };
  };
}
