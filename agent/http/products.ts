// Product (recipe) routes and their normal shots: upload, capture from a live camera, images, deletion.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import sharp from 'sharp';
import { z } from 'zod';
import { ImageTooLargeError } from '../../models/errors.ts';
import { decodeImage, pngKeepingMode, type DecodedImage } from '../../models/image.ts';
import type { AgentApi, StationPort } from './api.ts';
import { access, actor, binary, binaryResponse, HttpError, idParams, intParam, type AreaOptions } from './common.ts';
import * as s from './schemas.ts';
import { requireStation } from './stations.ts';

const productParams = idParams('product id (positive integer)');
const shotParams = idParams('shot id (positive integer)');
const name = z.string().trim().min(1).max(64);
const threshold = z.number().min(0).max(1).nullable();
const productCreate = z.strictObject({
  name: name.describe('unique name'),
  recipeId: z.number().int().min(1).max(2_147_483_647).optional().describe('integer the PLC selects (default: next free)'),
  threshold: threshold.optional().describe('override 0..1, or null to calibrate from the shots'),
});
const productPatch = z.strictObject({ name: name.optional().describe('new name'), threshold: threshold.optional().describe('0..1, or null to use the calibrated threshold') });
const captureBody = z.strictObject({ station: z.string().min(1).describe('station id') });
/** Content types a shot upload may have (server.ts parses these as raw bytes). */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/bmp', 'image/tiff', 'application/octet-stream'];

/** An uploaded shot decoded within http.maxUploadPixels (413 over it, 415 when not an image), and the lossless PNG
 *  a shot keeps of it. The one-step upload and the guided capture's upload both decode through this. */
export async function decodeUpload(api: AgentApi, body: unknown): Promise<{ img: DecodedImage; png: Buffer }> {
  if (!Buffer.isBuffer(body)) throw new HttpError(415, 'send the image bytes as the request body with Content-Type image/png or image/jpeg');
  const img = await decodeImage(body, api.maxUploadPixels()).catch((err: unknown) => {
    if (!(err instanceof ImageTooLargeError)) throw err;
    throw new HttpError(413, `shot too large: ${err.width}×${err.height} is ${(err.width * err.height / 1e6).toFixed(1)} megapixels, over the ${(err.maxPixels / 1e6).toFixed(1)} megapixel limit (http.maxUploadPixels); scale it down or raise http.maxUploadPixels`);
  });
  return { img, png: await pngKeepingMode(body, img) };
}

/** A camera frame as a shot keeps it: lossless PNG; a replayed file in its own mode, so the shot resizes as the file does. */
export const framePng = async (frame: { rgb: Buffer; width: number; height: number; file?: Buffer }) => frame.file
  ? pngKeepingMode(frame.file, await decodeImage(frame.file))
  : sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).png().toBuffer();

async function waitForFrame(st: StationPort, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!st.latestFrame() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

export const productRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const engineer = access('engineer', openReads);
  const operator = access('operator', openReads);
  const tags = ['products'];

  app.get('/api/products', {
    config: read.config,
    schema: { summary: 'Products (recipes) with shot counts and where they are active', tags, security: read.security, response: { 200: s.products, ...read.errors(503) } },
  }, () => api.products());

  app.post('/api/products', {
    config: engineer.config,
    schema: { summary: 'Create a product', tags, security: engineer.security, body: productCreate, response: { 201: s.product, ...engineer.errors(400, 409, 503) } },
  }, (req, reply) => {
    const { body } = req;
    reply.code(201).send(api.createProduct({ name: body.name, ...(body.recipeId === undefined ? {} : { recipeId: body.recipeId }), threshold: body.threshold ?? null }, actor(req)));
  });

  app.get('/api/products/:id', {
    config: read.config,
    schema: { summary: 'One product', tags, security: read.security, params: productParams, response: { 200: s.product, ...read.errors(400, 404, 503) } },
  }, (req) => api.product(intParam(req.params.id, 'product id')));

  app.patch('/api/products/:id', {
    config: engineer.config,
    schema: { summary: 'Rename or set/clear the threshold override', tags, security: engineer.security, params: productParams, body: productPatch, response: { 200: s.product, ...engineer.errors(400, 404, 409, 503) } },
  }, async (req) => {
    const id = intParam(req.params.id, 'product id');
    const patch = req.body;
    return await api.updateProduct(id, { ...(patch.name === undefined ? {} : { name: patch.name }), ...(patch.threshold === undefined ? {} : { threshold: patch.threshold }) }, actor(req));
  });

  app.delete('/api/products/:id', {
    config: engineer.config,
    schema: { summary: 'Delete a product (not while active)', tags, security: engineer.security, params: productParams, response: { 200: s.deleted, ...engineer.errors(400, 404, 409, 503) } },
  }, (req) => {
    api.deleteProduct(intParam(req.params.id, 'product id'), actor(req));
    return { deleted: true as const };
  });

  app.get('/api/products/:id/shots', {
    config: read.config,
    schema: { summary: 'Normal shots with their leave-one-out scores', tags, security: read.security, params: productParams, response: { 200: s.shotList, ...read.errors(400, 404, 503) } },
  }, (req) => api.shots(intParam(req.params.id, 'product id')));

  app.post('/api/products/:id/shots', {
    config: operator.config,
    schema: {
      summary: 'Upload a normal shot (raw image bytes)', tags, security: operator.security, params: productParams,
      body: binary('the image file: PNG, JPEG, BMP or TIFF'), consumes: IMAGE_TYPES,
      response: { 201: s.shotAdded, ...operator.errors(400, 404, 413, 415, 503) },
    },
  }, async (req, reply) => {
    const id = intParam(req.params.id, 'product id');
    api.product(id);
    const { img, png } = await decodeUpload(api, req.body);
    const added = await api.addShot(id, { png, width: img.width, height: img.height, source: 'upload' }, actor(req));
    reply.code(201).send(added);
  });

  app.post('/api/products/:id/shots/capture', {
    config: operator.config,
    schema: {
      summary: "Capture a normal shot from a station's live camera", tags, security: operator.security, params: productParams, body: captureBody,
      response: { 201: s.shotAdded, ...operator.errors(400, 404, 409, 503) },
    },
  }, async (req, reply) => {
    const id = intParam(req.params.id, 'product id');
    api.product(id);
    const st = requireStation(api, req.body.station);
    if (!st.latestFrame() && st.triggerMode === 'software') {
      // A triggered camera shows nothing until asked: take one picture (it is also inspected, like any trigger).
      await st.trigger('shot-capture');
      await waitForFrame(st, 5000);
    }
    const frame = st.latestFrame();
    if (!frame) throw new HttpError(409, `camera ${st.cameraId} has not delivered a frame yet; check the camera state in Health`);
    const png = await framePng(frame);
    reply.code(201).send(await api.addShot(id, { png, width: frame.width, height: frame.height, source: st.cameraId }, actor(req)));
  });

  app.get('/api/shots/:id/image.png', {
    config: read.config,
    schema: { summary: "A shot's image", tags, security: read.security, params: shotParams, response: { 200: binaryResponse('image/png', 'the shot as stored'), ...read.errors(400, 404, 503) } },
  }, (req, reply) => {
    const png = api.shotPng(intParam(req.params.id, 'shot id'));
    if (!png) throw new HttpError(404, `shot ${req.params.id} does not exist`);
    return reply.type('image/png').send(png);
  });

  app.delete('/api/shots/:id', {
    config: engineer.config,
    schema: { summary: "Delete a shot (the product's reference is rebuilt)", tags, security: engineer.security, params: shotParams, response: { 200: s.deleted, ...engineer.errors(400, 404, 503) } },
  }, async (req) => {
    await api.deleteShot(intParam(req.params.id, 'shot id'), actor(req));
    return { deleted: true as const };
  });
};
