// Shot-quality advisor routes: every shot's leave-one-out score in words, flagged shots and where they look unusual.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, binaryResponse, idParams, intParam, type AreaOptions } from './common.ts';

const thresholdSource = z.enum(['override', 'shots', 'pack-default']);

export const shotAdviceReport = z.object({
  productId: z.number().int(),
  threshold: z.number(),
  thresholdSource,
  referenceSet: z.number().int().describe('the reference set these scores belong to (0: none yet)'),
  explanation: z.string().describe('what a leave-one-out score is, in words'),
  rule: z.string().describe('when a shot is flagged, in words'),
  flagged: z.array(z.number().int()).describe('ids of flagged shots'),
  shots: z.array(z.object({
    shotId: z.number().int(),
    looScore: z.number().nullable().describe('leave-one-out score: 0 = like the other shots, 1 = very different'),
    peak: z.number().nullable().describe("highest value of the shot's map against the other shots"),
    flagged: z.boolean(),
    reasons: z.array(z.string()).describe('why it is flagged'),
    words: z.string().describe('the score in words'),
    overlayUrl: z.string().nullable().describe('the shot blended with its leave-one-out map'),
  })),
});

export const shotAdviceRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const tags = ['products'];

  app.get('/api/products/:id/shot-advice', {
    config: read.config,
    schema: { summary: "Shot-quality advice: each shot's leave-one-out score in words and the shots that look unlike the others", tags, security: read.security, params: idParams('product id (positive integer)'), response: { 200: shotAdviceReport, ...read.errors(400, 404, 503) } },
  }, (req) => api.shotAdvice.advice(intParam(req.params.id, 'product id')));

  app.get('/api/shots/:id/loo-overlay.png', {
    config: read.config,
    schema: {
      summary: 'The shot blended with its anomaly map judged against the product\'s other shots (where it looks unusual)', tags, security: read.security,
      params: idParams('shot id (positive integer)'), response: { 200: binaryResponse('image/png', 'overlay at the shot\'s resolution'), ...read.errors(400, 404, 409, 503) },
    },
  }, async (req, reply) => reply.type('image/png').send(await api.shotAdvice.looOverlay(intParam(req.params.id, 'shot id'))));
};
