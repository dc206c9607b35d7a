// Evaluates a detector on an MVTec AD style dataset: image and pixel metrics per class and seed, following the
// official AdaptCLIP test protocol (ground truth as its dataset code builds it, metrics as its Evaluator computes).
import sharp from 'sharp';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, extname, join } from 'node:path';
import type { Detector } from '../detector.ts';
import { decodeImage } from '../image.ts';
import { drawOutlines } from '../overlay.ts';
import { judgeFrame, overlayPng, resizeMap } from '../verdict.ts';
import { polygonMask, regionProblems, type InspectionRegion } from '../regions.ts';
import type { Inference } from '../detector.ts';
import { drawShots, type EvalClass, type TestImage } from './dataset.ts';
import { loadGroundTruth, nearestGrid } from './masks.ts';
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
  /** data: URI of the same thumbnail with the ground-truth defect outlined and tinted; null for a good part. */
  groundTruth: string | null;
}

export interface SeedRun {
  seed: number | null;
  shots: string[];
  metrics: Metrics;
  images: ImageResult[];
  curves: { roc: [number, number][]; pr: [number, number][] };
  /** The image-score thresholds behind the overkill figures (score ≥ threshold fails). */
  overkillThresholds: { at2pctEscape: number; at5pctEscape: number };
  /** The map level the example overlays are coloured and outlined at: the run's P-F1max threshold. */
  exampleThreshold: number;
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
  /** S: the model's input side; the fused maps and the ground truth start on this S×S grid. */
  imageSize: number;
  /** Side of the grid the pixel metrics were computed on (S unless --pixel-size). */
  pixelSize: number;
  /** Where --save-maps wrote the maps and index.json, if asked. */
  savedMaps?: string;
  classes: ClassResult[];
  /** Mean over classes. */
  mean: Metrics;
}

export interface EvalOptions {
  shots: number;
  seeds: number[];
  /**
   * Side of the grid pixel metrics use. Default S, the official protocol for MVTec AD / VisA layouts. Any other
   * size takes the S×S map there bilinearly (align_corners=False) and the S×S ground truth by torch's nearest, as
   * the official test does for Real-IAD (256).
   */
  pixelSize?: number;
  batch?: number;
  examplesPerRun?: number;
  onProgress?: (done: number, total: number, label: string) => void;
  /** One line per problem that does not stop the run (e.g. masks not the size of their image). */
  onWarning?: (line: string) => void;
  /** Folder for every image's map (.f32) and ground truth (.u8) as the metrics used them, with index.json. */
  saveMaps?: string;
  /** As a product's region on the line: images and shots cropped to its roi, ignore areas and min area applied. */
  region?: InspectionRegion;
}

/** With a region, every image (and shot) is cropped to its roi before the resize; a region that does not fit says which image. */
async function inferAll(detector: Detector, paths: string[], memory: Awaited<ReturnType<Detector['encodeShots']>> | null, region: InspectionRegion | undefined): Promise<Inference[]> {
  if (!region) return detector.infer(paths, memory);
  const prepared = [];
  for (const path of paths) {
    const frame = await detector.prepare(path, region.roi).catch((err: unknown) => {
      throw err instanceof RangeError ? new Error(`image ${path}: --roi ${err.message.replace(/^inspection region: /, '')}`) : err;
    });
    const problems = regionProblems(region, frame.image.width, frame.image.height);
    if (problems.length) throw new Error(`image ${path}: the region does not fit (${problems.join('; ')})`);
    prepared.push(frame);
  }
  return detector.inferPrepared(prepared, memory);
}

/** Image score and pixel map of one inference under a region: the verdict's score (fused again without ignore areas
 *  and specks under the minimum area) and the map in frame coordinates, 0 outside the roi and in ignore areas. */
function underRegion(r: Inference, region: InspectionRegion, pixelSize: number): { score: number; map: Float32Array } {
  const v = judgeFrame(r.score, r.map, r.size, r, { threshold: 1, region, fusion: { mode: r.mode, branches: r.branches } });
  const frameMap = Float32Array.from(v.frameMap);
  if (region.ignore?.length) {
    const ignored = polygonMask(region.ignore, r.width, r.height);
    for (let i = 0; i < frameMap.length; i++) if (ignored[i]) frameMap[i] = 0;
  }
  return { score: v.score, map: resizeMap(frameMap, r.width, r.height, pixelSize, pixelSize) };
}

export function meanMetrics(list: Metrics[]): Metrics {
  const out = {} as Metrics;
  for (const k of METRIC_NAMES) out[k] = list.reduce((s, m) => s + m[k], 0) / list.length;
  return out;
}

/** The official ground truth of a class's test images on the metrics grid, read once for all seeds. */
async function classGroundTruth(cls: EvalClass, S: number, grid: number, warn?: (line: string) => void): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const mismatched: { item: TestImage; mask: string; image: string }[] = [];
  for (const item of cls.test) {
    const truth = await loadGroundTruth(item.maskPath, S);
    if (item.maskPath) {
      const { width, height } = await sharp(item.path)
        .metadata()
        .catch((err: Error) => {
          throw new Error(`--data: ${item.path} cannot be read (${err.message.split('\n')[0]}); replace or remove it`);
        });
      if (width !== truth.width || height !== truth.height) mismatched.push({ item, mask: `${truth.width}×${truth.height}`, image: `${width}×${height}` });
    }
    out.push(nearestGrid(truth.grid, S, grid));
  }
  const first = mismatched[0];
  if (first) {
    warn?.(
      `eval: class "${cls.name}": ${mismatched.length} ground-truth mask${mismatched.length > 1 ? 's differ' : ' differs'} in size from the image (e.g. ${first.item.maskPath} is ${first.mask}, ${first.item.path} ${first.image}); resized to ${S}×${S} all the same, as the official evaluation does — check the masks belong to these images`,
    );
  }
  return out;
}

/** Creates the --save-maps folder and proves it writable; one line naming the folder otherwise. */
export async function prepareMapsDir(dir: string): Promise<void> {
  const probe = join(dir, `.adaptclip-write-test-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`--save-maps ${dir}: cannot write there (${e.code ?? e.message}); give a folder you can write to`);
  }
}

async function saveFile(path: string, data: Uint8Array): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`--save-maps: writing ${path} failed (${e.code ?? e.message}); free space or give another folder`);
  }
}

/** float32 little-endian bytes of a map, whatever the machine's byte order. */
function littleEndian(map: Float32Array): Uint8Array {
  const bytes = Buffer.from(map.buffer, map.byteOffset, map.byteLength);
  return endianness() === 'LE' ? bytes : Buffer.from(bytes).swap32();
}

const fileStem = (path: string) => basename(path, extname(path)).replace(/[^A-Za-z0-9._-]/g, '_');

/** One line of --save-maps/index.json per test image: enough to recompute every metric. */
export interface SavedImage {
  image: string;
  type: string;
  /** 1 = anomalous (defect), 0 = good. */
  label: number;
  score: number;
  /** Relative to the folder: float32 little-endian, grid×grid row-major, the fused map the pixel metrics used. */
  map: string;
  /** Relative to the folder: uint8 0/1, grid×grid, the ground truth the pixel metrics used; null = all 0 (good). */
  mask: string | null;
}

export interface SavedMapsIndex {
  format: 'adaptclip-eval-maps/1';
  pack: string;
  shots: number;
  imageSize: number;
  grid: number;
  runs: { class: string; seed: number | null; metrics: Metrics; images: SavedImage[] }[];
}

const THUMB = 256;

/** Heat-map overlay and ground truth of one example, as data: URIs of 256-px thumbnails (they keep the HTML small). */
async function examplePictures(path: string, map: Float32Array, mapSize: number, score: number, pixelThreshold: number, truth: Uint8Array | null, truthSize: number): Promise<{ overlay: string; groundTruth: string | null }> {
  const thumb = await sharp(path).removeAlpha().toColourspace('srgb').resize(THUMB, THUMB, { fit: 'fill' }).raw().toBuffer();
  const frame = await decodeImage({ rgb: thumb, width: THUMB, height: THUMB });
  const verdict = judgeFrame(score, map, mapSize, frame, { threshold: pixelThreshold });
  const overlay = `data:image/png;base64,${(await overlayPng(frame, verdict)).toString('base64')}`;
  if (!truth) return { overlay, groundTruth: null };
  // The ground truth on the thumbnail (nearest), tinted green and outlined as the overlay outlines its regions.
  const mask = new Uint8Array(THUMB * THUMB);
  for (let y = 0; y < THUMB; y++) {
    const row = Math.floor((y * truthSize) / THUMB) * truthSize;
    for (let x = 0; x < THUMB; x++) mask[y * THUMB + x] = truth[row + Math.floor((x * truthSize) / THUMB)]! ? 1 : 0;
  }
  const rgb = Uint8Array.from(frame.data);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    rgb[i * 3] = Math.round(rgb[i * 3]! * 0.6);
    rgb[i * 3 + 1] = Math.round(rgb[i * 3 + 1]! * 0.6 + 255 * 0.4);
    rgb[i * 3 + 2] = Math.round(rgb[i * 3 + 2]! * 0.6);
  }
  drawOutlines(rgb, mask, THUMB, THUMB);
  const png = await sharp(rgb, { raw: { width: THUMB, height: THUMB, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
  return { overlay, groundTruth: `data:image/png;base64,${png.toString('base64')}` };
}

export async function evaluate(detector: Detector, classes: EvalClass[], options: EvalOptions): Promise<EvalReport> {
  const S = detector.pack.size;
  const pixelSize = options.pixelSize ?? S;
  const batch = options.batch ?? 4;
  const seeds = options.shots > 0 ? options.seeds : [];
  const runsPerClass = Math.max(1, seeds.length);
  const total = classes.reduce((s, c) => s + c.test.length * runsPerClass, 0);
  if (options.saveMaps) await prepareMapsDir(options.saveMaps);
  const index: SavedMapsIndex = { format: 'adaptclip-eval-maps/1', pack: detector.pack.id, shots: options.shots, imageSize: S, grid: pixelSize, runs: [] };
  let done = 0;
  const results: ClassResult[] = [];
  for (const cls of classes) {
    const truth = await classGroundTruth(cls, S, pixelSize, options.onWarning);
    const runs: SeedRun[] = [];
    for (const seed of seeds.length ? seeds : [null]) {
      const shots = seed === null ? [] : drawShots(cls.train, options.shots, seed);
      const memory = shots.length ? await detector.encodeShots(shots, options.region?.roi) : null;
      const images: ImageResult[] = [];
      const pixels: PixelSample[] = [];
      const saved: SavedImage[] = [];
      const runDir = join(cls.name, seed === null ? 'zero-shot' : `seed-${seed}`);
      if (options.saveMaps) await mkdir(join(options.saveMaps, runDir), { recursive: true });
      for (let i = 0; i < cls.test.length; i += batch) {
        const group = cls.test.slice(i, i + batch);
        const inferred = await inferAll(detector, group.map((g) => g.path), memory, options.region);
        for (const [k, r] of inferred.entries()) {
          const item = group[k]!;
          const n = i + k;
          const judged = options.region ? underRegion(r, options.region, pixelSize) : { score: r.score, map: resizeMap(r.map, S, S, pixelSize, pixelSize) };
          images.push({ image: item.path, type: item.type, anomalous: item.anomalous, score: judged.score });
          const map = judged.map;
          const mask = truth[n]!;
          pixels.push({ map, mask, width: pixelSize, height: pixelSize });
          if (options.saveMaps) {
            const stem = join(runDir, `${String(n).padStart(4, '0')}-${fileStem(item.type)}-${fileStem(item.path)}`);
            await saveFile(join(options.saveMaps, `${stem}.f32`), littleEndian(map));
            if (item.maskPath) await saveFile(join(options.saveMaps, `${stem}.u8`), mask);
            saved.push({ image: item.path, type: item.type, label: item.anomalous ? 1 : 0, score: judged.score, map: `${stem}.f32`, mask: item.maskPath ? `${stem}.u8` : null });
          }
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
      const at2 = overkillAtEscape(labels, scores, 0.02);
      const at5 = overkillAtEscape(labels, scores, 0.05);
      const metrics: Metrics = {
        iAuroc: auroc(labels, scores),
        iAp: aupr(labels, scores),
        iF1max: f1Max(labels, scores).f1,
        pAuroc: aurocOf(pixelCurve),
        pAupr: auprOf(pixelCurve),
        pF1max: pixelF1.f1,
        // Good images add only normal pixels, as in the official evaluation.
        aupro: aupro(pixels),
        overkillAt2pctEscape: at2.overkill,
        overkillAt5pctEscape: at5.overkill,
      };
      // Examples: the highest-scored defective parts and the highest-scored good part (the likeliest overkill).
      const order = images.map((_, i) => i).sort((a, b) => images[b]!.score - images[a]!.score);
      const picks = [...order.filter((i) => images[i]!.anomalous).slice(0, Math.max(1, (options.examplesPerRun ?? 3) - 1)), ...order.filter((i) => !images[i]!.anomalous).slice(0, 1)];
      const examples: Example[] = [];
      for (const i of picks) {
        const img = images[i]!;
        const pictures = await examplePictures(img.image, pixels[i]!.map, pixelSize, img.score, pixelF1.threshold, img.anomalous ? pixels[i]!.mask : null, pixelSize);
        examples.push({ image: img.image, type: img.type, score: img.score, ...pictures });
      }
      const overkillThresholds = { at2pctEscape: at2.threshold, at5pctEscape: at5.threshold };
      runs.push({ seed, shots, metrics, images, curves: curvePoints(labels, scores), overkillThresholds, exampleThreshold: pixelF1.threshold, examples });
      index.runs.push({ class: cls.name, seed, metrics, images: saved });
    }
    results.push({ name: cls.name, runs, mean: meanMetrics(runs.map((r) => r.metrics)) });
  }
  if (options.saveMaps) await saveFile(join(options.saveMaps, 'index.json'), Buffer.from(`${JSON.stringify(index, null, 1)}\n`));
  return {
    pack: detector.pack.id,
    provider: detector.provider,
    shots: options.shots,
    seeds,
    imageSize: S,
    pixelSize,
    ...(options.saveMaps ? { savedMaps: options.saveMaps } : {}),
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
