// Guided shot capture routes: a live preview of a station's camera, candidates frozen from it or uploaded (judged
// against the product's current shots, held in memory with a TTL), kept as shots or discarded one by one.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import sharp from 'sharp';
import { z } from 'zod';
import { access, actor, binary, binaryResponse, HttpError, idParams, intParam, type AreaOptions } from './common.ts';
import { decodeUpload, framePng, IMAGE_TYPES } from './products.ts';
import { keptShot } from './reference-sets.ts';
import * as s from './schemas.ts';
import { requireStation } from './stations.ts';

export const candidate = z.object({
  id: z.string(),
  productId: z.number().int(),
  source: z.string().describe("'upload' or the camera id it was frozen from"),
  width: z.number().int(),
  height: z.number().int(),
  createdAt: z.number().int().describe('epoch ms'),
  expiresAt: z.number().int().describe('epoch ms: dropped after this unless kept'),
  mode: z.enum(['few-shot', 'zero-shot']).describe("judged against the product's shots, or zero-shot without any"),
  shots: z.number().int(),
  referenceSet: z.number().int().describe("the product's reference set it was judged against (0: none yet)"),
  score: z.number(),
  threshold: z.number(),
  thresholdSource: z.enum(['override', 'shots', 'pack-default']),
  verdict: z.enum(['pass', 'fail']),
  defects: z.object({ count: z.number().int(), areaPct: z.number() }),
  summary: z.string().describe('what the score means, in words'),
  imageUrl: z.string(),
  overlayUrl: z.string(),
});

const stationParams = z.object({ id: z.string().describe('station id') });
const candidateParams = z.object({ id: z.string().describe('candidate id') });
const productParams = idParams('product id (positive integer)');
const freezeBody = z.strictObject({ station: z.string().min(1).describe('station id') });
/** A POST that needs no fields (no body at all is fine). */
export const noBody = z.strictObject({}).nullish().describe('no fields');

export const captureRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const operator = access('operator', openReads);
  const tags = ['products'];
  const png = (summary: string) => ({
    config: read.config,
    schema: { summary, tags, security: read.security, params: candidateParams, response: { 200: binaryResponse('image/png', summary), ...read.errors(404) } },
  });

  app.get('/api/stations/:id/preview.jpg', {
    config: read.config,
    schema: {
      summary: 'Live preview: the newest frame the camera delivered, judged or not (JPEG); headers x-frame-seq and x-captured-at', tags: ['live'],
      security: read.security, params: stationParams, response: { 200: binaryResponse('image/jpeg', 'the newest frame'), ...read.errors(404) },
    },
  }, async (req, reply) => {
    const st = requireStation(api, req.params.id);
    const frame = st.latestFrame();
    if (!frame) {
      throw new HttpError(404, st.triggerMode === 'software'
        ? `camera ${st.cameraId} is software-triggered: it delivers a frame only when asked; take a picture (POST /api/stations/${st.id}/trigger) first`
        : `camera ${st.cameraId} has not delivered a frame yet; check the camera state in Health`);
    }
    const jpg = await sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 75 }).toBuffer();
    return reply.type('image/jpeg').header('cache-control', 'no-store').header('x-frame-seq', String(frame.seq)).header('x-captured-at', String(frame.capturedAt)).send(jpg);
  });

  app.get('/api/products/:id/candidates', {
    config: read.config,
    schema: { summary: 'Candidate shots of a product waiting to be kept or discarded', tags, security: read.security, params: productParams, response: { 200: z.array(candidate), ...read.errors(400, 404, 503) } },
  }, (req) => api.capture.candidates(intParam(req.params.id, 'product id')));

  app.post('/api/products/:id/candidates', {
    config: operator.config,
    schema: {
      summary: "Freeze: hold the station's newest frame as a candidate shot, judged against the product's current shots", tags,
      security: operator.security, params: productParams, body: freezeBody, response: { 201: candidate, ...operator.errors(400, 404, 409, 503) },
    },
  }, async (req, reply) => {
    const id = intParam(req.params.id, 'product id');
    api.product(id);
    const st = requireStation(api, req.body.station);
    const frame = st.latestFrame();
    if (!frame) {
      throw new HttpError(409, st.triggerMode === 'software'
        ? `camera ${st.cameraId} is software-triggered and has not taken a picture yet; take one (POST /api/stations/${st.id}/trigger), then freeze`
        : `camera ${st.cameraId} has not delivered a frame yet; check the camera state in Health`);
    }
    reply.code(201).send(await api.capture.hold(id, { png: await framePng(frame), rgb: frame.rgb, width: frame.width, height: frame.height, source: st.cameraId }));
  });

  app.post('/api/products/:id/candidates/upload', {
    config: operator.config,
    schema: {
      summary: 'Upload an image as a candidate shot (raw image bytes; one request per file), judged against the product\'s current shots', tags,
      security: operator.security, params: productParams, body: binary('the image file: PNG, JPEG, BMP or TIFF'), consumes: IMAGE_TYPES,
      response: { 201: candidate, ...operator.errors(400, 404, 409, 413, 415, 503) },
    },
  }, async (req, reply) => {
    const id = intParam(req.params.id, 'product id');
    api.product(id);
    const { img, png: stored } = await decodeUpload(api, req.body);
    reply.code(201).send(await api.capture.hold(id, { png: stored, rgb: img.data, width: img.width, height: img.height, source: 'upload' }));
  });

  app.get('/api/candidates/:id/image.png', png('The candidate as it would be stored'), (req, reply) => reply.type('image/png').header('cache-control', 'no-store').send(api.capture.candidateImage(req.params.id, 'image')));
  app.get('/api/candidates/:id/overlay.png', png("The candidate blended with its heat map against the product's current shots"), (req, reply) => reply.type('image/png').header('cache-control', 'no-store').send(api.capture.candidateImage(req.params.id, 'overlay')));

  app.post('/api/candidates/:id/keep', {
    config: operator.config,
    schema: {
      summary: 'Keep the candidate as a good shot: stored losslessly as PNG, a new reference set, the reference rebuilt where the product is active', tags,
      security: operator.security, params: candidateParams, body: noBody, response: { 201: keptShot, ...operator.errors(404, 503) },
    },
  }, async (req, reply) => {
    const kept = await api.capture.keep(req.params.id, actor(req));
    reply.code(201).send({ ...kept, shots: await api.shots(kept.shot.productId) });
  });

  app.delete('/api/candidates/:id', {
    config: operator.config,
    schema: { summary: 'Discard the candidate (nothing is stored)', tags, security: operator.security, params: candidateParams, response: { 200: s.deleted, ...operator.errors(404) } },
  }, (req) => {
    api.capture.discard(req.params.id);
    return { deleted: true as const };
  });
};
