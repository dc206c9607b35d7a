// Few-shot memory: the L2-normalised patch tokens (class token dropped) of K normal shots, per feature layer.
// Kept per shot ([L, N, D] each) so the store can add or remove one shot; the few-shot graph gets [L, K·N, D].
import type { Pack } from './pack.ts';
import { ShotMemoryError } from './errors.ts';

const MAGIC = 'ACSM';
const VERSION = 1;
const DTYPE_F32 = 1;
const HEADER_BYTES = 4 + 2 + 1 + 1 + 32 + 4 * 4;

export interface MemoryShape {
  layers: number;
  patches: number;
  dim: number;
}

export class ShotMemory {
  readonly packSha: string;
  readonly layers: number;
  readonly patches: number;
  readonly dim: number;
  readonly #shots: Float32Array[];
  #joined: Float32Array | null = null;

  /** `shots`: one Float32Array [L, N, D] per shot, tokens already L2-normalised. */
  constructor(packSha: string, shape: MemoryShape, shots: Float32Array[]) {
    if (!/^[0-9a-f]{64}$/.test(packSha)) throw new ShotMemoryError(`shot memory: pack sha "${packSha}" is not a sha256`);
    if (shots.length === 0) throw new ShotMemoryError('shot memory: no shots; register at least one normal image of the product, or run zero-shot');
    const per = shape.layers * shape.patches * shape.dim;
    shots.forEach((s, i) => {
      if (s.length !== per) throw new ShotMemoryError(`shot memory: shot ${i} has ${s.length} values, expected L·N·D = ${per}`);
    });
    this.packSha = packSha;
    this.layers = shape.layers;
    this.patches = shape.patches;
    this.dim = shape.dim;
    this.#shots = shots;
  }

  get shots(): number {
    return this.#shots.length;
  }

  /** The few-shot graph's `memory` input, [L, K·N, D], built once. */
  tensorData(): Float32Array {
    if (this.#joined) return this.#joined;
    const block = this.patches * this.dim;
    const k = this.#shots.length;
    const out = new Float32Array(this.layers * k * block);
    for (let l = 0; l < this.layers; l++) {
      for (let s = 0; s < k; s++) out.set(this.#shots[s]!.subarray(l * block, (l + 1) * block), (l * k + s) * block);
    }
    this.#joined = out;
    return out;
  }

  /** A memory of the chosen shots only (e.g. all but one for leave-one-out). */
  select(indices: readonly number[]): ShotMemory {
    return new ShotMemory(this.packSha, this, indices.map((i) => {
      const s = this.#shots[i];
      if (!s) throw new ShotMemoryError(`shot memory: no shot ${i} (has ${this.shots})`);
      return s;
    }));
  }

  /** Compact binary: a 56-byte header (magic, version, pack sha, L, N, D, K) then float32 LE [K, L, N, D]. */
  serialize(): Buffer {
    const per = this.layers * this.patches * this.dim;
    const buf = Buffer.alloc(HEADER_BYTES + this.shots * per * 4);
    buf.write(MAGIC, 0, 'latin1');
    buf.writeUInt16LE(VERSION, 4);
    buf.writeUInt8(DTYPE_F32, 6);
    Buffer.from(this.packSha, 'hex').copy(buf, 8);
    buf.writeUInt32LE(this.layers, 40);
    buf.writeUInt32LE(this.patches, 44);
    buf.writeUInt32LE(this.dim, 48);
    buf.writeUInt32LE(this.shots, 52);
    const body = new Float32Array(buf.buffer, buf.byteOffset + HEADER_BYTES, this.shots * per);
    this.#shots.forEach((s, i) => body.set(s, i * per)); // little-endian on every platform Node runs the agent on
    return buf;
  }

  static concat(memories: readonly ShotMemory[]): ShotMemory {
    const first = memories[0];
    if (!first) throw new ShotMemoryError('shot memory: nothing to join; give at least one memory');
    for (const m of memories) {
      if (m.packSha !== first.packSha) throw new ShotMemoryError(`shot memory: cannot join memories of packs ${first.packSha.slice(0, 12)} and ${m.packSha.slice(0, 12)}; recompute the shots with one pack`);
    }
    return new ShotMemory(first.packSha, first, memories.flatMap((m) => m.#shots));
  }
}

/** Reads `ShotMemory.serialize()` output; refuses a memory made by another pack or of another shape. */
export function deserializeShotMemory(buf: Buffer, pack: Pick<Pack, 'sha256' | 'id' | 'layers' | 'patches' | 'dim'>): ShotMemory {
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 4) !== MAGIC) {
    throw new ShotMemoryError(`shot memory: not a serialised shot memory (${buf.length} bytes, no ${MAGIC} header); recompute the shots`);
  }
  const version = buf.readUInt16LE(4);
  if (version !== VERSION || buf.readUInt8(6) !== DTYPE_F32) throw new ShotMemoryError(`shot memory: format version ${version} is not supported by this runtime; recompute the shots`);
  const packSha = buf.toString('hex', 8, 40);
  if (packSha !== pack.sha256) {
    throw new ShotMemoryError(`shot memory: made by pack sha ${packSha.slice(0, 12)}, not by ${pack.id}; recompute the shots with this pack`);
  }
  const layers = buf.readUInt32LE(40), patches = buf.readUInt32LE(44), dim = buf.readUInt32LE(48), shots = buf.readUInt32LE(52);
  if (layers !== pack.layers || patches !== pack.patches || dim !== pack.dim) {
    throw new ShotMemoryError(`shot memory: shape L=${layers} N=${patches} D=${dim} does not match pack ${pack.id} (L=${pack.layers} N=${pack.patches} D=${pack.dim}); recompute the shots`);
  }
  const per = layers * patches * dim;
  if (buf.length !== HEADER_BYTES + shots * per * 4) {
    throw new ShotMemoryError(`shot memory: ${buf.length} bytes, expected ${HEADER_BYTES + shots * per * 4} for ${shots} shots; the record is truncated, recompute the shots`);
  }
  // Copy out: the Buffer may be a view into a pooled or SQLite-owned allocation with any alignment.
  const body = new Float32Array(buf.buffer.slice(buf.byteOffset + HEADER_BYTES, buf.byteOffset + buf.length));
  const list = Array.from({ length: shots }, (_, i) => body.subarray(i * per, (i + 1) * per));
  return new ShotMemory(packSha, { layers, patches, dim }, list);
}
