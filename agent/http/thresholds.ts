// Threshold workbench route: a product's recent scores, its shots' leave-one-out scores and its thresholds, so a
// person (or a tool) can see what another threshold would change before setting it with PATCH /api/products/:id.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, HttpError, idParams, intParam, type AreaOptions } from './common.ts';

export const SCORES_LIMIT_DEFAULT = 200;
export const SCORES_LIMIT_MAX = 1000;

const scoresQuery = z.object({ limit: z.string().optional().describe(`how many recent PASS/FAIL results (1…${SCORES_LIMIT_MAX}, default ${SCORES_LIMIT_DEFAULT})`) });
const source = z.enum(['override', 'shots', 'pack-default']);

export const productScores = z.object({
  productId: z.number().int(),
  limit: z.number().int(),
  threshold: z.object({
    value: z.number().nullable().describe('the threshold the product is judged with now (null: unknown while inference is not running)'),
    source: source.nullable(),
    override: z.number().nullable().describe("the product's override, null when calibrated"),
    calibrated: z.number().nullable().describe('what clearing the override gives: calibrated from the shots, or the pack default (null when unknown)'),
    calibratedSource: z.enum(['shots', 'pack-default']).nullable(),
  }),
  shots: z.array(z.object({ shotId: z.number().int(), looScore: z.number().nullable().describe('leave-one-out score') })),
  note: z.string().describe('why something is missing, if it is'),
  counts: z.object({ shown: z.number().int(), pass: z.number().int(), fail: z.number().int() }).describe('of the results below'),
  totals: z.object({ pass: z.number().int(), fail: z.number().int(), noVerdict: z.number().int() }).describe('every stored result of the product'),
  results: z.array(z.object({
    resultId: z.string(),
    stationId: z.string(),
    score: z.number(),
    threshold: z.number().describe('the threshold this result was judged with (score ≥ threshold fails)'),
    outcome: z.enum(['PASS', 'FAIL']),
    decidedAt: z.number().int().describe('epoch ms'),
  })).describe('newest first'),
});

export const thresholdRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);

  app.get('/api/products/:id/scores', {
    config: read.config,
    schema: {
      summary: "A product's recent scores (with the threshold each was judged with), its shots' leave-one-out scores and its current and calibrated thresholds",
      tags: ['products'], security: read.security, params: idParams('product id (positive integer)'), querystring: scoresQuery,
      response: { 200: productScores, ...read.errors(400, 404, 503) },
    },
  }, async (req) => {
    const id = intParam(req.params.id, 'product id');
    const raw = req.query.limit;
    const limit = raw === undefined || raw === '' ? SCORES_LIMIT_DEFAULT : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > SCORES_LIMIT_MAX) throw new HttpError(400, `limit must be a whole number from 1 to ${SCORES_LIMIT_MAX} (got "${raw}")`);
    return await api.thresholds.scores(id, limit);
  });
};
