// Reference set routes: a product's versioned shot sets, restoring an earlier one, a false reject kept as a shot.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, actor, idParams, intParam, type AreaOptions } from './common.ts';
import * as s from './schemas.ts';
import { region } from './regions.ts';

export const referenceSet = z.object({
  productId: z.number().int(),
  version: z.number().int().describe('1, 2, … per product; every change of its shots makes the next one'),
  action: z.enum(['add', 'delete', 'restore', 'migrated', 'region']).describe('what made this set (region: its inspection region changed)'),
  detail: z.string(),
  createdBy: z.string(),
  createdAt: z.number().int().describe('epoch ms'),
  shotIds: z.array(z.number().int()).describe('the shots of this set, ascending'),
  region: region.nullable().describe('the inspection region of this set (null: whole frame); restoring the set restores it'),
  current: z.boolean().describe('the set the product is judged with now'),
});

/** A shot that became part of the product: the shot, its new reference set and the product's shot list. */
export const keptShot = z.object({ shot: s.shot, referenceSet, shots: s.shotList });

const setParams = z.object({ id: z.string().describe('product id (positive integer)'), version: z.string().describe('reference set version') });
const resultParams = z.object({ id: z.string().describe('result id') });
const keepBody = z.strictObject({ productId: z.number().int().positive().optional().describe("product to add the shot to (default: the result's product)") }).nullish();

export const referenceSetRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const engineer = access('engineer', openReads);
  const operator = access('operator', openReads);
  const tags = ['products'];

  app.get('/api/products/:id/reference-sets', {
    config: read.config,
    schema: { summary: "A product's reference sets, newest first (who made each, when, its shots)", tags, security: read.security, params: idParams('product id (positive integer)'), response: { 200: z.array(referenceSet), ...read.errors(400, 404, 503) } },
  }, (req) => api.referenceSets.list(intParam(req.params.id, 'product id')));

  app.post('/api/products/:id/reference-sets/:version/restore', {
    config: engineer.config,
    schema: {
      summary: "Restore an earlier reference set: its shots become the product's shots again (as a new set); stations running the product follow",
      tags, security: engineer.security, params: setParams, body: z.strictObject({}).nullish().describe('no fields'), response: { 201: z.object({ referenceSet, shots: s.shotList }), ...engineer.errors(400, 404, 409, 503) },
    },
  }, async (req, reply) => {
    const id = intParam(req.params.id, 'product id');
    const referenceSet = await api.referenceSets.restore(id, intParam(req.params.version, 'reference set version'), actor(req));
    reply.code(201).send({ referenceSet, shots: await api.shots(id) });
  });

  app.post('/api/results/:id/keep-as-shot', {
    config: operator.config,
    schema: {
      summary: "False reject: the result's stored frame becomes a good shot (a new reference set)", tags, security: operator.security,
      params: resultParams, body: keepBody, response: { 201: keptShot, ...operator.errors(400, 404, 409, 503) },
    },
  }, async (req, reply) => {
    const kept = await api.referenceSets.keepResultAsShot(req.params.id, req.body?.productId, actor(req));
    reply.code(201).send({ ...kept, shots: await api.shots(kept.shot.productId) });
  });
};
