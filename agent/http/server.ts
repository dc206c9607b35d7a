// HTTP API (fastify) + the operator web UI. Every route is declared once in ROUTES-style calls below, which also
// builds the OpenAPI document served at /openapi.json, so the docs cannot drift from the code.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { z } from 'zod';
import { decodeImage, pngKeepingMode } from '../../models/image.ts';
import { ImageError, ImageTooLargeError } from '../../models/errors.ts';
import { overlayPng } from '../../models/verdict.ts';
import type { Daemon } from '../daemon.ts';
import { UnavailableError } from '../pipeline/ports.ts';
import { StoreError } from '../store/store.ts';
import { httpSchema } from '../config/schema.ts';

export interface HttpOptions {
  host: string;
  port: number;
  openReads: boolean;
  maxUploadBytes: number;
}

export interface HttpHandle {
  app: FastifyInstance;
  url: string;
  port: number;
  close(): Promise<void>;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
interface RouteDoc {
  summary: string;
  tag: string;
  query?: Record<string, string>;
  body?: Record<string, string> | 'image';
  produces?: string;
  /** Readable without a token even when http.openReads is off (probes, scrapers, API docs). */
  open?: boolean;
}

const UI_FILES: Record<string, string> = { '/': 'index.html', '/ui/app.js': 'app.js', '/ui/app.css': 'app.css' };
const MIME: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

const productCreate = z.strictObject({ name: z.string().trim().min(1).max(64), recipeId: z.number().int().min(1).max(2_147_483_647).optional(), threshold: z.number().min(0).max(1).nullable().optional() });
const productPatch = z.strictObject({ name: z.string().trim().min(1).max(64).optional(), threshold: z.number().min(0).max(1).nullable().optional() });
const activateBody = z.strictObject({ productId: z.number().int().positive().nullable() });
const captureBody = z.strictObject({ station: z.string().min(1) });
const triggerBody = z.strictObject({ partId: z.string().max(64).default('') });

export async function startHttp(daemon: Daemon, opts: HttpOptions): Promise<HttpHandle> {
  const app = Fastify({ logger: false, bodyLimit: opts.maxUploadBytes, forceCloseConnections: true });
  const openapi = { openapi: '3.0.3', info: { title: 'adaptclip-edge agent API', version: daemon.opts.version }, paths: {} as Record<string, Record<string, unknown>>, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } };
  const ui = new Map(Object.entries(UI_FILES).map(([url, file]) => [url, readFileSync(new URL(`./ui/${file}`, import.meta.url))]));

  app.addContentTypeParser(/^(image\/.*|application\/octet-stream)$/, { parseAs: 'buffer', bodyLimit: opts.maxUploadBytes }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof HttpError || err instanceof StoreError || err instanceof UnavailableError) return reply.code(err.status).send({ error: err.message });
    if (err instanceof z.ZodError) {
      const i = err.issues[0]!;
      return reply.code(400).send({ error: `invalid request body at ${i.path.join('.') || '(body)'}: ${i.message}` });
    }
    if (err instanceof ImageError) return reply.code(415).send({ error: `${err.message}; upload a PNG, JPEG, BMP or TIFF photo of a good part` });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `upload too large: the limit is ${(opts.maxUploadBytes / 1048576).toFixed(1)} MiB (http.maxUploadMb); scale the image down` });
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ error: 'unsupported content type: send image bytes (image/png, image/jpeg, …) or JSON' });
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err.statusCode === 400)) return reply.code(400).send({ error: `bad request: ${err.message}` });
    daemon.log.error({ err: err.message }, 'http handler failed');
    return reply.code(500).send({ error: `internal error: ${err.message}` });
  });

  const authorized = (req: FastifyRequest) => {
    const token = daemon.token;
    return token !== undefined && req.headers.authorization === `Bearer ${token}`;
  };
  const guard = (write: boolean, open: boolean) => async (req: FastifyRequest) => {
    if (!write && (opts.openReads || open)) return;
    if (write && daemon.token === undefined) throw new HttpError(403, 'writes are disabled: set http.token in the config to allow them');
    if (!authorized(req)) throw new HttpError(401, `${write ? 'writes' : 'reads'} need the header "Authorization: Bearer <http.token>"`);
  };

  const route = <P = Record<string, string>>(method: Method, url: string, doc: RouteDoc, handler: (req: FastifyRequest<{ Params: P }>, reply: FastifyReply) => unknown) => {
    const write = method !== 'GET';
    app.route({ method, url, preHandler: guard(write, doc.open === true), handler: handler as (req: FastifyRequest, reply: FastifyReply) => unknown });
    const path = url.replace(/:(\w+)/g, '{$1}');
    const params = [...url.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = Object.entries(doc.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } }));
    (openapi.paths[path] ??= {})[method.toLowerCase()] = {
      summary: doc.summary,
      tags: [doc.tag],
      parameters: [...params, ...query],
      ...(write || (!opts.openReads && !doc.open) ? { security: [{ bearer: [] }] } : {}),
      ...(doc.body === 'image'
        ? { requestBody: { required: true, content: { 'image/png': {}, 'image/jpeg': {}, 'application/octet-stream': {} } } }
        : doc.body ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: Object.fromEntries(Object.entries(doc.body).map(([k, d]) => [k, { description: d }])) } } } } } : {}),
      responses: { 200: { description: 'OK', content: { [doc.produces ?? 'application/json']: {} } }, 400: { description: 'bad input' }, 401: { description: 'token missing or wrong' }, 404: { description: 'not found' } },
    };
  };

  const station = (id: string) => {
    const st = daemon.stations.get(id);
    if (!st) throw new HttpError(404, `station ${id} does not exist; known: ${[...daemon.stations.keys()].join(', ') || 'none'}`);
    return st;
  };
  const intParam = (v: string, what: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new HttpError(400, `${what} must be a positive integer, got "${v}"`);
    return n;
  };
  const actor = (req: FastifyRequest) => `api:${req.ip}`;

  // ---- UI ----
  for (const [url, body] of ui) {
    app.get(url, (_req, reply) => reply.type(MIME[url === '/' ? 'html' : url.split('.').pop()!]!).header('cache-control', 'no-cache').send(body));
  }

  // ---- system ----
  route('GET', '/healthz', { summary: 'Pipeline health with per-component reasons (503 when any component is unhealthy)', tag: 'system', open: true }, (_req, reply) => {
    const h = daemon.health();
    return reply.code(h.ok ? 200 : 503).send(h);
  });
  route('GET', '/metrics', { summary: 'Prometheus metrics', tag: 'system', produces: 'text/plain', open: true }, async (_req, reply) => {
    daemon.publishStatuses(false);
    return reply.type(daemon.metrics.registry.contentType).send(await daemon.metrics.registry.metrics());
  });
  route('GET', '/openapi.json', { summary: 'This document', tag: 'system', open: true }, () => openapi);
  route('GET', '/api/info', { summary: 'Agent version, pack, stations, safe mode', tag: 'system' }, () => ({
    version: daemon.opts.version, pack: daemon.packId, provider: daemon.worker?.provider ?? 'none', safeMode: daemon.safeMode,
    configFile: daemon.opts.configFile, configProblems: daemon.opts.configProblems ?? [], dataDir: daemon.dataDir, writable: daemon.token !== undefined,
    stations: [...daemon.stations.keys()], startedAt: daemon.startedAt,
  }));
  route('GET', '/api/counters', { summary: 'Per-station accounting: captured = sum(outcomes) + pending', tag: 'system' }, () => daemon.counters());
  route('GET', '/api/audit', { summary: 'Audit log (newest first)', tag: 'system', query: { limit: 'max entries (default 100)' } }, (req) => {
    const limit = (req.query as { limit?: string }).limit;
    return daemon.store.auditLog(limit === undefined ? 100 : Math.min(intParam(limit, 'limit'), 1000));
  });

  // ---- stations / live view ----
  route('GET', '/api/stations', { summary: 'Live state of every station: camera, reference, latest verdict, counters', tag: 'live' }, () =>
    [...daemon.stations.values()].map((st) => {
      const ref = daemon.changeover.current(st.id);
      const v = st.live?.verdict;
      return {
        id: st.id, cameraId: st.cameraId, triggerMode: st.triggerMode, camera: st.status(), status: daemon.stationStatus(st),
        reference: { productId: ref.productId, recipeId: ref.recipeId, productName: ref.recipeName, version: ref.version, state: ref.state, shots: ref.shots, mode: ref.shots ? 'few-shot' : 'zero-shot', threshold: ref.threshold, thresholdSource: ref.thresholdSource, detail: ref.detail },
        latest: v ? withoutPng(v) : null, counters: { captured: st.counters.captured, pending: st.pending, outcomes: st.counters.outcomes }, queue: { depth: st.queue.length, capacity: st.queue.capacity, policy: st.queue.policy },
      };
    }));
  route('GET', '/api/stations/:id/frame.jpg', { summary: 'Latest judged frame (JPEG)', tag: 'live', produces: 'image/jpeg' }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const live = station(req.params.id).live;
    if (!live) throw new HttpError(404, `station ${req.params.id} has no judged frame yet`);
    const jpg = await sharp(live.frame.rgb, { raw: { width: live.frame.width, height: live.frame.height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
    return reply.type('image/jpeg').header('x-result-id', live.verdict.resultId).header('cache-control', 'no-store').send(jpg);
  });
  route('GET', '/api/stations/:id/overlay.png', { summary: 'Latest frame blended with its anomaly heat map and defect boxes', tag: 'live', produces: 'image/png' }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const live = station(req.params.id).live;
    if (!live?.judged) throw new HttpError(404, `station ${req.params.id} has no frame with a heat map yet`);
    const png = await overlayPng({ width: live.frame.width, height: live.frame.height, data: live.frame.rgb }, live.judged);
    return reply.type('image/png').header('x-result-id', live.verdict.resultId).header('cache-control', 'no-store').send(png);
  });
  route('POST', '/api/stations/:id/trigger', { summary: 'Software trigger: inspect one part; answers {triggerId, triggerSeq: 0} (triggerId is the result\'s frameSeq)', tag: 'live', body: { partId: 'part id echoed in the result (≤64 chars)' } }, async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const st = station(req.params.id);
    const { partId } = triggerBody.parse(req.body ?? {});
    if (st.triggerMode !== 'software' || !st.source.trigger) throw new HttpError(409, `camera ${st.cameraId} is ${st.triggerMode}; set trigger: software in its config to trigger it`);
    // triggerId finds the result (its frameSeq); triggerSeq is 0: only PLC triggers carry one.
    return await st.trigger(partId, { origin: 'http' });
  });
  route('POST', '/api/stations/:id/activate', { summary: 'Changeover: make a product active on the station (null = none, zero-shot)', tag: 'products', body: { productId: 'product id or null' } }, async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const st = station(req.params.id);
    const { productId } = activateBody.parse(req.body);
    const r = await daemon.changeover.activate(st.id, productId, actor(req));
    daemon.metrics.changeoverSeconds.observe(r.ms / 1000);
    daemon.publishStatuses(false);
    return { stationId: st.id, productId, referenceVersion: r.reference.version, mode: r.reference.shots ? 'few-shot' : 'zero-shot', shots: r.reference.shots, threshold: r.reference.threshold, thresholdSource: r.reference.thresholdSource, ms: r.ms, encodedShots: r.encodedShots };
  });

  // ---- products and shots ----
  route('GET', '/api/products', { summary: 'Products (recipes) with shot counts and where they are active', tag: 'products' }, () => {
    const active = new Map<number, string[]>();
    for (const st of daemon.stations.values()) {
      const pid = daemon.changeover.current(st.id).productId;
      if (pid !== null) active.set(pid, [...(active.get(pid) ?? []), st.id]);
    }
    return daemon.store.listProducts().map((p) => ({ ...p, activeOn: active.get(p.id) ?? [], mode: p.shotCount ? 'few-shot' : 'zero-shot' }));
  });
  route('POST', '/api/products', { summary: 'Create a product', tag: 'products', body: { name: 'unique name', recipeId: 'integer the PLC selects (default: next free)', threshold: 'override 0..1 or null' } }, (req, reply) => {
    const body = productCreate.parse(req.body);
    return reply.code(201).send(daemon.store.createProduct({ name: body.name, ...(body.recipeId === undefined ? {} : { recipeId: body.recipeId }), threshold: body.threshold ?? null }, actor(req)));
  });
  route('GET', '/api/products/:id', { summary: 'One product', tag: 'products' }, (req: FastifyRequest<{ Params: { id: string } }>) => daemon.store.requireProduct(intParam(req.params.id, 'product id')));
  route('PATCH', '/api/products/:id', { summary: 'Rename or set/clear the threshold override', tag: 'products', body: { name: 'new name', threshold: '0..1, or null to use the calibrated threshold' } }, async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const id = intParam(req.params.id, 'product id');
    const patch = productPatch.parse(req.body);
    const p = daemon.store.updateProduct(id, { ...(patch.name === undefined ? {} : { name: patch.name }), ...(patch.threshold === undefined ? {} : { threshold: patch.threshold }) }, actor(req));
    await daemon.changeover.refreshProduct(id);
    return p;
  });
  route('DELETE', '/api/products/:id', { summary: 'Delete a product (not while active)', tag: 'products' }, (req: FastifyRequest<{ Params: { id: string } }>) => {
    daemon.store.deleteProduct(intParam(req.params.id, 'product id'), actor(req));
    return { deleted: true };
  });
  route('GET', '/api/products/:id/shots', { summary: 'Normal shots with their leave-one-out scores', tag: 'products' }, async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const id = intParam(req.params.id, 'product id');
    daemon.store.requireProduct(id);
    return shotsWithScores(daemon, id);
  });
  route('POST', '/api/products/:id/shots', { summary: 'Upload a normal shot (raw image bytes)', tag: 'products', body: 'image' }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const id = intParam(req.params.id, 'product id');
    daemon.store.requireProduct(id);
    if (!Buffer.isBuffer(req.body)) throw new HttpError(415, 'send the image bytes as the request body with Content-Type image/png or image/jpeg');
    const img = await decodeImage(req.body, maxUploadPixels(daemon)).catch((err: unknown) => {
      if (!(err instanceof ImageTooLargeError)) throw err;
      throw new HttpError(413, `shot too large: ${err.width}×${err.height} is ${(err.width * err.height / 1e6).toFixed(1)} megapixels, over the ${(err.maxPixels / 1e6).toFixed(1)} megapixel limit (http.maxUploadPixels); scale it down or raise http.maxUploadPixels`);
    });
    const shot = daemon.store.addShot(id, { png: await pngKeepingMode(req.body, img), width: img.width, height: img.height, source: 'upload' }, actor(req));
    await daemon.changeover.refreshProduct(id);
    return reply.code(201).send({ shot, shots: await shotsWithScores(daemon, id) });
  });
  route('POST', '/api/products/:id/shots/capture', { summary: 'Capture a normal shot from a station\'s live camera', tag: 'products', body: { station: 'station id' } }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const id = intParam(req.params.id, 'product id');
    daemon.store.requireProduct(id);
    const st = station(captureBody.parse(req.body).station);
    if (!st.latestFrame && st.triggerMode === 'software') {
      // A triggered camera shows nothing until asked: take one picture (it is also inspected, like any trigger).
      await st.trigger('shot-capture');
      await waitForFrame(st, 5000);
    }
    const frame = st.latestFrame;
    if (!frame) throw new HttpError(409, `camera ${st.cameraId} has not delivered a frame yet; check the camera state in Health`);
    const png = await sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).png().toBuffer();
    const shot = daemon.store.addShot(id, { png, width: frame.width, height: frame.height, source: st.cameraId }, actor(req));
    await daemon.changeover.refreshProduct(id);
    return reply.code(201).send({ shot, shots: await shotsWithScores(daemon, id) });
  });
  route('GET', '/api/shots/:id/image.png', { summary: 'A shot\'s image', tag: 'products', produces: 'image/png' }, (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const png = daemon.store.shotPng(intParam(req.params.id, 'shot id'));
    if (!png) throw new HttpError(404, `shot ${req.params.id} does not exist`);
    return reply.type('image/png').send(png);
  });
  route('DELETE', '/api/shots/:id', { summary: 'Delete a shot (the product\'s reference is rebuilt)', tag: 'products' }, async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const shot = daemon.store.deleteShot(intParam(req.params.id, 'shot id'), actor(req));
    await daemon.changeover.refreshProduct(shot.productId);
    return { deleted: true };
  });

  // ---- history ----
  route('GET', '/api/results', { summary: 'Results, newest first, filtered', tag: 'history', query: { station: 'station id', camera: 'camera id', outcome: 'PASS|FAIL|NO_VERDICT', reason: 'NO_VERDICT reason', product: 'product id', part: 'part id (exact)', since: 'epoch ms or ISO', until: 'epoch ms or ISO', limit: '≤1000, default 100' } }, (req) => {
    const q = req.query as Record<string, string | undefined>;
    const time = (v: string | undefined, what: string) => {
      if (v === undefined || v === '') return undefined;
      const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
      if (!Number.isFinite(n)) throw new HttpError(400, `${what} must be epoch ms or an ISO date, got "${v}"`);
      return n;
    };
    if (q.outcome && !['PASS', 'FAIL', 'NO_VERDICT'].includes(q.outcome)) throw new HttpError(400, `outcome must be PASS, FAIL or NO_VERDICT, got "${q.outcome}"`);
    const since = time(q.since, 'since');
    const until = time(q.until, 'until');
    return daemon.store.queryResults({
      ...(q.station ? { stationId: q.station } : {}), ...(q.camera ? { cameraId: q.camera } : {}), ...(q.outcome ? { outcome: q.outcome as 'PASS' } : {}),
      ...(q.reason ? { reason: q.reason } : {}), ...(q.product ? { productId: intParam(q.product, 'product') } : {}), ...(q.part ? { partId: q.part } : {}),
      ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }), limit: q.limit ? intParam(q.limit, 'limit') : 100,
    });
  });
  route('GET', '/api/results/:id', { summary: 'One result', tag: 'history' }, (req: FastifyRequest<{ Params: { id: string } }>) => {
    const r = daemon.store.getResult(req.params.id);
    if (!r) throw new HttpError(404, `result ${req.params.id} does not exist (or was removed by retention)`);
    return r;
  });
  const mask = (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const png = daemon.store.resultMask(req.params.id);
    if (png === undefined) throw new HttpError(404, `result ${req.params.id} does not exist (or was removed by retention)`);
    if (png === null) throw new HttpError(404, `result ${req.params.id} has no stored mask (passed, or removed by mask retention)`);
    return reply.type('image/png').send(png);
  };
  route('GET', '/results/:id/mask.png', { summary: 'A result\'s defect mask (8-bit PNG, 0/255); the MaskUri of OPC UA/MQTT', tag: 'history', produces: 'image/png' }, mask);
  route('GET', '/api/results/:id/mask.png', { summary: 'Same as /results/{id}/mask.png', tag: 'history', produces: 'image/png' }, mask);

  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host;
  return { app, port, url: `http://${shownHost}:${port}`, close: () => app.close() };
}

/** Upload pixel limit: the config's, or the schema default (safe mode has no config). */
function maxUploadPixels(daemon: Daemon): number {
  return daemon.config?.http.maxUploadPixels ?? httpSchema.parse({}).maxUploadPixels;
}

async function waitForFrame(st: { latestFrame: unknown }, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!st.latestFrame && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

function withoutPng<T extends { mask: { png: Buffer } | null }>(v: T) {
  const { mask, ...rest } = v;
  return { ...rest, mask: mask ? { ...mask, png: undefined } : null };
}

async function shotsWithScores(daemon: Daemon, productId: number) {
  const shots = daemon.store.listShots(productId);
  let scores = new Map<number, number | null>();
  let note = '';
  try {
    scores = new Map((await daemon.changeover.shotScores(productId)).map((s) => [s.shotId, s.looScore]));
    if (shots.length < 2) note = 'leave-one-out scores need at least 2 shots';
  } catch (err) {
    note = `scores unavailable: ${(err as Error).message}`;
  }
  return { note, shots: shots.map((s) => ({ ...s, looScore: scores.get(s.id) ?? null, imageUrl: `/api/shots/${s.id}/image.png` })) };
}
