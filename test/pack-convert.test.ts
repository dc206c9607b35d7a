// pack convert / pack export --precision: int8 and fp16 packs load and infer close to their fp32 pack, the manifest
// records the precision and the check's figures, and what cannot be converted (or converts badly) is one line,
// exit 2, nothing written.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, REPO_ROOT } from '../agent/commands/pack.ts';
import { createDetector, loadPack } from '../models/index.ts';
import { syntheticFrame as syntheticPng } from '../models/bench.ts';
import { tinyPack } from './helpers/tiny-pack.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const cli = (args: string[]) => run(process.execPath, ['agent/bin.js', ...args]);

const work = mkdtempSync(join(tmpdir(), 'pack-convert-test-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));
// Built (or taken from the cache) while the tests are declared; each test awaits it.
const source = tinyPack({ seed: 2 }).then((p) => p.packDir);

for (const precision of ['int8', 'fp16'] as const) {
  test(`pack convert --precision ${precision}: the pack loads, infers zero- and few-shot close to fp32, and says what it is`, async (t) => {
    const fp32 = await source;
    const out = join(work, precision);
    const conv = await cli(['pack', 'convert', '--pack', fp32, '--precision', precision, '--out', out]);
    t.is(conv.code, 0, conv.stderr);
    t.regex(conv.stdout, /convert: largest \|diff\| vs fp32: global 1-cosine \S+, zero-shot score \S+, zero-shot map \S+, few-shot score \S+, few-shot map \S+/);
    const pack = await loadPack(out);
    const original = await loadPack(fp32);
    t.is(pack.manifest.precision, precision);
    t.is(pack.manifest.conversion?.from, original.sha256);
    t.is(pack.manifest.name, `${original.manifest.name}-${precision}`);
    const limit = pack.manifest.conversion!.tolerance;
    t.true(pack.manifest.conversion!.worst['zero-shot score']! <= limit.score);
    // The heads are the fp32 pack's, byte for byte; only the encoder changed.
    t.is(pack.manifest.files.fewShot.sha256, original.manifest.files.fewShot.sha256);
    t.not(pack.manifest.files.encoder.sha256, original.manifest.files.encoder.sha256);
    const [a, b] = await Promise.all([createDetector(original, { providers: ['cpu'] }), createDetector(pack, { providers: ['cpu'] })]);
    t.teardown(() => Promise.all([a.close(), b.close()]));
    const frame = await syntheticPng(original.size, original.size, 7);
    const shots = [await syntheticPng(original.size, original.size, 8), await syntheticPng(original.size, original.size, 9)];
    const [za] = await a.infer([frame]);
    const [zb] = await b.infer([frame]);
    t.true(Math.abs(za!.score - zb!.score) <= limit.score, `zero-shot score ${za!.score} vs ${zb!.score}`);
    const ra = await a.registerShots(shots);
    const rb = await b.registerShots(shots);
    t.is(rb.leaveOneOut.length, 2);
    const [fa] = await a.infer([frame], ra.memory);
    const [fb] = await b.infer([frame], rb.memory);
    t.is(fb!.mode, 'few-shot');
    t.true(Math.abs(fa!.score - fb!.score) <= limit.score, `few-shot score ${fa!.score} vs ${fb!.score}`);
    let worstMap = 0;
    for (let i = 0; i < fa!.map.length; i++) worstMap = Math.max(worstMap, Math.abs(fa!.map[i]! - fb!.map[i]!));
    t.true(worstMap <= limit.map, `few-shot map |Δ| ${worstMap}`);
    t.log(`${precision}: zero-shot score |Δ| ${Math.abs(za!.score - zb!.score).toExponential(2)}, few-shot score |Δ| ${Math.abs(fa!.score - fb!.score).toExponential(2)}, map |Δ| ${worstMap.toExponential(2)}`);
  });
}

test('pack export --precision int8 writes the converted pack under the given name', async (t) => {
  const out = join(work, 'export-int8');
  const exp = await cli(['pack', 'export', '--tiny', '--seed', '4', '--size', '96', '--patch', '8', '--width', '64', '--layers', '4', '--precision', 'int8', '--out', out]);
  t.is(exp.code, 0, exp.stderr);
  const pack = await loadPack(out);
  t.is(pack.manifest.precision, 'int8');
  t.is(pack.manifest.name, 'export-int8');
  t.deepEqual(readdirSync(join(work)).filter((f) => f.startsWith('.export-int8')), [], 'no staging folder left behind');
});

const refusals: Array<{ title: string; args: (fp32: string) => string[]; message: RegExp }> = [
  { title: 'an int8 pack (already converted)', args: () => ['--pack', join(work, 'int8-source'), '--precision', 'fp16'], message: /^convert: \S*manifest\.json: the pack is already int8; only fp32 packs can be converted; convert the fp32 pack it was made from$/ },
  { title: 'an unknown precision', args: (fp32) => ['--pack', fp32, '--precision', 'int4'], message: /^convert: --precision: "int4" is not one of int8, fp16 .*; pass --precision int8 or fp16$/ },
  { title: 'a folder that is no pack', args: () => ['--pack', work, '--precision', 'int8'], message: /^convert: \S+: cannot read manifest\.json \(No such file or directory\); give a pack folder written by pack export$/ },
];

for (const bad of refusals) {
  test.serial(`pack convert refuses ${bad.title}: one line, exit 2, nothing written`, async (t) => {
    const fp32 = await source;
    if (bad.title.startsWith('an int8')) t.is((await cli(['pack', 'convert', '--pack', fp32, '--precision', 'int8', '--out', join(work, 'int8-source')])).code, 0);
    const out = join(work, `refused-${bad.title.replace(/\W+/g, '-')}`);
    const r = await cli(['pack', 'convert', ...bad.args(fp32), '--out', out]);
    t.is(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    t.is(lines.length, 1, r.stderr);
    t.regex(lines[0]!, bad.message);
    t.false(existsSync(out));
  });
}

test('the tolerance check fails a damaged conversion (weight scales off by 4×): one line, exit 2, nothing written', async (t) => {
  const fp32 = await source;
  const out = join(work, 'damaged');
  // The real converter, with its weight quantiser made to return scales four times too large.
  const script = [
    'import sys, models.export.convert as c',
    'good = c.quantize_weight',
    'c.quantize_weight = lambda w, qmax: (lambda q, s: (q, s * 4))(*good(w, qmax))',
    'sys.exit(c.main(sys.argv[1:]))',
  ].join('\n');
  const r = await run(PYTHON, ['-c', script, '--pack', fp32, '--precision', 'int8', '--out', out]);
  t.is(r.code, 2, r.stdout);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /^convert: encoder\.onnx: the int8 pack's zero-shot (score|map) differs from the fp32 pack's by \S+ on the check images \(> [\d.]+\); the conversion is not usable for this pack/);
  t.false(existsSync(out));
  t.deepEqual(readdirSync(work).filter((f) => f.startsWith('.damaged')), [], 'no staging folder left behind');
});

test('pack export refuses an unknown --precision and --golden with a converted precision: one line, exit 2, nothing written', async (t) => {
  for (const [extra, message] of [
    [['--precision', 'int4'], /^export: --precision: "int4" is not fp32, int8 or fp16; pass one of them$/],
    [['--precision', 'int8', '--golden', join(work, 'golden-int8')], /^export: --golden: golden files hold fp32 torch outputs and apply to fp32 packs only; drop --golden or --precision$/],
  ] as const) {
    const out = join(work, 'export-refused');
    const r = await cli(['pack', 'export', '--tiny', '--seed', '4', ...extra, '--out', out]);
    t.is(r.code, 2);
    t.regex(r.stderr.trim(), message);
    t.false(existsSync(out));
  }
});
