import test from 'ava';
import sharp from 'sharp';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tinyPack } from './helpers/tiny-pack.ts';
import type { EvalReport } from '../models/eval/run.ts';

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

test('eval on a tiny MVTec-layout dataset: per-class and mean metrics, image metrics equal scikit-learn, HTML self-contained', async (t) => {
  const { packDir } = await tinyPack({ seed: 1 });
  const data = join(root, 'mvtec');
  await makeDataset(data, ['bolt', 'widget']);
  const out = join(root, 'out');
  const run = await cli(['eval', '--pack', packDir, '--data', data, '--shots', '1', '--seeds', '0,1', '--out', out, '--providers', 'cpu', '--threads', '1']);
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
  const summary = JSON.parse(run.stdout.trim()) as { mean: { aupro: number } };
  t.is(summary.mean.aupro, report.mean.aupro);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.true(html.startsWith('<!doctype html>'));
  t.is((html.match(/<svg /g) ?? []).length, 8, 'ROC + PR per run');
  t.regex(html, /<img src="data:image\/png;base64,/);
  t.notRegex(html, /(src|href)="(https?:)?\/\//, 'no external resources');
  t.notRegex(html, /<script/);
});

test('zero-shot eval and a dataset with a missing mask', async (t) => {
  const { packDir } = await tinyPack({ seed: 1 });
  const data = join(root, 'zero');
  await makeDataset(data, ['plate']);
  const out = join(root, 'zero-out');
  const run = await cli(['eval', '--pack', packDir, '--data', data, '--out', out, '--providers', 'cpu']);
  t.is(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as EvalReport;
  t.is(report.shots, 0);
  t.deepEqual(report.classes[0]!.runs.map((r) => r.seed), [null]);
  rmSync(join(data, 'plate', 'ground_truth', 'scratch', '1_mask.png'));
  const broken = await cli(['eval', '--pack', packDir, '--data', data, '--out', out, '--providers', 'cpu']);
  t.is(broken.code, 1);
  t.regex(broken.stderr.trim(), /^adaptclip-edge: --data: .*scratch\/1\.png has no ground-truth mask .*1_mask\.png; add it/);
  const tooMany = await cli(['eval', '--pack', packDir, '--data', data, '--shots', '9', '--out', out]);
  t.is(tooMany.code, 1);
});
