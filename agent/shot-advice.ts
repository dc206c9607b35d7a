// Shot-quality advisor: every shot's leave-one-out score in words, and a warning when a shot looks unlike the
// product's other good shots (a defective part registered as good raises the threshold and hides defects).
import { decodeImage } from '../models/image.ts';
import { calibrateThreshold, judgeFrame, overlayPng, type ThresholdChoice } from '../models/verdict.ts';
import type { ShotAdvice, ShotAdvicePort, ShotAdviceReport } from './http/api.ts';
import { HttpError } from './http/common.ts';
import type { ShotReview } from './pipeline/changeover.ts';
import type { Store } from './store/store.ts';

export const EXPLANATION = "Leave-one-out score (LOO): each good shot is judged against the product's other good shots. "
  + 'It says how unusual this shot looks compared with them: 0 = like them, 1 = very different.';

export const RULE = 'A shot is flagged when (1) its LOO score is at or above the threshold (judged against the others it would fail), '
  + 'or (2) with 3 or more shots, its LOO score is at or above the threshold the other shots alone would calibrate '
  + '(the highest of their scores plus max(0.05, 2 standard deviations)): it stands out from them, '
  + 'or (3) part of its map against the others is at or above the threshold: a region of it looks like a defect.';

export interface AdviceInput {
  shotId: number;
  looScore: number | null;
  peak: number | null;
}

/** The rule, on the scores alone (pure: the tests feed it numbers). */
export function adviseShots(shots: readonly AdviceInput[], threshold: ThresholdChoice): Omit<ShotAdvice, 'overlayUrl'>[] {
  const t = threshold.threshold;
  return shots.map((s) => {
    const reasons: string[] = [];
    if (s.looScore !== null) {
      if (s.looScore >= t) reasons.push(`its score ${s.looScore.toFixed(3)} is at or above the threshold ${t.toFixed(3)}: judged against the other shots it would fail`);
      const others = shots.filter((o) => o !== s && o.looScore !== null).map((o) => o.looScore!);
      if (others.length >= 2) {
        const alone = calibrateThreshold(others, t).threshold;
        if (s.looScore >= alone && s.looScore < t) reasons.push(`its score ${s.looScore.toFixed(3)} stands out: the other shots alone would allow up to ${alone.toFixed(3)}`);
      }
    }
    if (s.peak !== null && s.peak >= t) reasons.push(`a region of it scores ${s.peak.toFixed(3)}, at or above the threshold ${t.toFixed(3)}: it looks like a defect there (see the overlay)`);
    const words = s.looScore === null
      ? 'no score yet: a score needs at least 2 shots'
      : `${s.looScore.toFixed(3)}: ${reasons.length ? 'unlike the other shots — check that this part is good' : s.looScore >= t * 0.8 ? 'close to the threshold, but like the other shots' : 'like the other shots'}`;
    return { shotId: s.shotId, looScore: s.looScore, peak: s.peak, flagged: reasons.length > 0, reasons, words };
  });
}

export interface ShotAdviceDeps {
  store: Pick<Store, 'requireProduct' | 'getShot' | 'shotPng' | 'isShotRetired' | 'productRegion'>;
  changeover: { shotReview(productId: number): Promise<{ threshold: ThresholdChoice; referenceSet: number; shots: ShotReview[] }> };
}

const peakOf = (map: Float32Array | null) => (map ? map.reduce((m, v) => (v > m ? v : m), -Infinity) : null);

export function createShotAdvice(deps: ShotAdviceDeps): ShotAdvicePort {
  const advice = async (productId: number): Promise<ShotAdviceReport> => {
    deps.store.requireProduct(productId);
    const review = await deps.changeover.shotReview(productId);
    const advised = adviseShots(review.shots.map((s) => ({ shotId: s.shotId, looScore: s.looScore, peak: peakOf(s.map) })), review.threshold);
    const shots = advised.map((a, i) => ({ ...a, overlayUrl: review.shots[i]!.map ? `/api/shots/${a.shotId}/loo-overlay.png` : null }));
    return {
      productId, threshold: review.threshold.threshold, thresholdSource: review.threshold.source, referenceSet: review.referenceSet,
      explanation: `${EXPLANATION} The threshold is ${review.threshold.threshold.toFixed(3)} (${thresholdWords(review.threshold.source)}); a part scoring at or above it fails.`,
      rule: RULE, flagged: shots.filter((s) => s.flagged).map((s) => s.shotId), shots,
    };
  };
  return {
    advice,
    looOverlay: async (shotId) => {
      const shot = deps.store.getShot(shotId);
      if (!shot) throw new HttpError(404, `shot ${shotId} does not exist`);
      if (deps.store.isShotRetired(shotId)) throw new HttpError(409, `shot ${shotId} is retired (not in the current reference set): it has no map against the current shots`);
      const review = await deps.changeover.shotReview(shot.productId);
      const mine = review.shots.find((s) => s.shotId === shotId);
      if (!mine?.map) throw new HttpError(409, `shot ${shotId} has no leave-one-out map: that needs at least 2 shots of the product`);
      const img = await decodeImage(deps.store.shotPng(shotId)!);
      // The shot was judged cropped to the product's region, like a live frame: its map covers that region.
      const region = deps.store.productRegion(shot.productId) ?? undefined;
      const verdict = judgeFrame(mine.looScore ?? 0, mine.map, mine.mapSize, img, { threshold: review.threshold.threshold, ...(region ? { region } : {}) });
      return overlayPng(img, verdict, region ? { region } : {});
    },
    checkActivation: async (productId, acknowledged) => {
      if (productId === null || acknowledged) return;
      const report = await advice(productId);
      if (!report.flagged.length) return;
      const name = deps.store.requireProduct(productId).name;
      throw new HttpError(409, `product "${name}" has ${report.flagged.length} flagged shot${report.flagged.length > 1 ? 's' : ''} (#${report.flagged.join(', #')}) that look unlike its other good shots; `
        + 'check them on the Products page (delete a defective one), or activate anyway with {"acknowledgeFlaggedShots": true}');
    },
  };
}

function thresholdWords(source: ThresholdChoice['source']): string {
  return source === 'override' ? 'set by hand for this product' : source === 'shots' ? "calibrated from the shots' scores" : "the model pack's default (fewer than 2 shots)";
}
