// Detection metrics as the official AdaptCLIP test computes them (its Evaluator: anomalib metrics on torchmetrics
// 1.7, exact thresholds, no binning): tied scores form one threshold, as scikit-learn does.
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

/** Sorts float32 values ascending in place (LSD radix on the IEEE bits, 3 passes of 11 bits; -0 before +0). */
export function sortFloat32(values: Float32Array): Float32Array {
  const n = values.length;
  if (n < 4096) return values.sort();
  const keys = new Uint32Array(values.buffer, values.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    keys[i] = k & 0x80000000 ? ~k >>> 0 : (k | 0x80000000) >>> 0;
  }
  let from: Uint32Array = keys;
  let to: Uint32Array = new Uint32Array(n);
  const count = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(from[i]! >>> shift) & 2047]!++;
    let sum = 0;
    for (let i = 0; i < 2048; i++) {
      const c = count[i]!;
      count[i] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = from[i]!;
      to[count[(k >>> shift) & 2047]!++] = k;
    }
    [from, to] = [to, from];
  }
  // Three passes: the sorted keys are in the scratch array; decode them back into `values`.
  for (let i = 0; i < n; i++) {
    const k = from[i]!;
    keys[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  }
  return values;
}

function splitSorted(labels: Labels, scores: Scores): { pos: Float64Array | Float32Array; neg: Float64Array | Float32Array } {
  if (labels.length !== scores.length) throw new RangeError(`metrics: ${labels.length} labels but ${scores.length} scores`);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  // Float32 scores (pixel maps) stay float32: exact, and the radix sort is several times faster.
  const Kind = scores instanceof Float32Array ? Float32Array : Float64Array;
  const pos = new Kind(nPos);
  const neg = new Kind(labels.length - nPos);
  let p = 0, n = 0;
  for (let i = 0; i < labels.length; i++) {
    const s = Number(scores[i]);
    const v = Number.isFinite(s) ? s : 0; // the runtime maps NaN/inf to 0 too
    if (labels[i]) pos[p++] = v;
    else neg[n++] = v;
  }
  if (pos instanceof Float32Array && neg instanceof Float32Array) {
    sortFloat32(pos).reverse();
    sortFloat32(neg).reverse();
  } else {
    pos.sort().reverse();
    neg.sort().reverse();
  }
  return { pos, neg };
}

/** Cumulative counts at every distinct score, like sklearn's _binary_clf_curve. */
export function binaryCurve(labels: Labels, scores: Scores): BinaryCurve {
  const { pos, neg } = splitSorted(labels, scores);
  // Two walks over the merged scores: count the distinct ones, then fill arrays of exactly that size.
  const walk = (visit: (k: number, t: number, tp: number, fp: number) => void): number => {
    let i = 0, j = 0, k = 0;
    while (i < pos.length || j < neg.length) {
      const t = Math.max(i < pos.length ? pos[i]! : -Infinity, j < neg.length ? neg[j]! : -Infinity);
      while (i < pos.length && pos[i] === t) i++;
      while (j < neg.length && neg[j] === t) j++;
      visit(k++, t, i, j);
    }
    return k;
  };
  const n = walk(() => {});
  const thresholds = new Float64Array(n);
  const tps = new Float64Array(n);
  const fps = new Float64Array(n);
  walk((k, t, tp, fp) => {
    thresholds[k] = t;
    tps[k] = tp;
    fps[k] = fp;
  });
  return { thresholds, tps, fps, positives: pos.length, negatives: neg.length };
}

function needBoth(curve: BinaryCurve, what: string): void {
  if (curve.positives === 0 || curve.negatives === 0) {
    throw new RangeError(`${what} needs both normal and anomalous samples (got ${curve.negatives} normal, ${curve.positives} anomalous)`);
  }
}

/**
 * Area under the ROC curve: trapezoids through (0, 0) and one point per distinct score. The official I-AUROC and
 * P-AUROC (torchmetrics' ROC, auc with reorder) and scikit-learn's roc_auc_score all give this.
 */
export function auroc(labels: Labels, scores: Scores): number {
  return aurocOf(binaryCurve(labels, scores));
}

/** auroc() of a curve already built (pixel metrics share one). */
export function aurocOf(c: BinaryCurve): number {
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

/**
 * Area under the precision-recall curve the way the official AdaptCLIP evaluator computes I-AP and P-AP
 * (anomalib's AUPR on torchmetrics 1.7): one (recall, precision) point per distinct score plus (0, 1), ordered by
 * recall with a stable sort (points of equal recall keep the order of ascending score), then trapezoids. Between
 * two recall levels the left end therefore takes the best precision of the lower level and the right end the
 * worst precision of the higher one. This is not scikit-learn's average_precision_score (a step sum).
 */
export function aupr(labels: Labels, scores: Scores): number {
  return auprOf(binaryCurve(labels, scores));
}

export function auprOf(c: BinaryCurve): number {
  needBoth(c, 'AP');
  let area = 0, prevRecall = 0, prevBest = 1;
  let k = 0;
  while (k < c.thresholds.length) {
    const tp = c.tps[k]!;
    let last = k;
    while (last + 1 < c.thresholds.length && c.tps[last + 1] === tp) last++;
    if (tp > 0) {
      const recall = tp / c.positives;
      const worst = tp / (tp + c.fps[last]!);
      area += ((recall - prevRecall) * (prevBest + worst)) / 2;
      prevRecall = recall;
      prevBest = tp / (tp + c.fps[k]!);
    }
    k = last + 1;
  }
  return area;
}

/**
 * Best F1 over every distinct score used as threshold (score ≥ t is anomalous), F1 = 2PR / (P + R + 1e-10) as
 * the official F1Max; the threshold that gives it.
 */
export function f1Max(labels: Labels, scores: Scores): { f1: number; threshold: number } {
  return f1MaxOf(binaryCurve(labels, scores));
}

export function f1MaxOf(c: BinaryCurve): { f1: number; threshold: number } {
  needBoth(c, 'F1max');
  let best = { f1: 0, threshold: c.thresholds[0] ?? 0 };
  for (let k = 0; k < c.thresholds.length; k++) {
    const tp = c.tps[k]!;
    const precision = tp / (tp + c.fps[k]!);
    const recall = tp / c.positives;
    const f1 = (2 * precision * recall) / (precision + recall + 1e-10);
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

const F32_EPS = 2 ** -23;

/** First index in xs[0..n) whose value is ≥ v, by plain binary search (torch.searchsorted, side left). */
function lowerBound(xs: ArrayLike<number>, n: number, v: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    if (xs[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One region's resampled curve: knot k (0 ≤ k < count) is curve point idx(k) = k, except the final knot, which is
 * point `finalPoint`; it sits at grid position idx(k) / maxPoint · span. */
interface Knots {
  fpr: Float32Array;
  tpr: Float32Array;
  count: number;
  finalPoint: number;
  maxPoint: number;
  span: number;
}

const knotPoint = (c: Knots, k: number) => (k === c.count - 1 ? c.finalPoint : k);
const knotAt = (c: Knots, k: number) => (knotPoint(c, k) / c.maxPoint) * c.span;

/** Adds the curve interpolated at position g, in the segment torch.searchsorted picks (first knot ≥ g, minus one,
 * clamped), with anomalib's slope Δy / (Δx + 2^-23), to sumF[i] / sumT[i]. */
function addAt(c: Knots, g: number, sumF: Float64Array, sumT: Float64Array, i: number): void {
  let lo = 0, hi = c.count;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    if (knotAt(c, mid) < g) lo = mid + 1;
    else hi = mid;
  }
  const j = Math.min(Math.max(lo - 1, 0), c.count - 2);
  const x0 = knotAt(c, j), dx = F32_EPS + (knotAt(c, j + 1) - x0);
  const a = knotPoint(c, j), b = knotPoint(c, j + 1);
  sumF[i] = sumF[i]! + c.fpr[a]! + ((c.fpr[b]! - c.fpr[a]!) / dx) * (g - x0);
  sumT[i] = sumT[i]! + c.tpr[a]! + ((c.tpr[b]! - c.tpr[a]!) / dx) * (g - x0);
}

/** addAt for g = 0 … points−1 when the knots are sorted, walking them instead of searching (same segments). */
function walkGrid(c: Knots, sumF: Float64Array, sumT: Float64Array, points: number): void {
  const { fpr, tpr, count, finalPoint, maxPoint, span } = c;
  const final = count - 1;
  // Knot k is curve point k at (k / maxPoint) · span, except the final knot (curve point finalPoint).
  let j = 0, a = 0, b = final === 1 ? finalPoint : 1;
  let x0 = 0, x1 = (b / maxPoint) * span;
  let f0 = fpr[a]!, t0 = tpr[a]!;
  let sf = (fpr[b]! - f0) / (F32_EPS + (x1 - x0));
  let st = (tpr[b]! - t0) / (F32_EPS + (x1 - x0));
  for (let g = 0; g < points; g++) {
    if (x1 < g && j + 2 < count) {
      do {
        j++;
        b = j + 1 === final ? finalPoint : j + 1;
        x1 = (b / maxPoint) * span;
      } while (j + 2 < count && x1 < g);
      a = j;
      x0 = (a / maxPoint) * span;
      f0 = fpr[a]!;
      t0 = tpr[a]!;
      sf = (fpr[b]! - f0) / (F32_EPS + (x1 - x0));
      st = (tpr[b]! - t0) / (F32_EPS + (x1 - x0));
    }
    sumF[g] = sumF[g]! + f0 + sf * (g - x0);
    sumT[g] = sumT[g]! + t0 + st * (g - x0);
  }
}

/**
 * AUPRO as the official AdaptCLIP evaluator computes it (anomalib's AUPRO, exact thresholds, FPR limit 0.3):
 * - regions: 8-connected components of each image's binary mask; every region weighs the same;
 * - the normal pixels of all the class's images form one background, so the false-positive rate is global;
 * - the grid has G points, G = 1 + the number of distinct scores (over all pixels) whose FPR is ≤ the limit;
 * - each region gets its own ROC over background ∪ region (one point per distinct score there, from (0, 0)),
 *   cut after the last point with FPR ≤ limit; if that FPR is not within 1e-8 + 1e-5·limit of the limit, the next
 *   point is kept and the curve's end is placed, by linear interpolation, where FPR = limit (if every point up to the
 *   limit has FPR 0, the first FPR above it stands in for the limit when cutting);
 * - that curve is resampled by point index: its k-th kept point sits at k/k_max·(G−1), and its FPR and overlap are
 *   interpolated linearly at 0, 1, …, G−2 and at the end position (slope Δy/(Δx + 2^-23), as anomalib does);
 * - FPR and overlap are averaged over the regions point by point, the points sorted by FPR (stable), the area
 *   taken with trapezoids and divided by the last averaged FPR (≈ the limit).
 * FPRs are rounded to float32 (as torch has them) where they decide which points are kept; the rest is double.
 * Scores outside [0, 1] would be passed through a sigmoid by torchmetrics; monotone, so only float32 ties could
 * differ, and AdaptCLIP's maps lie in [0, 1].
 */
export function aupro(samples: readonly PixelSample[], fprLimit = 0.3): number {
  let normalCount = 0;
  for (const s of samples) for (let i = 0; i < s.mask.length; i++) if (!s.mask[i]) normalCount++;
  const background = new Float32Array(normalCount);
  const regions: Float32Array[] = [];
  let b = 0, positiveCount = 0;
  for (const s of samples) {
    const { regions: found, labels } = connectedRegions(s.mask, s.width, s.height);
    const own = found.map((r) => new Float32Array(r.areaPx));
    const fill = new Int32Array(found.length);
    for (let i = 0; i < s.mask.length; i++) {
      const raw = s.map[i]!;
      const v = Number.isFinite(raw) ? raw : 0;
      const label = labels[i]!;
      if (label) own[label - 1]![fill[label - 1]!++] = v;
      else if (!s.mask[i]) background[b++] = v;
    }
    for (const r of own) {
      regions.push(r);
      positiveCount += r.length;
    }
  }
  if (regions.length === 0 || normalCount === 0) throw new RangeError(`AUPRO needs anomalous regions and normal pixels (got ${regions.length} regions, ${normalCount} normal pixels)`);
  const limit = Math.fround(fprLimit);
  const negatives = Math.fround(normalCount);
  const rate = (count: number) => Math.fround(Math.fround(count) / negatives);
  sortFloat32(background);

  // Distinct background scores, descending, with the FPR at each, down to the first whose FPR exceeds the limit;
  // `afterStop` is the next lower distinct background score (where every region's curve can stop).
  let distinct = 0;
  let values = new Float64Array(Math.min(normalCount, 1 << 20));
  let bgRate = new Float32Array(values.length);
  let afterStop = -Infinity;
  for (let i = normalCount - 1; i >= 0; ) {
    const v = background[i]!;
    if (distinct && bgRate[distinct - 1]! > limit) {
      afterStop = v;
      break;
    }
    let j = i;
    while (j >= 0 && background[j] === v) j--;
    if (distinct === values.length) {
      const grown = new Float64Array(Math.min(normalCount, values.length * 2));
      grown.set(values);
      values = grown;
      const grownRate = new Float32Array(grown.length);
      grownRate.set(bgRate);
      bgRate = grownRate;
    }
    values[distinct] = v;
    bgRate[distinct++] = rate(normalCount - 1 - j);
    i = j;
  }

  // Grid size from the ROC over all pixels.
  const positives = new Float32Array(positiveCount);
  let o = 0;
  for (const r of regions) {
    r.sort();
    positives.set(r, o);
    o += r.length;
  }
  sortFloat32(positives);
  let gridSize = 1;
  for (let bi = 0, pi = positiveCount - 1, fpRate = 0; ; ) {
    const bNext = bi < distinct ? values[bi]! : afterStop;
    const pNext = pi >= 0 ? positives[pi]! : -Infinity;
    const t = bNext > pNext ? bNext : pNext;
    if (t === -Infinity || (bi >= distinct && bNext === t)) break;
    if (bNext === t) fpRate = bgRate[bi++]!;
    while (pi >= 0 && positives[pi] === t) pi--;
    if (fpRate > limit) break;
    gridSize++;
  }

  let maxRegion = 0;
  for (const r of regions) if (r.length > maxRegion) maxRegion = r.length;
  const maxPoints = distinct + maxRegion + 2;
  const fpr = new Float32Array(maxPoints);
  const tpr = new Float32Array(maxPoints);
  const sumF = new Float64Array(gridSize);
  const sumT = new Float64Array(gridSize);
  const closeToLimit = (v: number) => Math.abs(v - limit) <= 1e-8 + 1e-5 * Math.abs(limit);

  for (const region of regions) {
    // The region's ROC over background ∪ region, from (0, 0), until the first point above the limit and the
    // region-only points right after it (same FPR).
    const n = region.length;
    const size = Math.fround(n);
    let k = 0, bi = 0, ri = n - 1, fpRate = 0, tp = 0, firstOver = -1;
    fpr[0] = 0;
    tpr[0] = 0;
    for (;;) {
      const bNext = bi < distinct ? values[bi]! : afterStop;
      const rNext = ri >= 0 ? region[ri]! : -Infinity;
      // Background-only points above the next region score (short of the last stored one, the first past the
      // limit) keep the overlap and take the background's FPRs: copied in bulk.
      if (bi < distinct - 1 && bNext > rNext) {
        let lo = bi, hi = distinct - 1;
        while (lo < hi) {
          const mid = lo + ((hi - lo) >> 1);
          if (values[mid]! > rNext) lo = mid + 1;
          else hi = mid;
        }
        fpr.set(bgRate.subarray(bi, lo), k + 1);
        tpr.fill(tpr[k]!, k + 1, k + 1 + lo - bi);
        k += lo - bi;
        bi = lo;
        fpRate = bgRate[lo - 1]!;
        continue;
      }
      const t = bNext > rNext ? bNext : rNext;
      if (t === -Infinity) break;
      const isBackground = bNext === t;
      if (isBackground) {
        if (firstOver >= 0 || bi >= distinct) break;
        fpRate = bgRate[bi++]!;
      }
      while (ri >= 0 && region[ri] === t) {
        ri--;
        tp++;
      }
      k++;
      fpr[k] = fpRate;
      tpr[k] = Math.fround(Math.fround(tp) / size);
      if (firstOver < 0 && fpRate > limit) firstOver = k;
    }
    const points = k + 1;
    const lastUnder = (firstOver < 0 ? points : firstOver) - 1;
    // Every point up to the limit at FPR 0: the first FPR above the limit is used to cut instead.
    const last = fpr[lastUnder] === 0 && firstOver >= 0 ? points - 1 : lastUnder;
    const interp = !closeToLimit(fpr[last]!);
    const next = interp ? lowerBound(fpr, points, limit) : last;
    const c: Knots = { fpr, tpr, count: interp ? last + 2 : last + 1, finalPoint: next, maxPoint: Math.max(last, next), span: gridSize - 1 };
    const end = interp ? knotAt(c, c.count - 2) + (knotAt(c, c.count - 1) - knotAt(c, c.count - 2)) * (1 - (fpr[next]! - limit) / (fpr[next]! - fpr[next - 1]!)) : c.span;
    if (c.finalPoint >= c.count - 2) walkGrid(c, sumF, sumT, gridSize - 1);
    else for (let g = 0; g < gridSize - 1; g++) addAt(c, g, sumF, sumT, g);
    addAt(c, end, sumF, sumT, gridSize - 1);
  }

  const R = regions.length;
  const F = Float64Array.from(sumF, (v) => v / R);
  const T = Float64Array.from(sumT, (v) => v / R);
  let sorted = true;
  for (let i = 1; i < gridSize; i++) if (F[i]! < F[i - 1]!) sorted = false;
  const order = sorted ? null : Array.from(F.keys()).sort((a, c) => F[a]! - F[c]! || a - c);
  let area = 0;
  for (let i = 1; i < gridSize; i++) {
    const a = order ? order[i - 1]! : i - 1, c = order ? order[i]! : i;
    area += ((F[c]! - F[a]!) * (T[c]! + T[a]!)) / 2;
  }
  return area / F[gridSize - 1]!;
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
