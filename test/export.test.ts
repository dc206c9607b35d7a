// The exporter end to end: a second tiny geometry whose pack shapes follow, byte-identical regeneration of the
// committed demo pack, and each bad input failing with one clear line, exit 2 and nothing written.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { PYTHON, REPO_ROOT } from '../agent/commands/pack.ts';
import { manifestSchema } from '../models/manifest.ts';
import { tinyPack } from './helpers/tiny-pack.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function exporter(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(PYTHON, ['-m', 'models.export', ...args], { cwd: REPO_ROOT, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function python(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { cwd: REPO_ROOT }, (err, _out, stderr) => (err ? reject(new Error(stderr)) : resolve()));
  });
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const work = mkdtempSync(join(tmpdir(), 'adaptclip-export-test-'));
const main = await tinyPack();
const sources = `${main.packDir}.sources`;
const broken = join(work, 'broken');
await python(['-c', 'import os,sys; os.makedirs(sys.argv[1])', broken]);
await python([join(REPO_ROOT, 'test/fixtures/export/corrupt.py'), sources, broken]);
test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('a second tiny geometry (size 96, patch 8, width 64, 4 blocks): the pack shapes follow', async (t) => {
  const { packDir, goldenDir } = await tinyPack({ seed: 3, size: 96, patch: 8, width: 64, layers: 4 });
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(packDir, 'manifest.json'), 'utf8')));
  t.like(manifest.image, { size: 96, patch: 8, grid: 12 });
  t.like(manifest.model, { dim: 32, patches: 144, featureLayers: [1, 2, 3, 4] });
  t.deepEqual(manifest.files.encoder.outputs.find((o) => o.name === 'patches')?.shape, ['batch', 4, 145, 32]);
  const encoder = await ort.InferenceSession.create(join(packDir, 'encoder.onnx'));
  const features = await encoder.run({ image: new ort.Tensor('uint8', new Uint8Array(2 * 96 * 96 * 3).fill(128), [2, 96, 96, 3]) });
  t.deepEqual(features.global!.dims, [2, 32]);
  t.deepEqual(features.patches!.dims, [2, 4, 145, 32]);
  const few = await ort.InferenceSession.create(join(packDir, 'few_shot.onnx'));
  const memory = new ort.Tensor('float32', new Float32Array(4 * 144 * 32).fill(1 / Math.sqrt(32)), [4, 144, 32]);
  const out = await few.run({ global: features.global!, patches: features.patches!, memory });
  t.deepEqual(out.map!.dims, [2, 96, 96]);
  t.deepEqual(out.score!.dims, [2]);
  t.deepEqual(out.align_map!.dims, [2, 96, 96]);
  const golden = JSON.parse(readFileSync(join(goldenDir, 'golden.json'), 'utf8')) as { size: number };
  t.is(golden.size, 96);
});

test('the committed demo pack regenerates byte-identically', async (t) => {
  const out = join(work, 'regen', 'demo-tiny');
  const run = await exporter(['--tiny', '--seed', '0', '--out', out]);
  t.is(run.code, 0, run.stderr);
  const committed = join(REPO_ROOT, 'models/packs/demo-tiny');
  const files = readdirSync(committed).sort();
  t.deepEqual(files, ['encoder.onnx', 'few_shot.onnx', 'manifest.json', 'zero_shot.onnx']);
  t.deepEqual(readdirSync(out).sort(), files);
  for (const file of files) t.is(sha256(join(out, file)), sha256(join(committed, file)), file);
});

test('a plain state_dict with OpenAI key names is accepted like the TorchScript archive', async (t) => {
  const out = join(work, 'plain');
  const run = await exporter(['--clip', join(broken, 'clip-plain.pt'), '--adapter', join(sources, 'adaptclip-tiny.pth'),
    '--vocab', join(sources, 'bpe-tiny.txt.gz'), '--size', '224', '--layers', '2', '3', '5', '6', '--dpam', '6', '--out', out]);
  t.is(run.code, 0, run.stderr);
  // Same weights, same graphs: the head graphs match the tiny pack's byte for byte.
  t.is(sha256(join(out, 'zero_shot.onnx')), sha256(join(main.packDir, 'zero_shot.onnx')));
});

const badCases: Array<{ title: string; clip?: string; adapter?: string; extra?: string[]; message: RegExp }> = [
  { title: 'CLIP key missing', clip: 'clip-missing-key.pt', message: /^export: \S*clip-missing-key\.pt: missing key visual\.ln_post\.bias; / },
  { title: 'CLIP key extra', clip: 'clip-extra-key.pt', message: /^export: \S*clip-extra-key\.pt: unexpected key visual\.surplus; / },
  { title: 'CLIP tensor of the wrong shape', clip: 'clip-wrong-shape.pt', message: /^export: \S*clip-wrong-shape\.pt: visual\.proj has shape \[128, 63\], expected \[128, 64\]; / },
  { title: 'not a checkpoint', clip: 'not-a-checkpoint.pt', message: /^export: \S*not-a-checkpoint\.pt: not a torch checkpoint .*; pass OpenAI's CLIP checkpoint/ },
  { title: 'adapter key missing', adapter: 'adapter-missing-key.pth', message: /^export: \S*adapter-missing-key\.pth: missing key pq_learner\.sharebn\.0\.running_var; / },
  { title: 'adapter key extra', adapter: 'adapter-extra-key.pth', message: /^export: \S*adapter-extra-key\.pth: unexpected key visual_learner\.local_adater\.fc\.9\.weight; / },
  { title: 'adapter tensor of the wrong shape', adapter: 'adapter-wrong-shape.pth', message: /^export: \S*adapter-wrong-shape\.pth: textual_learner\.token_suffix_pos has shape \[1, 1, 63, 64\], expected \[1, 1, 64, 64\]; / },
  { title: 'adapter not a checkpoint', adapter: 'not-a-checkpoint.pt', message: /^export: \S*not-a-checkpoint\.pt: not a torch checkpoint/ },
  { title: 'unknown preset', extra: ['--preset', 'vit-h-14'], message: /^export: --preset: unknown preset "vit-h-14"; use one of vit-l-14-336, vit-b-16-plus-240$/ },
];

for (const bad of badCases) {
  test(`bad input, ${bad.title}: one line naming file and problem, exit 2, nothing written`, async (t) => {
    const out = join(work, `bad-${bad.title.replace(/\W+/g, '-')}`, 'pack');
    const geometry = bad.extra ?? ['--size', '224', '--layers', '2', '3', '5', '6', '--dpam', '6'];
    const run = await exporter(['--clip', bad.clip ? join(broken, bad.clip) : join(sources, 'clip-tiny.pt'),
      '--adapter', bad.adapter ? join(broken, bad.adapter) : join(sources, 'adaptclip-tiny.pth'),
      '--vocab', join(sources, 'bpe-tiny.txt.gz'), ...geometry, '--out', out, '--golden', `${out}-golden`]);
    t.is(run.code, 2);
    const lines = run.stderr.trim().split('\n');
    t.is(lines.length, 1, run.stderr);
    t.regex(lines[0]!, bad.message);
    t.false(existsSync(out));
    t.false(existsSync(`${out}-golden`));
    const parent = join(out, '..');
    t.deepEqual(existsSync(parent) ? readdirSync(parent) : [], [], 'no staging folder left behind');
  });
}

test('bad input, adapter trained for another CLIP (other feature dim): names both files', async (t) => {
  const other = await tinyPack({ seed: 3, size: 96, patch: 8, width: 64, layers: 4 });
  const out = join(work, 'bad-dims', 'pack');
  const run = await exporter(['--clip', join(sources, 'clip-tiny.pt'), '--adapter', join(`${other.packDir}.sources`, 'adaptclip-tiny.pth'),
    '--vocab', join(sources, 'bpe-tiny.txt.gz'), '--size', '224', '--layers', '1', '2', '3', '4', '--dpam', '6', '--out', out]);
  t.is(run.code, 2);
  t.is(run.stderr.trim().split('\n').length, 1, run.stderr);
  t.regex(run.stderr, /^export: \S*adaptclip-tiny\.pth: textual_learner\.ctx_pos has width 64|^export: \S*adaptclip-tiny\.pth: visual_learner works on 32-d features, but the CLIP checkpoint clip-tiny\.pt has 64-d features/);
  t.false(existsSync(out));
});

test('an existing pack survives a failed export', async (t) => {
  const out = join(work, 'keep', 'demo');
  t.is((await exporter(['--tiny', '--seed', '5', '--size', '64', '--width', '64', '--layers', '2', '--out', out])).code, 0);
  const before = sha256(join(out, 'manifest.json'));
  const run = await exporter(['--clip', join(broken, 'clip-wrong-shape.pt'), '--adapter', join(sources, 'adaptclip-tiny.pth'),
    '--vocab', join(sources, 'bpe-tiny.txt.gz'), '--preset', 'vit-l-14-336', '--out', out]);
  t.is(run.code, 2);
  t.is(sha256(join(out, 'manifest.json')), before);
});
