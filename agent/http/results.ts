// History routes: results filtered and one by id, and a result's defect mask (the MaskUri of OPC UA and MQTT).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, binaryResponse, HttpError, intParam, type AreaOptions } from './common.ts';
import { parseResultFilter, resultFilterQuery } from './result-filter.ts';
import * as s from './schemas.ts';

const resultParams = z.object({ id: z.string().describe('result id (ULID)') });
const resultQuery = resultFilterQuery.extend({ limit: z.string().optional().describe('at most 1000, default 100') });

export const resultRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const tags = ['history'];

  app.get('/api/results', {
    config: read.config,
    schema: { summary: 'Results, newest first, filtered', tags, security: read.security, querystring: resultQuery, response: { 200: s.results, ...read.errors(400, 503) } },
  }, (req) => {
    const q = req.query;
    return api.results({ ...parseResultFilter(q), limit: q.limit ? intParam(q.limit, 'limit') : 100 });
  });

  app.get('/api/results/:id', {
    config: read.config,
    schema: { summary: 'One result', tags, security: read.security, params: resultParams, response: { 200: s.result, ...read.errors(404, 503) } },
  }, (req) => {
    const r = api.result(req.params.id);
    if (!r) throw new HttpError(404, `result ${req.params.id} does not exist (or was removed by retention)`);
    return r;
  });

  const mask = (url: string, summary: string) => app.get(url, {
    config: read.config,
    schema: { summary, tags, security: read.security, params: resultParams, response: { 200: binaryResponse('image/png', '8-bit PNG, 0 = good, 255 = defect'), ...read.errors(404, 503) } },
  }, (req, reply) => {
    const png = api.mask(req.params.id);
    if (png === undefined) throw new HttpError(404, `result ${req.params.id} does not exist (or was removed by retention)`);
    if (png === null) throw new HttpError(404, `result ${req.params.id} has no stored mask (passed, or removed by mask retention)`);
    return reply.type('image/png').send(png);
  });
  mask('/results/:id/mask.png', "A result's defect mask (8-bit PNG, 0/255); the MaskUri of OPC UA/MQTT");
  mask('/api/results/:id/mask.png', 'Same as /results/{id}/mask.png');
};
