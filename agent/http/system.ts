// System routes: health for probes, Prometheus metrics, this API's document, agent info, counters and the audit log.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, HttpError, intParam, type AreaOptions } from './common.ts';
import * as s from './schemas.ts';

// ---- audit log filters ----
/** A time as epoch milliseconds or an ISO date/time ("2026-12-02", "2026-12-02T08:00:00Z"). */
const time = (what: string) => z.string().transform((v, ctx) => {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `${what} must be epoch milliseconds or an ISO date/time like 2026-12-02T08:00:00Z (got "${v}")` });
    return z.NEVER;
  }
  return ms;
}).describe(`${what}: epoch ms or ISO date/time`);
const auditQuery = z.object({
  limit: z.string().optional().describe('max entries: a positive integer, default 100, at most 1000'),
  user: z.string().min(1).max(64).optional().describe('a user name ("api-token" for the bearer token) or a whole actor such as "opcua:plc"'),
  action: z.string().regex(/^[a-z][a-z0-9.-]*$/, 'action: like product.delete or product').max(64).optional().describe('an action (product.delete) or its area (product)'),
  from: time('from').optional(),
  to: time('to').optional(),
});
// ---- end audit log filters ----

export const systemRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const open = access('open', openReads);
  const read = access('read', openReads);

  app.get('/healthz', {
    config: open.config,
    schema: { summary: 'Pipeline health with per-component reasons (503 when any component is unhealthy)', tags: ['system'], response: { 200: s.health, 503: s.health } },
  }, (_req, reply) => {
    const h = api.health();
    reply.code(h.ok ? 200 : 503).send(h);
  });

  app.get('/metrics', {
    config: open.config,
    schema: { summary: 'Prometheus metrics', tags: ['system'], response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } } } },
  }, async (_req, reply) => {
    const m = await api.metrics();
    return reply.type(m.contentType).send(m.text);
  });

  app.get('/openapi.json', {
    config: open.config,
    schema: { summary: 'This document (OpenAPI 3.1)', tags: ['system'], response: { 200: s.openapiDocument } },
  }, () => app.swagger() as z.infer<typeof s.openapiDocument>);

  app.get('/api/info', {
    config: read.config,
    schema: { summary: 'Agent version, pack, stations, safe mode', tags: ['system'], security: read.security, response: { 200: s.info, ...read.errors() } },
  }, () => api.info());

  app.get('/api/counters', {
    config: read.config,
    schema: { summary: 'Per-station accounting: captured = sum(outcomes) + pending', tags: ['system'], security: read.security, response: { 200: s.counters, ...read.errors() } },
  }, () => api.counters());

  app.get('/api/audit', {
    config: read.config,
    schema: {
      summary: 'Audit log (newest first), narrowed by user, action and time range', tags: ['system'], security: read.security,
      querystring: auditQuery,
      response: { 200: s.audit, ...read.errors(400, 503) },
    },
  }, (req) => {
    const { limit, user, action, from, to } = req.query;
    if (from !== undefined && to !== undefined && from > to) throw new HttpError(400, `audit filter: "from" (${new Date(from).toISOString()}) is after "to" (${new Date(to).toISOString()}); swap them`);
    return api.audit({ limit: limit === undefined ? 100 : Math.min(intParam(limit, 'limit'), 1000), user, action, from, to });
  });
};
