// Runs in a resize-pool worker thread: model inputs computed off the event loop, answered by job id.
import { parentPort } from 'node:worker_threads';
import { resizeForModel } from './image.ts';
import type { DecodedImage } from './raster.ts';

export interface ResizeJob {
  id: number;
  image: DecodedImage;
  size: number;
}

export type ResizeAnswer = { id: number; input: Uint8Array } | { id: number; error: string };

if (!parentPort) throw new Error('models/resize-job.ts runs only as a resize-pool worker');
const port = parentPort;
port.on('message', ({ id, image, size }: ResizeJob) => {
  try {
    // Structured clone turned the Buffer into a plain Uint8Array; the resampler only needs the bytes.
    const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    const input = resizeForModel({ ...image, data }, size);
    const answer: ResizeAnswer = { id, input };
    // The frame's copy goes back with the answer (transferred, not cloned): this thread then holds no frame-sized
    // memory between jobs; the caller's collector frees it with the rest of its garbage.
    port.postMessage(answer, [...new Set([input.buffer as ArrayBuffer, ...sources(image)])]);
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies ResizeAnswer);
  }
});

/** The structured-cloned buffers of a job's image (its RGB data and Pillow-mode samples), once each. */
function sources(image: DecodedImage): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of [image.data, image.samples?.data]) if (view && view.buffer instanceof ArrayBuffer && view.buffer.byteLength) buffers.add(view.buffer);
  return [...buffers];
}
