// A pack's ONNX Runtime sessions on their own thread. onnxruntime-node runs a model synchronously on the calling
// thread; on the event loop's thread a ViT-L frame on a CPU (seconds) would hold up OPC UA, MQTT and the UI for as
// long. Calls are answered in order; outputs come back transferred, not copied.
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { ownBuffer, type KeptFeed, type SessionName, type ThreadAnswer, type ThreadRequest, type WireTensor } from './session-wire.ts';

interface Pending {
  resolve: (outputs: Record<string, ort.Tensor>) => void;
  reject: (err: Error) => void;
}

export class SessionThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #opening: { resolve: () => void; reject: (err: Error) => void } | null = null;
  #ids = 0;
  #gone: string | null = null;
  /** The feed the thread keeps, by identity: onnxruntime-node refuses tensors over a SharedArrayBuffer, and a shot
   *  memory copied with every frame costs ≈ 70 ms at ViT-L/14, K = 4 (67 MB). */
  #kept: { data: WireTensor['data']; id: number } | null = null;

  private constructor() {
    this.#worker = new Worker(new URL('./session-worker.mjs', import.meta.url));
    this.#worker.unref();
    this.#worker.on('message', (answer: ThreadAnswer) => this.#answer(answer));
    this.#worker.on('error', (err) => this.#fail(`failed (${err.message})`));
    this.#worker.on('exit', (code) => this.#fail(`exited (code ${code})`));
  }

  /** Opens the three sessions on a new thread; a provider that cannot open them rejects with ORT's message. */
  static async open(paths: Record<SessionName, string>, options: ort.InferenceSession.SessionOptions): Promise<SessionThread> {
    const thread = new SessionThread();
    try {
      await new Promise<void>((resolve, reject) => {
        thread.#opening = { resolve, reject };
        thread.#worker.ref();
        thread.#post({ kind: 'open', paths, options, logLevel: ort.env.logLevel });
      });
    } catch (err) {
      await thread.#worker.terminate();
      throw err;
    }
    return thread;
  }

  /** `keep` names a feed that does not change between calls (its data is never written again): the thread keeps
   *  the latest one, and later calls with the same data send none. */
  run(session: SessionName, feeds: Record<string, ort.Tensor>, keep?: string): Promise<Record<string, ort.Tensor>> {
    if (this.#gone) return Promise.reject(new Error(`inference thread ${this.#gone}`));
    const id = ++this.#ids;
    const wired: Record<string, WireTensor | KeptFeed> = {};
    const handed: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      const data = t.data as WireTensor['data'];
      if (name === keep && this.#kept?.data === data) {
        wired[name] = { kept: this.#kept.id };
        continue;
      }
      const mine = ownBuffer(data);
      // Copies made by ownBuffer() are handed over; the caller's own buffers (kept shots, memory) are cloned.
      if (mine !== data) handed.push(mine.buffer as ArrayBuffer);
      const tensor: WireTensor = { type: t.type, dims: [...t.dims], data: mine };
      if (name === keep) this.#kept = { data, id };
      wired[name] = name === keep ? { ...tensor, keep: id } : tensor;
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      this.#post({ kind: 'run', id, session, feeds: wired }, handed);
    });
  }

  /** Releases the sessions and ends the thread once calls already posted have been answered. */
  async release(): Promise<void> {
    if (this.#gone) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.ref();
    this.#post({ kind: 'release' });
    await exited;
  }

  #post(request: ThreadRequest, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(request, transfer);
  }

  #answer(answer: ThreadAnswer): void {
    if (answer.kind === 'opened' || (answer.kind === 'error' && answer.id === 0)) {
      const opening = this.#opening;
      this.#opening = null;
      if (opening) answer.kind === 'opened' ? opening.resolve() : opening.reject(new Error(answer.message));
    } else {
      const call = this.#pending.get(answer.id);
      if (!call) return;
      this.#pending.delete(answer.id);
      if (answer.kind === 'error') {
        if (this.#kept?.id === answer.id) this.#kept = null; // the thread may not hold it: send it again next time
        call.reject(new Error(answer.message));
      } else {
        const outputs: Record<string, ort.Tensor> = {};
        for (const [name, t] of Object.entries(answer.outputs)) outputs[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
        call.resolve(outputs);
      }
    }
    if (!this.#opening && this.#pending.size === 0) this.#worker.unref();
  }

  #fail(why: string): void {
    if (this.#gone) return;
    this.#gone = why;
    const err = new Error(`inference thread ${why}`);
    this.#opening?.reject(err);
    this.#opening = null;
    for (const call of this.#pending.values()) call.reject(err);
    this.#pending.clear();
  }
}
