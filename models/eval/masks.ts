// Ground-truth masks brought to the model's S×S grid the way the official AdaptCLIP dataset code does:
// Image.open(mask).convert('L') > 0 → a 0/255 'L' image → torchvision Resize((S, S)) (Pillow BILINEAR on a PIL
// image) → ToTensor (÷255) → > 0.5. Normal images get an all-zero mask whatever file exists.
// For Real-IAD the official test then takes the S×S mask to 256 with torch's nearest interpolation.
import { decodeImage } from '../image.ts';
import { messageOf } from '../errors.ts';
import { resample } from '../resample.ts';

export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Pillow's RGB → L: (R·19595 + G·38470 + B·7471 + 0x8000) >> 16 (libImaging/Convert.c, ITU-R 601-2 luma). */
export const pillowLuma = (r: number, g: number, b: number) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;

/**
 * A mask file's pixels as Pillow's `Image.open(path).convert('L')` gives them. The runtime's decoder already gives
 * Pillow's convert('RGB') of the file in whatever mode it opens (grey replicated, 16-bit grey clipped, palette
 * colours, alpha dropped, 16-bit colour by its high byte); Pillow's L of each mode is the luma of that RGB (a grey
 * value's luma is itself). Throws one line naming the file.
 */
export async function decodeMaskL(path: string): Promise<GreyImage> {
  let image;
  try {
    image = await decodeImage(path);
  } catch (err) {
    throw new Error(`--data: mask ${path} cannot be read (${messageOf(err)}); replace it with a PNG mask (0 = normal, > 0 = defect)`);
  }
  const { data: rgb, width, height } = image;
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = pillowLuma(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!);
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
