// Detection metrics, exact (no binning): tied scores form one threshold, as scikit-learn does.
// Scores may be millions of pixels, so positives and negatives are sorted apart (typed-array sorts)
// and merged, instead of sorting index arrays with a comparator.
import { connectedRegions } from '../verdict.ts';

type Scores = ArrayLike<number>;
type Labels = ArrayLike<number | boolean>;

export interface BinaryCurve {
  /** Distinct thresholds, descending. */
  thresholds: Float64Array;
  /** True / false positives counted at score ≥ threshold. */
  tps: Float64Array;
  fps: Float64Array;
  positives: number;
  negatives: number;
}

function splitSorted(labels: Labels, scores: Scores): { pos: Float64Array; neg: Float64Array } {
  if (labels.length !== scores.length) throw new RangeError(`metrics: ${labels.length} labels but ${scores.length} scores`);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(labels.length - nPos);
  let p = 0, n = 0;
  for (let i = 0; i < labels.length; i++) {
    const s = Number(scores[i]);
    const v = Number.isFinite(s) ? s : 0; // the runtime maps NaN/inf to 0 too
    if (labels[i]) pos[p++] = v;
    else neg[n++] = v;
  }
  pos.sort().reverse();
  neg.sort().reverse();
  return { pos, neg };
}

/** Cumulative counts at every distinct score, like sklearn's _binary_clf_curve. */
export function binaryCurve(labels: Labels, scores: Scores): BinaryCurve {
  const { pos, neg } = splitSorted(labels, scores);
  const thresholds: number[] = [];
  const tps: number[] = [];
  const fps: number[] = [];
  let i = 0, j = 0;
  while (i < pos.length || j < neg.length) {
    const t = Math.max(i < pos.length ? pos[i]! : -Infinity, j < neg.length ? neg[j]! : -Infinity);
    while (i < pos.length && pos[i] === t) i++;
    while (j < neg.length && neg[j] === t) j++;
    thresholds.push(t);
    tps.push(i);
    fps.push(j);
  }
  return { thresholds: Float64Array.from(thresholds), tps: Float64Array.from(tps), fps: Float64Array.from(fps), positives: pos.length, negatives: neg.length };
}

function needBoth(curve: BinaryCurve, what: string): void {
  if (curve.positives === 0 || curve.negatives === 0) {
    throw new RangeError(`${what} needs both normal and anomalous samples (got ${curve.negatives} normal, ${curve.positives} anomalous)`);
  }
}

/** Area under the ROC curve (trapezoids), as sklearn's roc_auc_score. */
export function auroc(labels: Labels, scores: Scores): number {
  const c = binaryCurve(labels, scores);
  needBoth(c, 'AUROC');
  let area = 0, prevX = 0, prevY = 0;
  for (let k = 0; k < c.thresholds.length; k++) {
    const x = c.fps[k]! / c.negatives;
    const y = c.tps[k]! / c.positives;
    area += ((x - prevX) * (y + prevY)) / 2;
    prevX = x;
    prevY = y;
  }
  return area;
}

/** Average precision Σ (R_n − R_{n−1}) P_n, as sklearn's average_precision_score (no interpolation). */
export function averagePrecision(labels: Labels, scores: Scores): number {
  const c = binaryCurve(labels, scores);
  needBoth(c, 'AP');
  let ap = 0, prevRecall = 0;
  for (let k = 0; k < c.thresholds.length; k++) {
    const recall = c.tps[k]! / c.positives;
    const precision = c.tps[k]! / (c.tps[k]! + c.fps[k]!);
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
  }
  return ap;
}

/** Best F1 over all thresholds, and the threshold that gives it. */
export function f1Max(labels: Labels, scores: Scores): { f1: number; threshold: number } {
  const c = binaryCurve(labels, scores);
  needBoth(c, 'F1max');
  let best = { f1: 0, threshold: c.thresholds[0] ?? 0 };
  for (let k = 0; k < c.thresholds.length; k++) {
    const tp = c.tps[k]!;
    const f1 = (2 * tp) / (c.positives + tp + c.fps[k]!);
    if (f1 > best.f1) best = { f1, threshold: c.thresholds[k]! };
  }
  return best;
}

/**
 * The line's figure: with the threshold set so that at most `escape` of the defective parts pass
 * (false-negative rate ≤ escape), the share of good parts that fail (overkill = false-positive rate).
 * The highest such threshold is taken, which gives the least overkill.
 */
export function overkillAtEscape(labels: Labels, scores: Scores, escape: number): { overkill: number; threshold: number } {
  const c = binaryCurve(labels, scores);
  needBoth(c, 'overkill');
  for (let k = 0; k < c.thresholds.length; k++) {
    if (1 - c.tps[k]! / c.positives <= escape + 1e-12) return { overkill: c.fps[k]! / c.negatives, threshold: c.thresholds[k]! };
  }
  return { overkill: 1, threshold: c.thresholds[c.thresholds.length - 1]! };
}

export interface PixelSample {
  /** Anomaly map, width*height. */
  map: Float32Array;
  /** Ground truth, non-zero = anomalous, width*height. */
  mask: Uint8Array;
  width: number;
  height: number;
}

/**
 * Area under the per-region-overlap curve up to `maxFpr` (MVTec AD's AUPRO), normalised to [0, 1].
 * Each ground-truth region (8-connected, per image) weighs equally in PRO, whatever its size.
 */
export function aupro(samples: readonly PixelSample[], maxFpr = 0.3): number {
  let regionCount = 0;
  let normalCount = 0;
  const posScores: number[] = [];
  const posWeights: number[] = [];
  const negChunks: Float32Array[] = [];
  for (const s of samples) {
    const { regions, labels } = connectedRegions(s.mask, s.width, s.height);
    const neg = new Float32Array(s.mask.length);
    let n = 0;
    for (let i = 0; i < s.mask.length; i++) {
      const v = Number.isFinite(s.map[i]!) ? s.map[i]! : 0;
      if (labels[i]) {
        posScores.push(v);
        posWeights.push(1 / regions[labels[i]! - 1]!.areaPx);
      } else neg[n++] = v;
    }
    regionCount += regions.length;
    normalCount += n;
    negChunks.push(neg.subarray(0, n));
  }
  if (regionCount === 0 || normalCount === 0) throw new RangeError(`AUPRO needs anomalous regions and normal pixels (got ${regionCount} regions, ${normalCount} normal pixels)`);
  const neg = new Float64Array(normalCount);
  let off = 0;
  for (const c of negChunks) {
    neg.set(c, off);
    off += c.length;
  }
  neg.sort().reverse();
  const order = Uint32Array.from(posScores.keys()).sort((a, b) => posScores[b]! - posScores[a]!);
  const fpr: number[] = [0];
  const pro: number[] = [0];
  let i = 0, j = 0, weight = 0;
  while (i < order.length || j < neg.length) {
    const t = Math.max(i < order.length ? posScores[order[i]!]! : -Infinity, j < neg.length ? neg[j]! : -Infinity);
    while (i < order.length && posScores[order[i]!] === t) weight += posWeights[order[i++]!]!;
    while (j < neg.length && neg[j] === t) j++;
    fpr.push(j / normalCount);
    pro.push(Math.min(1, weight / regionCount));
  }
  return trapezoidUpTo(fpr, pro, maxFpr) / maxFpr;
}

/** ∫ y dx over x ∈ [x0, xMax] for a monotone x, with y interpolated linearly at xMax. */
export function trapezoidUpTo(x: readonly number[], y: readonly number[], xMax: number): number {
  let area = 0;
  for (let k = 1; k < x.length; k++) {
    const x0 = x[k - 1]!, x1 = x[k]!, y0 = y[k - 1]!, y1 = y[k]!;
    if (x0 >= xMax) break;
    if (x1 <= xMax) area += ((x1 - x0) * (y0 + y1)) / 2;
    else {
      const yAt = y0 + ((y1 - y0) * (xMax - x0)) / (x1 - x0);
      area += ((xMax - x0) * (y0 + yAt)) / 2;
      break;
    }
  }
  return area;
}

/** ROC and PR points for plotting (at most `maxPoints`, evenly thinned). */
export function curvePoints(labels: Labels, scores: Scores, maxPoints = 400): { roc: [number, number][]; pr: [number, number][] } {
  const c = binaryCurve(labels, scores);
  const step = Math.max(1, Math.ceil(c.thresholds.length / maxPoints));
  const roc: [number, number][] = [[0, 0]];
  const pr: [number, number][] = [];
  for (let k = 0; k < c.thresholds.length; k += step) push(k);
  if ((c.thresholds.length - 1) % step !== 0) push(c.thresholds.length - 1);
  function push(k: number) {
    const tp = c.tps[k]!, fp = c.fps[k]!;
    roc.push([c.negatives ? fp / c.negatives : 0, c.positives ? tp / c.positives : 0]);
    pr.push([c.positives ? tp / c.positives : 0, tp + fp ? tp / (tp + fp) : 1]);
  }
  return { roc, pr };
}
