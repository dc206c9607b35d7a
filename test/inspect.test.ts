import test from 'ava';
import sharp from 'sharp';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tinyPack } from './helpers/tiny-pack.ts';
import { maxAbsDiff, readF32, readGolden } from './fixtures/runtime/golden.ts';
import { encodeRgb, pattern, pngWithHeader } from './fixtures/runtime/images.ts';

const exec = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'inspect-test-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

interface Run { code: number; stdout: string; stderr: string; lines: Record<string, unknown>[] }

async function cli(args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['agent/bin.js', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr, lines: parse(stdout) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, lines: parse(e.stdout) };
  }
}
const parse = (s: string) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('parity: inspect reproduces the golden score (|Δ| ≤ 1e-4) and map.f32 (max |Δ| ≤ 1e-3) for 0, 1 and 2 shots', async (t) => {
  const { packDir, goldenDir } = await tinyPack({ seed: 1 });
  const golden = readGolden(goldenDir);
  const area = golden.size * golden.size;
  for (const c of golden.cases.filter((g) => g.batch === 3)) {
    const out = join(scratch, c.name);
    const args = ['inspect', '--pack', packDir, '--out', out, '--batch', '2', '--threads', '1'];
    for (const s of c.shotImages) args.push('--shot', join(goldenDir, s));
    const run = await cli([...args, ...c.images.map((p) => join(goldenDir, p))]);
    t.is(run.code, 0, run.stderr);
    const score = readF32(join(goldenDir, c.outputs.score!.file));
    const map = readF32(join(goldenDir, c.outputs.map!.file));
    t.is(run.lines.length, c.images.length);
    run.lines.forEach((line, b) => {
      t.is(line.image, join(goldenDir, c.images[b]!));
      t.is(line.shots, c.shots);
      t.is(line.mode, c.shots ? 'few-shot' : 'zero-shot');
      const ds = Math.abs((line.score as number) - score[b]!);
      t.true(ds <= 1e-4, `${c.name}[${b}] score |Δ| ${ds}`);
      const stem = c.images[b]!.replace(/^images\//, '').replace(/\.png$/, '');
      const dm = maxAbsDiff(readF32(join(out, `${stem}.map.f32`)), map.subarray(b * area, (b + 1) * area));
      t.true(dm <= 1e-3, `${c.name}[${b}] map max |Δ| ${dm}`);
      t.log(`${c.name}[${b}] score |Δ| ${ds.toExponential(1)}, map max |Δ| ${dm.toExponential(1)}`);
      for (const k of ['threshold', 'verdict', 'defects', 'timings']) t.true(k in line, k);
    });
    t.is(run.lines[0]!.thresholdSource, c.shots >= 2 ? 'shots' : 'pack-default');
  }
});

test('--out writes mask and overlay PNGs at the frame resolution; --threshold overrides', async (t) => {
  const { packDir, goldenDir } = await tinyPack({ seed: 1 });
  const src = join(goldenDir, readGolden(goldenDir).cases[0]!.images[0]!);
  const frame = join(scratch, 'wide.jpg');
  await sharp(src).resize(300, 200, { fit: 'fill' }).jpeg().toFile(frame);
  const out = join(scratch, 'wide');
  const run = await cli(['inspect', '--pack', packDir, '--out', out, '--threshold', '0', frame]);
  t.is(run.code, 0, run.stderr);
  const line = run.lines[0]!;
  t.deepEqual([line.threshold, line.thresholdSource, line.verdict], [0, 'override', 'fail']);
  const defects = line.defects as { count: number; areaPx: number; areaPct: number; bbox: number[] };
  t.deepEqual([defects.count, defects.areaPx, defects.areaPct, defects.bbox], [1, 300 * 200, 100, [0, 0, 300, 200]], 'threshold 0: the whole frame is one region');
  const mask = await sharp(join(out, 'wide.mask.png')).metadata();
  t.deepEqual([mask.width, mask.height, mask.channels], [300, 200, 1]);
  const overlay = await sharp(join(out, 'wide.overlay.png')).metadata();
  t.deepEqual([overlay.width, overlay.height, overlay.channels], [300, 200, 3]);
  t.is(readFileSync(join(out, 'wide.map.f32')).length, readGolden(goldenDir).size ** 2 * 4);
});

test('bad images each get one clear error line; good images in the same run are still inspected', async (t) => {
  const { packDir, goldenDir } = await tinyPack({ seed: 1 });
  const good = join(goldenDir, readGolden(goldenDir).cases[0]!.images[0]!);
  const bad: [string, Buffer | string, RegExp][] = [
    ['text.png', 'not an image at all', /not a readable image/],
    ['cut.png', (await encodeRgb(pattern(64, 64), 64, 64, 'png')).subarray(0, 300), /truncated or corrupt image data/],
    ['cut.jpg', (await encodeRgb(pattern(64, 64), 64, 64, 'jpeg')).subarray(0, 400), /truncated or corrupt image data/],
    ['zero.png', pngWithHeader(0, 0), /0×0 pixels/],
    ['huge.png', pngWithHeader(10_000, 10_000), /100\.0 megapixels, over the limit/],
  ];
  const paths = bad.map(([name, bytes]) => {
    const p = join(scratch, name);
    writeFileSync(p, bytes);
    return p;
  });
  const run = await cli(['inspect', '--pack', packDir, '--batch', '3', paths[0]!, good, ...paths.slice(1)]);
  t.is(run.code, 1, 'exit 1 when any image failed');
  t.is(run.lines.length, 6);
  t.is(run.lines[1]!.image, good);
  t.is(typeof run.lines[1]!.score, 'number');
  const errors = run.lines.filter((l) => 'error' in l);
  t.is(errors.length, 5);
  bad.forEach(([name, , pattern], i) => {
    const line = errors[i]!;
    t.is(line.image, paths[i]);
    t.regex(line.error as string, pattern, name);
  });
  const stderrLines = run.stderr.split('\n').filter((l) => l.startsWith('adaptclip-edge inspect:'));
  t.is(stderrLines.length, 5);
});

test('a changed ONNX file, an empty shot list in few-shot mode, and a bad option end with one clear line', async (t) => {
  const { packDir, goldenDir } = await tinyPack({ seed: 1 });
  const good = join(goldenDir, readGolden(goldenDir).cases[0]!.images[0]!);
  const changed = join(scratch, 'changed-pack');
  cpSync(packDir, changed, { recursive: true });
  const onnx = readFileSync(join(changed, 'encoder.onnx'));
  onnx[onnx.length - 1] = 255 - onnx[onnx.length - 1]!;
  writeFileSync(join(changed, 'encoder.onnx'), onnx);
  const cases: [string[], RegExp][] = [
    [['--pack', changed, good], /^adaptclip-edge: pack .*changed-pack: encoder\.onnx sha256 [0-9a-f]{12}… differs from manifest\.json/],
    [['--pack', packDir, '--mode', 'few-shot', good], /^adaptclip-edge: shots: the shot list is empty but few-shot was asked for; give 1 or more normal images/],
    [['--pack', packDir, '--threshold', 'high', good], /^adaptclip-edge: --threshold: "high" is not a number between 0 and 1/],
  ];
  for (const [args, pattern] of cases) {
    const run = await cli(['inspect', '--providers', 'cpu', ...args]);
    t.is(run.code, 1);
    t.is(run.stdout, '');
    const lines = run.stderr.trim().split('\n');
    t.is(lines.length, 1, run.stderr);
    t.regex(lines[0]!, pattern);
  }
});
