import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyPack } from './helpers/tiny-pack.ts';
import { maxAbsDiff, readF32, readGolden } from './fixtures/runtime/golden.ts';
import {
  createDetector, decodeImage, deserializeShotMemory, loadPack, ShotMemory,
  ImageError, InferenceError, PackError, ShotMemoryError, type Detector, type Pack,
} from '../models/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'runtime-test-'));
let packDir = '';
let goldenDir = '';
let pack: Pack;
let detector: Detector;
const warnings: string[] = [];

test.before(async () => {
  ({ packDir, goldenDir } = await tinyPack({ seed: 1 }));
  pack = await loadPack(packDir);
  detector = await createDetector(pack, { logger: { warn: (m) => warnings.push(m) }, intraOpThreads: 1 });
});
test.after.always(async () => {
  await detector?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A copy of the pack that the test may damage. */
function packCopy(name: string): string {
  const dir = join(scratch, name);
  cpSync(packDir, dir, { recursive: true });
  return dir;
}

test('loadPack: id is name@12 hex of the manifest sha256, shapes from the manifest', (t) => {
  t.regex(pack.id, /^[A-Za-z0-9._-]+@[0-9a-f]{12}$/);
  t.is(pack.sha256, readGolden(goldenDir).pack);
  t.is(pack.patches, pack.grid * pack.grid);
  t.is(pack.layers, pack.manifest.model.featureLayers.length);
});

test('the provider that runs is exposed; a missing CUDA provider is one warning line, then CPU', (t) => {
  t.true(detector.provider === 'cpu' || detector.provider === 'cuda');
  if (detector.provider === 'cpu') {
    t.is(warnings.length, 1);
    t.regex(warnings[0]!, /cuda provider unavailable .*; running on cpu$/);
    t.false(warnings[0]!.includes('\n'));
  } else t.is(warnings.length, 0);
});

test('parity with the golden torch outputs: input tensor, memory, score and map for 0, 1, 2 shots and batch 1, 3', async (t) => {
  const golden = readGolden(goldenDir);
  for (const c of golden.cases) {
    const prepared = await Promise.all(c.images.map((p) => detector.prepare(join(goldenDir, p))));
    t.true(Buffer.concat(prepared.map((p) => p.input)).equals(readFileSync(join(goldenDir, c.input.file))), `${c.name} input`);
    const memory = c.shots ? await detector.encodeShots(c.shotImages.map((p) => join(goldenDir, p))) : null;
    if (memory) t.true(maxAbsDiff(memory.tensorData(), readF32(join(goldenDir, c.outputs.memory!.file))) <= 1e-5, `${c.name} memory`);
    const results = await detector.inferPrepared(prepared, memory);
    const score = readF32(join(goldenDir, c.outputs.score!.file));
    const map = readF32(join(goldenDir, c.outputs.map!.file));
    const area = pack.size * pack.size;
    results.forEach((r, b) => {
      t.true(Math.abs(r.score - score[b]!) <= 1e-4, `${c.name}[${b}] score ${r.score} vs ${score[b]}`);
      t.true(maxAbsDiff(r.map, map.subarray(b * area, (b + 1) * area)) <= 1e-3, `${c.name}[${b}] map`);
      t.is(r.mode, c.shots ? 'few-shot' : 'zero-shot');
      t.is(r.shots, c.shots);
      t.is(r.batch, c.batch);
      t.is(typeof r.branches.va, 'number');
      t.is(r.branches.pq === undefined, c.shots === 0);
      for (const k of ['preMs', 'encoderMs', 'headsMs', 'postMs'] as const) t.true(r.timings[k] >= 0);
    });
  }
});

test('raw RGB frames and encoded files give the same result', async (t) => {
  const file = join(goldenDir, readGolden(goldenDir).cases[0]!.images[0]!);
  const img = await decodeImage(file);
  const [fromFile] = await detector.infer([file]);
  const [fromRaw] = await detector.infer([{ rgb: img.data, width: img.width, height: img.height }]);
  t.is(fromRaw!.score, fromFile!.score);
  t.is(maxAbsDiff(fromRaw!.map, fromFile!.map), 0);
});

test('shot memory round-trips through serialize, for K = 8, and joins per-shot memories', async (t) => {
  const golden = readGolden(goldenDir);
  const shots = golden.cases.find((c) => c.shots === 2)!.shotImages.map((p) => join(goldenDir, p));
  const queries = golden.cases.find((c) => c.batch === 3)!.images.map((p) => join(goldenDir, p));
  const eight = await detector.encodeShots([...shots, ...queries, ...shots, queries[0]!]);
  t.is(eight.shots, 8);
  const bytes = eight.serialize();
  t.is(bytes.length, 56 + 8 * pack.layers * pack.patches * pack.dim * 4);
  const back = deserializeShotMemory(bytes, pack);
  t.is(back.shots, 8);
  t.is(maxAbsDiff(back.tensorData(), eight.tensorData()), 0);
  const [a] = await detector.infer([queries[0]!], eight);
  const [b] = await detector.infer([queries[0]!], back);
  t.is(a!.score, b!.score);
  t.is(a!.shots, 8);
  const joined = ShotMemory.concat([back.select([0]), back.select([1])]);
  const direct = await detector.encodeShots(shots);
  t.is(maxAbsDiff(joined.tensorData(), direct.tensorData()), 0);
});

test('a shot memory from another pack is refused, serialised or not', async (t) => {
  const otherDir = packCopy('other');
  const manifest = JSON.parse(readFileSync(join(otherDir, 'manifest.json'), 'utf8'));
  manifest.name = 'another-pack';
  writeFileSync(join(otherDir, 'manifest.json'), JSON.stringify(manifest));
  const other = await loadPack(otherDir);
  const otherDetector = await createDetector(other, { providers: ['cpu'], intraOpThreads: 1 });
  try {
    const image = join(goldenDir, readGolden(goldenDir).cases[0]!.images[0]!);
    const foreign = await otherDetector.encodeShots([image]);
    const err = t.throws(() => deserializeShotMemory(foreign.serialize(), pack), { instanceOf: ShotMemoryError });
    t.regex(err!.message, new RegExp(`made by pack sha ${other.sha256.slice(0, 12)}, not by ${pack.id.replace('.', '\\.')}; recompute the shots with this pack`));
    await t.throwsAsync(detector.infer([image], foreign), { instanceOf: ShotMemoryError, message: /not by .*recompute the shots/ });
    t.throws(() => deserializeShotMemory(Buffer.from('garbage'), pack), { instanceOf: ShotMemoryError, message: /not a serialised shot memory/ });
    t.throws(() => deserializeShotMemory(foreign.serialize().subarray(0, 100), pack), { instanceOf: ShotMemoryError });
    // The detector still works afterwards.
    t.is((await detector.infer([image])).length, 1);
  } finally {
    await otherDetector.close();
  }
});

test('an empty shot list where few-shot was asked for is refused', async (t) => {
  await t.throwsAsync(detector.encodeShots([]), { instanceOf: ShotMemoryError, message: /shot list is empty but few-shot was asked for; give 1 or more normal images/ });
  t.throws(() => new ShotMemory(pack.sha256, pack, []), { instanceOf: ShotMemoryError, message: /no shots/ });
});

test('bad frames are refused with an ImageError and the detector keeps working', async (t) => {
  const notImage = join(scratch, 'notes.png');
  writeFileSync(notImage, 'hello');
  await t.throwsAsync(detector.infer([notImage]), { instanceOf: ImageError, message: /notes\.png: not a readable image/ });
  await t.throwsAsync(detector.infer([{ rgb: Buffer.alloc(3), width: 10_000, height: 10_000 }]), { instanceOf: ImageError, message: /megapixels, over the limit/ });
  const file = join(goldenDir, readGolden(goldenDir).cases[0]!.images[0]!);
  t.is((await detector.infer([file])).length, 1);
});

test('a pack with a changed ONNX file, a missing file or a bad manifest field is refused, naming it', async (t) => {
  const changed = packCopy('changed');
  const onnx = readFileSync(join(changed, 'few_shot.onnx'));
  onnx[onnx.length - 10] = 255 - onnx[onnx.length - 10]!;
  writeFileSync(join(changed, 'few_shot.onnx'), onnx);
  await t.throwsAsync(loadPack(changed), { instanceOf: PackError, message: /few_shot\.onnx sha256 [0-9a-f]{12}… differs from manifest\.json .*re-copy or re-export the pack/ });

  const truncated = packCopy('truncated');
  writeFileSync(join(truncated, 'encoder.onnx'), readFileSync(join(truncated, 'encoder.onnx')).subarray(0, 1000));
  await t.throwsAsync(loadPack(truncated), { instanceOf: PackError, message: /encoder\.onnx is 1000 bytes, manifest\.json says \d+/ });

  const missing = packCopy('missing');
  rmSync(join(missing, 'zero_shot.onnx'));
  await t.throwsAsync(loadPack(missing), { instanceOf: PackError, message: /zero_shot\.onnx \(files\.zeroShot\) is missing/ });

  const badField = packCopy('bad-field');
  const manifest = JSON.parse(readFileSync(join(badField, 'manifest.json'), 'utf8'));
  const size = manifest.image.size as number;
  manifest.image.size = 'big';
  writeFileSync(join(badField, 'manifest.json'), JSON.stringify(manifest));
  await t.throwsAsync(loadPack(badField), { instanceOf: PackError, message: /manifest\.json field image\.size: / });

  manifest.image.size = size * 2;
  writeFileSync(join(badField, 'manifest.json'), JSON.stringify(manifest));
  await t.throwsAsync(loadPack(badField), { instanceOf: PackError, message: /field image\.grid is \d+, but image\.size \/ image\.patch/ });

  await t.throwsAsync(loadPack(join(scratch, 'nowhere')), { instanceOf: PackError, message: /cannot read manifest\.json \(ENOENT\)/ });
});

test('leave-one-out scores feed threshold calibration; recreate() reopens sessions; close() ends them', async (t) => {
  const golden = readGolden(goldenDir);
  const shots = golden.cases.find((c) => c.shots === 2)!.shotImages.map((p) => join(goldenDir, p));
  const loo = await detector.leaveOneOutScores(shots);
  t.is(loo.length, 2);
  // Each LOO score equals a plain few-shot inference of that shot against the other one.
  const [first] = await detector.infer([shots[0]!], await detector.encodeShots([shots[1]!]));
  t.true(Math.abs(loo[0]! - first!.score) < 1e-6);
  await t.throwsAsync(detector.leaveOneOutScores([shots[0]!]), { instanceOf: ShotMemoryError, message: /at least 2 shots/ });

  const own = await createDetector(pack, { providers: ['cpu'], intraOpThreads: 1 });
  const [before] = await own.infer([shots[0]!]);
  // Recreate and close while calls are running: those calls finish on their old sessions, nothing crashes.
  const frame = await own.prepare(shots[0]!);
  const running = own.runEncoder(frame.input, 1); // the call starts on the current sessions synchronously
  await own.recreate();
  t.is((await running).batch, 1);
  const [after] = await own.infer([shots[0]!]);
  t.is(after!.score, before!.score);
  const stillRunning = own.runEncoder(frame.input, 1);
  await own.close();
  t.is((await stillRunning).global.length, pack.dim);
  await t.throwsAsync(own.infer([shots[0]!]), { instanceOf: InferenceError, message: /is closed; create a new one or call recreate\(\)/ });
});
