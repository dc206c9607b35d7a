// Station routes: the live view (state, latest frame and heat-map overlay), software triggers and changeover.
import { PART_ID_MAX_LENGTH } from '../../adapters/protocol.ts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import sharp from 'sharp';
import { z } from 'zod';
import { overlayPng } from '../../models/verdict.ts';
import type { AgentApi, StationPort } from './api.ts';
import { access, actor, binaryResponse, HttpError, type AreaOptions } from './common.ts';
import * as s from './schemas.ts';

const stationParams = z.object({ id: z.string().describe('station id') });
// No body at all is fine: the part id is then ''.
const triggerBody = z.strictObject({ partId: z.string().max(PART_ID_MAX_LENGTH).default('').describe(`part id echoed in the result (≤${PART_ID_MAX_LENGTH} chars)`) }).nullish();
const activateBody = z.strictObject({
  productId: z.number().int().positive().nullable().describe('product id, or null for none (zero-shot)'),
  acknowledgeFlaggedShots: z.boolean().optional().describe('activate even though shot-quality advice flags some of its shots (otherwise 409)'),
});

/** The station, or 404 naming the ones there are. */
export function requireStation(api: AgentApi, id: string): StationPort {
  const st = api.station(id);
  if (!st) throw new HttpError(404, `station ${id} does not exist; known: ${api.stationIds().join(', ') || 'none'}`);
  return st;
}

export const stationRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const operator = access('operator', openReads);
  const image = (summary: string, contentType: string) => ({
    config: read.config,
    schema: {
      summary, tags: ['live'], security: read.security, params: stationParams,
      response: { 200: binaryResponse(contentType, `${summary}; header x-result-id names its result`), ...read.errors(404) },
    },
  });

  app.get('/api/stations', {
    config: read.config,
    schema: { summary: 'Live state of every station: camera, reference, latest verdict, counters', tags: ['live'], security: read.security, response: { 200: s.stations, ...read.errors() } },
  }, () => api.stations());

  app.get('/api/stations/:id/frame.jpg', image('Latest judged frame (JPEG)', 'image/jpeg'), async (req, reply) => {
    const live = requireStation(api, req.params.id).live();
    if (!live) throw new HttpError(404, `station ${req.params.id} has no judged frame yet`);
    const jpg = await sharp(live.frame.rgb, { raw: { width: live.frame.width, height: live.frame.height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
    return reply.type('image/jpeg').header('x-result-id', live.verdict.resultId).header('cache-control', 'no-store').send(jpg);
  });

  app.get('/api/stations/:id/overlay.png', image('Latest frame blended with its anomaly heat map and defect boxes', 'image/png'), async (req, reply) => {
    const live = requireStation(api, req.params.id).live();
    if (!live?.judged) throw new HttpError(404, `station ${req.params.id} has no frame with a heat map yet`);
    const png = await overlayPng({ width: live.frame.width, height: live.frame.height, data: live.frame.rgb }, live.judged, live.region ? { region: live.region } : {});
    return reply.type('image/png').header('x-result-id', live.verdict.resultId).header('cache-control', 'no-store').send(png);
  });

  app.post('/api/stations/:id/trigger', {
    config: operator.config,
    schema: {
      summary: "Software trigger: inspect one part; answers {triggerId, triggerSeq: 0} (triggerId is the result's frameSeq)", tags: ['live'],
      security: operator.security, params: stationParams, body: triggerBody,
      response: { 200: s.triggerReceipt, ...operator.errors(400, 404, 409, 503) },
    },
  }, async (req) => {
    const st = requireStation(api, req.params.id);
    if (!st.triggerable) throw new HttpError(409, `camera ${st.cameraId} is ${st.triggerMode}; set trigger: software in its config to trigger it`);
    // triggerId finds the result (its frameSeq); triggerSeq is 0: only PLC triggers carry one.
    return await st.trigger(req.body?.partId ?? '');
  });

  app.post('/api/stations/:id/activate', {
    config: operator.config,
    schema: {
      summary: 'Changeover: make a product active on the station (null = none, zero-shot)', tags: ['products'],
      security: operator.security, params: stationParams, body: activateBody,
      response: { 200: s.activation, ...operator.errors(400, 404, 409, 503) },
    },
  }, async (req) => {
    const st = requireStation(api, req.params.id);
    await api.shotAdvice.checkActivation(req.body.productId, req.body.acknowledgeFlaggedShots === true);
    return await api.activate(st.id, req.body.productId, actor(req));
  });
};
