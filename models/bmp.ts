// A small BMP decoder: sharp (libvips) cannot read BMP, and line cameras' tools still write it.
// Supports uncompressed 1/4/8-bit palette, 16/24/32-bit (BI_RGB and BI_BITFIELDS), bottom-up and top-down.
import { ImageError } from './errors.ts';
import type { DecodedImage, PillowMode } from './raster.ts';

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

export function isBmp(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d;
}

/** Reads the declared size without decoding, so oversized images are refused before any allocation. */
export function bmpDimensions(buf: Buffer, label: string): { width: number; height: number } {
  if (buf.length < 26) throw new ImageError(`image ${label}: truncated BMP header; re-save the file`);
  const headerSize = buf.readUInt32LE(14);
  if (headerSize === 12) return { width: buf.readUInt16LE(18), height: buf.readUInt16LE(20) };
  if (buf.length < 54) throw new ImageError(`image ${label}: truncated BMP header; re-save the file`);
  return { width: Math.abs(buf.readInt32LE(18)), height: Math.abs(buf.readInt32LE(22)) };
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

export function decodeBmp(buf: Buffer, label: string): DecodedImage {
  const fail = (what: string): never => {
    throw new ImageError(`image ${label}: ${what}`);
  };
  const { width, height } = bmpDimensions(buf, label);
  const headerSize = buf.readUInt32LE(14);
  const core = headerSize === 12;
  const rawHeight = core ? buf.readUInt16LE(20) : buf.readInt32LE(22);
  const topDown = rawHeight < 0;
  const bpp = core ? buf.readUInt16LE(24) : buf.readUInt16LE(28);
  const compression = core ? BI_RGB : buf.readUInt32LE(30);
  const dataOffset = buf.readUInt32LE(10);
  if (width === 0 || height === 0) fail(`BMP is ${width}×${height} pixels; a frame needs at least 1×1`);
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    fail(`compressed BMP (compression ${compression}) is not supported; save it as uncompressed BMP or PNG`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail(`BMP with ${bpp} bits per pixel is not supported; save it as 24-bit BMP or PNG`);

  let masks = [0, 0, 0];
  if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f];
  if (bpp === 32) masks = [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (compression !== BI_RGB) {
    if (buf.length < 54 + 12) fail('truncated BMP bit-field masks; re-save the file');
    masks = [buf.readUInt32LE(54), buf.readUInt32LE(58), buf.readUInt32LE(62)];
  }
  const channels = masks.map(maskShift);

  let palette: Buffer | null = null;
  if (bpp <= 8) {
    const entrySize = core ? 3 : 4;
    const declared = core ? 0 : buf.readUInt32LE(46);
    const count = declared || 1 << bpp;
    const start = 14 + headerSize;
    if (start + count * entrySize > buf.length) fail('truncated BMP palette; re-save the file');
    palette = Buffer.alloc(count * 3);
    for (let i = 0; i < count; i++) {
      const at = start + i * entrySize;
      palette[i * 3] = buf[at + 2]!;
      palette[i * 3 + 1] = buf[at + 1]!;
      palette[i * 3 + 2] = buf[at]!;
    }
  }

  // Pillow reads a fourth (alpha) mask only from headers of 56 bytes and more; only then is the image RGBA.
  const alphaMask = bpp === 32 && compression !== BI_RGB && headerSize >= 56 && buf.length >= 70 ? buf.readUInt32LE(66) : 0;
  const alpha = maskShift(alphaMask);
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > buf.length) fail(`truncated BMP pixel data (${buf.length} bytes, needs ${dataOffset + stride * height}); re-save the file`);
  const out = Buffer.alloc(width * height * 3);
  const alphaOut = alphaMask ? new Uint8Array(width * height) : null;
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      if (palette) {
        const bit = x * bpp;
        const byte = buf[row + (bit >> 3)]!;
        const index = (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        if (index * 3 + 2 >= palette.length) fail(`BMP palette index ${index} out of range; re-save the file`);
        out[o] = palette[index * 3]!;
        out[o + 1] = palette[index * 3 + 1]!;
        out[o + 2] = palette[index * 3 + 2]!;
      } else if (bpp === 24) {
        const at = row + x * 3;
        out[o] = buf[at + 2]!;
        out[o + 1] = buf[at + 1]!;
        out[o + 2] = buf[at]!;
      } else {
        const value = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4);
        for (let c = 0; c < 3; c++) {
          const { shift, max } = channels[c]!;
          // Pillow widens 5- and 6-bit channels with integer division (v * 255 / max, rounded down).
          out[o + c] = max === 0 ? 0 : Math.floor((((value & masks[c]!) >>> shift) * 255) / max);
        }
        if (alphaOut) alphaOut[y * width + x] = Math.floor((((value & alphaMask) >>> alpha.shift) * 255) / alpha.max);
      }
    }
  }
  if (alphaOut) {
    const rgba = new Uint8Array(width * height * 4);
    for (let p = 0; p < width * height; p++) {
      rgba.set(out.subarray(p * 3, p * 3 + 3), p * 4);
      rgba[p * 4 + 3] = alphaOut[p]!;
    }
    return { data: out, width, height, mode: 'RGBA', samples: { data: rgba, width, height, channels: 4 } };
  }
  return { data: out, width, height, mode: paletteMode(palette) };
}

/** Pillow drops a palette that is exactly the grey ramp (0, 1, 2, … or black/white for two colours): the image is
 *  then grey "L" (or bilevel "1") instead of palette "P", which changes how it is resized. */
function paletteMode(palette: Buffer | null): PillowMode {
  if (!palette) return 'RGB';
  const count = palette.length / 3;
  const ramp = count === 2 ? [0, 255] : Array.from({ length: count }, (_, i) => i);
  const grey = ramp.every((v, i) => palette[i * 3] === v && palette[i * 3 + 1] === v && palette[i * 3 + 2] === v);
  if (!grey) return 'P';
  return count === 2 ? '1' : 'L';
}
