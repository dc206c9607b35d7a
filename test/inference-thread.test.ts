import test from 'ava';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createDetector, loadPack, type RawFrame } from '../models/index.ts';

const DEMO = new URL('../models/packs/demo-tiny', import.meta.url).pathname;

function frame(size: number, seed: number): RawFrame {
  const data = Buffer.alloc(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17) & 0xff;
  return { rgb: data, width: size, height: size };
}

test('inference runs off the event loop: timers keep firing while the encoder works', async (t) => {
  const pack = await loadPack(DEMO);
  const detector = await createDetector(pack, { providers: ['cpu'], intraOpThreads: 1 });
  t.teardown(() => detector.close());
  const S = pack.size;
  await detector.infer([frame(S, 0)]);
  // A batch large enough that its encoder time dwarfs any ordinary pause of a loaded test machine.
  let batch = 8;
  let encoderMs = 0;
  let longestGapMs = 0;
  while (encoderMs < 300 && batch <= 256) {
    const frames = Array.from({ length: batch }, (_, i) => frame(S, i));
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const [first] = await detector.infer(frames);
    delay.disable();
    encoderMs = first!.timings.encoderMs;
    longestGapMs = delay.max / 1e6;
    batch *= 2;
  }
  t.log(`batch ${batch / 2}: encoder ${encoderMs.toFixed(0)} ms, longest event-loop gap ${longestGapMs.toFixed(0)} ms`);
  t.true(encoderMs >= 300, `the encoder took ${encoderMs} ms`);
  // On the event loop's thread the gap would be the whole encoder call.
  t.true(longestGapMs < encoderMs / 2, `event loop held ${longestGapMs} ms of a ${encoderMs} ms encoder call`);
});

test('a closed detector ends its inference thread; calls after close are refused by name', async (t) => {
  const pack = await loadPack(DEMO);
  const detector = await createDetector(pack, { providers: ['cpu'], intraOpThreads: 1 });
  const [r] = await detector.infer([frame(pack.size, 1)]);
  t.true(r!.score >= 0 && r!.score <= 1);
  await detector.close();
  await t.throwsAsync(detector.infer([frame(pack.size, 1)]), { message: /closed/ });
});

test('the shot memory kept on the inference thread is the one each call names: alternating products score as alone', async (t) => {
  const pack = await loadPack(DEMO);
  const detector = await createDetector(pack, { providers: ['cpu'], intraOpThreads: 1 });
  t.teardown(() => detector.close());
  const S = pack.size;
  const a = await detector.encodeShots([frame(S, 10), frame(S, 11)]);
  const b = await detector.encodeShots([frame(S, 20)]);
  const query = frame(S, 30);
  const alone = async (memory: typeof a) => {
    const fresh = await createDetector(pack, { providers: ['cpu'], intraOpThreads: 1 });
    try {
      return (await fresh.infer([query], memory))[0]!.score;
    } finally {
      await fresh.close();
    }
  };
  const expected = { a: await alone(a), b: await alone(b) };
  t.not(expected.a, expected.b);
  for (const [name, memory] of [['a', a], ['a', a], ['b', b], ['a', a], ['b', b], ['b', b]] as const) {
    const [r] = await detector.infer([query], memory);
    t.is(r!.score, expected[name], `product ${name}`);
  }
});
