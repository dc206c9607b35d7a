// The exporter's tokenizer and the genuine CLIP vocabulary, held to the official AdaptCLIP outputs in
// ../shared/fidelity (test/helpers/fidelity.ts): the token ids of all 233 prompts, the static and learned text
// features, an export with the genuine vocabulary, and files that are no vocabulary refused like any bad input.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PYTHON, REPO_ROOT } from '../agent/commands/pack.ts';
import { manifestSchema } from '../models/manifest.ts';
import { FIDELITY_DIR, fidelityPath, loadFidelity, readF32 } from './helpers/fidelity.ts';

const TEXT_FEATURE_BOUND = 1e-5;
const VOCAB = 'bpe_simple_vocab_16e6.txt.gz';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function python(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { cwd: REPO_ROOT, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'adaptclip-tokenizer-test-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

/** The exporter's own code on the fidelity files: token rows of every prompt and the raw text features. */
const EXPORTER_SIDE = `
import json, os, sys
from models.export.checkpoints import build_clip, load_adapter, load_clip_state
from models.export.pack import text_features
from models.export.prompts import learned_template, static_prompts
from models.export.tokenizer import Tokenizer
folder, n_ctx, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clip_path = os.path.join(folder, "tiny_clip.pt")
clip = build_clip(clip_path, load_clip_state(clip_path))
tokenizer = Tokenizer(os.path.join(folder, "${VOCAB}"))
adapter = load_adapter(os.path.join(folder, "tiny_adapters.pth"), clip.dims, clip_path, layers, n_ctx)
static, learned = text_features(clip, tokenizer, adapter)
normal, anomaly = static_prompts()
context = clip.dims.context_length
tokens = {"static_normal": tokenizer.tokenize(normal, context), "static_anomaly": tokenizer.tokenize(anomaly, context),
          "learned": tokenizer.tokenize([learned_template(n_ctx)] * 2, context)}
prompts = {"static_normal": normal, "static_anomaly": anomaly, "learned": [learned_template(n_ctx)] * 2}
print(json.dumps({"vocab_size": tokenizer.vocab_size, "tokens": tokens, "prompts": prompts,
                  "static": static.flatten().tolist(), "learned": learned.flatten().tolist()}))
`;

interface ExporterSide {
  vocab_size: number;
  tokens: Record<string, number[][]>;
  prompts: Record<string, string[]>;
  static: number[];
  learned: number[];
}

let exporterSide: Promise<ExporterSide> | undefined;
function computeExporterSide(): Promise<ExporterSide> {
  exporterSide ??= (async () => {
    const { config } = loadFidelity();
    const run = await python(['-c', EXPORTER_SIDE, FIDELITY_DIR, String(config.n_ctx), String(config.features_list.length)]);
    if (run.code !== 0) throw new Error(`the exporter's tokenizer/text features failed (${run.code}): ${run.stderr.trim()}`);
    return JSON.parse(run.stdout) as ExporterSide;
  })();
  return exporterSide;
}

test('every prompt (147 normal, 84 anomaly static, 2 learned) gets exactly the official token ids', async (t) => {
  loadFidelity();
  const official = JSON.parse(readFileSync(fidelityPath('expected/prompt_tokens.json'), 'utf8')) as Record<string, number[][]>;
  const ours = await computeExporterSide();
  t.is(ours.vocab_size, 49408);
  t.deepEqual(Object.keys(official).sort(), ['learned', 'static_anomaly', 'static_normal']);
  t.deepEqual(Object.fromEntries(Object.entries(official).map(([k, rows]) => [k, rows.length])), { static_normal: 147, static_anomaly: 84, learned: 2 });
  let total = 0;
  const mismatches: string[] = [];
  for (const [kind, rows] of Object.entries(official)) {
    const got = ours.tokens[kind]!;
    t.is(got.length, rows.length, kind);
    rows.forEach((row, i) => {
      total++;
      t.is(row.length, 77);
      if (JSON.stringify(got[i]) !== JSON.stringify(row)) {
        mismatches.push(`${kind}[${i}] "${ours.prompts[kind]![i]}": ours ${JSON.stringify(got[i]?.filter((id) => id))}, official ${JSON.stringify(row.filter((id) => id))}`);
      }
    });
  }
  t.log(`${total} prompts, ${mismatches.length} with ids other than the official ones`);
  t.is(total, 233);
  t.deepEqual(mismatches, []);
});

test(`static and learned text features within ${TEXT_FEATURE_BOUND.toExponential()} of the official ones`, async (t) => {
  const [rows, dim] = loadFidelity().text_features_shape;
  const ours = await computeExporterSide();
  for (const kind of ['static', 'learned'] as const) {
    const official = readF32(`expected/${kind}_text_features.f32`);
    t.is(official.length, rows * dim, kind);
    t.is(ours[kind].length, official.length, kind);
    let worst = 0;
    for (let i = 0; i < official.length; i++) worst = Math.max(worst, Math.abs(ours[kind][i]! - official[i]!));
    t.log(`${kind} text features [${rows}, ${dim}]: max |Δ| ${worst.toExponential(2)}`);
    t.true(worst <= TEXT_FEATURE_BOUND, `${kind}: max |Δ| ${worst} exceeds ${TEXT_FEATURE_BOUND}`);
  }
});

function exportArgs(vocab: string, out: string): string[] {
  const { config } = loadFidelity();
  return ['-m', 'models.export', '--clip', fidelityPath('tiny_clip.pt'), '--adapter', fidelityPath('tiny_adapters.pth'), '--vocab', vocab,
    '--size', String(config.image_size), '--layers', ...config.features_list.map(String), '--dpam', String(config.dpam_layer),
    '--sigma', String(config.sigma), '--n-ctx', String(config.n_ctx), '--out', out];
}

test('export from the fidelity checkpoints with the genuine vocabulary and the official configuration', async (t) => {
  const expected = loadFidelity();
  const out = join(work, 'genuine', 'pack');
  const run = await python(exportArgs(fidelityPath(VOCAB), out));
  t.is(run.code, 0, run.stderr);
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')));
  t.like(manifest.image, { size: expected.config.image_size, patch: expected.config.patch_size });
  t.like(manifest.model, { featureLayers: expected.config.features_list, dpam: expected.config.dpam_layer, nCtx: expected.config.n_ctx,
    sigma: expected.config.sigma, midDim: expected.config.pq_mid_dim, reduction: expected.config.vl_reduction });
  t.deepEqual(manifest.provenance.vocab, { file: VOCAB, sha256: expected.files_sha256[VOCAB] });
  t.deepEqual(readdirSync(out).sort(), ['encoder.onnx', 'few_shot.onnx', 'manifest.json', 'zero_shot.onnx']);
});

// Files that are no BPE merge list, each refused by the exporter's vocabulary reader.
const notVocabularies: Array<{ title: string; file: string; bytes: () => Buffer; message: RegExp }> = [
  { title: 'a plain text file (not gzip)', file: 'notes.txt', bytes: () => Buffer.from('these are notes, not merges\n'),
    message: /: not a gzip'd UTF-8 BPE vocabulary \(BadGzipFile\); / },
  { title: 'gzip\'d prose', file: 'prose.txt.gz', bytes: () => gzipSync('Release notes\nthe exporter reads official checkpoints\n'),
    message: /: line 2 holds 5 fields, not a merge of two symbols, so this is not a BPE merge list; / },
  { title: 'a merge line of three symbols', file: 'three.txt.gz', bytes: () => genuineLines((lines) => [...lines.slice(0, 11), 'a b c']),
    message: /: line 12 holds 3 fields, not a merge of two symbols/ },
  { title: 'the merges without their header line', file: 'headless.txt.gz', bytes: () => genuineLines((lines) => lines.slice(1)),
    message: /: line 8 merges 'in', which no earlier line made, so this is not a BPE merge list; / },
];

function genuineLines(edit: (lines: string[]) => string[]): Buffer {
  return gzipSync(edit(gunzipSync(readFileSync(fidelityPath(VOCAB))).toString('utf8').split('\n')).join('\n'));
}

for (const bad of notVocabularies) {
  test(`not a vocabulary, ${bad.title}: one line, exit 2, nothing written`, async (t) => {
    loadFidelity();
    const dir = join(work, `bad-${bad.file}`);
    const vocab = join(dir, bad.file);
    const out = join(dir, 'out', 'pack');
    mkdirSync(join(dir, 'out'), { recursive: true });
    writeFileSync(vocab, bad.bytes());
    const run = await python(exportArgs(vocab, out));
    t.is(run.code, 2, run.stderr);
    const lines = run.stderr.trim().split('\n');
    t.is(lines.length, 1, run.stderr);
    t.true(lines[0]!.startsWith(`export: ${vocab}: `), lines[0]);
    t.regex(lines[0]!, bad.message);
    t.regex(lines[0]!, /; pass CLIP's bpe_simple_vocab_16e6\.txt\.gz as shipped$/);
    t.false(existsSync(out));
    t.deepEqual(readdirSync(join(dir, 'out')), [], 'no staging folder left behind');
  });
}
