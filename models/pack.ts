// Loads and validates a model pack (DESIGN.md, "Model pack contract") before any ONNX file is opened.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { manifestSchema, type OnnxFileSpec, type PackManifest, type TensorSpec } from './manifest.ts';
import { PackError } from './errors.ts';

export interface Pack {
  /** Absolute pack directory. */
  dir: string;
  manifest: PackManifest;
  /** sha256 of manifest.json; it covers every ONNX file through their recorded sha256. */
  sha256: string;
  /** `<name>@<first 12 hex of sha256>`: the model version reported with each verdict. */
  id: string;
  size: number;
  grid: number;
  patches: number;
  dim: number;
  layers: number;
  /** Absolute paths of the ONNX graphs. */
  files: { encoder: string; zeroShot: string; fewShot: string };
}

const FILE_KEYS = ['encoder', 'zeroShot', 'fewShot'] as const;

function sha256File(path: string): Promise<string> {
  return new Promise((resolveHash, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolveHash(hash.digest('hex')));
  });
}

/** The shapes each graph must declare: number = fixed size, string = dynamic axis. */
function expectedTensors(m: PackManifest): Record<(typeof FILE_KEYS)[number], { inputs: Record<string, (number | null)[]>; outputs: Record<string, (number | null)[]> }> {
  const S = m.image.size, D = m.model.dim, L = m.model.featureLayers.length, N = m.model.patches;
  const dyn = null;
  const heads = { score: [dyn], map: [dyn, S, S], va_score: [dyn], va_map: [dyn, S, S], ta_score: [dyn], ta_map: [dyn, S, S] };
  return {
    encoder: { inputs: { image: [dyn, S, S, 3] }, outputs: { global: [dyn, D], patches: [dyn, L, N + 1, D] } },
    zeroShot: { inputs: { global: [dyn, D], patches: [dyn, L, N + 1, D] }, outputs: heads },
    fewShot: {
      inputs: { global: [dyn, D], patches: [dyn, L, N + 1, D], memory: [L, dyn, D] },
      outputs: { ...heads, pq_score: [dyn], pq_map: [dyn, S, S], align_map: [dyn, S, S] },
    },
  };
}

function checkTensors(dir: string, key: string, kind: 'inputs' | 'outputs', declared: TensorSpec[], expected: Record<string, (number | null)[]>): void {
  for (const [name, shape] of Object.entries(expected)) {
    const spec = declared.find((t) => t.name === name);
    const field = `files.${key}.${kind}`;
    if (!spec) throw new PackError(`pack ${dir}: manifest.json field ${field} lacks the tensor "${name}"; re-export the pack`);
    const wanted = name === 'image' ? 'uint8' : 'float32';
    if (spec.dtype !== wanted) throw new PackError(`pack ${dir}: manifest.json field ${field}.${name}.dtype is ${spec.dtype}, expected ${wanted}`);
    const ok = spec.shape.length === shape.length && shape.every((d, i) => (d === null ? typeof spec.shape[i] === 'string' : spec.shape[i] === d));
    if (!ok) {
      const want = shape.map((d) => (d === null ? '?' : d)).join(',');
      throw new PackError(`pack ${dir}: manifest.json field ${field}.${name}.shape is [${spec.shape.join(',')}], expected [${want}] (? = dynamic) from image.size, model.dim, model.patches and model.featureLayers`);
    }
  }
}

/** Validates manifest.json and the sha256 of every ONNX file. Throws PackError naming the field or file. */
export async function loadPack(packDir: string): Promise<Pack> {
  const dir = resolve(packDir);
  let text: Buffer;
  try {
    text = await readFile(join(dir, 'manifest.json'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PackError(`pack ${dir}: cannot read manifest.json (${code ?? String(err)}); give a pack directory written by "adaptclip-edge pack export"`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new PackError(`pack ${dir}: manifest.json is not valid JSON (${(err as Error).message}); re-export the pack`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new PackError(`pack ${dir}: manifest.json field ${field}: ${issue.message}; re-export the pack`);
  }
  const m = parsed.data;
  const { size, patch, grid } = m.image;
  if (grid * patch !== size) throw new PackError(`pack ${dir}: manifest.json field image.grid is ${grid}, but image.size / image.patch = ${size / patch}`);
  if (m.model.patches !== grid * grid) throw new PackError(`pack ${dir}: manifest.json field model.patches is ${m.model.patches}, expected image.grid² = ${grid * grid}`);
  const expected = expectedTensors(m);
  for (const key of FILE_KEYS) {
    checkTensors(dir, key, 'inputs', m.files[key].inputs, expected[key].inputs);
    checkTensors(dir, key, 'outputs', m.files[key].outputs, expected[key].outputs);
  }
  const files = { encoder: '', zeroShot: '', fewShot: '' };
  await Promise.all(
    FILE_KEYS.map(async (key) => {
      const spec: OnnxFileSpec = m.files[key];
      const path = join(dir, spec.path);
      let bytes: number;
      try {
        bytes = (await stat(path)).size;
      } catch {
        throw new PackError(`pack ${dir}: ${spec.path} (files.${key}) is missing; copy the whole pack directory or re-export it`);
      }
      if (bytes !== spec.bytes) throw new PackError(`pack ${dir}: ${spec.path} is ${bytes} bytes, manifest.json says ${spec.bytes}; the file was changed or truncated, re-copy or re-export the pack`);
      const digest = await sha256File(path);
      if (digest !== spec.sha256) throw new PackError(`pack ${dir}: ${spec.path} sha256 ${digest.slice(0, 12)}… differs from manifest.json (${spec.sha256.slice(0, 12)}…); the file was changed, re-copy or re-export the pack`);
      files[key] = path;
    }),
  );
  const sha256 = createHash('sha256').update(text).digest('hex');
  return {
    dir,
    manifest: m,
    sha256,
    id: `${m.name}@${sha256.slice(0, 12)}`,
    size,
    grid,
    patches: m.model.patches,
    dim: m.model.dim,
    layers: m.model.featureLayers.length,
    files,
  };
}
