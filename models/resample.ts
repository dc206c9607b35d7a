// Pillow's resize, reproduced exactly (the official AdaptCLIP preprocessing is PIL `Image.resize((S, S), BICUBIC)`).
// Facts of Pillow's algorithm (libImaging/Resample.c, Geometry.c, Convert.c), not its code:
// - convolution filters scale their support by the downscale factor (antialiasing); taps are weighted by
//   filter((i - center + 0.5) / scale), normalised to sum 1, then rounded to 22-bit fixed point (half away from 0);
// - two separable 8-bit passes, horizontal first, each rounding to uint8 with clamping; a pass whose size does not
//   change is skipped; 32-bit integer images use the double weights and round half away from zero;
// - NEAREST (forced for palette and bilevel images) walks source coordinates by repeated double addition.
// Every step uses the same IEEE double arithmetic as the C code, so results are identical byte for byte.

import type { IntRaster, Raster } from './raster.ts';

export type { IntRaster, Raster } from './raster.ts';
export type ResampleFilter = 'nearest' | 'bilinear' | 'bicubic';

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

function bicubic(x: number): number {
  // Keys' cubic convolution kernel with a = -0.5.
  if (x < 0) x = -x;
  if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * -0.5;
  return 0;
}

function triangle(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

const KERNELS = { bilinear: { fn: triangle, support: 1 }, bicubic: { fn: bicubic, support: 2 } } as const;

/** The taps of one axis: for output i, `count[i]` source samples from `first[i]`, weights at i*width. */
export interface AxisTaps {
  width: number;
  first: Int32Array;
  count: Int32Array;
  /** Normalised weights (double), zero-padded to `width` per output sample. */
  weights: Float64Array;
  /** The same weights in 22-bit fixed point, for 8-bit images. */
  fixed: Int32Array;
}

function computeTaps(inSize: number, outSize: number, filter: 'bilinear' | 'bicubic'): AxisTaps {
  const kernel = KERNELS[filter];
  const scale = inSize / outSize;
  const stretch = scale < 1 ? 1 : scale;
  const support = kernel.support * stretch;
  const width = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * width);
  const fixed = new Int32Array(outSize * width);
  const inv = 1 / stretch;
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; both bounds are clamped to the image afterwards.
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = hi - lo;
    const base = i * width;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const w = kernel.fn((k + lo - center + 0.5) * inv);
      weights[base + k] = w;
      sum += w;
    }
    for (let k = 0; k < n; k++) {
      const w = sum !== 0 ? weights[base + k]! / sum : weights[base + k]!;
      weights[base + k] = w;
      fixed[base + k] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[i] = lo;
    count[i] = n;
  }
  return { width, first, count, weights, fixed };
}

// Live cameras repeat the same geometry frame after frame: keep the few tap tables in use.
const tapCache = new Map<string, AxisTaps>();
const TAP_CACHE_SIZE = 16;

export function axisTaps(inSize: number, outSize: number, filter: 'bilinear' | 'bicubic'): AxisTaps {
  const key = `${filter}:${inSize}:${outSize}`;
  let taps = tapCache.get(key);
  if (taps) {
    tapCache.delete(key);
  } else {
    taps = computeTaps(inSize, outSize, filter);
    if (tapCache.size >= TAP_CACHE_SIZE) tapCache.delete(tapCache.keys().next().value!);
  }
  tapCache.set(key, taps);
  return taps;
}

function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal 8-bit pass over source rows [row0, row0 + rows). */
function horizontal8(src: Raster, row0: number, rows: number, outWidth: number, taps: AxisTaps): Uint8Array {
  const c = src.channels;
  const inStride = src.width * c;
  const out = new Uint8Array(rows * outWidth * c);
  const { first, count, fixed, width } = taps;
  const data = src.data;
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const rowBase = (row0 + y) * inStride;
    for (let x = 0; x < outWidth; x++) {
      const n = count[x]!;
      const kBase = x * width;
      const pBase = rowBase + first[x]! * c;
      if (c === 3) {
        let s0 = HALF, s1 = HALF, s2 = HALF;
        let k = 0, p = pBase;
        for (; k + 2 <= n; k += 2, p += 6) {
          const w = fixed[kBase + k]!, v = fixed[kBase + k + 1]!;
          s0 = (s0 + Math.imul(data[p]!, w) + Math.imul(data[p + 3]!, v)) | 0;
          s1 = (s1 + Math.imul(data[p + 1]!, w) + Math.imul(data[p + 4]!, v)) | 0;
          s2 = (s2 + Math.imul(data[p + 2]!, w) + Math.imul(data[p + 5]!, v)) | 0;
        }
        if (k < n) {
          const w = fixed[kBase + k]!;
          s0 = (s0 + Math.imul(data[p]!, w)) | 0;
          s1 = (s1 + Math.imul(data[p + 1]!, w)) | 0;
          s2 = (s2 + Math.imul(data[p + 2]!, w)) | 0;
        }
        out[o++] = clip8(s0);
        out[o++] = clip8(s1);
        out[o++] = clip8(s2);
      } else {
        for (let ch = 0; ch < c; ch++) {
          let s = HALF;
          for (let k = 0, p = pBase + ch; k < n; k++, p += c) s = (s + Math.imul(data[p]!, fixed[kBase + k]!)) | 0;
          out[o++] = clip8(s);
        }
      }
    }
  }
  return out;
}

/** Vertical 8-bit pass; `rowOffset` is the first source row present in `src`. Rows are streamed into one
 *  accumulator row (sequential reads), which is much faster in JS than walking each column's taps. */
function vertical8(src: Raster, rowOffset: number, outHeight: number, taps: AxisTaps): Uint8Array {
  const stride = src.width * src.channels;
  const out = new Uint8Array(outHeight * stride);
  const sums = new Int32Array(stride);
  const { first, count, fixed, width } = taps;
  const data = src.data;
  for (let y = 0; y < outHeight; y++) {
    const n = count[y]!;
    const kBase = y * width;
    const top = (first[y]! - rowOffset) * stride;
    sums.fill(HALF);
    let k = 0;
    // Four taps per sweep: a quarter of the accumulator traffic (int32 sums as in C; no overflow at 22-bit weights).
    for (; k + 4 <= n; k += 4) {
      const w0 = fixed[kBase + k]!, w1 = fixed[kBase + k + 1]!, w2 = fixed[kBase + k + 2]!, w3 = fixed[kBase + k + 3]!;
      const r0 = top + k * stride, r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride;
      for (let i = 0; i < stride; i++) {
        sums[i] = (sums[i]! + Math.imul(data[r0 + i]!, w0) + Math.imul(data[r1 + i]!, w1) + Math.imul(data[r2 + i]!, w2) + Math.imul(data[r3 + i]!, w3)) | 0;
      }
    }
    for (; k < n; k++) {
      const w = fixed[kBase + k]!;
      const row = top + k * stride;
      for (let i = 0; i < stride; i++) sums[i] = (sums[i]! + Math.imul(data[row + i]!, w)) | 0;
    }
    const oBase = y * stride;
    for (let i = 0; i < stride; i++) out[oBase + i] = clip8(sums[i]!);
  }
  return out;
}

function nearestIndices(inSize: number, outSize: number): Int32Array {
  // Source positions advance by repeated addition from half a step, as Pillow's affine scaler does;
  // a position that lands outside the image leaves the output sample 0.
  const step = inSize / outSize;
  const index = new Int32Array(outSize);
  let pos = step * 0.5;
  for (let i = 0; i < outSize; i++) {
    const at = pos < 0 ? -1 : Math.trunc(pos);
    index[i] = at < inSize ? at : -1;
    pos += step;
  }
  return index;
}

function nearest(src: Raster, outWidth: number, outHeight: number): Raster {
  const c = src.channels;
  const xs = nearestIndices(src.width, outWidth);
  const ys = nearestIndices(src.height, outHeight);
  const out = new Uint8Array(outWidth * outHeight * c);
  for (let y = 0; y < outHeight; y++) {
    const sy = ys[y]!;
    if (sy < 0) continue;
    const rowBase = sy * src.width * c;
    let o = y * outWidth * c;
    for (let x = 0; x < outWidth; x++, o += c) {
      const sx = xs[x]!;
      if (sx < 0) continue;
      const p = rowBase + sx * c;
      for (let ch = 0; ch < c; ch++) out[o + ch] = src.data[p + ch]!;
    }
  }
  return { data: out, width: outWidth, height: outHeight, channels: c };
}

function checkSizes(width: number, height: number, channels: number, length: number, outWidth: number, outHeight: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`resample: source is ${width}×${height}; both sides must be whole numbers ≥ 1`);
  }
  if (length !== width * height * channels) {
    throw new RangeError(`resample: source holds ${length} samples, ${width}×${height}×${channels} needs ${width * height * channels}`);
  }
  if (!(Number.isInteger(outWidth) && Number.isInteger(outHeight) && outWidth > 0 && outHeight > 0)) {
    throw new RangeError(`resample: target is ${outWidth}×${outHeight}; both sides must be whole numbers ≥ 1`);
  }
}

/** Pillow's `Image.resize((outWidth, outHeight), filter)` of an 8-bit image, byte for byte (any channel count,
 *  each channel independently: premultiply alpha first where Pillow does). Same size returns the source. */
export function resample(src: Raster, outWidth: number, outHeight: number, filter: ResampleFilter): Raster {
  checkSizes(src.width, src.height, src.channels, src.data.length, outWidth, outHeight);
  if (outWidth === src.width && outHeight === src.height) return src;
  if (filter === 'nearest') return nearest(src, outWidth, outHeight);
  const needH = outWidth !== src.width;
  const needV = outHeight !== src.height;
  const vTaps = axisTaps(src.height, outHeight, filter);
  let current = src;
  let rowOffset = 0;
  if (needH) {
    // Only the source rows the vertical pass reads are filtered horizontally.
    const row0 = vTaps.first[0]!;
    const rowEnd = vTaps.first[outHeight - 1]! + vTaps.count[outHeight - 1]!;
    const rows = needV ? rowEnd - row0 : src.height;
    const start = needV ? row0 : 0;
    current = { data: horizontal8(src, start, rows, outWidth, axisTaps(src.width, outWidth, filter)), width: outWidth, height: rows, channels: src.channels };
    rowOffset = start;
  }
  if (needV) current = { data: vertical8(current, rowOffset, outHeight, vTaps), width: outWidth, height: outHeight, channels: src.channels };
  return current;
}

function roundHalfAway(v: number): number {
  return Math.trunc(v >= 0 ? v + 0.5 : v - 0.5);
}

/** Pillow's resize of a mode "I" image (32-bit integers, double weights, rounded half away from zero per pass). */
export function resampleInt(src: IntRaster, outWidth: number, outHeight: number, filter: ResampleFilter): IntRaster {
  checkSizes(src.width, src.height, 1, src.data.length, outWidth, outHeight);
  if (outWidth === src.width && outHeight === src.height) return src;
  if (filter === 'nearest') {
    const xs = nearestIndices(src.width, outWidth);
    const ys = nearestIndices(src.height, outHeight);
    const out = new Int32Array(outWidth * outHeight);
    for (let y = 0; y < outHeight; y++) {
      if (ys[y]! < 0) continue;
      for (let x = 0; x < outWidth; x++) if (xs[x]! >= 0) out[y * outWidth + x] = src.data[ys[y]! * src.width + xs[x]!]!;
    }
    return { data: out, width: outWidth, height: outHeight };
  }
  let current = src;
  if (outWidth !== src.width) {
    const { first, count, weights, width } = axisTaps(src.width, outWidth, filter);
    const out = new Int32Array(outWidth * src.height);
    for (let y = 0; y < src.height; y++) {
      const row = y * src.width;
      for (let x = 0; x < outWidth; x++) {
        let s = 0;
        for (let k = 0; k < count[x]!; k++) s += src.data[row + first[x]! + k]! * weights[x * width + k]!;
        out[y * outWidth + x] = roundHalfAway(s);
      }
    }
    current = { data: out, width: outWidth, height: src.height };
  }
  if (outHeight !== src.height) {
    const { first, count, weights, width } = axisTaps(src.height, outHeight, filter);
    const out = new Int32Array(outWidth * outHeight);
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        let s = 0;
        for (let k = 0; k < count[y]!; k++) s += current.data[(first[y]! + k) * outWidth + x]! * weights[y * width + k]!;
        out[y * outWidth + x] = roundHalfAway(s);
      }
    }
    current = { data: out, width: outWidth, height: outHeight };
  }
  return current;
}
