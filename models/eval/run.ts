// Evaluates a detector on an MVTec AD style dataset: image and pixel metrics per class and seed.
import sharp from 'sharp';
import type { Detector } from '../detector.ts';
import { decodeImage } from '../image.ts';
import { judgeFrame, overlayPng, resizeMap } from '../verdict.ts';
import { drawShots, type EvalClass } from './dataset.ts';
import { aupr, aupro, auprOf, auroc, aurocOf, binaryCurve, curvePoints, f1Max, f1MaxOf, overkillAtEscape, type PixelSample } from './metrics.ts';

/** Per class and seed, as the official AdaptCLIP test computes them (see metrics.ts), values in [0, 1]. */
export interface Metrics {
  iAuroc: number;
  /** Official I-AP: area under the PR curve by trapezoids (not scikit-learn's average precision). */
  iAp: number;
  iF1max: number;
  pAuroc: number;
  /** Official P-AP, the same trapezoidal AUPR over all pixels of the class. */
  pAupr: number;
  pF1max: number;
  /** Official P-AUPRO (anomalib's per-region resampling, FPR ≤ 0.3, divided by the final FPR). */
  aupro: number;
  /** Share of good parts failed when at most 2 % / 5 % of defective parts may pass (ours, not an official column). */
  overkillAt2pctEscape: number;
  overkillAt5pctEscape: number;
}

export const METRIC_NAMES: (keyof Metrics)[] = ['iAuroc', 'iAp', 'iF1max', 'pAuroc', 'pAupr', 'pF1max', 'aupro', 'overkillAt2pctEscape', 'overkillAt5pctEscape'];

export interface ImageResult {
  image: string;
  type: string;
  anomalous: boolean;
  score: number;
}

export interface Example {
  image: string;
  type: string;
  score: number;
  /** data: URI of a heat-map overlay PNG. */
  overlay: string;
}

export interface SeedRun {
  seed: number | null;
  shots: string[];
  metrics: Metrics;
  images: ImageResult[];
  curves: { roc: [number, number][]; pr: [number, number][] };
  examples: Example[];
}

export interface ClassResult {
  name: string;
  runs: SeedRun[];
  /** Mean over seeds. */
  mean: Metrics;
}

export interface EvalReport {
  pack: string;
  provider: string;
  shots: number;
  seeds: number[];
  pixelSize: number;
  classes: ClassResult[];
  /** Mean over classes. */
  mean: Metrics;
}

export interface EvalOptions {
  shots: number;
  seeds: number[];
  /** Side of the square grid pixel metrics are computed on (maps and masks resized to it). */
  pixelSize?: number;
  batch?: number;
  examplesPerRun?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export function meanMetrics(list: Metrics[]): Metrics {
  const out = {} as Metrics;
  for (const k of METRIC_NAMES) out[k] = list.reduce((s, m) => s + m[k], 0) / list.length;
  return out;
}

async function loadMask(path: string | null, size: number): Promise<Uint8Array> {
  if (!path) return new Uint8Array(size * size);
  const { data } = await sharp(path).toColourspace('b-w').resize(size, size, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer({ resolveWithObject: true });
  const mask = new Uint8Array(size * size);
  for (let i = 0; i < mask.length; i++) mask[i] = data[i]! > 127 ? 1 : 0;
  return mask;
}

async function exampleOverlay(path: string, map: Float32Array, mapSize: number, score: number, pixelThreshold: number): Promise<string> {
  // A 256-px thumbnail keeps the HTML report small.
  const thumb = await sharp(path).removeAlpha().toColourspace('srgb').resize(256, 256, { fit: 'fill' }).raw().toBuffer();
  const frame = await decodeImage({ rgb: thumb, width: 256, height: 256 });
  const verdict = judgeFrame(score, map, mapSize, frame, { threshold: pixelThreshold });
  return `data:image/png;base64,${(await overlayPng(frame, verdict)).toString('base64')}`;
}

export async function evaluate(detector: Detector, classes: EvalClass[], options: EvalOptions): Promise<EvalReport> {
  const S = detector.pack.size;
  const pixelSize = options.pixelSize ?? Math.min(S, 256);
  const batch = options.batch ?? 4;
  const seeds = options.shots > 0 ? options.seeds : [];
  const runsPerClass = Math.max(1, seeds.length);
  const total = classes.reduce((s, c) => s + c.test.length * runsPerClass, 0);
  let done = 0;
  const results: ClassResult[] = [];
  for (const cls of classes) {
    const runs: SeedRun[] = [];
    for (const seed of seeds.length ? seeds : [null]) {
      const shots = seed === null ? [] : drawShots(cls.train, options.shots, seed);
      const memory = shots.length ? await detector.encodeShots(shots) : null;
      const images: ImageResult[] = [];
      const pixels: PixelSample[] = [];
      const maps: Float32Array[] = [];
      for (let i = 0; i < cls.test.length; i += batch) {
        const group = cls.test.slice(i, i + batch);
        const inferred = await detector.infer(group.map((g) => g.path), memory);
        for (const [k, r] of inferred.entries()) {
          const item = group[k]!;
          images.push({ image: item.path, type: item.type, anomalous: item.anomalous, score: r.score });
          const map = resizeMap(r.map, S, S, pixelSize, pixelSize);
          maps.push(map);
          pixels.push({ map, mask: await loadMask(item.maskPath, pixelSize), width: pixelSize, height: pixelSize });
        }
        done += group.length;
        options.onProgress?.(done, total, `${cls.name}${seed === null ? '' : ` seed ${seed}`}`);
      }
      const labels = images.map((r) => (r.anomalous ? 1 : 0));
      const scores = images.map((r) => r.score);
      const pixelLabels = concat(pixels.map((p) => p.mask));
      const pixelScores = concatF32(pixels.map((p) => p.map));
      // One sorted curve for the three pixel metrics (millions of pixels).
      const pixelCurve = binaryCurve(pixelLabels, pixelScores);
      const pixelF1 = f1MaxOf(pixelCurve);
      const metrics: Metrics = {
        iAuroc: auroc(labels, scores),
        iAp: aupr(labels, scores),
        iF1max: f1Max(labels, scores).f1,
        pAuroc: aurocOf(pixelCurve),
        pAupr: auprOf(pixelCurve),
        pF1max: pixelF1.f1,
        // Good images add only normal pixels, as in MVTec AD's evaluation.
        aupro: aupro(pixels),
        overkillAt2pctEscape: overkillAtEscape(labels, scores, 0.02).overkill,
        overkillAt5pctEscape: overkillAtEscape(labels, scores, 0.05).overkill,
      };
      // Examples: the highest-scored defective parts and the highest-scored good part (the likeliest overkill).
      const order = images.map((_, i) => i).sort((a, b) => images[b]!.score - images[a]!.score);
      const picks = [...order.filter((i) => images[i]!.anomalous).slice(0, Math.max(1, (options.examplesPerRun ?? 3) - 1)), ...order.filter((i) => !images[i]!.anomalous).slice(0, 1)];
      const examples: Example[] = [];
      for (const i of picks) {
        const img = images[i]!;
        examples.push({ image: img.image, type: img.type, score: img.score, overlay: await exampleOverlay(img.image, maps[i]!, pixelSize, img.score, pixelF1.threshold) });
      }
      runs.push({ seed, shots, metrics, images, curves: curvePoints(labels, scores), examples });
    }
    results.push({ name: cls.name, runs, mean: meanMetrics(runs.map((r) => r.metrics)) });
  }
  return {
    pack: detector.pack.id,
    provider: detector.provider,
    shots: options.shots,
    seeds,
    pixelSize,
    classes: results,
    mean: meanMetrics(results.map((c) => c.mean)),
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}
