// Line overview routes: every station's tile in one compact answer (the overview page polls only this), and the
// shift counter reset ("New shift") that the operator confirms on a tile.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, actor, type AreaOptions } from './common.ts';
import { requireStation } from './stations.ts';

const stationParams = z.object({ id: z.string().describe('station id') });
// Nothing to send: the station is in the path (an empty object or no body at all).
const resetBody = z.strictObject({}).nullish();

export const shiftSchema = z.object({
  startedAt: z.number().int().describe('epoch ms: the counts are of the results decided since then'),
  startedBy: z.string().describe('who started the shift: a user or token ("api:…"), "plc", "mqtt", "schedule", "agent" (first start)'),
  cause: z.enum(['first-start', 'http', 'plc', 'mqtt', 'line', 'schedule']),
  ok: z.number().int(),
  ng: z.number().int(),
  notInspected: z.number().int().describe('NO_VERDICT results'),
  reasons: z.record(z.string(), z.number().int()).describe('NO_VERDICT by reason'),
  total: z.number().int(),
  yieldPct: z.number().nullable().describe('OK of all parts (OK + NG + not inspected), percent; null before the first part'),
});

const overviewStation = z.object({
  id: z.string(),
  cameraId: z.string(),
  product: z.object({ id: z.number().int().nullable(), name: z.string(), recipeId: z.number().int() }),
  camera: z.object({ state: z.string().describe('starting, online, offline, stopped'), online: z.boolean(), detail: z.string().nullable() }),
  verdict: z.object({
    show: z.enum(['OK', 'NG', 'NO VERDICT']).describe('what the tile shows in big letters (NO VERDICT also while the camera is not online)'),
    why: z.string().describe('plain reason for NO VERDICT (English); empty otherwise'),
    cause: z.enum(['camera', 'no_part', 'not_inspected']).nullable()
      .describe('which reason: camera not online (camera.state), no part inspected yet, last part not inspected (last.reason); null with a verdict'),
  }),
  last: z.object({
    resultId: z.string(), partId: z.string(), outcome: z.enum(['PASS', 'FAIL', 'NO_VERDICT']), reason: z.string().nullable(),
    score: z.number(), threshold: z.number(), decidedAt: z.number().int(),
  }).nullable().describe('the last part the store holds'),
  image: z.object({ url: z.string(), resultId: z.string() }).nullable().describe('the last part with heat map and defect outlines'),
  shift: shiftSchema,
});

export const overviewSchema = z.object({ at: z.number().int(), stations: z.array(overviewStation) });
const resetAnswer = z.object({ stationId: z.string(), shift: shiftSchema });

export const overviewRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const operator = access('operator', openReads);

  app.get('/api/overview', {
    config: read.config,
    schema: {
      summary: 'The line at a glance: per station the last verdict (OK / NG / NO VERDICT with its reason), product, last part image, current shift counts, camera state',
      tags: ['live'], security: read.security, response: { 200: overviewSchema, ...read.errors(503) },
    },
  }, () => api.overview.overview());

  app.post('/api/stations/:id/counters/reset', {
    config: operator.config,
    schema: {
      summary: "New shift: the station's shift counters start again from 0 (also the OPC UA Counters.*); audited with the counts of the shift it ends",
      tags: ['live'], security: operator.security, params: stationParams, body: resetBody,
      response: { 200: resetAnswer, ...operator.errors(400, 404, 503) },
    },
  }, async (req) => {
    const st = requireStation(api, req.params.id);
    return { stationId: st.id, shift: api.overview.resetCounters(st.id, actor(req)) };
  });
};
