// Inspection region routes: what part of the frame a product is inspected in, which areas are ignored and the smallest
// defect that counts. Stored with the product's reference sets (a change makes a new set; restoring a set restores it).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { access, actor, idParams, intParam, type AreaOptions } from './common.ts';

const rect = z.object({
  x: z.number().describe('left edge, frame pixels (whole number ≥ 0)'),
  y: z.number().describe('top edge, frame pixels'),
  width: z.number().describe('≥ 1 pixel'),
  height: z.number().describe('≥ 1 pixel'),
});
const point = z.tuple([z.number(), z.number()]).describe('[x, y] in frame pixels');

/** A product's region as stored; every field says what its absence means. */
export const region = z.object({
  roi: rect.nullable().describe('the rectangle inspected; null = the whole frame. Frames and shots are cropped to it before the model\'s resize'),
  ignore: z.array(z.array(point)).describe('ignore areas: polygons of ≥ 3 points that do not cross themselves; nothing inside is a defect'),
  minAreaPx: z.number().int().nullable().describe('defect regions smaller than this many frame pixels are no defect; null = none'),
});

// Numbers are checked by agent/regions.ts (whole pixels, inside the frame, simple polygons) so the 400 names the part.
const putBody = z.strictObject({
  roi: rect.strict().nullable().optional().describe('null or absent: the whole frame'),
  ignore: z.array(z.array(point)).max(64).optional().describe('absent: none'),
  minAreaPx: z.number().nullable().optional().describe('absent or null: none'),
  stationId: z.string().optional().describe("also check the region against this station's camera frame size"),
});

const regionView = z.object({
  productId: z.number().int(),
  referenceSet: z.number().int().describe('the reference set the region belongs to (0: the product has none yet)'),
  region: region.nullable().describe('null: the whole frame, no ignore areas, no minimum area'),
  checkedAgainst: z.array(z.object({ source: z.string().describe('shot #id or station id'), width: z.number().int(), height: z.number().int() }))
    .describe('the frame sizes the region was checked against (a PUT); the shots\' and the cameras\' running the product'),
});

export type RegionBody = z.infer<typeof putBody>;
export type RegionViewBody = z.infer<typeof regionView>;

export const regionRoutes: FastifyPluginAsyncZod<AreaOptions> = async (app, { api, openReads }) => {
  const read = access('read', openReads);
  const engineer = access('engineer', openReads);
  const tags = ['products'];

  app.get('/api/products/:id/region', {
    config: read.config,
    schema: { summary: "A product's inspection region, ignore areas and minimum defect area", tags, security: read.security, params: idParams('product id (positive integer)'), response: { 200: regionView, ...read.errors(400, 404, 503) } },
  }, (req) => api.regions.get(intParam(req.params.id, 'product id')));

  app.put('/api/products/:id/region', {
    config: engineer.config,
    schema: {
      summary: "Set a product's inspection region (a new reference set, audited); stations running it follow. Checked against its shots' and cameras' frame sizes",
      tags, security: engineer.security, params: idParams('product id (positive integer)'), body: putBody, response: { 200: regionView, ...engineer.errors(400, 404, 409, 503) },
    },
  }, (req) => api.regions.put(intParam(req.params.id, 'product id'), req.body, actor(req)));
};
