// Verdict maths: the detector's S×S map → the frame's own resolution → pass/fail, binary mask,
// connected defect regions, mask PNG and a heat-map overlay for people.
import sharp from 'sharp';
import { fuseScore, polygonMask, type InspectionRegion } from './regions.ts';

/** [x, y, width, height] in frame pixels (PROTOCOLS.md); all 0 when there is no defect. */
export type Box = [number, number, number, number];

export interface DefectRegion {
  areaPx: number;
  box: Box;
  /** Highest map value inside the region. */
  peak: number;
}

export interface Defects {
  count: number;
  areaPx: number;
  /** Share of the frame's pixels, in percent. */
  areaPct: number;
  /** Union bounding box of all regions. */
  bbox: Box;
  boxes: Box[];
  regions: DefectRegion[];
}

export interface FrameVerdict {
  verdict: 'pass' | 'fail';
  score: number;
  threshold: number;
  width: number;
  height: number;
  /** 0/255 per pixel at frame resolution: map ≥ pixel threshold. Computed for every frame, pass or fail. */
  mask: Uint8Array;
  /** The map resized to frame resolution (kept for the overlay). */
  frameMap: Float32Array;
  defects: Defects;
}

export interface JudgeOptions {
  threshold: number;
  /** Map level that marks a defect pixel; defaults to the image threshold (map and score share one scale). */
  pixelThreshold?: number;
  /** Regions smaller than this many frame pixels are ignored (sensor noise); default 1. */
  minRegionPx?: number;
  /** The product's region: `map` then covers only region.roi (the frame was cropped to it before inference). */
  region?: InspectionRegion;
  /** The detector's mode and branch scores: with them the score is fused again without what ignore areas and
   *  too-small regions contributed to the map maximum (see judgeFrame). */
  fusion?: { mode: 'zero-shot' | 'few-shot'; branches: { va: number; ta: number; pq?: number } };
}

/**
 * Bilinear resize as torch's interpolate(mode="bilinear", align_corners=False), without antialiasing,
 * which is how the official code brings maps to a mask's resolution.
 */
export function resizeMap(map: Float32Array, inWidth: number, inHeight: number, outWidth: number, outHeight: number): Float32Array {
  if (inWidth === outWidth && inHeight === outHeight) return map;
  const out = new Float32Array(outWidth * outHeight);
  const xs0 = new Int32Array(outWidth);
  const xs1 = new Int32Array(outWidth);
  const xw = new Float32Array(outWidth);
  const scaleX = inWidth / outWidth;
  for (let x = 0; x < outWidth; x++) {
    const src = Math.max(0, (x + 0.5) * scaleX - 0.5);
    const x0 = Math.min(Math.floor(src), inWidth - 1);
    xs0[x] = x0;
    xs1[x] = Math.min(x0 + 1, inWidth - 1);
    xw[x] = src - x0;
  }
  const scaleY = inHeight / outHeight;
  for (let y = 0; y < outHeight; y++) {
    const src = Math.max(0, (y + 0.5) * scaleY - 0.5);
    const y0 = Math.min(Math.floor(src), inHeight - 1);
    const y1 = Math.min(y0 + 1, inHeight - 1);
    const wy = src - y0;
    const row0 = y0 * inWidth;
    const row1 = y1 * inWidth;
    const o = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const a = xs0[x]!;
      const b = xs1[x]!;
      const w = xw[x]!;
      const top = map[row0 + a]! + (map[row0 + b]! - map[row0 + a]!) * w;
      const bottom = map[row1 + a]! + (map[row1 + b]! - map[row1 + a]!) * w;
      out[o + x] = top + (bottom - top) * wy;
    }
  }
  return out;
}

export interface LabelledRegions {
  regions: DefectRegion[];
  /** Per pixel: 0 for background, else 1 + the region's index. */
  labels: Int32Array;
}

/** 8-connected regions of a 0/non-0 mask, in raster order of their first pixel. */
export function connectedRegions(mask: Uint8Array, width: number, height: number, values?: Float32Array): LabelledRegions {
  const labels = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  const regions: DefectRegion[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const id = regions.length + 1;
    let top = 0;
    stack[top++] = start;
    labels[start] = id;
    let area = 0;
    let minX = width, minY = height, maxX = -1, maxY = -1;
    let peak = -Infinity;
    while (top > 0) {
      const p = stack[--top]!;
      const px = p % width;
      const py = (p - px) / width;
      area++;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
      if (values && values[p]! > peak) peak = values[p]!;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = id;
            stack[top++] = q;
          }
        }
      }
    }
    regions.push({ areaPx: area, box: [minX, minY, maxX - minX + 1, maxY - minY + 1], peak: values ? peak : NaN });
  }
  return { regions, labels };
}

export function unionBox(boxes: Box[]): Box {
  if (boxes.length === 0) return [0, 0, 0, 0];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y, w, h] of boxes) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + w);
    y1 = Math.max(y1, y + h);
  }
  return [x0, y0, x1 - x0, y1 - y0];
}

/**
 * Judges one frame: verdict from the image score, defects from the map brought to the frame's resolution.
 * `map` is the detector's fused map, mapSize×mapSize, row-major; with a region it covers region.roi only, and the
 * map, mask and boxes come back in frame coordinates (nothing outside the region is a defect). Mask pixels inside
 * ignore areas are cleared, regions under the minimum area dropped; when either removed something and `fusion` is
 * given, the verdict's score is the detector's fusion again with the map maximum over the pixels left (in the region,
 * outside ignore areas, outside dropped regions).
 */
export function judgeFrame(score: number, map: Float32Array, mapSize: number, frame: { width: number; height: number }, options: JudgeOptions): FrameVerdict {
  const { threshold } = options;
  if (!Number.isFinite(threshold)) throw new RangeError(`threshold ${threshold} is not a number; give a value between 0 and 1`);
  const pixelThreshold = options.pixelThreshold ?? threshold;
  const region = options.region ?? {};
  const minRegionPx = Math.max(options.minRegionPx ?? 1, region.minAreaPx ?? 0);
  const { width, height } = frame;
  const roi = region.roi ?? { x: 0, y: 0, width, height };
  const whole = roi.x === 0 && roi.y === 0 && roi.width === width && roi.height === height;
  if (roi.x < 0 || roi.y < 0 || roi.x + roi.width > width || roi.y + roi.height > height) {
    throw new RangeError(`inspection region ${roi.x},${roi.y} ${roi.width}×${roi.height} is outside the ${width}×${height} frame`);
  }
  // The map covers the region; in frame coordinates it is 0 (no defect) outside it.
  const roiMap = resizeMap(map, mapSize, mapSize, roi.width, roi.height);
  let frameMap = roiMap;
  if (!whole) {
    frameMap = new Float32Array(width * height);
    for (let y = 0; y < roi.height; y++) frameMap.set(roiMap.subarray(y * roi.width, (y + 1) * roi.width), (roi.y + y) * width + roi.x);
  }
  const ignored = region.ignore?.length ? polygonMask(region.ignore, width, height) : null;
  const mask = new Uint8Array(width * height);
  // Only the region's rows and columns can hold a defect (the map is 0 elsewhere, but a threshold of 0 is allowed).
  for (let y = roi.y; y < roi.y + roi.height; y++) {
    for (let i = y * width + roi.x, end = i + roi.width; i < end; i++) if (frameMap[i]! >= pixelThreshold && !ignored?.[i]) mask[i] = 255;
  }
  const found = connectedRegions(mask, width, height, frameMap);
  const regions = found.regions.filter((r) => r.areaPx >= minRegionPx);
  const dropped = regions.length < found.regions.length;
  if (dropped) {
    // Dropped specks leave the mask too, so mask and defects always agree.
    for (let i = 0; i < mask.length; i++) if (mask[i] && found.regions[found.labels[i]! - 1]!.areaPx < minRegionPx) mask[i] = 0;
  }
  let verdictScore = score;
  if (options.fusion && (ignored || dropped)) {
    // The map maximum counted only where a defect could be: in the region, outside ignore areas, not in a speck.
    let mapMax = 0;
    for (let y = roi.y; y < roi.y + roi.height; y++) {
      for (let i = y * width + roi.x, end = i + roi.width; i < end; i++) {
        if (ignored?.[i]) continue;
        const label = found.labels[i]!;
        if (label && found.regions[label - 1]!.areaPx < minRegionPx) continue;
        if (frameMap[i]! > mapMax) mapMax = frameMap[i]!;
      }
    }
    verdictScore = fuseScore(options.fusion.mode, options.fusion.branches, mapMax);
  }
  const boxes = regions.map((r) => r.box);
  const areaPx = regions.reduce((sum, r) => sum + r.areaPx, 0);
  return {
    verdict: verdictScore >= threshold ? 'fail' : 'pass',
    score: verdictScore,
    threshold,
    width,
    height,
    mask,
    frameMap,
    defects: { count: regions.length, areaPx, areaPct: (100 * areaPx) / (width * height), bbox: unionBox(boxes), boxes, regions },
  };
}

/** The mask as an 8-bit greyscale PNG, 0/255, at frame resolution (PROTOCOLS.md). */
export function maskPng(verdict: Pick<FrameVerdict, 'mask' | 'width' | 'height'>): Promise<Buffer> {
  return sharp(verdict.mask, { raw: { width: verdict.width, height: verdict.height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}

/** The heat-map overlay lives in overlay.ts; re-exported here, where its callers have always imported it from. */
export { overlayPng, type OverlayOptions, type OverlayVerdict } from './overlay.ts';

export interface ThresholdChoice {
  threshold: number;
  source: 'override' | 'shots' | 'pack-default';
}

/** Smallest margin added above the highest leave-one-out shot score. */
export const CALIBRATION_MIN_MARGIN = 0.05;
/** The margin grows with the spread of the shots' scores: this many standard deviations. */
export const CALIBRATION_SIGMAS = 2;
/** A calibrated threshold never goes above this, so a product always can fail. */
export const CALIBRATION_CAP = 0.99;

/**
 * Per-product threshold. An explicit override wins. With K ≥ 2 shots the threshold is calibrated from
 * the leave-one-out scores (each shot scored few-shot against the others, all normal parts):
 *   threshold = min(CAP, max(s) + max(MIN_MARGIN, SIGMAS · std(s)))
 * so every registered good part passes with room to spare. With fewer shots: the pack's default.
 */
export function calibrateThreshold(leaveOneOutScores: readonly number[], packDefault: number, override?: number): ThresholdChoice {
  if (override !== undefined) {
    if (!Number.isFinite(override) || override < 0 || override > 1) {
      throw new RangeError(`threshold override ${override} is outside 0..1; give a value such as 0.5`);
    }
    return { threshold: override, source: 'override' };
  }
  const scores = leaveOneOutScores.filter((s) => Number.isFinite(s));
  if (scores.length < 2) return { threshold: packDefault, source: 'pack-default' };
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length);
  const margin = Math.max(CALIBRATION_MIN_MARGIN, CALIBRATION_SIGMAS * std);
  return { threshold: Math.min(CALIBRATION_CAP, Math.max(...scores) + margin), source: 'shots' };
}
