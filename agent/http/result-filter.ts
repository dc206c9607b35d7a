// The result filters of GET /api/results and GET /api/results.csv: one query schema, checked one way, with messages
// that say what is accepted (strings on purpose: zod's own messages would not).
import { z } from 'zod';
import { OUTCOMES } from '../../adapters/protocol.ts';
import type { ResultFilter } from '../store/store.ts';
import { HttpError, intParam } from './common.ts';

export const resultFilterQuery = z.object({
  station: z.string().optional().describe('station id'),
  camera: z.string().optional().describe('camera id'),
  outcome: z.string().optional().describe('PASS, FAIL or NO_VERDICT'),
  reason: z.string().optional().describe('NO_VERDICT reason'),
  product: z.string().optional().describe('product id'),
  part: z.string().optional().describe('part id (exact)'),
  since: z.string().optional().describe('epoch ms or ISO date'),
  until: z.string().optional().describe('epoch ms or ISO date'),
});

const isOutcome = (v: string): v is (typeof OUTCOMES)[number] => (OUTCOMES as readonly string[]).includes(v);

function time(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new HttpError(400, `${what} must be epoch ms or an ISO date, got "${v}"`);
  return n;
}

/** The store's filter from the query (limit excluded: each route has its own default). */
export function parseResultFilter(q: z.infer<typeof resultFilterQuery>): Omit<ResultFilter, 'limit'> {
  if (q.outcome && !isOutcome(q.outcome)) throw new HttpError(400, `outcome must be PASS, FAIL or NO_VERDICT, got "${q.outcome}"`);
  const outcome = q.outcome && isOutcome(q.outcome) ? q.outcome : undefined;
  const since = time(q.since, 'since');
  const until = time(q.until, 'until');
  return {
    ...(q.station ? { stationId: q.station } : {}), ...(q.camera ? { cameraId: q.camera } : {}), ...(outcome ? { outcome } : {}),
    ...(q.reason ? { reason: q.reason } : {}), ...(q.product ? { productId: intParam(q.product, 'product') } : {}), ...(q.part ? { partId: q.part } : {}),
    ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }),
  };
}
