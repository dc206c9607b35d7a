// Frames and image files → the encoder's input: uint8 RGB, S×S×3, exactly as the official loader makes it
// (PIL `Image.open`, grey 'L' merged to RGB, `resize((S, S), BICUBIC)` in the file's own mode, then RGB; DESIGN.md).
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { bmpDimensions, decodeBmp, isBmp } from './bmp.ts';
import { ImageError, ImageTooLargeError, messageOf } from './errors.ts';
import { resample, resampleInt } from './resample.ts';
import type { DecodedImage, IntRaster, PillowMode, Raster, RgbImage } from './raster.ts';
import type { Rect } from './regions.ts';

export type { DecodedImage, PillowMode, RgbImage } from './raster.ts';

/** A packed RGB24 frame as the drivers deliver it. */
export interface RawFrame {
  rgb: Buffer;
  width: number;
  height: number;
  /** The inspection region given with the frame: the runtime's prepare crops to it before the model's resize. */
  roi?: Rect | null;
  /** The image file the frame was read from (folder replay): the model decodes these bytes instead of `rgb`, so the
   *  file's own mode decides the resize, as when the official loader opens it (alpha, palette, 16-bit grey). */
  file?: Buffer;
}

/** A file path, an encoded image (PNG, JPEG, BMP, TIFF; 8/16-bit; grey, RGB, RGBA) or a raw RGB24 frame. */
export type ImageInput = string | Buffer | RawFrame;

/** Largest frame accepted; a 100-megapixel image is refused before it is decoded. */
export const DEFAULT_MAX_PIXELS = 64_000_000;

export function describeInput(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (Buffer.isBuffer(input)) return `<buffer of ${input.length} bytes>`;
  return `<raw frame ${input.width}×${input.height}>`;
}

function checkSize(label: string, width: number, height: number, maxPixels: number): void {
  if (!(width > 0 && height > 0)) throw new ImageError(`image ${label}: it is ${width}×${height} pixels; a frame needs at least 1×1`);
  if (width * height > maxPixels) {
    throw new ImageTooLargeError(
      `image ${label}: ${width}×${height} is ${(width * height / 1e6).toFixed(1)} megapixels, over the limit of ${(maxPixels / 1e6).toFixed(1)}; scale it down first`,
      width, height, maxPixels,
    );
  }
}

function explainSharpError(label: string, err: unknown): ImageError {
  const text = messageOf(err).split('\n')[0] ?? '';
  if (/unsupported image format|bad seek|not a known file format/i.test(text)) {
    return new ImageError(`image ${label}: not a readable image (PNG, JPEG, BMP or TIFF expected)`);
  }
  if (/premature|truncat|end of (file|stream|data)|EOF|corrupt|invalid|not enough data|read error|bad (adaptive|huffman)|out of order/i.test(text)) {
    return new ImageError(`image ${label}: truncated or corrupt image data (${text.trim()}); re-capture or re-save it`);
  }
  return new ImageError(`image ${label}: cannot decode (${text.trim()})`);
}


type Samples = Uint8Array | Uint16Array;

/** Channels `take` of an interleaved image, 16-bit samples reduced to their high byte (as Pillow's ";16B" unpackers do). */
function pickChannels(src: Samples, channels: number, take: number[]): Uint8Array {
  const pixels = src.length / channels;
  const out = new Uint8Array(pixels * take.length);
  const shift = src instanceof Uint16Array ? 8 : 0;
  for (let p = 0, o = 0; p < pixels; p++) for (const c of take) out[o++] = src[p * channels + c]! >> shift;
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Pillow's convert('RGB') of an image in `mode` (alpha dropped, grey replicated, 32-bit grey clipped to 0…255). */
function toRgb(mode: PillowMode, samples: Raster | IntRaster): Buffer {
  const { width, height } = samples;
  const out = Buffer.alloc(width * height * 3);
  const src = samples.data;
  const c = 'channels' in samples ? samples.channels : 1;
  for (let p = 0, o = 0; p < width * height; p++, o += 3) {
    if (mode === 'RGB' || mode === 'RGBA' || mode === 'P' || mode === '1') {
      out[o] = src[p * c]!;
      out[o + 1] = src[p * c + 1]!;
      out[o + 2] = src[p * c + 2]!;
    } else {
      const v = src[p * c]!;
      out[o] = out[o + 1] = out[o + 2] = v <= 0 ? 0 : v >= 255 ? 255 : v;
    }
  }
  return out;
}

function decoded(mode: PillowMode, samples: Raster | IntRaster): DecodedImage {
  const keep = mode === 'L' || mode === 'LA' || mode === 'RGBA' || mode === 'I';
  const data = mode === 'RGB' && samples.data instanceof Uint8Array ? Buffer.from(samples.data.buffer, samples.data.byteOffset, samples.data.length) : toRgb(mode, samples);
  return { data, width: samples.width, height: samples.height, mode, ...(keep ? { samples } : {}) };
}

/** The mode Pillow gives a PNG: read from IHDR (bit depth, colour type), which libvips' output does not reveal. */
function pngMode(bytes: Buffer): { mode: PillowMode; take: number[] } {
  const depth = bytes[24]!, colour = bytes[25]!;
  switch (colour) {
    case 0: return { mode: depth === 16 ? 'I' : depth === 1 ? '1' : 'L', take: depth === 1 ? [0, 1, 2] : [0] };
    case 2: return { mode: 'RGB', take: [0, 1, 2] };
    case 3: return { mode: 'P', take: [0, 1, 2] };
    // Pillow opens 16-bit grey+alpha as RGBA with equal colour channels: the same result as LA.
    case 4: return { mode: 'LA', take: [0, 3] };
    default: return { mode: 'RGBA', take: [0, 1, 2, 3] };
  }
}

function otherMode(label: string, meta: Metadata): { mode: PillowMode; take: number[] } {
  const channels = meta.channels ?? 3;
  if (meta.format === 'jpeg') {
    if (channels === 4) throw new ImageError(`image ${label}: CMYK JPEG is not supported; save it as RGB (sRGB) JPEG or PNG`);
    return channels === 1 ? { mode: 'L', take: [0] } : { mode: 'RGB', take: [0, 1, 2] };
  }
  // TIFF
  if (meta.isPalette) return { mode: 'P', take: [0, 1, 2] };
  if (meta.bitsPerSample === 1 && channels === 1) return { mode: '1', take: [0, 1, 2] };
  if (meta.depth === 'ushort' && channels <= 2) {
    // Pillow opens it as "I;16", which its bicubic resize refuses: the official loader cannot use it either.
    throw new ImageError(`image ${label}: 16-bit grey TIFF cannot be resized by the official preprocessing; save it as 8-bit or as 16-bit PNG`);
  }
  if (channels === 1) return { mode: 'L', take: [0] };
  if (channels === 2) return { mode: 'LA', take: [0, 3] };
  if (channels === 3) return { mode: 'RGB', take: [0, 1, 2] };
  if (channels === 4) return { mode: 'RGBA', take: [0, 1, 2, 3] };
  throw new ImageError(`image ${label}: ${channels} channels are not supported; save it as grey, RGB or RGBA`);
}

/** Decodes any ImageInput to packed RGB24 at its own resolution, plus the mode and samples Pillow would open it
 *  with (they decide the model's resize). Throws ImageError (one line) on bad input. */
export async function decodeImage(input: ImageInput, maxPixels = DEFAULT_MAX_PIXELS): Promise<DecodedImage> {
  const label = typeof input === 'string' ? basename(input) : describeInput(input);
  if (!Buffer.isBuffer(input) && typeof input !== 'string') {
    if (!input || !Buffer.isBuffer(input.rgb) || !Number.isInteger(input.width) || !Number.isInteger(input.height)) {
      throw new ImageError('image <raw frame>: expected {rgb: Buffer, width, height} with integer sizes');
    }
    checkSize(label, input.width, input.height, maxPixels);
    if (input.rgb.length !== input.width * input.height * 3) {
      throw new ImageError(`image ${label}: ${input.rgb.length} bytes, packed RGB24 needs ${input.width * input.height * 3}`);
    }
    if (input.file) {
      const fromFile = await decodeImage(input.file, maxPixels);
      if (fromFile.width !== input.width || fromFile.height !== input.height) {
        throw new ImageError(`image ${label}: its file decodes to ${fromFile.width}×${fromFile.height}, not the frame's size`);
      }
      return fromFile;
    }
    return { data: input.rgb, width: input.width, height: input.height, mode: 'RGB' };
  }
  let bytes: Buffer;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (err) {
      throw new ImageError(`image ${input}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`);
    }
  } else bytes = input;
  if (bytes.length === 0) throw new ImageError(`image ${label}: the file is empty`);
  if (isBmp(bytes)) {
    const { width, height } = bmpDimensions(bytes, label);
    checkSize(label, width, height, maxPixels);
    return decodeBmp(bytes, label);
  }
  const isPng = bytes.length >= 26 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.toString('latin1', 12, 16) === 'IHDR';
  // libpng rejects a 0×0 header as "corrupt"; say what is actually wrong.
  if (isPng) checkSize(label, bytes.readUInt32BE(16), bytes.readUInt32BE(20), maxPixels);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw explainSharpError(label, err);
  }
  if (!['png', 'jpeg', 'tiff'].includes(meta.format ?? '')) {
    throw new ImageError(`image ${label}: ${meta.format ?? 'unknown'} is not supported; use PNG, JPEG, BMP or TIFF`);
  }
  checkSize(label, meta.width ?? 0, meta.height ?? 0, maxPixels);
  const { mode, take } = isPng ? pngMode(bytes) : otherMode(label, meta);
  const sixteen = meta.depth === 'ushort';
  let raw: { data: Buffer; info: OutputInfo };
  try {
    // Pillow applies no colour management: the embedded ICC profile, if any, is ignored here too. Output is
    // always (s)RGB (grey replicated, alpha kept) at the file's own depth; the channels Pillow has are picked below.
    raw = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', ignoreIcc: true })
      .toColourspace(sixteen ? 'rgb16' : 'srgb')
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    // The header parsed, so a failure here is in the pixel data; libvips' text for it varies (even "Unknown error").
    const text = (messageOf(err).split('\n')[0] ?? '').trim();
    throw new ImageError(`image ${label}: truncated or corrupt image data (${text}); re-capture or re-save it`);
  }
  const { data, info } = raw;
  if (info.width !== meta.width || info.height !== meta.height) throw new ImageError(`image ${label}: decoded to ${info.width}×${info.height}, expected ${meta.width}×${meta.height}; re-save it`);
  const aligned = sixteen && data.byteOffset % 2 ? Buffer.from(data) : data;
  const samples: Samples = sixteen ? new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2) : aligned;
  if (take.some((c) => c >= info.channels)) throw new ImageError(`image ${label}: decoded to ${info.channels} channels, which does not fit its ${mode} header; re-save it`);
  if (mode === 'I') {
    const grey = new Int32Array(info.width * info.height);
    for (let p = 0; p < grey.length; p++) grey[p] = samples[p * info.channels]!;
    return decoded(mode, { data: grey, width: info.width, height: info.height });
  }
  const picked = take.length === info.channels && !sixteen && take.every((c, i) => c === i) ? samples as Uint8Array : pickChannels(samples, info.channels, take);
  return decoded(mode, { data: picked, width: info.width, height: info.height, channels: take.length });
}

/** Pillow's premultiplication (RGBA → RGBa, LA → La): colour × alpha / 255, rounded the way its MULDIV255 does. */
function premultiply(src: Raster): Raster {
  const c = src.channels;
  const out = new Uint8Array(src.data.length);
  for (let p = 0; p < src.data.length; p += c) {
    const alpha = src.data[p + c - 1]!;
    for (let ch = 0; ch < c - 1; ch++) {
      const t = src.data[p + ch]! * alpha + 128;
      out[p + ch] = ((t >> 8) + t) >> 8;
    }
    out[p + c - 1] = alpha;
  }
  return { ...src, data: out };
}

/** Back from premultiplied alpha to RGB (or grey replicated), as Pillow's RGBa → RGBA then → RGB does. */
function unpremultiplyToRgb(src: Raster): Buffer {
  const c = src.channels;
  const pixels = src.width * src.height;
  const out = Buffer.alloc(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const alpha = src.data[p * c + c - 1]!;
    for (let o = 0; o < 3; o++) {
      const v = src.data[p * c + (c === 4 ? o : 0)]!;
      out[p * 3 + o] = alpha === 0 || alpha === 255 ? v : Math.min(255, Math.floor((255 * v) / alpha));
    }
  }
  return out;
}

function replicateGrey(grey: Uint8Array): Buffer {
  const out = Buffer.alloc(grey.length * 3);
  for (let p = 0; p < grey.length; p++) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = grey[p]!;
  return out;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}

/** The encoder's S×S×3 input: PIL `Image.resize((S, S), BICUBIC)` of the image in its own mode, then RGB, byte for
 *  byte (palette and bilevel images resize NEAREST, as Pillow forces). Aspect is not kept. An S×S image passes as is. */
export function resizeForModel(image: RgbImage | DecodedImage, size: number): Buffer {
  if (image.width === size && image.height === size) return image.data;
  const mode = 'mode' in image ? image.mode : 'RGB';
  const samples = 'samples' in image ? image.samples : undefined;
  if (mode === 'I' && samples && !('channels' in samples)) {
    const out = resampleInt(samples, size, size, 'bicubic');
    return toRgb('I', out);
  }
  if ((mode === 'L' || mode === 'LA' || mode === 'RGBA') && samples && 'channels' in samples) {
    if (mode === 'L') return replicateGrey(resample(samples, size, size, 'bicubic').data);
    return unpremultiplyToRgb(resample(premultiply(samples), size, size, 'bicubic'));
  }
  const rgb: Raster = { data: image.data, width: image.width, height: image.height, channels: 3 };
  return asBuffer(resample(rgb, size, size, mode === 'P' || mode === '1' ? 'nearest' : 'bicubic').data);
}

/** A PNG to keep for an uploaded image such that decoding it later gives the same model input: a PNG is kept as
 *  sent (its mode decides the resize); other formats are re-encoded losslessly in the same mode (grey, grey+alpha,
 *  RGB, RGBA). Palette and bilevel BMP/TIFF are kept as RGB, which Pillow would resize bicubic rather than nearest. */
export async function pngKeepingMode(original: Buffer, image: DecodedImage): Promise<Buffer> {
  if (original.length >= 8 && original.readUInt32BE(0) === 0x89504e47) return original;
  const samples = image.samples && 'channels' in image.samples ? image.samples : null;
  if (samples && (image.mode === 'L' || image.mode === 'LA' || image.mode === 'RGBA')) {
    const channels = samples.channels as 1 | 2 | 4;
    return sharp(samples.data, { raw: { width: image.width, height: image.height, channels } }).png().toBuffer();
  }
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}
