// System routes: health for probes, Prometheus metrics, this API's document, agent info, counters and the audit log.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, intParam, type AreaOptions } from './common.ts';
import * as s from './schemas.ts';

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
      summary: 'Audit log (newest first)', tags: ['system'], security: read.security,
      querystring: z.object({ limit: z.string().optional().describe('max entries: a positive integer, default 100, at most 1000') }),
      response: { 200: s.audit, ...read.errors(400, 503) },
    },
  }, (req) => {
    const { limit } = req.query;
    return api.audit(limit === undefined ? 100 : Math.min(intParam(limit, 'limit'), 1000));
  });
};
