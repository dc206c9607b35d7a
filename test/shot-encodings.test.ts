// Leave-one-out reuses each shot's encoder output: the daemon's detector keeps it when a shot is encoded or judged,
// and judging the shot again against other shots runs the heads alone, with the very same result as a full infer.
import test from 'ava';
import { packDetectorFactory } from '../agent/pipeline/detector.ts';
import type { Image } from '../agent/pipeline/ports.ts';
import { createDetector, type Detector } from '../models/index.ts';

const PACK = 'models/packs/demo-tiny';

/** The real runtime detector, its encoder runs counted. */
async function counted(): Promise<{ factory: ReturnType<typeof packDetectorFactory>; encoderRuns: () => number }> {
  let runs = 0;
  const factory = packDetectorFactory({
    packDir: PACK, device: 'cpu', threads: 1, warn: () => undefined,
    create: async (pack, options) => {
      const det: Detector = await createDetector(pack, options);
      const runEncoder = det.runEncoder.bind(det);
      det.runEncoder = (batch, count) => ((runs += count), runEncoder(batch, count));
      return det;
    },
  });
  return { factory, encoderRuns: () => runs };
}

function shot(seed: number, size = 224): Image {
  const rgb = Buffer.alloc(size * size * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (Math.imul(i + 1, 2654435761 + seed * 97) >>> 24) & 255;
  return { rgb, width: size, height: size };
}

test('a shot judged against the others from its kept encoder output equals a full infer, and runs no encoder', async (t) => {
  const { factory, encoderRuns } = await counted();
  const detector = await factory();
  t.teardown(() => detector.dispose());
  const shots = [shot(1), shot(2), shot(3)];
  const features = [];
  for (const s of shots) features.push(await detector.encodeShot(s));
  t.is(encoderRuns(), 3, 'one encoder pass per shot');
  for (let i = 0; i < shots.length; i++) {
    const memory = detector.memoryFrom(features.filter((_, k) => k !== i));
    const before = encoderRuns();
    const fast = await detector.judgeShot!(shots[i]!, memory);
    t.is(encoderRuns(), before, `shot ${i}: leave-one-out ran the heads alone`);
    const [full] = await detector.infer([{ ...shots[i]! }], memory);
    t.is(fast.score, full!.score, `shot ${i}: the same score`);
    t.deepEqual(Array.from(fast.map), Array.from(full!.map), `shot ${i}: the same map`);
    t.is(fast.mode, 'few-shot');
  }
});

test('a shot whose features came from the store is encoded once, when first judged; later judgements reuse it', async (t) => {
  const { factory, encoderRuns } = await counted();
  const detector = await factory();
  t.teardown(() => detector.dispose());
  // Features encoded by another detector (as if stored by an earlier run): this one has no encoder output of them.
  const other = await (await counted()).factory();
  t.teardown(() => other.dispose());
  const shots = [shot(4), shot(5), shot(6)];
  const features = [];
  for (const s of shots) features.push(await other.encodeShot(s));
  const memory = detector.memoryFrom(features.slice(1));
  await detector.judgeShot!(shots[0]!, memory);
  t.is(encoderRuns(), 1, 'the first judgement encodes the shot');
  await detector.judgeShot!(shots[0]!, detector.memoryFrom(features.slice(2)));
  t.is(encoderRuns(), 1, 'the second one reuses it');
});

test('the kept encoder outputs stay within their byte budget: one smaller than a shot keeps none', async (t) => {
  let runs = 0;
  const factory = packDetectorFactory({
    packDir: PACK, device: 'cpu', threads: 1, warn: () => undefined, keptEncoderBytes: 1,
    create: async (pack, options) => {
      const det: Detector = await createDetector(pack, options);
      const runEncoder = det.runEncoder.bind(det);
      det.runEncoder = (batch, count) => ((runs += count), runEncoder(batch, count));
      return det;
    },
  });
  const detector = await factory();
  t.teardown(() => detector.dispose());
  const a = shot(7);
  const b = shot(8);
  const memory = detector.memoryFrom([await detector.encodeShot(b)]);
  await detector.judgeShot!(a, memory);
  await detector.judgeShot!(a, memory);
  t.is(runs, 3, 'a budget smaller than one shot keeps nothing: every judgement encodes');
});
