// Runs in an inference thread (models/session-thread.ts): one pack's three ONNX Runtime sessions. onnxruntime-node's
// run() is synchronous, so a ViT-L frame on a CPU (seconds) would otherwise stop the event loop that serves the PLC.
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { messageOf } from './errors.ts';
import { ownBuffer, type SessionName, type ThreadAnswer, type ThreadRequest, type WireTensor } from './session-wire.ts';

if (!parentPort) throw new Error('models/session-job.ts runs only as an inference thread');
const port = parentPort;
let sessions: Record<SessionName, ort.InferenceSession> | null = null;
let kept: { id: number; tensor: ort.Tensor } | null = null;

async function open(paths: Record<SessionName, string>, options: ort.InferenceSession.SessionOptions): Promise<void> {
  const opened: Partial<Record<SessionName, ort.InferenceSession>> = {};
  try {
    for (const name of ['encoder', 'zeroShot', 'fewShot'] as const) opened[name] = await ort.InferenceSession.create(paths[name], options);
  } catch (err) {
    await Promise.allSettled(Object.values(opened).map((s) => s.release()));
    throw err;
  }
  sessions = opened as Record<SessionName, ort.InferenceSession>;
}

/** An ORT output as its own buffer, so it travels back transferred instead of copied. */
function wire(tensor: ort.Tensor): WireTensor {
  return { type: tensor.type, dims: [...tensor.dims], data: ownBuffer(tensor.data as WireTensor['data']) };
}

port.on('message', async (request: ThreadRequest) => {
  try {
    if (request.kind === 'open') {
      ort.env.logLevel = request.logLevel;
      await open(request.paths, request.options);
      port.postMessage({ kind: 'opened' } satisfies ThreadAnswer);
    } else if (request.kind === 'run') {
      if (!sessions) throw new Error('inference thread: sessions are not open');
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(request.feeds)) {
        if ('kept' in t) {
          if (kept?.id !== t.kept) throw new Error(`inference thread: kept feed ${t.kept} is gone; send it again`);
          feeds[name] = kept.tensor;
        } else {
          feeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
          if ('keep' in t) kept = { id: t.keep, tensor: feeds[name] };
        }
      }
      const out = await sessions[request.session].run(feeds);
      const outputs: Record<string, WireTensor> = {};
      for (const [name, t] of Object.entries(out)) outputs[name] = wire(t as ort.Tensor);
      port.postMessage({ kind: 'result', id: request.id, outputs } satisfies ThreadAnswer, Object.values(outputs).map((t) => t.data.buffer as ArrayBuffer));
    } else {
      const open = sessions;
      sessions = null;
      if (open) await Promise.allSettled(Object.values(open).map((s) => s.release()));
      port.close();
    }
  } catch (err) {
    port.postMessage({ kind: 'error', id: request.kind === 'run' ? request.id : 0, message: messageOf(err) } satisfies ThreadAnswer);
  }
});
