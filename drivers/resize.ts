// Model-size copies for the in-process sources (synthetic, folder). ffmpeg-backed sources scale inside ffmpeg instead.
import sharp from 'sharp';

/** Bicubic resize of packed RGB24 to S×S, aspect not kept (the model's preprocessing, DESIGN.md). */
export async function resizeRgb(rgb: Buffer, width: number, height: number, size: number): Promise<Buffer> {
  if (width === size && height === size) return rgb;
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
}
