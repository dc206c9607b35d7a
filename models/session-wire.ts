// Messages between a Detector and its inference thread (models/session-thread.ts ↔ models/session-job.ts).
import type ort from 'onnxruntime-node';

export type SessionName = 'encoder' | 'zeroShot' | 'fewShot';

/** A tensor as it crosses threads: its type, shape and bytes. */
export interface WireTensor {
  type: string;
  dims: number[];
  data: Float32Array | Uint8Array | Int32Array | BigInt64Array;
}

/** A view as a buffer of its own, so it can be handed over (transferred): structured clone would otherwise copy the
 *  whole buffer a view sits in, and a SharedArrayBuffer cannot be transferred (nor fed to onnxruntime-node). */
export function ownBuffer<T extends WireTensor['data']>(view: T): T {
  const whole = view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  return whole ? view : (view.slice() as T);
}

/** A feed the thread keeps (the shot memory, the same for every frame of a product): sent with `keep` once, then
 *  named by `kept` alone. The thread keeps one such feed; a new one replaces it. */
export type KeptFeed = { kept: number } | (WireTensor & { keep: number });

export type ThreadRequest =
  | { kind: 'open'; paths: Record<SessionName, string>; options: ort.InferenceSession.SessionOptions; logLevel: ort.Env['logLevel'] }
  | { kind: 'run'; id: number; session: SessionName; feeds: Record<string, WireTensor | KeptFeed> }
  | { kind: 'release' };

export type ThreadAnswer =
  | { kind: 'opened' }
  | { kind: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { kind: 'error'; id: number; message: string };
