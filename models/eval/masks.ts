// Ground-truth masks brought to the model's S×S grid the way the official AdaptCLIP dataset code does:
// Image.open(mask).convert('L') > 0 → a 0/255 'L' image → torchvision Resize((S, S)) (Pillow BILINEAR on a PIL
// image) → ToTensor (÷255) → > 0.5. Normal images get an all-zero mask whatever file exists.
// For Real-IAD the official test then takes the S×S mask to 256 with torch's nearest interpolation.
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { resample } from '../resample.ts';

export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Pillow's RGB → L: (R·19595 + G·38470 + B·7471 + 0x8000) >> 16 (libImaging/Convert.c, ITU-R 601-2 luma). */
export const pillowLuma = (r: number, g: number, b: number) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;

/**
 * A mask file's pixels as Pillow's `Image.open(path).convert('L')` gives them, for the usual mask files: grey
 * (8-bit, 1/2/4-bit scaled to 0..255, 16-bit clipped to 255 as Pillow's I → L), grey+alpha (grey kept), palette
 * (its colours' luma) and RGB/RGBA (luma of RGB, alpha ignored; 16-bit channels keep their high byte, as Pillow
 * reads them). Any embedded ICC profile is ignored, as Pillow does. Throws one line naming the file.
 */
export async function decodeMaskL(path: string): Promise<GreyImage> {
  let meta: Metadata;
  try {
    meta = await sharp(path, { ignoreIcc: true }).metadata();
  } catch (err) {
    throw new Error(`--data: mask ${path} cannot be read (${(err as Error).message.split('\n')[0]}); replace it with a PNG mask (0 = normal, > 0 = defect)`);
  }
  const wide = meta.depth === 'ushort';
  let data: Buffer, info: OutputInfo;
  try {
    const image = sharp(path, { ignoreIcc: true });
    // 16-bit input stays 16-bit (sharp would otherwise turn it to 8-bit sRGB): grey16, or rgb16 for colour.
    if (wide) image.toColourspace((meta.channels ?? 1) <= 2 ? 'grey16' : 'rgb16').raw({ depth: 'ushort' });
    else image.raw();
    ({ data, info } = await image.toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new Error(`--data: mask ${path} cannot be decoded (${(err as Error).message.split('\n')[0]}); replace it with a PNG mask (0 = normal, > 0 = defect)`);
  }
  const { width, height, channels } = info;
  const n = width * height;
  const out = new Uint8Array(n);
  if (wide) {
    const v = new Uint16Array(data.buffer, data.byteOffset, data.length >> 1);
    if (channels === 1) for (let i = 0; i < n; i++) out[i] = Math.min(v[i]!, 255);
    else if (channels === 2) for (let i = 0; i < n; i++) out[i] = v[2 * i]! >> 8;
    else for (let i = 0; i < n; i++) out[i] = pillowLuma(v[i * channels]! >> 8, v[i * channels + 1]! >> 8, v[i * channels + 2]! >> 8);
  } else if (channels <= 2) for (let i = 0; i < n; i++) out[i] = data[i * channels]!;
  else for (let i = 0; i < n; i++) out[i] = pillowLuma(data[i * channels]!, data[i * channels + 1]!, data[i * channels + 2]!);
  return { data: out, width, height };
}

/**
 * The official S×S ground truth (1 = defect) from a decoded mask: > 0 → 0/255, Pillow bilinear resize to S×S (an
 * antialiasing filter when shrinking), then ≥ 128 (ToTensor's v/255 > 0.5).
 */
export function maskToGrid(mask: GreyImage, size: number): Uint8Array {
  const binary = Uint8Array.from(mask.data, (v) => (v > 0 ? 255 : 0));
  const resized = mask.width === size && mask.height === size ? binary : resample({ data: binary, width: mask.width, height: mask.height, channels: 1 }, size, size, 'bilinear').data;
  return Uint8Array.from(resized, (v) => (v >= 128 ? 1 : 0));
}

/** The official ground truth at S×S for a test image: all zero for a normal part (maskPath null). */
export async function loadGroundTruth(maskPath: string | null, size: number): Promise<{ grid: Uint8Array; width: number; height: number }> {
  if (!maskPath) return { grid: new Uint8Array(size * size), width: size, height: size };
  const mask = await decodeMaskL(maskPath);
  return { grid: maskToGrid(mask, size), width: mask.width, height: mask.height };
}

/**
 * torch.nn.functional.interpolate(mode='nearest') of a square 0/1 grid: source index floor(dst · (in/out)) with the
 * scale in float32, clamped to in − 1 (exact copy when the sizes match).
 */
export function nearestGrid(grid: Uint8Array, inSize: number, outSize: number): Uint8Array {
  if (inSize === outSize) return grid;
  const scale = Math.fround(inSize / outSize);
  const src = Int32Array.from({ length: outSize }, (_, d) => Math.min(Math.floor(Math.fround(d * scale)), inSize - 1));
  const out = new Uint8Array(outSize * outSize);
  for (let y = 0; y < outSize; y++) for (let x = 0; x < outSize; x++) out[y * outSize + x] = grid[src[y]! * inSize + src[x]!]!;
  return out;
}
