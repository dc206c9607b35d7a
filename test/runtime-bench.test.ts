// A functional check of the bench command's report (numbers are measured by running bench, never asserted here).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tinyPack } from './helpers/tiny-pack.ts';
import type { BenchReport } from '../models/bench.ts';

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
