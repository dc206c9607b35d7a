// The exported ONNX graphs, run by onnxruntime-node, reproduce the exporter's torch forward (golden files):
// 0/1/2 shots × batch 1 and 3, with the few-shot memory built here from the encoder's own shot patches.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { manifestSchema } from '../models/manifest.ts';
import { tinyPack } from './helpers/tiny-pack.ts';

interface TensorFile {
  file: string;
  shape: number[];
}
interface GoldenCase {
  name: string;
  batch: number;
  shots: number;
  images: string[];
  shotImages: string[];
  input: TensorFile;
  outputs: Record<string, TensorFile>;
}
interface Golden {
  pack: string;
  size: number;
  cases: GoldenCase[];
}

function readF32(dir: string, spec: TensorFile): Float32Array {
  const bytes = readFileSync(join(dir, spec.file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

async function decodePng(path: string, size: number): Promise<Uint8Array> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) throw new Error(`${path}: expected ${size}x${size} RGB`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** DESIGN.md: memory [L, K·N, D] = L2-normalised shot patch tokens without the class token, shots in order. */
function buildMemory(patches: Float32Array, shots: number, layers: number, tokens: number, dim: number): Float32Array {
  const patchesPerShot = tokens - 1;
  const memory = new Float32Array(layers * shots * patchesPerShot * dim);
  for (let l = 0; l < layers; l++) {
    for (let k = 0; k < shots; k++) {
      for (let n = 1; n < tokens; n++) {
        const from = ((k * layers + l) * tokens + n) * dim;
        let norm = 0;
        for (let d = 0; d < dim; d++) norm += patches[from + d]! ** 2;
        const scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
        const to = ((l * shots + k) * patchesPerShot + (n - 1)) * dim;
        for (let d = 0; d < dim; d++) memory[to + d] = patches[from + d]! * scale;
      }
    }
  }
  return memory;
}

const { packDir, goldenDir } = await tinyPack();
const manifestBytes = readFileSync(join(packDir, 'manifest.json'));
const manifest = manifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
const golden = JSON.parse(readFileSync(join(goldenDir, 'golden.json'), 'utf8')) as Golden;
const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1 };
const encoder = await ort.InferenceSession.create(join(packDir, manifest.files.encoder.path), options);
const zeroShot = await ort.InferenceSession.create(join(packDir, manifest.files.zeroShot.path), options);
const fewShot = await ort.InferenceSession.create(join(packDir, manifest.files.fewShot.path), options);
const S = manifest.image.size;
const L = manifest.model.featureLayers.length;
const D = manifest.model.dim;
const T = manifest.model.patches + 1;

test('the golden files belong to this pack and its manifest validates', (t) => {
  t.is(golden.pack, createHash('sha256').update(manifestBytes).digest('hex'));
  t.is(golden.size, S);
  t.deepEqual(golden.cases.map((c) => c.name).sort(), ['b1_k0', 'b1_k1', 'b1_k2', 'b3_k0', 'b3_k1', 'b3_k2']);
  for (const file of Object.values(manifest.files)) {
    t.is(createHash('sha256').update(readFileSync(join(packDir, file.path))).digest('hex'), file.sha256, file.path);
  }
});

for (const name of ['b1_k0', 'b3_k0', 'b1_k1', 'b3_k1', 'b1_k2', 'b3_k2']) {
  test(`onnxruntime reproduces the torch outputs: ${name}`, async (t) => {
    const c = golden.cases.find((x) => x.name === name);
    if (!c) return t.fail(`golden case ${name} missing`);
    const expected = (key: string) => {
      const spec = c.outputs[key];
      if (!spec) throw new Error(`golden output ${key} missing in ${name}`);
      return readF32(goldenDir, spec);
    };
    const input = new Uint8Array(readFileSync(join(goldenDir, c.input.file)));
    t.deepEqual(c.input.shape, [c.batch, S, S, 3]);
    // The PNGs decode to exactly the input bytes (no resize involved).
    const decoded = await Promise.all(c.images.map((img) => decodePng(join(goldenDir, img), S)));
    t.is(maxAbsDiff(Buffer.concat(decoded), input), 0);

    const features = await encoder.run({ image: new ort.Tensor('uint8', input, [c.batch, S, S, 3]) });
    const glob = features.global!;
    const patches = features.patches!;
    t.deepEqual(patches.dims, [c.batch, L, T, D]);
    t.true(maxAbsDiff(glob.data as Float32Array, expected('global')) <= 1e-3, 'global');
    t.true(maxAbsDiff(patches.data as Float32Array, expected('patches')) <= 1e-3, 'patches');

    let outputs: ort.InferenceSession.OnnxValueMapType;
    const feeds: Record<string, ort.Tensor> = { global: glob, patches };
    if (c.shots === 0) {
      outputs = await zeroShot.run(feeds);
    } else {
      const shotPixels = Buffer.concat(await Promise.all(c.shotImages.map((img) => decodePng(join(goldenDir, img), S))));
      const shot = await encoder.run({ image: new ort.Tensor('uint8', new Uint8Array(shotPixels), [c.shots, S, S, 3]) });
      const memory = buildMemory(shot.patches!.data as Float32Array, c.shots, L, T, D);
      t.true(maxAbsDiff(memory, expected('memory')) <= 1e-4, 'memory');
      outputs = await fewShot.run({ ...feeds, memory: new ort.Tensor('float32', memory, [L, c.shots * (T - 1), D]) });
    }
    const branchNames = c.shots === 0 ? ['va', 'ta'] : ['va', 'ta', 'pq'];
    const mapNames = ['map', ...branchNames.map((b) => `${b}_map`), ...(c.shots ? ['align_map'] : [])];
    const scoreNames = ['score', ...branchNames.map((b) => `${b}_score`)];
    const report: string[] = [];
    for (const key of [...scoreNames, ...mapNames]) {
      const got = outputs[key];
      if (!got) return t.fail(`onnx output ${key} missing`);
      t.deepEqual(got.dims, c.outputs[key]!.shape, key);
      const diff = maxAbsDiff(got.data as Float32Array, expected(key));
      report.push(`${key} ${diff.toExponential(1)}`);
      t.true(diff <= (key.endsWith('score') ? 1e-4 : 1e-3), `${key}: max |Δ| ${diff}`);
    }
    t.log(report.join(', '));
    // The outputs carry signal: scores are probabilities, maps are not flat.
    const score = outputs.score!.data as Float32Array;
    t.true(score.every((v) => v > 0 && v < 1));
    const map = outputs.map!.data as Float32Array;
    const [low, high] = map.reduce(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);
    t.true(high! - low! > 1e-4, 'the fused map is not flat');
  });
}
