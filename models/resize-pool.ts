// Pillow-exact resizes on worker threads, so a 5 MP frame (tens of ms of CPU) never blocks the event loop that
// serves the PLC, and several cameras' frames resize in parallel. Small frames resize inline: posting them costs
// more than the work. One pool per Detector (no module state); close() ends its threads.
import { Worker } from 'node:worker_threads';
import { resizeForModel } from './image.ts';
import { ImageError } from './errors.ts';
import type { DecodedImage, RgbImage } from './raster.ts';
import type { ResizeAnswer, ResizeJob } from './resize-job.ts';

/** Below this many source pixels the resize runs inline (≈ 0.3 ms of work). */
const INLINE_PIXELS = 256 * 256;

interface Pending {
  resolve: (input: Buffer) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class ResizePool {
  readonly #threads: number;
  readonly #slots: (Slot | null)[];
  #next = 0;
  #jobs = 0;
  #closed = false;

  /** threads 0: every resize inline, on the calling thread. */
  constructor(threads: number) {
    this.#threads = Math.max(0, Math.floor(threads));
    this.#slots = Array.from({ length: this.#threads }, () => null);
  }

  get threads(): number {
    return this.#threads;
  }

  async resize(image: RgbImage | DecodedImage, size: number): Promise<Buffer> {
    if (this.#threads === 0 || this.#closed || image.width * image.height <= INLINE_PIXELS || (image.width === size && image.height === size)) {
      return resizeForModel(image, size);
    }
    const index = this.#next++ % this.#threads;
    const slot = this.#slots[index] ?? this.#start(index);
    const id = ++this.#jobs;
    const job: ResizeJob = { id, image: { mode: 'RGB', ...image }, size };
    return new Promise<Buffer>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage(job);
    });
  }

  #start(index: number): Slot {
    const worker = new Worker(new URL('./resize-worker.mjs', import.meta.url));
    const slot: Slot = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (answer: ResizeAnswer) => {
      const job = slot.pending.get(answer.id);
      if (!job) return;
      slot.pending.delete(answer.id);
      if (slot.pending.size === 0) worker.unref();
      if ('error' in answer) job.reject(new ImageError(`resize: ${answer.error}`));
      else job.resolve(Buffer.from(answer.input.buffer, answer.input.byteOffset, answer.input.byteLength));
    });
    const fail = (why: string) => {
      // A dead thread takes its jobs with it; the next resize starts a fresh one.
      if (this.#slots[index] === slot) this.#slots[index] = null;
      for (const job of slot.pending.values()) job.reject(new ImageError(`resize thread ${why}; the frame was not resized`));
      slot.pending.clear();
    };
    worker.on('error', (err) => fail(`failed (${err.message})`));
    worker.on('exit', (code) => fail(`exited (code ${code})`));
    this.#slots[index] = slot;
    return slot;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0).filter((s): s is Slot => s !== null);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
