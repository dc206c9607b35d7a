// Image types shared by the decoders, the resampler and the verdict overlays.

/** An interleaved 8-bit image: width*height*channels bytes, row-major. */
export interface Raster {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** A one-channel 32-bit integer image (Pillow mode "I", e.g. a 16-bit grey PNG). */
export interface IntRaster {
  data: Int32Array;
  width: number;
  height: number;
}

export interface RgbImage {
  /** Packed RGB24, width*height*3 bytes. */
  data: Buffer;
  width: number;
  height: number;
}

/** The mode Pillow's `Image.open` gives a file; it decides how the official preprocessing resizes it. */
export type PillowMode = 'RGB' | 'L' | 'LA' | 'RGBA' | 'P' | '1' | 'I';

/** A decoded image: `data` is Pillow's convert('RGB') of it at its own resolution (overlays, storage). */
export interface DecodedImage extends RgbImage {
  mode: PillowMode;
  /** The samples the model's resize starts from where they are not `data`: grey (L), grey+alpha (LA), RGBA,
   *  or 16-bit grey as integers (I). Absent for RGB, P and 1, which resize `data`. */
  samples?: Raster | IntRaster;
}
