import test from 'ava';
import sharp from 'sharp';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tinyPack } from './helpers/tiny-pack.ts';
import { decodeMaskL, maskToGrid } from '../models/eval/masks.ts';
import type { EvalReport, Metrics, SavedMapsIndex } from '../models/eval/run.ts';

const exec = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'eval-test-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** A part surface (smooth shading + noise); defective ones get a dark scratch, whose mask is returned. */
async function part(path: string, seed: number, scratch: boolean, maskPath?: string): Promise<void> {
  const size = 64;
  const rgb = Buffer.alloc(size * size * 3);
  const mask = Buffer.alloc(size * size);
  let s = seed * 7919 + 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      const o = (y * size + x) * 3;
      const v = 120 + 40 * Math.sin(x / 9) + ((s >> 16) & 15);
      const hit = scratch && Math.abs(y - (10 + seed % 20) - x * 0.5) < 2 && x > 8 && x < 56;
      if (hit) mask[y * size + x] = 255;
      rgb[o] = hit ? 20 : v;
      rgb[o + 1] = hit ? 20 : v * 0.9;
      rgb[o + 2] = hit ? 20 : v * 0.8;
    }
  }
  await sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path);
  if (maskPath) await sharp(mask, { raw: { width: size, height: size, channels: 1 } }).png().toFile(maskPath);
}

async function makeDataset(dir: string, classes: string[]): Promise<void> {
  for (const [c, name] of classes.entries()) {
    for (const sub of ['train/good', 'test/good', 'test/scratch', 'ground_truth/scratch']) mkdirSync(join(dir, name, sub), { recursive: true });
    for (let i = 0; i < 3; i++) await part(join(dir, name, 'train/good', `${i}.png`), 100 * c + i, false);
    for (let i = 0; i < 3; i++) await part(join(dir, name, 'test/good', `${i}.png`), 100 * c + 10 + i, false);
    for (let i = 0; i < 3; i++) await part(join(dir, name, 'test/scratch', `${i}.png`), 100 * c + 20 + i, true, join(dir, name, 'ground_truth/scratch', `${i}_mask.png`));
  }
}

/** Reference values from test/helpers/eval_reference.py (numpy/scipy/sklearn, written from the definitions). */
function reference(input: unknown): Record<string, number | null> {
  return JSON.parse(execFileSync('/usr/bin/python3', ['test/helpers/eval_reference.py'], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 256 << 20 })) as Record<string, number | null>;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await exec(process.execPath, ['agent/bin.js', ...args], { maxBuffer: 64 << 20 })) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const PIXEL_METRICS = ['iAuroc', 'iAp', 'iF1max', 'pAuroc', 'pAupr', 'pF1max', 'aupro'] as const;

/** The saved maps and masks of an index as float32 / uint8 arrays, in index order. */
function savedArrays(dir: string, index: SavedMapsIndex): { maps: number[][]; masks: (number[] | null)[] } {
  const images = index.runs.flatMap((r) => r.images);
  const maps = images.map((i) => {
    const b = readFileSync(join(dir, i.map));
    return Array.from({ length: b.length / 4 }, (_, k) => b.readFloatLE(4 * k));
  });
  const masks = images.map((i) => (i.mask ? [...readFileSync(join(dir, i.mask))] : null));
  return { maps, masks };
}

/** Recomputes every metric of every run from a --save-maps folder with the numpy reference and compares. */
function checkSavedMetrics(t: { true: (v: boolean, m?: string) => void }, dir: string, index: SavedMapsIndex, report: EvalReport): void {
  const recomputed = JSON.parse(execFileSync('/usr/bin/python3', ['test/helpers/eval_reference.py'], { input: JSON.stringify({ saved: dir }), encoding: 'utf8', maxBuffer: 64 << 20 })) as Metrics[];
  const runs = report.classes.flatMap((c) => c.runs);
  index.runs.forEach((r, i) => {
    for (const k of PIXEL_METRICS) {
      t.true(Math.abs(r.metrics[k] - recomputed[i]![k]) < 1e-9, `${r.class} seed ${r.seed} ${k}: index ${r.metrics[k]}, recomputed ${recomputed[i]![k]}`);
      t.true(r.metrics[k] === runs[i]!.metrics[k], `index and eval.json agree on ${k}`);
    }
  });
}

test('eval on a tiny MVTec-layout dataset: per-class and mean metrics, image metrics equal scikit-learn, HTML self-contained, --save-maps recomputes', async (t) => {
  const { packDir } = await tinyPack({ seed: 1 });
  const data = join(root, 'mvtec');
  await makeDataset(data, ['bolt', 'widget']);
  const out = join(root, 'out');
  const maps = join(root, 'maps-1shot');
  const run = await cli(['eval', '--pack', packDir, '--data', data, '--shots', '1', '--seeds', '0,1', '--out', out, '--save-maps', maps, '--providers', 'cpu', '--threads', '1']);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stderr, /eval \[#+\] 24\/24 widget seed 1/, 'progress bar reaches the end');
  const report = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as EvalReport;
  t.deepEqual(report.classes.map((c) => c.name), ['bolt', 'widget']);
  t.deepEqual(report.seeds, [0, 1]);
  for (const c of report.classes) {
    t.is(c.runs.length, 2);
    for (const r of c.runs) {
      t.is(r.shots.length, 1);
      t.true(r.shots[0]!.includes(`${c.name}/train/good/`));
      t.is(r.images.length, 6);
      for (const v of Object.values(r.metrics)) t.true(v >= 0 && v <= 1);
      t.true(r.examples.length >= 2 && r.examples.every((e) => e.overlay.startsWith('data:image/png;base64,')));
    }
  }
  // Image metrics recomputed independently from the per-image scores in the report.
  const runs = report.classes.flatMap((c) => c.runs);
  const ref = runs.map((r) => reference({ labels: r.images.map((i) => (i.anomalous ? 1 : 0)), scores: r.images.map((i) => i.score) }));
  const overkill = JSON.parse(
    execFileSync(
      '/usr/bin/python3',
      ['-c', `import sys, json, numpy as np
from sklearn.metrics import roc_curve
out = []
for run in json.load(sys.stdin):
    y = np.array([int(i['anomalous']) for i in run]); s = np.array([i['score'] for i in run])
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    out.append(float(fpr[np.argmax(tpr >= 0.98)]))
print(json.dumps(out))`],
      { input: JSON.stringify(runs.map((r) => r.images)), encoding: 'utf8' },
    ),
  ) as number[];
  runs.forEach((r, i) => {
    t.true(Math.abs(r.metrics.iAuroc - ref[i]!.auroc!) < 1e-12);
    t.true(Math.abs(r.metrics.iAp - ref[i]!.ap!) < 1e-12);
    t.true(Math.abs(r.metrics.iF1max - ref[i]!.f1!) < 1e-12);
    t.is(r.metrics.overkillAt2pctEscape, overkill[i]!);
  });
  const meanAuroc = report.classes.reduce((s, c) => s + c.mean.iAuroc, 0) / 2;
  t.true(Math.abs(report.mean.iAuroc - meanAuroc) < 1e-12);
  const summary = JSON.parse(run.stdout.trim()) as { mean: { aupro: number }; maps: string; pixelSize: number };
  t.is(summary.mean.aupro, report.mean.aupro);
  // Pixel metrics on the model's S×S grid by default (the official MVTec AD / VisA protocol).
  const S = report.imageSize;
  t.true(S > 0);
  t.is(report.pixelSize, S);
  t.is(summary.pixelSize, S);
  t.is(summary.maps, join(maps, 'index.json'));
  // --save-maps: one map per image and run, the ground truth of defective parts, enough to recompute everything.
  const index = JSON.parse(readFileSync(join(maps, 'index.json'), 'utf8')) as SavedMapsIndex;
  t.is(index.format, 'adaptclip-eval-maps/1');
  t.is(index.grid, S);
  t.deepEqual(index.runs.map((r) => `${r.class}/${r.seed}`), ['bolt/0', 'bolt/1', 'widget/0', 'widget/1']);
  for (const [i, r] of index.runs.entries()) {
    const images = runs[i]!.images;
    t.deepEqual(r.images.map((m) => [m.image, m.label, m.score]), images.map((m) => [m.image, m.anomalous ? 1 : 0, m.score]));
    for (const m of r.images) {
      t.is(statSync(join(maps, m.map)).size, S * S * 4);
      t.is(m.mask === null, m.label === 0);
      if (m.mask) t.is(statSync(join(maps, m.mask)).size, S * S);
    }
  }
  checkSavedMetrics(t, maps, index, report);
  // The saved ground truth is the official dataset's: convert('L') > 0, PIL bilinear to S×S, > 0.5.
  const defective = index.runs[0]!.images.filter((m) => m.mask);
  const truth = JSON.parse(
    execFileSync('/usr/bin/python3', ['test/helpers/eval_reference.py'], {
      input: JSON.stringify({ truth: defective.map((m) => m.image.replace('/test/', '/ground_truth/').replace(/\.png$/, '_mask.png')), size: S }),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    }),
  ) as number[][];
  defective.forEach((m, i) => t.deepEqual([...readFileSync(join(maps, m.mask!))], truth[i], `ground truth of ${m.image}`));
  t.true(truth.every((g) => g.some((v) => v === 1)), 'the scratches survive the resize');
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.true(html.startsWith('<!doctype html>'));
  t.is((html.match(/<svg /g) ?? []).length, 12, 'ROC + PR + score histogram per run');
  t.regex(html, /overkill @2% escape: <b>[\d.]+ %<\/b> of good parts fail at image-score threshold <b>0\.\d{4}<\/b>/, 'the threshold behind each overkill figure');
  t.regex(html, /<img src="data:image\/png;base64,[^"]+" width="192" height="192" alt="ground truth of /, 'ground truth next to the overlays');
  t.regex(html, /<img src="data:image\/png;base64,/);
  t.notRegex(html, /(src|href)="(https?:)?\/\//, 'no external resources');
  t.notRegex(html, /<script/);
});

test('zero-shot eval: a mask of another size (warned, resized as official), --pixel-size as the Real-IAD protocol, bad input', async (t) => {
  const { packDir } = await tinyPack({ seed: 1 });
  const data = join(root, 'zero');
  await makeDataset(data, ['plate']);
  // A 40×32 mask for a 64×64 image: the official code resizes any mask to S×S without looking at the image.
  const odd = join(data, 'plate', 'ground_truth', 'scratch', '2_mask.png');
  writeFileSync(odd, await sharp(odd).resize(40, 32, { kernel: 'nearest', fit: 'fill' }).png().toBuffer());
  const out = join(root, 'zero-out');
  const full = join(root, 'maps-zero');
  const run = await cli(['eval', '--pack', packDir, '--data', data, '--out', out, '--save-maps', full, '--providers', 'cpu']);
  t.is(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as EvalReport;
  const S = report.imageSize;
  t.is(report.shots, 0);
  t.deepEqual(report.classes[0]!.runs.map((r) => r.seed), [null]);
  const warning = run.stderr.split('\n').filter((l) => l.startsWith('eval: '));
  t.is(warning.length, 1, run.stderr);
  t.regex(warning[0]!, new RegExp(`^eval: class "plate": 1 ground-truth mask differs in size from the image \\(e\\.g\\. .*2_mask\\.png is 40×32, .*scratch/2\\.png 64×64\\); resized to ${S}×${S} all the same`));
  const index = JSON.parse(readFileSync(join(full, 'index.json'), 'utf8')) as SavedMapsIndex;
  checkSavedMetrics(t, full, index, report);
  const oddSaved = index.runs[0]!.images.find((m) => m.image.endsWith('scratch/2.png'))!;
  const [oddTruth] = JSON.parse(execFileSync('/usr/bin/python3', ['test/helpers/eval_reference.py'], { input: JSON.stringify({ truth: [odd], size: S }), encoding: 'utf8' })) as number[][];
  t.deepEqual([...readFileSync(join(full, oddSaved.mask!))], oddTruth);

  // --pixel-size 8: the S×S maps bilinear (align_corners=False) and the S×S ground truth nearest, as torch does.
  const small = join(root, 'maps-8');
  const run8 = await cli(['eval', '--pack', packDir, '--data', data, '--out', join(root, 'out-8'), '--save-maps', small, '--pixel-size', '8', '--providers', 'cpu']);
  t.is(run8.code, 0, run8.stderr);
  const report8 = JSON.parse(readFileSync(join(root, 'out-8', 'eval.json'), 'utf8')) as EvalReport;
  t.is(report8.pixelSize, 8);
  const index8 = JSON.parse(readFileSync(join(small, 'index.json'), 'utf8')) as SavedMapsIndex;
  t.is(index8.grid, 8);
  checkSavedMetrics(t, small, index8, report8);
  const a = savedArrays(full, index), b = savedArrays(small, index8);
  const torch = JSON.parse(
    execFileSync(
      '/usr/bin/python3',
      ['-c', `import sys, json, torch
import torch.nn.functional as F
d = json.load(sys.stdin); S = d['S']
maps = torch.tensor(d['maps'], dtype=torch.float32).reshape(-1, 1, S, S)
out = {'maps': F.interpolate(maps, size=(8, 8), mode='bilinear', align_corners=False).reshape(len(d['maps']), -1).tolist()}
out['masks'] = [None if m is None else F.interpolate(torch.tensor(m, dtype=torch.float32).reshape(1, 1, S, S), size=(8, 8), mode='nearest').bool().int().ravel().tolist() for m in d['masks']]
print(json.dumps(out))`],
      { input: JSON.stringify({ S, ...a }), encoding: 'utf8', maxBuffer: 64 << 20 },
    ),
  ) as { maps: number[][]; masks: (number[] | null)[] };
  b.maps.forEach((m, i) => t.true(m.every((v, k) => Math.abs(v - torch.maps[i]![k]!) < 1e-6), `map ${i} bilinear like torch`));
  t.deepEqual(b.masks, torch.masks);
  t.true(b.masks.some((m) => m?.some((v) => v === 1)));

  // Bad input: one line naming the thing and what to do.
  writeFileSync(join(root, 'a-file'), 'x');
  const unwritable = await cli(['eval', '--pack', packDir, '--data', data, '--out', out, '--save-maps', join(root, 'a-file', 'maps'), '--providers', 'cpu']);
  t.is(unwritable.code, 1);
  t.regex(unwritable.stderr.trim(), /^adaptclip-edge: --save-maps .*a-file\/maps: cannot write there \((ENOTDIR|EEXIST)\); give a folder you can write to$/);
  const corrupt = join(data, 'plate', 'ground_truth', 'scratch', '0_mask.png');
  writeFileSync(corrupt, 'not a png');
  const unreadable = await cli(['eval', '--pack', packDir, '--data', data, '--out', out, '--providers', 'cpu']);
  t.is(unreadable.code, 1);
  t.regex(unreadable.stderr.trim().split('\n').pop()!, /^adaptclip-edge: --data: mask .*scratch\/0_mask\.png cannot be read \(.+\); replace it with a PNG mask \(0 = normal, > 0 = defect\)$/);
  rmSync(join(data, 'plate', 'ground_truth', 'scratch', '1_mask.png'));
  const broken = await cli(['eval', '--pack', packDir, '--data', data, '--out', out, '--providers', 'cpu']);
  t.is(broken.code, 1);
  t.regex(broken.stderr.trim(), /^adaptclip-edge: --data: .*scratch\/1\.png has no ground-truth mask .*1_mask\.png; add it/);
  const tooMany = await cli(['eval', '--pack', packDir, '--data', data, '--shots', '9', '--out', out]);
  t.is(tooMany.code, 1);
});

test('mask files decode as Pillow convert("L") and reach S×S as the official dataset code (bilinear, > 0.5)', async (t) => {
  const dir = join(root, 'mask-modes');
  mkdirSync(dir, { recursive: true });
  // Masks in the modes datasets ship: 0/255 L, L with other values (VisA's class ids), 1-bit, palette, RGB and RGBA
  // with values where Pillow's luma rounding decides > 0, LA, 16-bit grey above 255, and 16-bit RGB (high byte).
  execFileSync('/usr/bin/python3', ['-c', `import sys, numpy as np
from PIL import Image
d = sys.argv[1]; rng = np.random.default_rng(0); W, H = 37, 23
b = np.zeros((H, W), np.uint8); b[3:9, 4:15] = 1; b[12:20, 20:33] = 1; b[rng.random((H, W)) < 0.05] = 1
Image.fromarray(b * 255).save(d + '/L.png')
v = (b * rng.integers(1, 256, (H, W))).astype(np.uint8); Image.fromarray(v).save(d + '/Lvals.png')
Image.fromarray(b.astype(bool)).save(d + '/one.png')
p = Image.new('P', (W, H)); p.putpalette([0, 0, 0, 0, 0, 1, 0, 0, 3, 255, 0, 0, 0, 0, 5] + [9, 9, 9] * 251)
p.putdata(list((b * rng.integers(0, 5, (H, W))).ravel())); p.save(d + '/P.png')
rgb = np.zeros((H, W, 3), np.uint8); rgb[..., 2] = b * rng.integers(0, 8, (H, W)); rgb[..., 0] = b * rng.integers(0, 3, (H, W))
Image.fromarray(rgb).save(d + '/RGB.png')
Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (H, W)).astype(np.uint8)]), 'RGBA').save(d + '/RGBA.png')
Image.fromarray(np.dstack([v, rng.integers(0, 256, (H, W)).astype(np.uint8)]), 'LA').save(d + '/LA.png')
Image.fromarray((b * rng.integers(0, 600, (H, W))).astype(np.uint16)).save(d + '/I16.png')
Image.fromarray(np.kron(b, np.ones((17, 13), np.uint8)) * 255).save(d + '/big.png')`, dir]);
  const wide = new Uint16Array(37 * 23 * 3).map((_, i) => (i % 5 === 0 ? 0 : (i * 7919) % 65536) & (i % 3 ? 0xffff : 0x03ff));
  await sharp(Buffer.from(wide.buffer), { raw: { width: 37, height: 23, channels: 3 } }).toColourspace('rgb16').png().toFile(join(dir, 'RGB16.png'));
  const files = ['L', 'Lvals', 'one', 'P', 'RGB', 'RGBA', 'LA', 'I16', 'big', 'RGB16'].map((n) => join(dir, `${n}.png`));
  const pil = JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', `import sys, json, numpy as np
from PIL import Image
print(json.dumps([np.array(Image.open(f).convert('L')).ravel().tolist() for f in json.load(sys.stdin)]))`], { input: JSON.stringify(files), encoding: 'utf8', maxBuffer: 64 << 20 }),
  ) as number[][];
  for (const [i, f] of files.entries()) t.deepEqual([...(await decodeMaskL(f)).data], pil[i], `convert('L') of ${f}`);
  for (const size of [16, 37, 50, 518]) {
    const truth = JSON.parse(execFileSync('/usr/bin/python3', ['test/helpers/eval_reference.py'], { input: JSON.stringify({ truth: files, size }), encoding: 'utf8', maxBuffer: 256 << 20 })) as number[][];
    for (const [i, f] of files.entries()) t.deepEqual([...maskToGrid(await decodeMaskL(f), size)], truth[i], `${f} at ${size}×${size}`);
  }
});
