// The official-implementation reference files: ../shared/fidelity beside the project root (its README.md says what
// each file is). Tests that use them must fail, not skip, when they are missing, so everything here throws a clear
// error instead of returning nothing.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the fidelity folder, with a trailing slash. */
export const FIDELITY_DIR = fileURLToPath(new URL('../../../shared/fidelity/', import.meta.url));

export interface FidelityCase {
  k: number;
  query: string;
  shots: string[];
  score: number;
  va_score: number;
  ta_score: number;
  pq_score: number | null;
  map: string;
  map_shape: [number, number];
  input_u8: string;
  input_u8_shape: [number, number, number];
}

export interface FidelityExpected {
  generated_by: string;
  official_commit: string;
  config: {
    image_size: number;
    patch_size: number;
    features_list: number[];
    dpam_layer: number;
    sigma: number;
    n_ctx: number;
    vl_reduction: number;
    pq_mid_dim: number;
    pq_context: boolean;
    fusion_type: string;
  };
  /** sha256 of tiny_clip.pt, tiny_adapters.pth and bpe_simple_vocab_16e6.txt.gz; loadFidelity() checks them. */
  files_sha256: Record<string, string>;
  bounds: { score_abs: number; map_max_abs: number };
  text_features_shape: [number, number];
  cases: FidelityCase[];
}

/** Absolute path of a file in the fidelity folder; throws when it is missing. */
export function fidelityPath(relative: string): string {
  const path = join(FIDELITY_DIR, relative);
  if (!existsSync(path)) {
    const what = existsSync(FIDELITY_DIR) ? `${relative} is missing from ${FIDELITY_DIR}` : `the fidelity folder ${FIDELITY_DIR} is missing`;
    throw new Error(`${what}: these tests compare against the official AdaptCLIP outputs kept in ../shared/fidelity ` +
      'beside the project root (see its README.md), and fail without them');
  }
  return path;
}

let loaded: FidelityExpected | undefined;

/** expected.json, once the three source files were found with the sha256 it records. */
export function loadFidelity(): FidelityExpected {
  if (loaded) return loaded;
  const expected = JSON.parse(readFileSync(fidelityPath('expected.json'), 'utf8')) as FidelityExpected;
  for (const [file, sha] of Object.entries(expected.files_sha256)) {
    const actual = createHash('sha256').update(readFileSync(fidelityPath(file))).digest('hex');
    if (actual !== sha) throw new Error(`${join(FIDELITY_DIR, file)} has sha256 ${actual}, expected.json says ${sha}: not the reference file`);
  }
  loaded = expected;
  return expected;
}

/** A raw float32 little-endian file of the fidelity folder. */
export function readF32(relative: string): Float32Array {
  const bytes = readFileSync(fidelityPath(relative));
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(4 * i);
  return out;
}
