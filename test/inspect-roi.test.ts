import test from 'ava';
import sharp from 'sharp';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tinyPack } from './helpers/tiny-pack.ts';
import { encodeRgb, pattern } from './fixtures/runtime/images.ts';

const exec = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'inspect-roi-test-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

interface Run { code: number; stdout: string; stderr: string; lines: Record<string, unknown>[] }

async function cli(args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['agent/bin.js', 'inspect', '--providers', 'cpu', '--threads', '1', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr, lines: parse(stdout) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, lines: parse(e.stdout) };
  }
}
const parse = (s: string) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

const W = 120, H = 90;
const roi = { x: 17, y: 9, width: 70, height: 61 };

/** Each test its own folder: the tests run at once, and one writing frame.png while another reads it broke both. */
async function files() {
  const { packDir } = await tinyPack({ seed: 1 });
  const dir = mkdtempSync(join(scratch, 'case-'));
  const frame = join(dir, 'frame.png');
  writeFileSync(frame, await encodeRgb(pattern(W, H, 3), W, H, 'png'));
  const crop = join(dir, 'crop.png');
  writeFileSync(crop, await sharp(frame).extract({ left: roi.x, top: roi.y, width: roi.width, height: roi.height }).png().toBuffer());
  const shot = join(dir, 'shot.png');
  writeFileSync(shot, await encodeRgb(pattern(W, H, 5), W, H, 'png'));
  return { packDir, frame, crop, shot };
}

test('--roi crops before the resize: the model sees exactly the cropped file; map, mask and boxes are in frame coordinates', async (t) => {
  const { packDir, frame, crop, shot } = await files();
  const roiArg = `${roi.x},${roi.y},${roi.width},${roi.height}`;
  // The shot is cropped too: the cropped run equals the run on the cropped files.
  const shotCrop = join(scratch, 'shot-crop.png');
  writeFileSync(shotCrop, await sharp(shot).extract({ left: roi.x, top: roi.y, width: roi.width, height: roi.height }).png().toBuffer());
  const a = await cli(['--pack', packDir, '--shot', shot, '--roi', roiArg, '--threshold', '0', '--out', join(scratch, 'a'), frame]);
  t.is(a.code, 0, a.stderr);
  const b = await cli(['--pack', packDir, '--shot', shotCrop, '--threshold', '0', '--out', join(scratch, 'b'), crop]);
  t.is(b.code, 0, b.stderr);
  t.true(readFileSync(join(scratch, 'a', 'frame.input.u8')).equals(readFileSync(join(scratch, 'b', 'crop.input.u8'))), 'model input');
  t.true(readFileSync(join(scratch, 'a', 'frame.map.f32')).equals(readFileSync(join(scratch, 'b', 'crop.map.f32'))), 'map');
  const [la, lb] = [a.lines[0]!, b.lines[0]!];
  t.is(la.score, lb.score);
  t.is(la.width, W);
  t.deepEqual(la.region, { roi });
  // Threshold 0: every pixel of the region is a defect, none outside it.
  t.deepEqual((la.defects as { boxes: number[][] }).boxes, [[roi.x, roi.y, roi.width, roi.height]]);
  const { data, info } = await sharp(join(scratch, 'a', 'frame.mask.png')).raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([info.width, info.height], [W, H]);
  let inside = 0, outside = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const on = data[(y * W + x) * info.channels]! > 0;
    const inRoi = x >= roi.x && x < roi.x + roi.width && y >= roi.y && y < roi.y + roi.height;
    if (on && inRoi) inside++;
    if (on && !inRoi) outside++;
  }
  t.is(inside, roi.width * roi.height);
  t.is(outside, 0);
});

test('--ignore over the defects and --min-area above their size leave no defect; the score is fused again', async (t) => {
  const { packDir, frame } = await files();
  const base = await cli(['--pack', packDir, '--threshold', '0.01', frame]);
  t.is(base.code, 0, base.stderr);
  const before = base.lines[0]!;
  t.true((before.defects as { count: number }).count >= 1);
  const all = await cli(['--pack', packDir, '--threshold', '0.01', '--ignore', `0,0 ${W},0 ${W},${H} 0,${H}`, '--out', join(scratch, 'ign'), frame]);
  t.is(all.code, 0, all.stderr);
  const ign = all.lines[0]!;
  t.is((ign.defects as { count: number }).count, 0);
  t.is(ign.modelScore, before.score);
  t.true((ign.score as number) < (before.score as number));
  const overlay = await sharp(join(scratch, 'ign', 'frame.overlay.png')).metadata();
  t.deepEqual([overlay.width, overlay.height], [W, H]);
  const big = await cli(['--pack', packDir, '--threshold', '0.01', '--min-area', String(W * H + 1), frame]);
  t.is(big.code, 0, big.stderr);
  t.is((big.lines[0]!.defects as { count: number }).count, 0);
  t.is(big.lines[0]!.modelScore, before.score);
});

test('bad --roi, --ignore and --min-area values end with one clear line naming the option', async (t) => {
  const { packDir, frame } = await files();
  const cases: [string[], RegExp][] = [
    [['--roi', '1,2,3'], /^adaptclip-edge: --roi: "1,2,3" is not x,y,width,height in whole pixels/],
    [['--roi', '0,0,0,10'], /^adaptclip-edge: --roi: "0,0,0,10" needs x, y ≥ 0 and width, height ≥ 1/],
    [['--roi', '1.5,0,10,10'], /^adaptclip-edge: --roi: "1.5,0,10,10" is not x,y,width,height in whole pixels/],
    [['--ignore', '0,0 10,10'], /^adaptclip-edge: --ignore "0,0 10,10": it has 2 points; a polygon needs at least 3/],
    [['--ignore', '0,0 10,10 10,0 0,10'], /^adaptclip-edge: --ignore "0,0 10,10 10,0 0,10": it intersects itself/],
    [['--ignore', '0,0 a,1 3,3'], /^adaptclip-edge: --ignore: "a,1" in "0,0 a,1 3,3" is not a point x,y in whole pixels/],
    [['--min-area', '-1'], /^adaptclip-edge: --min-area: "-1" is not a whole number of pixels ≥ 0/],
    [['--min-area', '2.5'], /^adaptclip-edge: --min-area: "2.5" is not a whole number of pixels ≥ 0/],
  ];
  for (const [args, expected] of cases) {
    const run = await cli(['--pack', packDir, ...args, frame]);
    t.is(run.code, 1, args.join(' '));
    t.is(run.stdout, '');
    const lines = run.stderr.trim().split('\n');
    t.is(lines.length, 1, run.stderr);
    t.regex(lines[0]!, expected);
  }
  // A region that does not fit an image: that image's line says which part and the frame's size.
  const out = await cli(['--pack', packDir, '--roi', `100,0,40,10`, '--ignore', `0,0 ${W + 5},0 0,5`, frame]);
  t.is(out.code, 1);
  t.regex(out.lines[0]!.error as string, /^image .*frame\.png: --roi x 100\.\.140, y 0\.\.10 is outside the 120×90 frame/);
  const ig = await cli(['--pack', packDir, '--ignore', `0,0 ${W + 5},0 0,5`, frame]);
  t.regex(ig.lines[0]!.error as string, /^image .*frame\.png: --ignore #1: point 125,0 is outside the 120×90 frame/);
});

/** A tiny MVTec-layout dataset: 64×64 parts, a dark stroke on the defective ones (with its mask). */
async function dataset(dir: string): Promise<void> {
  const size = 64;
  for (const sub of ['train/good', 'test/good', 'test/stroke', 'ground_truth/stroke']) mkdirSync(join(dir, 'plate', sub), { recursive: true });
  const write = async (path: string, seed: number, stroke: boolean) => {
    const rgb = pattern(size, size, seed);
    const mask = Buffer.alloc(size * size);
    if (stroke) for (let x = 20; x < 44; x++) for (let y = 30; y < 33; y++) { mask[y * size + x] = 255; rgb.fill(10, (y * size + x) * 3, (y * size + x) * 3 + 3); }
    writeFileSync(path, await encodeRgb(rgb, size, size, 'png'));
    if (stroke) await sharp(mask, { raw: { width: size, height: size, channels: 1 } }).png().toFile(path.replace('/test/', '/ground_truth/').replace(/\.png$/, '_mask.png'));
  };
  for (let i = 0; i < 2; i++) await write(join(dir, 'plate', 'train/good', `${i}.png`), i, false);
  for (let i = 0; i < 2; i++) await write(join(dir, 'plate', 'test/good', `${i}.png`), 10 + i, false);
  for (let i = 0; i < 2; i++) await write(join(dir, 'plate', 'test/stroke', `${i}.png`), 20 + i, true);
}

test('eval --roi/--ignore: scores are what inspect gives with the same region; saved maps are 0 outside the region and in ignore areas; a region that does not fit names the image', async (t) => {
  const { packDir } = await tinyPack({ seed: 1 });
  const data = join(scratch, 'mvtec');
  await dataset(data);
  const maps = join(scratch, 'eval-maps');
  const region = ['--roi', '8,4,48,52', '--ignore', '8,4 24,4 8,20'];
  const run = await exec(process.execPath, ['agent/bin.js', 'eval', '--pack', packDir, '--data', data, '--shots', '0', '--out', join(scratch, 'eval-out'), '--save-maps', maps, '--providers', 'cpu', '--threads', '1', ...region]);
  const index = JSON.parse(readFileSync(join(maps, 'index.json'), 'utf8')) as { grid: number; runs: { images: { image: string; score: number; map: string }[] }[] };
  t.truthy(run.stdout);
  const images = index.runs[0]!.images;
  t.is(images.length, 4);
  const inspected = await cli(['--pack', packDir, ...region, ...images.map((i) => i.image)]);
  t.is(inspected.code, 0, inspected.stderr);
  images.forEach((img, k) => t.true(Math.abs(img.score - (inspected.lines[k]!.score as number)) < 1e-6, img.image));
  const g = index.grid;
  const f32 = readFileSync(join(maps, images[3]!.map));
  const map = new Float32Array(f32.buffer, f32.byteOffset, f32.length / 4);
  const at = (x: number, y: number) => map[Math.floor((y / 64) * g) * g + Math.floor((x / 64) * g)]!;
  t.is(at(2, 30), 0, 'left of the region');
  t.is(at(60, 30), 0, 'right of the region');
  t.is(at(10, 6), 0, 'in the ignore area');
  t.true(at(32, 31) > 0, 'inside the region');
  const bad = await exec(process.execPath, ['agent/bin.js', 'eval', '--pack', packDir, '--data', data, '--out', join(scratch, 'eval-bad'), '--providers', 'cpu', '--roi', '40,40,30,30'])
    .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /image .*\.png: --roi x 40\.\.70, y 40\.\.70 is outside the 64×64 frame/);
});
