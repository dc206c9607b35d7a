import test from 'ava';
import { createFrameSource, DEFECT_KINDS } from '../drivers/index.ts';
import { SyntheticLine } from '../drivers/synthetic-line.ts';
import type { Frame, SourceState } from '../drivers/types.ts';

const all = [...DEFECT_KINDS];

test('the same seed renders the same parts byte for byte; another seed differs', (t) => {
  const a = new SyntheticLine({ width: 320, height: 240, defectRate: 0.5, kinds: all, seed: 42 });
  const b = new SyntheticLine({ width: 320, height: 240, defectRate: 0.5, kinds: all, seed: 42 });
  const c = new SyntheticLine({ width: 320, height: 240, defectRate: 0.5, kinds: all, seed: 43 });
  for (const i of [0, 5, 17]) {
    const fa = a.render(i);
    const fb = b.render(i);
    t.true(fa.rgb.equals(fb.rgb));
    t.true(fa.mask.equals(fb.mask));
    t.is(fa.kind, fb.kind);
    t.false(fa.rgb.equals(c.render(i).rgb));
  }
  t.false(a.render(1).rgb.equals(a.render(2).rgb), 'consecutive parts differ (jitter, belt, noise)');
});

test('defects follow the configured rate and kinds, each with a mask on the part; good parts have an empty mask', (t) => {
  const line = new SyntheticLine({ width: 256, height: 192, defectRate: 0.3, kinds: all, seed: 3 });
  const seen = new Set<string>();
  let defects = 0;
  const n = 300;
  for (let i = 0; i < n; i++) {
    const f = line.render(i);
    t.is(f.rgb.length, 256 * 192 * 3);
    t.is(f.mask.length, 256 * 192);
    const marked = f.mask.reduce((s, v) => s + (v === 255 ? 1 : v === 0 ? 0 : NaN), 0);
    if (f.defect) {
      defects++;
      seen.add(f.kind!);
      t.true(marked > 10 && marked < 256 * 192 * 0.05, `${f.kind} mask of ${marked} px`);
    } else {
      t.is(marked, 0);
      t.is(f.kind, undefined);
    }
  }
  t.true(defects / n > 0.22 && defects / n < 0.38, `defect rate ${defects / n}`);
  t.deepEqual([...seen].sort(), [...all].sort());
});

test('a defect changes the pixels its mask marks', (t) => {
  const line = new SyntheticLine({ width: 320, height: 240, defectRate: 1, kinds: ['contamination'], seed: 9 });
  const f = line.render(0);
  let inside = 0;
  let n = 0;
  for (let i = 0; i < f.mask.length; i++) {
    if (f.mask[i]) {
      // Contamination is brown/olive: red or green clearly above blue, unlike the grey-blue aluminium.
      const r = f.rgb[i * 3]!, g = f.rgb[i * 3 + 1]!, b = f.rgb[i * 3 + 2]!;
      if (Math.max(r, g) - b > 6) inside++;
      n++;
    }
  }
  t.true(n > 0);
  t.true(inside / n > 0.8, `${inside}/${n} masked pixels look contaminated`);
});

test('the synthetic source free-runs near its fps with increasing seq, full-resolution frames and ground truth', async (t) => {
  const source = createFrameSource({ type: 'synthetic', id: 'syn1', width: 320, height: 240, fps: 20, defectRate: 0.5, seed: 1 });
  const frames: Frame[] = [];
  const states: SourceState[] = [];
  source.on('frame', (f) => frames.push(f));
  source.on('state', (s) => states.push(s));
  await source.start();
  await new Promise((r) => setTimeout(r, 1000));
  await source.stop();
  const count = frames.length;
  await new Promise((r) => setTimeout(r, 150));
  t.is(frames.length, count, 'no frame after stop');
  t.true(count >= 16 && count <= 22, `${count} frames in 1 s at 20 fps`);
  t.deepEqual(states, ['starting', 'online', 'stopped']);
  frames.forEach((f, i) => {
    t.is(f.seq, i + 1);
    t.is(f.cameraId, 'syn1');
    t.is(f.rgb.length, 320 * 240 * 3);
    t.deepEqual([f.width, f.height], [320, 240]);
    t.false('model' in f, 'no driver-scaled model copy: the runtime resizes the full frame');
    t.is(f.groundTruth?.mask?.length, 320 * 240);
  });
  t.true(frames.some((f) => f.groundTruth?.defect) && frames.some((f) => !f.groundTruth?.defect));
  t.is(source.status().framesDelivered, count);
});

test('in software-trigger mode the source emits exactly one frame per trigger, tagged with its triggerId', async (t) => {
  const source = createFrameSource({ type: 'synthetic', id: 'syn2', width: 128, height: 96, trigger: 'software' });
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  await t.throwsAsync(source.trigger!(1), { message: /not started/ });
  await source.start();
  t.is(source.status().state, 'online');
  await new Promise((r) => setTimeout(r, 300));
  t.is(frames.length, 0, 'no free-run frames');
  await source.trigger!(7);
  await source.trigger!(8);
  t.deepEqual(frames.map((f) => [f.seq, f.triggerId]), [[1, 7], [2, 8]]);
  await source.stop();
});

test('a bad camera config fails with one line naming the camera and the key', (t) => {
  t.throws(() => createFrameSource({ type: 'synthetic', id: 'cam9', defectRate: 2 }), { message: /^camera cam9: invalid config at defectRate: .*; fix the camera entry$/ });
  t.throws(() => createFrameSource({ type: 'synthetic', id: 'cam9', colour: 'red' } as never), { message: /camera cam9: invalid config/ });
  t.throws(() => createFrameSource({ type: 'webcam', id: 'x' } as never), { message: /camera x: invalid config at type/ });
});
