// The heat-map overlay people look at (Live, History, inspect --out, the eval report): the frame as it is, with only
// the part of the anomaly map near or above the threshold coloured (inferno, a perceptually uniform map), each
// defect region outlined, and a legend with the threshold inside the picture, so every place that shows it explains it.
import { interpolateInferno } from 'd3-scale-chromatic';
import sharp from 'sharp';
import type { RgbImage } from './raster.ts';
import { polygonMask, type InspectionRegion } from './regions.ts';

/** What the overlay reads of a verdict (models/verdict.ts FrameVerdict has all of it). */
export interface OverlayVerdict {
  /** The anomaly map at frame resolution. */
  frameMap: Float32Array;
  width: number;
  height: number;
  /** The threshold the frame was judged with; also the map level of a defect pixel. */
  threshold?: number;
  /** 0/non-0 per pixel: the defect mask whose regions get outlined (default: frameMap ≥ threshold). */
  mask?: Uint8Array;
}

export interface OverlayOptions {
  /** Overrides the verdict's threshold (e.g. to preview another one). */
  threshold?: number;
  /** Draw the legend (default true; it is left out of frames too small to read it on). */
  legend?: boolean;
  /** The product's region: outside it and inside ignore areas the frame is dimmed and hatched, the region outlined. */
  region?: Pick<InspectionRegion, 'roi' | 'ignore'>;
}

const REGION_OUTLINE: [number, number, number] = [255, 214, 0];
/** Hatch lines every this many pixels (diagonal), over a frame darkened to DIM. */
const HATCH_STEP = 8;
const DIM = 0.45;

/** Dims and hatches what is not inspected (outside the roi, inside ignore areas) and outlines the roi, in place. */
function drawRegion(rgb: Uint8Array, width: number, height: number, region: NonNullable<OverlayOptions['region']>): void {
  const roi = region.roi;
  const ignored = region.ignore?.length ? polygonMask(region.ignore, width, height) : null;
  const t = outlineWidth(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const outside = roi ? x < roi.x || y < roi.y || x >= roi.x + roi.width || y >= roi.y + roi.height : false;
      if (roi && !outside && (x < roi.x + t || y < roi.y + t || x >= roi.x + roi.width - t || y >= roi.y + roi.height - t)) {
        rgb.set(REGION_OUTLINE, i * 3);
        continue;
      }
      if (!outside && !ignored?.[i]) continue;
      const hatch = (x + y) % HATCH_STEP === 0;
      for (let k = 0; k < 3; k++) rgb[i * 3 + k] = hatch ? 160 : Math.round(rgb[i * 3 + k]! * DIM);
    }
  }
}

/** Colouring starts at this share of the threshold: alpha 0 there, rising linearly to OVERLAY_ALPHA at the threshold. */
export const OVERLAY_RAMP_START = 0.8;
/** Opacity of the colour at and above the threshold: the part stays visible underneath. */
export const OVERLAY_ALPHA = 0.7;
/** Where on the inferno map the coloured range starts: its darkest end would not read on a dark part. */
const INFERNO_FROM = 0.3;
/** Outline colours: a bright ring next to the region and one dark pixel outside it, so it reads on any part. */
const OUTLINE_BRIGHT: [number, number, number] = [0, 229, 255];
const OUTLINE_DARK: [number, number, number] = [0, 0, 0];
/** Below this size the legend would not be legible; such frames get none. */
const LEGEND_MIN_WIDTH = 100;
const LEGEND_MIN_HEIGHT = 60;

/** The inferno map as a 256-entry RGB table, built once from d3-scale-chromatic. */
const INFERNO = (() => {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const hex = interpolateInferno(i / 255);
    table[i * 3] = Number.parseInt(hex.slice(1, 3), 16);
    table[i * 3 + 1] = Number.parseInt(hex.slice(3, 5), 16);
    table[i * 3 + 2] = Number.parseInt(hex.slice(5, 7), 16);
  }
  return table;
})();

/**
 * The colouring rule for a map value v at threshold t, as [alpha, index into the inferno table]:
 * below lo = 0.8·t nothing (alpha 0); from lo to t alpha rises linearly to OVERLAY_ALPHA; above t it stays there.
 * The colour spans lo…1 over inferno 0.3…1, so at the threshold and above, higher means brighter.
 */
export function heatAt(v: number, t: number): [number, number] {
  const lo = OVERLAY_RAMP_START * t;
  if (!Number.isFinite(v) || (v <= lo && v < t)) return [0, 0];
  const alpha = v >= t ? OVERLAY_ALPHA : (OVERLAY_ALPHA * (v - lo)) / (t - lo);
  const span = 1 - lo;
  const pos = span > 0 ? Math.min(1, (v - lo) / span) : 1;
  return [alpha, Math.round(255 * (INFERNO_FROM + (1 - INFERNO_FROM) * pos))];
}

/** Outline width in pixels: 2, or 3 on frames of 600 px and more. */
export const outlineWidth = (width: number, height: number) => (Math.min(width, height) >= 600 ? 3 : 2);

/** Square (Chebyshev) dilation of a 0/1 mask by radius r, separable through running counts. */
function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(r, width); x++) count += mask[o + x]!;
    for (let x = 0; x < width; x++) {
      if (x + r < width) count += mask[o + x + r]!;
      if (x - r - 1 >= 0) count -= mask[o + x - r - 1]!;
      rows[o + x] = count > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(r, height); y++) count += rows[y * width + x]!;
    for (let y = 0; y < height; y++) {
      if (y + r < height) count += rows[(y + r) * width + x]!;
      if (y - r - 1 >= 0) count -= rows[(y - r - 1) * width + x]!;
      out[y * width + x] = count > 0 ? 1 : 0;
    }
  }
  return out;
}

/**
 * Draws the outline of every region of `mask` (non-0 = inside) into `rgb` in place: the `thickness` pixels just
 * outside each region's boundary, bright next to it and dark on the outermost pixel. The region itself is untouched.
 */
export function drawOutlines(rgb: Uint8Array, mask: Uint8Array, width: number, height: number, thickness = outlineWidth(width, height)): void {
  const inside = new Uint8Array(mask.length);
  let any = false;
  for (let i = 0; i < mask.length; i++) if (mask[i]) { inside[i] = 1; any = true; }
  if (!any) return;
  const near = dilate(inside, width, height, thickness - 1);
  const far = dilate(inside, width, height, thickness);
  for (let i = 0; i < mask.length; i++) {
    if (inside[i] || !far[i]) continue;
    const c = near[i] ? OUTLINE_BRIGHT : OUTLINE_DARK;
    rgb[i * 3] = c[0];
    rgb[i * 3 + 1] = c[1];
    rgb[i * 3 + 2] = c[2];
  }
}

const hex = (i: number) => `#${[0, 1, 2].map((k) => INFERNO[i * 3 + k]!.toString(16).padStart(2, '0')).join('')}`;

/** The legend panel as SVG: a colour bar over 0…1 drawn with the same rule as the map, the threshold tick and value. */
export function legendSvg(threshold: number, width: number, height: number): { svg: string; left: number; top: number; width: number; height: number; tickX: number } {
  const u = Math.max(1, Math.min(width, height) / 240);
  const panelW = Math.min(width - Math.round(8 * u), Math.round(170 * u));
  const panelH = Math.round(34 * u);
  const pad = Math.round(6 * u);
  const barW = panelW - 2 * pad;
  const barH = Math.round(9 * u);
  const font = Math.round(10 * u);
  const stops: string[] = [];
  for (let k = 0; k <= 64; k++) {
    const v = k / 64;
    const [alpha, idx] = heatAt(v, threshold);
    stops.push(`<stop offset="${v.toFixed(4)}" stop-color="${hex(idx)}" stop-opacity="${alpha.toFixed(3)}"/>`);
  }
  // Exact stops at the ramp's start and at the threshold, so the bar bends where the map does.
  for (const v of [OVERLAY_RAMP_START * threshold, threshold]) {
    if (v <= 0 || v >= 1) continue;
    const [alpha, idx] = heatAt(v, threshold);
    stops.push(`<stop offset="${v.toFixed(4)}" stop-color="${hex(idx)}" stop-opacity="${alpha.toFixed(3)}"/>`);
  }
  stops.sort((a, b) => Number(/offset="([\d.]+)"/.exec(a)![1]) - Number(/offset="([\d.]+)"/.exec(b)![1]));
  const t = Math.min(1, Math.max(0, threshold));
  const tickX = Math.round(pad + t * barW);
  const label = `threshold ${threshold.toFixed(3)}`;
  const labelW = label.length * font * 0.56;
  // Centred under the tick, but never over the end labels "0" and "1".
  const labelX = Math.min(panelW - pad - 1.2 * font - labelW / 2, Math.max(pad + 1.2 * font + labelW / 2, tickX));
  const textY = pad + barH + font + Math.round(2 * u);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${panelW}" height="${panelH}">
<defs><linearGradient id="heat" x1="0" x2="1" y1="0" y2="0">${stops.join('')}</linearGradient></defs>
<rect width="${panelW}" height="${panelH}" rx="${Math.round(3 * u)}" fill="#000" fill-opacity="0.62"/>
<rect x="${pad}" y="${pad}" width="${barW}" height="${barH}" fill="#8a8a8a"/>
<rect x="${pad}" y="${pad}" width="${barW}" height="${barH}" fill="url(#heat)"/>
<rect x="${tickX - 2 * u}" y="${pad - Math.round(4 * u)}" width="${4 * u}" height="${barH + Math.round(8 * u)}" fill="#000"/>
<rect x="${tickX - u}" y="${pad - Math.round(3 * u)}" width="${2 * u}" height="${barH + Math.round(6 * u)}" fill="#fff"/>
<g font-family="DejaVu Sans, Verdana, sans-serif" font-size="${font}" fill="#fff">
<text x="${pad}" y="${textY}">0</text>
<text x="${panelW - pad}" y="${textY}" text-anchor="end">1</text>
<text x="${labelX.toFixed(1)}" y="${textY}" text-anchor="middle" font-weight="bold">${label}</text>
</g></svg>`;
  const left = Math.round(4 * u);
  return { svg, left, top: height - panelH - Math.round(4 * u), width: panelW, height: panelH, tickX: left + tickX };
}

/**
 * The overlay PNG at frame resolution: pixels below 0.8·threshold are the frame's own, the rest blended with the
 * inferno colour of their map value (see heatAt), each defect region outlined, and the legend at the bottom left.
 */
export async function overlayPng(frame: RgbImage, verdict: OverlayVerdict, options: OverlayOptions = {}): Promise<Buffer> {
  const { width, height } = verdict;
  if (frame.width !== width || frame.height !== height) {
    throw new RangeError(`overlay: frame is ${frame.width}×${frame.height} but the verdict is ${width}×${height}`);
  }
  const threshold = options.threshold ?? verdict.threshold;
  if (threshold === undefined || !Number.isFinite(threshold)) throw new RangeError(`overlay: threshold ${threshold} is not a number; pass the threshold the frame was judged with`);
  const out = new Uint8Array(width * height * 3);
  const map = verdict.frameMap;
  for (let i = 0; i < width * height; i++) {
    const o = i * 3;
    const [alpha, idx] = heatAt(map[i]!, threshold);
    if (alpha === 0) {
      out[o] = frame.data[o]!;
      out[o + 1] = frame.data[o + 1]!;
      out[o + 2] = frame.data[o + 2]!;
      continue;
    }
    for (let k = 0; k < 3; k++) out[o + k] = Math.round(frame.data[o + k]! * (1 - alpha) + INFERNO[idx * 3 + k]! * alpha);
  }
  let mask = verdict.mask;
  if (!mask || options.threshold !== undefined) {
    mask = new Uint8Array(width * height);
    for (let i = 0; i < mask.length; i++) if (map[i]! >= threshold) mask[i] = 1;
  }
  drawOutlines(out, mask, width, height);
  if (options.region && (options.region.roi || options.region.ignore?.length)) drawRegion(out, width, height, options.region);
  const image = sharp(out, { raw: { width, height, channels: 3 } });
  if ((options.legend ?? true) && width >= LEGEND_MIN_WIDTH && height >= LEGEND_MIN_HEIGHT) {
    const legend = legendSvg(threshold, width, height);
    image.composite([{ input: Buffer.from(legend.svg), left: legend.left, top: legend.top }]).removeAlpha();
  }
  return image.png({ compressionLevel: 6 }).toBuffer();
}
