// A functional check of the bench command's report (numbers are measured by running bench, never asserted here).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tinyPack } from './helpers/tiny-pack.ts';
import type { BenchReport, VersusReport } from '../models/bench.ts';

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('bench reports bare and full medians, ratios, parts and K-shot/zero-shot ratios as JSON', async (t) => {
  const { packDir } = await tinyPack({ seed: 1 });
  const out = join(dir, 'bench.json');
  const { stdout } = await exec(process.execPath, ['agent/bin.js', 'bench', '--pack', packDir, '--shots', '0,2', '--batch', '1,2', '--iterations', '1', '--warmup', '1', '--frame', '320x240', '--providers', 'cpu', '--out', out]);
  const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport;
  t.deepEqual(JSON.parse(stdout), report);
  t.deepEqual(report.frame, { width: 320, height: 240, format: 'png' });
  t.deepEqual(report.rows.map((r) => [r.shots, r.batch]), [[0, 1], [0, 2], [2, 1], [2, 2]]);
  for (const r of report.rows) {
    t.true(r.bareMs > 0 && r.fullMs > 0);
    t.is(r.ratio, r.fullMs / r.bareMs);
    t.true(r.parts.decodeResizeMs > 0 && r.parts.encoderMs > 0 && r.parts.maskPngMs > 0);
  }
  t.deepEqual(report.fewShotRatios.map((f) => f.shots), [2]);
  t.deepEqual(report.resize.map((r) => [r.width, r.height, r.size]), [[640, 480, report.size], [1280, 1024, report.size], [2448, 2048, report.size]]);
  for (const r of report.resize) t.true(r.medianMs > 0 && r.minMs > 0 && r.minMs <= r.medianMs);
  const bad = await t.throwsAsync(exec(process.execPath, ['agent/bin.js', 'bench', '--pack', packDir, '--shots', 'four']));
  t.regex(String((bad as { stderr?: string }).stderr), /--shots: "four" is not a comma-separated list/);
});

test('bench --vs: two packs interleaved per frame, B/A ratios of the medians, registration timed, sizes must match', async (t) => {
  const [{ packDir: a }, { packDir: b }] = await Promise.all([tinyPack({ seed: 1 }), tinyPack({ seed: 5 })]);
  const out = join(dir, 'vs.json');
  const { stdout, stderr } = await exec(process.execPath, ['agent/bin.js', 'bench', '--pack', a, '--vs', b, '--shots', '0,2', '--iterations', '2', '--warmup', '1', '--providers', 'cpu', '--out', out]);
  const report = JSON.parse(readFileSync(out, 'utf8')) as VersusReport;
  t.deepEqual(JSON.parse(stdout), report);
  t.deepEqual(report.rows.map((r) => r.shots), [0, 2]);
  for (const r of report.rows) {
    t.not(r.a.pack, r.b.pack);
    t.is(r.ratio, r.b.totalMs / r.a.totalMs);
    t.is(r.encoderRatio, r.b.encoderMs / r.a.encoderMs);
    t.true(r.a.loadMs! > 0 && r.b.loadMs! > 0 && r.a.encoderMs > 0 && r.b.headsMs > 0);
    t.is(r.a.registrationMs === null, r.shots === 0);
  }
  t.regex(stderr, /bench: K=2: \S+ \/ \S+ = \d+\.\d{3} per frame \(paired median \d+\.\d{3}, encoder \d+\.\d{3};/);
  const other = await tinyPack({ seed: 3, size: 96, patch: 8, width: 64, layers: 4 });
  const bad = await t.throwsAsync(exec(process.execPath, ['agent/bin.js', 'bench', '--pack', a, '--vs', other.packDir, '--shots', '0', '--providers', 'cpu']));
  t.regex(String((bad as { stderr?: string }).stderr), /--vs: the packs take different image sizes \(224 and 96\); compare packs of one size/);
});
