// Fault injection for tests and drills (the config's test-only `faults` section): a detector factory whose sessions
// hang, fail or start cold on cue, so the worker's recovery can be checked against a real runtime.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DetectorFactory, DetectorInput } from './ports.ts';

/** Test-only fault injection: after `hangAfterCalls` calls the next `hangCalls` calls sleep `hangMs` first;
 *  after `failAfterCalls` calls the next `failCalls` calls throw (warm-up calls are not counted); with `coldMs`, each
 *  new session's first call per graph and batch size sleeps `coldMs` first, warm-up or not (a cold session). */
export function withFaults(
  factory: DetectorFactory,
  faults: { hangAfterCalls?: number; hangCalls: number; hangMs: number; failAfterCalls?: number; failCalls: number; coldMs?: number } | undefined,
): DetectorFactory {
  if (!faults || (faults.hangAfterCalls === undefined && faults.failAfterCalls === undefined && faults.coldMs === undefined)) return factory;
  let calls = 0;
  return async () => {
    const d = await factory();
    const warm = new Set<string>(); // per session
    return {
      get packId() { return d.packId; },
      get packSha() { return d.packSha; },
      get defaultThreshold() { return d.defaultThreshold; },
      get provider() { return d.provider; },
      encodeShot: (img) => d.encodeShot(img),
      ...(d.modelInput ? { modelInput: (img: DetectorInput) => d.modelInput!(img) } : {}),
      memoryFrom: (f) => d.memoryFrom(f),
      dispose: () => d.dispose(),
      infer: async (images, memory, opts) => {
        const key = `${memory === null ? 'zero' : 'few'}-shot×${images.length}`;
        if (faults.coldMs !== undefined && !warm.has(key)) {
          warm.add(key);
          await sleep(faults.coldMs);
        }
        if (opts?.warmup) return d.infer(images, memory, opts);
        calls++;
        const hang = faults.hangAfterCalls;
        if (hang !== undefined && calls > hang && calls <= hang + faults.hangCalls) await sleep(faults.hangMs);
        const fail = faults.failAfterCalls;
        if (fail !== undefined && calls > fail && calls <= fail + faults.failCalls) throw new Error(`injected session failure (call ${calls})`);
        return d.infer(images, memory);
      },
    };
  };
}
