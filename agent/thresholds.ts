// The threshold workbench's data (GET /api/products/:id/scores): a product's recent scores with the threshold each
// was judged with, its shots' leave-one-out scores, the threshold it runs with now and the calibrated one an
// override replaces. Reads only; the threshold itself changes through PATCH /api/products/:id (audited there).
import { calibrateThreshold, type ThresholdChoice } from '../models/verdict.ts';
import type { ProductScoresView, ThresholdPort } from './http/api.ts';
import type { Product, ProductScores } from './store/store.ts';

export interface ThresholdDeps {
  store: { requireProduct(id: number): Product; productScores(productId: number, limit: number): ProductScores };
  changeover: { shotReview(productId: number): Promise<{ threshold: ThresholdChoice; shots: { shotId: number; looScore: number | null }[] }> };
}

export function createThresholds({ store, changeover }: ThresholdDeps): ThresholdPort {
  return {
    scores: async (productId, limit): Promise<ProductScoresView> => {
      const product = store.requireProduct(productId);
      const stored = store.productScores(productId, limit);
      let note = '';
      let current: ThresholdChoice | null = product.threshold === null ? null : { threshold: product.threshold, source: 'override' };
      let calibrated: ThresholdChoice | null = null;
      let shots: { shotId: number; looScore: number | null }[] = [];
      try {
        const review = await changeover.shotReview(productId);
        current = review.threshold;
        shots = review.shots.map((s) => ({ shotId: s.shotId, looScore: s.looScore }));
        const loo = shots.map((s) => s.looScore).filter((s): s is number => s !== null);
        // Without an override the product already runs with the calibrated value; with one, recompute it from the
        // shots (K ≥ 2). Below 2 shots the calibrated value is the pack's default, which only shows without an override.
        if (review.threshold.source !== 'override') calibrated = review.threshold;
        else if (loo.length >= 2) calibrated = calibrateThreshold(loo, Number.NaN);
        else note = 'fewer than 2 shots: clearing the override makes the pack\'s default threshold apply';
        if (shots.length < 2) note ||= 'leave-one-out scores need at least 2 shots';
      } catch (err) {
        note = `leave-one-out scores unavailable: ${(err as Error).message}`;
      }
      const pass = stored.results.filter((r) => r.outcome === 'PASS').length;
      return {
        productId,
        limit,
        threshold: {
          value: current?.threshold ?? null,
          source: current?.source ?? null,
          override: product.threshold,
          calibrated: calibrated?.threshold ?? null,
          calibratedSource: calibrated && calibrated.source !== 'override' ? calibrated.source : null,
        },
        shots,
        note,
        counts: { shown: stored.results.length, pass, fail: stored.results.length - pass },
        totals: stored.totals,
        results: stored.results,
      };
    },
  };
}
