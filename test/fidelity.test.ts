// The product held to the official AdaptCLIP implementation: the official-format files in ../shared/fidelity
// (tiny random weights, the genuine CLIP vocabulary) are exported to a pack, `inspect` runs on the ORIGINAL image
// files, and every case must match the official code's own outputs (its README and expected.json).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PYTHON, REPO_ROOT } from '../agent/commands/pack.ts';
import { decodeImage, resizeForModel } from '../models/image.ts';
import { fidelityPath, loadFidelity, readF32 } from './helpers/fidelity.ts';

const exec = promisify(execFile);

function differingBytes(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

test('official checkpoints + genuine vocabulary → pack; inspect on the original files matches the official outputs in all cases', async (t) => {
  const expected = loadFidelity();
  const { config, bounds } = expected;
  const dir = mkdtempSync(join(tmpdir(), 'fidelity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pack = join(dir, 'pack');
  await exec(PYTHON, ['-m', 'models.export', '--clip', fidelityPath('tiny_clip.pt'), '--adapter', fidelityPath('tiny_adapters.pth'),
    '--vocab', fidelityPath('bpe_simple_vocab_16e6.txt.gz'), '--size', String(config.image_size), '--layers', ...config.features_list.map(String),
    '--dpam', String(config.dpam_layer), '--sigma', String(config.sigma), '--n-ctx', String(config.n_ctx), '--out', pack], { cwd: REPO_ROOT });
  const manifest = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8'));
  t.is(manifest.image.size, config.image_size);

  const S = config.image_size;
  const worst = { input: 0, score: 0, map: 0, va: 0, ta: 0, pq: 0 };
  for (const [index, c] of expected.cases.entries()) {
    const label = `k${c.k} ${c.query}`;
    const out = join(dir, `case${index}`);
    const shotArgs = c.shots.flatMap((s) => ['--shot', fidelityPath(s)]);
    const { stdout } = await exec(process.execPath, ['agent/bin.js', 'inspect', '--pack', pack, '--providers', 'cpu', ...shotArgs,
      ...(c.k === 0 ? ['--mode', 'zero-shot'] : []), '--out', out, fidelityPath(c.query)], { cwd: REPO_ROOT });
    const line = JSON.parse(stdout.trim().split('\n').at(-1)!);
    t.is(line.mode, c.k === 0 ? 'zero-shot' : 'few-shot', label);
    t.is(line.shots, c.k, label);

    // The model input, from the original file, byte for byte.
    const input = readFileSync(join(out, `${c.query.split('/').at(-1)!.replace(/\.png$/, '')}.input.u8`));
    const inputDiff = differingBytes(input, readFileSync(fidelityPath(c.input_u8)));
    worst.input = Math.max(worst.input, inputDiff);
    t.is(inputDiff, 0, `${label}: model input bytes differing from the official input`);
    for (const [i, shot] of c.shots.entries()) {
      const shotInput = resizeForModel(await decodeImage(fidelityPath(shot)), S);
      const shotDiff = differingBytes(shotInput, readFileSync(fidelityPath(`expected/k${c.k}_shot${i}.input_u8`)));
      worst.input = Math.max(worst.input, shotDiff);
      t.is(shotDiff, 0, `${label}: shot ${shot} input bytes differing`);
    }

    const scoreDiff = Math.abs(line.score - c.score);
    const vaDiff = Math.abs(line.branches.va - c.va_score);
    const taDiff = Math.abs(line.branches.ta - c.ta_score);
    worst.score = Math.max(worst.score, scoreDiff);
    worst.va = Math.max(worst.va, vaDiff);
    worst.ta = Math.max(worst.ta, taDiff);
    t.true(scoreDiff <= bounds.score_abs, `${label}: score ${line.score} vs official ${c.score}`);
    t.true(vaDiff <= bounds.score_abs, `${label}: va ${line.branches.va} vs official ${c.va_score}`);
    t.true(taDiff <= bounds.score_abs, `${label}: ta ${line.branches.ta} vs official ${c.ta_score}`);
    if (c.pq_score === null) t.is(line.branches.pq, undefined, label);
    else {
      const pqDiff = Math.abs(line.branches.pq - c.pq_score);
      worst.pq = Math.max(worst.pq, pqDiff);
      t.true(pqDiff <= bounds.score_abs, `${label}: pq ${line.branches.pq} vs official ${c.pq_score}`);
    }

    const stem = c.query.split('/').at(-1)!.replace(/\.png$/, '');
    const bytes = readFileSync(join(out, `${stem}.map.f32`));
    const map = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const official = readF32(c.map);
    t.is(map.length, S * S, label);
    t.is(official.length, c.map_shape[0] * c.map_shape[1], label);
    let mapDiff = 0;
    for (let i = 0; i < official.length; i++) mapDiff = Math.max(mapDiff, Math.abs(map[i]! - official[i]!));
    worst.map = Math.max(worst.map, mapDiff);
    t.true(mapDiff <= bounds.map_max_abs, `${label}: map max |Δ| ${mapDiff}`);
  }
  t.log(`${expected.cases.length} cases; worst: input ${worst.input} bytes differing, score |Δ| ${worst.score.toExponential(2)}, ` +
    `map max |Δ| ${worst.map.toExponential(2)}, va ${worst.va.toExponential(2)}, ta ${worst.ta.toExponential(2)}, pq ${worst.pq.toExponential(2)} ` +
    `(bounds: score ${bounds.score_abs}, map ${bounds.map_max_abs})`);
});
