// History routes: results filtered and one by id, and a result's defect mask (the MaskUri of OPC UA and MQTT).
import { OUTCOMES } from '../../adapters/protocol.ts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, binaryResponse, HttpError, intParam, type AreaOptions } from './common.ts';
import * as s from './schemas.ts';

const resultParams = z.object({ id: z.string().describe('result id (ULID)') });
// Strings on purpose: the handler checks them and answers with messages that say what is accepted.
const resultQuery = z.object({
  station: z.string().optional().describe('station id'),
  camera: z.string().optional().describe('camera id'),
  outcome: z.string().optional().describe('PASS, FAIL or NO_VERDICT'),
  reason: z.string().optional().describe('NO_VERDICT reason'),
  product: z.string().optional().describe('product id'),
  part: z.string().optional().describe('part id (exact)'),
  since: z.string().optional().describe('epoch ms or ISO date'),
  until: z.string().optional().describe('epoch ms or ISO date'),
  limit: z.string().optional().describe('at most 1000, default 100'),
});

function time(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new HttpError(400, `${what} must be epoch ms or an ISO date, got "${v}"`);
  return n;
}

const isOutcome = (v: string): v is (typeof OUTCOMES)[number] => (OUTCOMES as readonly string[]).includes(v);

export const resultRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const tags = ['history'];

  app.get('/api/results', {
    config: read.config,
    schema: { summary: 'Results, newest first, filtered', tags, security: read.security, querystring: resultQuery, response: { 200: s.results, ...read.errors(400, 503) } },
  }, (req) => {
    const q = req.query;
    if (q.outcome && !isOutcome(q.outcome)) throw new HttpError(400, `outcome must be PASS, FAIL or NO_VERDICT, got "${q.outcome}"`);
    const outcome = q.outcome && isOutcome(q.outcome) ? q.outcome : undefined;
    const since = time(q.since, 'since');
    const until = time(q.until, 'until');
    return api.results({
      ...(q.station ? { stationId: q.station } : {}), ...(q.camera ? { cameraId: q.camera } : {}), ...(outcome ? { outcome } : {}),
      ...(q.reason ? { reason: q.reason } : {}), ...(q.product ? { productId: intParam(q.product, 'product') } : {}), ...(q.part ? { partId: q.part } : {}),
      ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }), limit: q.limit ? intParam(q.limit, 'limit') : 100,
    });
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
