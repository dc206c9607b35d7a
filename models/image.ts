// Frames and image files → the encoder's input: uint8 RGB, S×S×3, bicubic, aspect not kept (DESIGN.md).
import sharp, { type Metadata } from 'sharp';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { bmpDimensions, decodeBmp, isBmp, type RgbImage } from './bmp.ts';
import { ImageError, messageOf } from './errors.ts';

export type { RgbImage } from './bmp.ts';

/** A packed RGB24 frame as the drivers deliver it. */
export interface RawFrame {
  rgb: Buffer;
  width: number;
  height: number;
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
    throw new ImageError(
      `image ${label}: ${width}×${height} is ${(width * height / 1e6).toFixed(1)} megapixels, over the limit of ${(maxPixels / 1e6).toFixed(1)}; scale it down first`,
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

/** Decodes any ImageInput to packed RGB24 at its own resolution. Throws ImageError (one line) on bad input. */
export async function decodeImage(input: ImageInput, maxPixels = DEFAULT_MAX_PIXELS): Promise<RgbImage> {
  const label = typeof input === 'string' ? basename(input) : describeInput(input);
  if (!Buffer.isBuffer(input) && typeof input !== 'string') {
    if (!input || !Buffer.isBuffer(input.rgb) || !Number.isInteger(input.width) || !Number.isInteger(input.height)) {
      throw new ImageError('image <raw frame>: expected {rgb: Buffer, width, height} with integer sizes');
    }
    checkSize(label, input.width, input.height, maxPixels);
    if (input.rgb.length !== input.width * input.height * 3) {
      throw new ImageError(`image ${label}: ${input.rgb.length} bytes, packed RGB24 needs ${input.width * input.height * 3}`);
    }
    return { data: input.rgb, width: input.width, height: input.height };
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
  // libpng rejects a 0×0 header as "corrupt"; say what is actually wrong.
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.toString('latin1', 12, 16) === 'IHDR') {
    checkSize(label, bytes.readUInt32BE(16), bytes.readUInt32BE(20), maxPixels);
  }
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
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageError(`image ${label}: decoded to ${info.channels} channels, expected RGB`);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof ImageError) throw err;
    // The header parsed, so a failure here is in the pixel data; libvips' text for it varies (even "Unknown error").
    const text = (messageOf(err).split('\n')[0] ?? '').trim();
    throw new ImageError(`image ${label}: truncated or corrupt image data (${text}); re-capture or re-save it`);
  }
}

/** Bicubic resize to S×S (aspect not kept). A frame already S×S is passed through untouched. */
export async function resizeForModel(image: RgbImage, size: number): Promise<Buffer> {
  if (image.width === size && image.height === size) return image.data;
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 }, limitInputPixels: false })
    .resize(size, size, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
}
