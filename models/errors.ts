// Error classes of the runtime. Each message is one line that names the thing and says what to do,
// so the CLI and the daemon can show it as is.

/** A model pack that cannot be used: bad manifest field, missing or changed ONNX file. */
export class PackError extends Error {
  override readonly name = 'PackError';
}

/** An image or frame that cannot be turned into a model input. */
export class ImageError extends Error {
  override readonly name: string = 'ImageError';
}

/** An image whose header declares more pixels than allowed: refused before any pixel is decoded. */
export class ImageTooLargeError extends ImageError {
  override readonly name = 'ImageTooLargeError';
  constructor(message: string, readonly width: number, readonly height: number, readonly maxPixels: number) {
    super(message);
  }
}

/** Shot memory that is empty, malformed or made by another pack. */
export class ShotMemoryError extends Error {
  override readonly name = 'ShotMemoryError';
}

/** An ONNX Runtime session that failed to run; the caller may recreate the sessions and retry. */
export class InferenceError extends Error {
  override readonly name = 'InferenceError';
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
