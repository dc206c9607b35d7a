// Inspection region and ignore areas of a product, in frame pixels: the frame is cropped to the region before the
// model's resize (an exact copy of the pixels, no resampling), and what the map shows inside ignore areas is no defect.
import type { IntRaster, Raster, RgbImage, DecodedImage } from './raster.ts';

/** An axis-aligned rectangle in frame pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** [x, y] in frame pixels. */
export type Point = [number, number];
export type Polygon = Point[];

/** What a product inspects: absent parts mean the whole frame, no ignore areas, no minimum area. */
export interface InspectionRegion {
  roi?: Rect | null;
  ignore?: Polygon[];
  /** Defect regions smaller than this many frame pixels are no defect. */
  minAreaPx?: number | null;
}

/** A short stable key of the crop (the only part that changes the model's input): '' for the whole frame. */
export function roiKey(roi: Rect | null | undefined): string {
  return roi ? `${roi.x},${roi.y},${roi.width},${roi.height}` : '';
}

function cropPlanes<T extends Uint8Array | Int32Array>(src: T, width: number, channels: number, r: Rect, make: (n: number) => T): T {
  const out = make(r.width * r.height * channels);
  const row = r.width * channels;
  for (let y = 0; y < r.height; y++) {
    const from = ((r.y + y) * width + r.x) * channels;
    out.set(src.subarray(from, from + row), y * row);
  }
  return out;
}

/** The sub-image under `r`, byte for byte. Throws RangeError when `r` does not lie inside the image. */
export function cropRgb(image: RgbImage, r: Rect): RgbImage {
  checkInside(r, image.width, image.height);
  if (r.x === 0 && r.y === 0 && r.width === image.width && r.height === image.height) return image;
  return { data: cropPlanes(image.data, image.width, 3, r, (n) => Buffer.alloc(n)), width: r.width, height: r.height };
}

/** As cropRgb, keeping the decoded mode and its samples, so the model's resize treats the crop as it treats the file. */
export function cropDecoded(image: DecodedImage, r: Rect): DecodedImage {
  const rgb = cropRgb(image, r);
  if (rgb === image) return image;
  const out: DecodedImage = { ...rgb, mode: image.mode };
  const s = image.samples;
  if (s && 'channels' in s) {
    out.samples = { data: cropPlanes(s.data, s.width, s.channels, r, (n) => new Uint8Array(n)), width: r.width, height: r.height, channels: s.channels } satisfies Raster;
  } else if (s) {
    out.samples = { data: cropPlanes(s.data, s.width, 1, r, (n) => new Int32Array(n)), width: r.width, height: r.height } satisfies IntRaster;
  }
  return out;
}

function checkInside(r: Rect, width: number, height: number): void {
  const problem = rectProblem(r, width, height);
  if (problem) throw new RangeError(`inspection region: ${problem}`);
}

/** Why `r` is not a usable region of a width×height frame, or null when it is. */
export function rectProblem(r: Rect, width: number, height: number): string | null {
  for (const k of ['x', 'y', 'width', 'height'] as const) {
    if (!Number.isInteger(r[k])) return `${k} ${r[k]} is not a whole number of pixels`;
  }
  if (r.width < 1 || r.height < 1) return `it is ${r.width}×${r.height}; a region needs at least 1×1 pixels`;
  if (r.x < 0 || r.y < 0 || r.x + r.width > width || r.y + r.height > height) {
    return `x ${r.x}..${r.x + r.width}, y ${r.y}..${r.y + r.height} is outside the ${width}×${height} frame`;
  }
  return null;
}

/** Even-odd rule; a point on an edge counts as inside. */
export function pointInPolygon(px: number, py: number, poly: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (onSegment(px, py, xi, yi, xj, yj)) return true;
    if ((yi > py) !== (yj > py) && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function cross(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

function onSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): boolean {
  return cross(ax, ay, bx, by, px, py) === 0 && Math.min(ax, bx) <= px && px <= Math.max(ax, bx) && Math.min(ay, by) <= py && py <= Math.max(ay, by);
}

/** Whether segments ab and cd share any point (touching and collinear overlap included). */
export function segmentsIntersect(a: Point, b: Point, c: Point, d: Point): boolean {
  const d1 = Math.sign(cross(c[0], c[1], d[0], d[1], a[0], a[1]));
  const d2 = Math.sign(cross(c[0], c[1], d[0], d[1], b[0], b[1]));
  const d3 = Math.sign(cross(a[0], a[1], b[0], b[1], c[0], c[1]));
  const d4 = Math.sign(cross(a[0], a[1], b[0], b[1], d[0], d[1]));
  if (d1 !== d2 && d3 !== d4 && d1 !== 0 && d2 !== 0 && d3 !== 0 && d4 !== 0) return true;
  return (d1 === 0 && onSegment(a[0], a[1], c[0], c[1], d[0], d[1])) || (d2 === 0 && onSegment(b[0], b[1], c[0], c[1], d[0], d[1]))
    || (d3 === 0 && onSegment(c[0], c[1], a[0], a[1], b[0], b[1])) || (d4 === 0 && onSegment(d[0], d[1], a[0], a[1], b[0], b[1]));
}

/** Twice the signed area (shoelace). */
function doubleArea(poly: Polygon): number {
  let s = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) s += poly[j]![0] * poly[i]![1] - poly[i]![0] * poly[j]![1];
  return s;
}

/** Why `poly` is not a simple polygon inside a width×height frame, or null when it is. */
export function polygonProblem(poly: Polygon, width: number, height: number): string | null {
  if (poly.length < 3) return `it has ${poly.length} point${poly.length === 1 ? '' : 's'}; a polygon needs at least 3`;
  for (const [x, y] of poly) {
    if (!Number.isInteger(x) || !Number.isInteger(y)) return `point ${x},${y} is not in whole pixels`;
    if (x < 0 || y < 0 || x > width || y > height) return `point ${x},${y} is outside the ${width}×${height} frame`;
  }
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // Neighbouring edges share a corner; that is not a crossing.
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentsIntersect(poly[i]!, poly[(i + 1) % n]!, poly[j]!, poly[(j + 1) % n]!)) {
        return `it intersects itself (edge ${i + 1} crosses edge ${j + 1})`;
      }
    }
  }
  if (doubleArea(poly) === 0) return 'it is empty (its points lie on one line)';
  return null;
}

/** Every problem of a region for a width×height frame, each naming its part; empty when the region is usable. */
export function regionProblems(region: InspectionRegion, width: number, height: number): string[] {
  const problems: string[] = [];
  if (region.roi) {
    const p = rectProblem(region.roi, width, height);
    if (p) problems.push(`roi: ${p}`);
  }
  (region.ignore ?? []).forEach((poly, i) => {
    const p = polygonProblem(poly, width, height);
    if (p) problems.push(`ignore[${i}]: ${p}`);
  });
  const min = region.minAreaPx;
  if (min !== undefined && min !== null && (!Number.isInteger(min) || min < 0)) problems.push(`minAreaPx: ${min} is not a whole number ≥ 0`);
  return problems;
}

/** 1 per pixel of a width×height frame whose centre lies in any of the polygons (even-odd, edges inside): a scanline
 *  fill, the crossings of each row's centre line with the edges taken in pairs. */
export function polygonMask(polygons: readonly Polygon[], width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  const xs: number[] = [];
  for (const poly of polygons) {
    let y0 = height, y1 = 0;
    for (const [, y] of poly) { y0 = Math.min(y0, Math.floor(y)); y1 = Math.max(y1, Math.ceil(y)); }
    for (let y = Math.max(0, y0); y < Math.min(height, y1); y++) {
      const yc = y + 0.5;
      xs.length = 0;
      for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
        const [xa, ya] = poly[j]!;
        const [xb, yb] = poly[i]!;
        if ((ya > yc) !== (yb > yc)) xs.push(xa + ((yc - ya) * (xb - xa)) / (yb - ya));
      }
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const from = Math.max(0, Math.ceil(xs[k]! - 0.5));
        const to = Math.min(width - 1, Math.floor(xs[k + 1]! - 0.5));
        if (to >= from) mask.fill(1, y * width + from, y * width + to + 1);
      }
    }
  }
  return mask;
}

/**
 * The detector's image score, fused again from its branch scores with another map maximum, by the pack's own rule
 * (models/export/model.py): zero-shot mean(va, ta, mapMax); few-shot harmonic mean of mean(va, ta, pq) and mapMax.
 */
export function fuseScore(mode: 'zero-shot' | 'few-shot', branches: { va: number; ta: number; pq?: number }, mapMax: number): number {
  let s: number;
  if (mode === 'few-shot' && branches.pq !== undefined) {
    const global = (branches.va + branches.ta + branches.pq) / 3;
    s = 2 / (1 / global + 1 / mapMax);
  } else {
    s = (branches.va + branches.ta + mapMax) / 3;
  }
  return Number.isFinite(s) ? s : 0;
}
