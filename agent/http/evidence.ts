// Evidence routes: a result's stored frame and overlay, its detail, a station's recent rejects, and the results as CSV
// (streamed row by row from the store: no size limit and nothing buffered whole).
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ResultFilter } from '../store/store.ts';
import type { ImageAnswer } from './api.ts';
import { access, binaryResponse, HttpError, intParam, type AreaOptions } from './common.ts';
import { parseResultFilter, resultFilterQuery } from './result-filter.ts';
import { result } from './schemas.ts';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;
const resultParams = z.object({ id: z.string().describe('result id (ULID)') });
const stationParams = z.object({ id: z.string().describe('station id') });

const csvQuery = resultFilterQuery.extend({ limit: z.string().optional().describe('rows at most (default: every row of the filter)') });

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('x, y, width, height in frame pixels');
const imageState = z.enum(['kept', 'none', 'pruned']).describe('kept; none: never kept (keepImages); pruned: removed by retention');

const detail = z.object({
  result,
  productName: z.string().nullable().describe('as recorded with the result'),
  threshold: z.object({ value: z.number(), source: z.enum(['override', 'shots', 'pack-default']).nullable().describe('null: recorded before sources were kept') }),
  branches: z.record(z.string(), z.number()).nullable().describe('per-branch image scores and map peaks of the runtime'),
  defects: z.object({
    count: z.number().int(), areaPx: z.number(), areaPct: z.number(), bbox: box,
    regions: z.array(z.object({ box, areaPx: z.number(), areaPct: z.number(), peak: z.number() })).nullable(),
  }),
  timings: z.object({ capturedAt: z.number().int(), decidedAt: z.number().int(), queueMs: z.number().nullable(), inferenceMs: z.number().nullable(), totalMs: z.number() }),
  images: z.object({
    frame: z.object({ state: imageState, url: z.string().nullable(), width: z.number().int().nullable(), height: z.number().int().nullable() }),
    overlay: z.object({ url: z.string().nullable() }),
    mask: z.object({ url: z.string().nullable() }),
    map: z.object({ state: imageState, size: z.number().int().nullable() }),
    bytes: z.number().int().describe('stored bytes of frame and map'),
  }),
});

const rejects = z.array(z.object({
  resultId: z.string(), resultSeq: z.number().int(), partId: z.string(), decidedAt: z.number().int(), score: z.number(), threshold: z.number(),
  defectCount: z.number().int(), frameUrl: z.string(), detailUrl: z.string(),
}));

function resultId(id: string): string {
  if (!ULID.test(id)) throw new HttpError(400, `result id must be a ULID (26 letters and digits, as /api/results lists them), got "${id.slice(0, 40)}"`);
  return id;
}

/** The filters of GET /api/results, checked the same way; no limit unless asked for. */
export function csvFilter(q: z.infer<typeof csvQuery>): ResultFilter {
  return { ...parseResultFilter(q), ...(q.limit ? { limit: intParam(q.limit, 'limit') } : {}) };
}

/** Lines joined into chunks of about 64 KiB: few writes, and memory bounded by one chunk whatever the export's size. */
function* chunks(lines: Iterator<string>, first: string): Generator<string> {
  let buf = first;
  for (let r = lines.next(); !r.done; r = lines.next()) {
    buf += r.value;
    if (buf.length >= 65_536) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

export const evidenceRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const tags = ['history'];
  const image = (answer: ImageAnswer) => {
    if ('missing' in answer) throw new HttpError(answer.status, answer.missing);
    return answer.bytes;
  };

  app.get('/api/results/:id/frame.jpg', {
    config: read.config,
    schema: { summary: "A result's stored frame (JPEG, scaled to cameras[].imageMaxSide)", tags, security: read.security, params: resultParams, response: { 200: binaryResponse('image/jpeg', 'the frame the verdict was made on'), ...read.errors(400, 404, 503) } },
  }, (req, reply) => reply.type('image/jpeg').header('cache-control', 'private, max-age=3600').send(image(api.evidence.frame(resultId(req.params.id)))));

  app.get('/api/results/:id/overlay.png', {
    config: read.config,
    schema: { summary: 'The stored frame with the heat map of its stored anomaly map and the defect outlines (PNG)', tags, security: read.security, params: resultParams, response: { 200: binaryResponse('image/png', 'frame, heat map and outlines'), ...read.errors(400, 404, 503) } },
  }, async (req, reply) => reply.type('image/png').send(image(await api.evidence.overlay(resultId(req.params.id)))));

  app.get('/api/results/:id/detail', {
    config: read.config,
    schema: { summary: "Everything the History detail shows: the result, product, threshold and its source, branch scores, defects, timings, which images exist", tags, security: read.security, params: resultParams, response: { 200: detail, ...read.errors(400, 404, 503) } },
  }, (req) => {
    const d = api.evidence.detail(resultId(req.params.id));
    if (!d) throw new HttpError(404, `result ${req.params.id} does not exist (or was removed by retention)`);
    return d;
  });

  app.get('/api/stations/:id/rejects', {
    config: read.config,
    schema: {
      summary: 'Recent FAIL results of a station that still have their frame (the rejects gallery), newest first', tags, security: read.security,
      params: stationParams, querystring: z.object({ limit: z.string().optional().describe('at most 200, default 24') }), response: { 200: rejects, ...read.errors(400, 404, 503) },
    },
  }, (req) => {
    const limit = req.query.limit ? intParam(req.query.limit, 'limit') : 24;
    if (limit > 200) throw new HttpError(400, `limit must be at most 200, got ${limit}`);
    const list = api.evidence.rejects(req.params.id, limit);
    if (!list) throw new HttpError(404, `station ${req.params.id} does not exist; configured: ${api.stationIds().join(', ') || 'none'}`);
    return list;
  });

  app.get('/api/results.csv', {
    config: read.config,
    schema: { summary: 'Results as CSV (the History table plus ids), same filters as /api/results, streamed: every row unless limit is given', tags, security: read.security, querystring: csvQuery, response: { 200: binaryResponse('text/csv', 'header line, then one line per result, newest first'), ...read.errors(400, 503) } },
  }, (req, reply) => {
    const lines = api.evidence.csv(csvFilter(req.query))[Symbol.iterator]();
    // Header and first row before the reply starts, so a store that cannot be read answers with a status, not a cut file.
    let first = '';
    for (let i = 0; i < 2; i++) {
      const r = lines.next();
      if (r.done) break;
      first += r.value;
    }
    const stamp = new Date().toISOString().replaceAll(':', '-').slice(0, 19);
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="results-${stamp}.csv"`)
      .send(Readable.from(chunks(lines, first), { objectMode: false }));
  });
};
