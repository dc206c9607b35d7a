// ONNX Runtime sessions for one pack: encoder + zero-shot heads + few-shot heads. One Detector per pack;
// all state lives in the object (no module globals), so the daemon may hold several and recreate them.
import ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { decodeImage, describeInput, DEFAULT_MAX_PIXELS, type ImageInput, type RgbImage } from './image.ts';
import { ShotMemory } from './shot-memory.ts';
import { cropDecoded, type Rect } from './regions.ts';
import { ResizePool } from './resize-pool.ts';
import { SessionThread } from './session-thread.ts';
import type { SessionName } from './session-wire.ts';
import { availableParallelism } from 'node:os';
import { InferenceError, ShotMemoryError, messageOf } from './errors.ts';
import type { Pack } from './pack.ts';

export type Provider = 'tensorrt' | 'cuda' | 'cpu';

export interface DetectorLogger {
  warn(message: string): void;
}

export interface DetectorOptions {
  /** Tried in order; default cuda then cpu. */
  providers?: Provider[];
  /** Threads per ONNX Runtime operator; default: ORT's choice (all cores). */
  intraOpThreads?: number;
  logger?: DetectorLogger;
  /** Frames above this many pixels are refused (ImageError). */
  maxPixels?: number;
  /** Worker threads for the model's resize; 0 resizes on the calling thread. Default: cores − 1, at most 2, at least 1. */
  resizeThreads?: number;
  /** GPU to run on (cuda, tensorrt); default 0. onnxruntime-node 1.30 passes only the device id to the CUDA and
   *  TensorRT providers: their arena and cuDNN search keep ORT's defaults. */
  deviceId?: number;
  /** TensorRT provider settings, given to ORT through its ORT_TENSORRT_* environment variables (process-wide,
   *  set before the sessions open; a variable already set wins). */
  tensorrt?: TensorRtOptions;
  /** ORT's CPU memory arena (default on): a pool that keeps its peak for the session's life. Off: every
   *  temporary is allocated and freed per call, so resident memory follows the current call only. */
  cpuMemArena?: boolean;
  /** ORT's memory pattern (default off): on, it plans one block per input shape it has seen and keeps them all: at
   *  ViT-L/14 that was 0.57 GB more after a 4-shot registration (shot memories of 1…4 shots are four shapes),
   *  for no measured speed-up on a CPU. */
  memPattern?: boolean;
  /** ORT's pre-packing of MatMul weights at load. Default: off for fp32 and fp16 packs (on a CPU it kept ≈ 0.46 GiB
   *  more resident at ViT-L/14 fp32 for no measured speed-up), on for int8 packs (ORT's default; their quantised
   *  MatMuls were measured with it). */
  prepackWeights?: boolean;
}

export interface TensorRtOptions {
  /** Build fp16 engines (default true). */
  fp16?: boolean;
  /** Engine cache folder (e.g. under the agent's data dir): the first start builds the engine, later starts reuse it. */
  engineCacheDir?: string;
  /** Builder workspace in bytes (default: ORT's). */
  workspaceBytes?: number;
}

/** The ORT_TENSORRT_* variables for these settings (documented by ORT's TensorRT provider). */
export function tensorRtEnvironment(options: TensorRtOptions): Record<string, string> {
  const env: Record<string, string> = { ORT_TENSORRT_FP16_ENABLE: options.fp16 === false ? '0' : '1' };
  if (options.engineCacheDir) {
    env.ORT_TENSORRT_ENGINE_CACHE_ENABLE = '1';
    env.ORT_TENSORRT_CACHE_PATH = options.engineCacheDir;
  }
  if (options.workspaceBytes) env.ORT_TENSORRT_MAX_WORKSPACE_SIZE = String(Math.floor(options.workspaceBytes));
  return env;
}

export interface BranchDiagnostics {
  /** Image scores of the visual, textual and (few-shot) prompt-query branches. */
  va: number;
  ta: number;
  pq?: number;
  /** Peak of each branch's map. */
  vaMapMax: number;
  taMapMax: number;
  pqMapMax?: number;
  alignMapMax?: number;
}

export interface Timings {
  /** Decode + resize of this frame. */
  preMs: number;
  /** Encoder and heads time of the whole batch this frame ran in. */
  encoderMs: number;
  headsMs: number;
  /** Splitting the batch outputs into results. */
  postMs: number;
}

export interface Inference {
  score: number;
  /** Fused anomaly map, S×S, row-major (before any resize). */
  map: Float32Array;
  size: number;
  mode: 'zero-shot' | 'few-shot';
  shots: number;
  branches: BranchDiagnostics;
  timings: Timings;
  /** The frame's own resolution, for verdict maths. */
  width: number;
  height: number;
  /** The region the frame was cropped to before the resize (the map covers it); absent: the whole frame. */
  roi?: Rect;
  batch: number;
}

export interface PreparedFrame {
  /** Decoded frame at its own resolution (kept for overlays), before any crop. */
  image: RgbImage;
  /** The region the model's input was cropped to, when one was given. */
  roi?: Rect;
  /** uint8 S×S×3 encoder input. */
  input: Buffer;
  preMs: number;
}

export interface EncoderOutput {
  /** [B, D] */
  global: Float32Array;
  /** [B, L, N+1, D] */
  patches: Float32Array;
  batch: number;
  ms: number;
}

export interface Detector {
  readonly pack: Pack;
  /** The execution provider the sessions actually run on. */
  readonly provider: Provider;
  /** Decode, crop to `roi` (default: a raw frame's own roi), resize (exposed so the caller can keep the frame for
   *  overlays, and for benchmarks). */
  prepare(frame: ImageInput, roi?: Rect | null): Promise<PreparedFrame>;
  /** Encodes 1..K normal images of one product into few-shot memory (each cropped to `roi` when given). */
  encodeShots(images: ImageInput[], roi?: Rect | null): Promise<ShotMemory>;
  /** Zero-shot without memory, few-shot with it; one result per frame, in order. */
  infer(frames: ImageInput[], memory?: ShotMemory | null): Promise<Inference[]>;
  /** As infer, from frames already prepared. */
  inferPrepared(frames: PreparedFrame[], memory?: ShotMemory | null): Promise<Inference[]>;
  /** Each shot scored few-shot against the other shots (K ≥ 2), for threshold calibration. */
  leaveOneOutScores(images: ImageInput[], roi?: Rect | null): Promise<number[]>;
  /** encodeShots and leaveOneOutScores in one: each shot goes through the encoder once (K ≥ 2 for the scores;
   *  with one shot `leaveOneOut` is empty). */
  registerShots(images: ImageInput[], roi?: Rect | null): Promise<ShotRegistration>;
  /** One image through the encoder, kept: `inferEncoded` judges it (against any shots) with the heads alone, and
   *  `memoryOfEncoded` makes its few-shot memory. */
  encodeKeeping(image: ImageInput, roi?: Rect | null): Promise<EncodedImage>;
  /** The inference of an image whose encoder output is kept: the scores and maps infer gives, without the encoder. */
  inferEncoded(image: EncodedImage, memory?: ShotMemory | null): Promise<Inference>;
  /** One shot's few-shot memory from its kept encoder output. */
  memoryOfEncoded(image: EncodedImage): ShotMemory;
  /** The bare sessions, for benchmarks: encoder on a uint8 batch, heads on its output. */
  runEncoder(batch: Uint8Array, count: number): Promise<EncoderOutput>;
  runHeads(encoded: EncoderOutput, memory?: ShotMemory | null): Promise<{ outputs: Record<string, ort.Tensor>; ms: number }>;
  /** Closes and recreates the sessions (after a hang or a session error). */
  recreate(): Promise<void>;
  close(): Promise<void>;
}

/** What an inference reports about its image besides the model's outputs. */
type FrameMeta = Pick<PreparedFrame, 'preMs' | 'roi'> & { image: { width: number; height: number } };

/** One image's encoder output with what its inference reports about the image. */
export interface EncodedImage {
  encoded: EncoderOutput;
  width: number;
  height: number;
  roi?: Rect;
}

export interface ShotRegistration {
  memory: ShotMemory;
  /** Each shot's few-shot score against the other shots, in order (empty below 2 shots). */
  leaveOneOut: number[];
}

interface Sessions {
  thread: SessionThread;
  /** Runs in progress; a retired set is released only when this reaches 0 (never under a running call). */
  inFlight: number;
  retired: boolean;
}

function releaseSessions(set: Sessions): void {
  void set.thread.release();
}

/** Retires a session set: released now if idle, else by the last call still running on it. */
function retire(set: Sessions | null): void {
  if (!set || set.retired) return;
  set.retired = true;
  if (set.inFlight === 0) releaseSessions(set);
}

const stderrLogger: DetectorLogger = { warn: (message) => process.stderr.write(`${message}\n`) };

async function openSessions(pack: Pack, provider: Provider, detectorOptions: DetectorOptions): Promise<Sessions> {
  const { intraOpThreads, cpuMemArena, memPattern, prepackWeights } = detectorOptions;
  const deviceId = detectorOptions.deviceId ?? 0;
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider === 'cpu' ? 'cpu' : { name: provider, deviceId }],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {}),
    ...(cpuMemArena !== undefined ? { enableCpuMemArena: cpuMemArena } : {}),
    enableMemPattern: memPattern ?? false,
    extra: { session: { disable_prepacking: (prepackWeights ?? pack.manifest.precision === 'int8') ? '0' : '1' } },
  };
  const { encoder, zeroShot, fewShot } = pack.files;
  const thread = await SessionThread.open({ encoder, zeroShot, fewShot }, options);
  return { thread, inFlight: 0, retired: false };
}

/** Opens the pack's sessions on the first provider that works; a failed CUDA start is one warning line, then CPU. */
export async function createDetector(pack: Pack, options: DetectorOptions = {}): Promise<Detector> {
  const providers = options.providers?.length ? options.providers : (['cuda', 'cpu'] as Provider[]);
  const logger = options.logger ?? stderrLogger;
  // ORT's own native logger prints multi-line errors for a missing CUDA library; our single line replaces them.
  if (ort.env.logLevel === undefined || ort.env.logLevel === 'warning') ort.env.logLevel = 'fatal';
  if (providers.includes('tensorrt') && options.tensorrt) {
    for (const [key, value] of Object.entries(tensorRtEnvironment(options.tensorrt))) process.env[key] ??= value;
  }
  let sessions: Sessions | null = null;
  let provider: Provider | null = null;
  const failures: string[] = [];
  for (const candidate of providers) {
    try {
      sessions = await openSessions(pack, candidate, options);
      provider = candidate;
      break;
    } catch (err) {
      failures.push(`${candidate}: ${messageOf(err).split('\n')[0]}`);
    }
  }
  if (!sessions || !provider) throw new InferenceError(`pack ${pack.id}: no execution provider could open the sessions (${failures.join('; ')})`);
  // One line per fallback, naming the next provider tried.
  failures.forEach((f, i) => {
    const name = f.split(':')[0];
    const next = providers[i + 1]!;
    logger.warn(`adaptclip runtime: ${name} provider unavailable (${f.slice(name!.length + 2)}); ${next === provider ? `running on ${provider}` : `trying ${next}`}`);
  });
  return new OrtDetector(pack, provider, sessions, options);
}

function maxOf(values: Float32Array, from: number, to: number): number {
  let m = -Infinity;
  for (let i = from; i < to; i++) if (values[i]! > m) m = values[i]!;
  return m;
}

function finite(v: number): number {
  return Number.isFinite(v) ? v : 0;
}

class OrtDetector implements Detector {
  readonly pack: Pack;
  readonly provider: Provider;
  readonly #options: DetectorOptions;
  readonly #resizer: ResizePool;
  #sessions: Sessions | null;

  constructor(pack: Pack, provider: Provider, sessions: Sessions, options: DetectorOptions) {
    this.pack = pack;
    this.provider = provider;
    this.#sessions = sessions;
    this.#options = options;
    this.#resizer = new ResizePool(options.resizeThreads ?? Math.min(2, Math.max(1, availableParallelism() - 1)));
  }

  /** Runs one session call, counting it so recreate()/close() never release a session under a running call. */
  async #run(session: SessionName, feeds: Record<string, ort.Tensor>, keep?: string): Promise<Record<string, ort.Tensor>> {
    const set = this.#sessions;
    if (!set) throw new InferenceError(`detector for ${this.pack.id} is closed; create a new one or call recreate()`);
    set.inFlight++;
    try {
      return await set.thread.run(session, feeds, keep);
    } finally {
      set.inFlight--;
      if (set.retired && set.inFlight === 0) releaseSessions(set);
    }
  }

  async prepare(frame: ImageInput, roi?: Rect | null): Promise<PreparedFrame> {
    const t0 = performance.now();
    const image = await decodeImage(frame, this.#options.maxPixels ?? DEFAULT_MAX_PIXELS);
    const region = roi ?? (typeof frame === 'object' && !Buffer.isBuffer(frame) ? frame.roi : null) ?? null;
    // The crop is exact (a copy of the pixels, mode and samples kept), so the resize sees the sub-image as a file.
    const input = await this.#resizer.resize(region ? cropDecoded(image, region) : image, this.pack.size);
    return { image, input, preMs: performance.now() - t0, ...(region ? { roi: region } : {}) };
  }

  async runEncoder(batch: Uint8Array, count: number): Promise<EncoderOutput> {
    const S = this.pack.size;
    const t0 = performance.now();
    let out: Record<string, ort.Tensor>;
    try {
      out = await this.#run('encoder', { image: new ort.Tensor('uint8', batch, [count, S, S, 3]) });
    } catch (err) {
      if (err instanceof InferenceError) throw err;
      throw new InferenceError(`pack ${this.pack.id}: encoder failed on a batch of ${count} (${messageOf(err).split('\n')[0]}); recreate the detector`);
    }
    return { global: out.global!.data as Float32Array, patches: out.patches!.data as Float32Array, batch: count, ms: performance.now() - t0 };
  }

  async runHeads(encoded: EncoderOutput, memory?: ShotMemory | null): Promise<{ outputs: Record<string, ort.Tensor>; ms: number }> {
    const { dim: D, layers: L, patches: N } = this.pack;
    const B = encoded.batch;
    const feeds: Record<string, ort.Tensor> = {
      global: new ort.Tensor('float32', encoded.global, [B, D]),
      patches: new ort.Tensor('float32', encoded.patches, [B, L, N + 1, D]),
    };
    if (memory) {
      this.#checkMemory(memory);
      feeds.memory = new ort.Tensor('float32', memory.tensorData(), [L, memory.shots * N, D]);
    }
    const t0 = performance.now();
    try {
      const outputs = await this.#run(memory ? 'fewShot' : 'zeroShot', feeds, 'memory');
      return { outputs, ms: performance.now() - t0 };
    } catch (err) {
      if (err instanceof InferenceError) throw err;
      throw new InferenceError(`pack ${this.pack.id}: ${memory ? 'few' : 'zero'}-shot heads failed on a batch of ${B} (${messageOf(err).split('\n')[0]}); recreate the detector`);
    }
  }

  #checkMemory(memory: ShotMemory): void {
    if (!(memory instanceof ShotMemory)) throw new ShotMemoryError('shot memory: expected a ShotMemory (from encodeShots or deserializeShotMemory)');
    if (memory.packSha !== this.pack.sha256) {
      throw new ShotMemoryError(`shot memory: made by pack sha ${memory.packSha.slice(0, 12)}, not by ${this.pack.id}; recompute the shots with this pack`);
    }
    if (memory.shots < 1) throw new ShotMemoryError('shot memory: no shots; register at least one normal image of the product, or run zero-shot');
  }

  async #encodeAll(images: ImageInput[], roi?: Rect | null): Promise<EncoderOutput> {
    const prepared = await Promise.all(images.map((img) => this.prepare(img, roi)));
    return this.runEncoder(this.#stack(prepared), prepared.length);
  }

  #stack(frames: PreparedFrame[]): Uint8Array {
    const per = this.pack.size * this.pack.size * 3;
    const batch = new Uint8Array(frames.length * per);
    frames.forEach((f, i) => batch.set(f.input, i * per));
    return batch;
  }

  /** Patch tokens without the class token, each L2-normalised: one [L, N, D] block per image. */
  #memoryBlocks(encoded: EncoderOutput): Float32Array[] {
    const { dim: D, layers: L, patches: N } = this.pack;
    const blocks: Float32Array[] = [];
    for (let b = 0; b < encoded.batch; b++) {
      const block = new Float32Array(L * N * D);
      for (let l = 0; l < L; l++) {
        for (let n = 0; n < N; n++) {
          const src = ((b * L + l) * (N + 1) + n + 1) * D;
          const dst = (l * N + n) * D;
          let sq = 0;
          for (let d = 0; d < D; d++) sq += encoded.patches[src + d]! ** 2;
          // Same epsilon guard as torch's F.normalize (eps 1e-12).
          const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
          for (let d = 0; d < D; d++) block[dst + d] = encoded.patches[src + d]! * inv;
        }
      }
      blocks.push(block);
    }
    return blocks;
  }

  #checkShotList(images: ImageInput[]): void {
    if (!Array.isArray(images) || images.length === 0) {
      throw new ShotMemoryError('shots: the shot list is empty but few-shot was asked for; give 1 or more normal images of the product, or run zero-shot');
    }
  }

  /** One shot at a time: ORT's pool grows to the largest batch ever run and never shrinks, so a batch of K shots
   *  would keep K frames' worth of encoder temporaries for the process's life (batching gains nothing on a CPU). */
  async #encodeEach(images: ImageInput[], roi?: Rect | null): Promise<EncoderOutput[]> {
    const out: EncoderOutput[] = [];
    for (const image of images) out.push(await this.#encodeAll([image], roi));
    return out;
  }

  #memoryOf(encoded: EncoderOutput[]): ShotMemory {
    return new ShotMemory(this.pack.sha256, this.pack, encoded.flatMap((e) => this.#memoryBlocks(e)));
  }

  async encodeShots(images: ImageInput[], roi?: Rect | null): Promise<ShotMemory> {
    this.#checkShotList(images);
    return this.#memoryOf(await this.#encodeEach(images, roi));
  }

  async registerShots(images: ImageInput[], roi?: Rect | null): Promise<ShotRegistration> {
    this.#checkShotList(images);
    const encoded = await this.#encodeEach(images, roi);
    const memory = this.#memoryOf(encoded);
    const leaveOneOut: number[] = [];
    if (images.length >= 2) {
      for (let i = 0; i < images.length; i++) {
        // The heads on the shot's own encoder output: leave-one-out costs K head calls, no second encoder pass.
        const others = memory.select(images.map((_, k) => k).filter((k) => k !== i));
        const { outputs } = await this.runHeads(encoded[i]!, others);
        leaveOneOut.push(finite((outputs.score!.data as Float32Array)[0]!));
      }
    }
    return { memory, leaveOneOut };
  }

  async leaveOneOutScores(images: ImageInput[], roi?: Rect | null): Promise<number[]> {
    if (images.length < 2) throw new ShotMemoryError(`shots: leave-one-out needs at least 2 shots, got ${images.length}; the pack's default threshold applies`);
    return (await this.registerShots(images, roi)).leaveOneOut;
  }

  async infer(frames: ImageInput[], memory?: ShotMemory | null): Promise<Inference[]> {
    if (!Array.isArray(frames) || frames.length === 0) throw new RangeError('infer: no frames given; pass one or more images');
    const prepared: PreparedFrame[] = [];
    for (const f of frames) prepared.push(await this.prepare(f));
    return this.inferPrepared(prepared, memory);
  }

  async encodeKeeping(image: ImageInput, roi?: Rect | null): Promise<EncodedImage> {
    const prepared = await this.prepare(image, roi);
    const encoded = await this.runEncoder(prepared.input, 1);
    return { encoded, width: prepared.image.width, height: prepared.image.height, ...(prepared.roi ? { roi: prepared.roi } : {}) };
  }

  async inferEncoded(image: EncodedImage, memory?: ShotMemory | null): Promise<Inference> {
    if (memory) this.#checkMemory(memory);
    const meta = { preMs: 0, image: { width: image.width, height: image.height }, ...(image.roi ? { roi: image.roi } : {}) };
    const [inference] = await this.#judge([meta], { ...image.encoded, ms: 0 }, memory);
    return inference!;
  }

  memoryOfEncoded(image: EncodedImage): ShotMemory {
    return this.#memoryOf([image.encoded]);
  }

  async inferPrepared(frames: PreparedFrame[], memory?: ShotMemory | null): Promise<Inference[]> {
    if (memory) this.#checkMemory(memory);
    const encoded = await this.runEncoder(this.#stack(frames), frames.length);
    return this.#judge(frames, encoded, memory);
  }

  /** The heads on an encoder output, and each frame's inference from theirs. */
  async #judge(frames: FrameMeta[], encoded: EncoderOutput, memory?: ShotMemory | null): Promise<Inference[]> {
    const { outputs, ms: headsMs } = await this.runHeads(encoded, memory);
    const t0 = performance.now();
    const S = this.pack.size;
    const area = S * S;
    const data = (name: string) => outputs[name]?.data as Float32Array | undefined;
    const score = data('score')!, map = data('map')!, vaScore = data('va_score')!, taScore = data('ta_score')!;
    const vaMap = data('va_map')!, taMap = data('ta_map')!, pqScore = data('pq_score'), pqMap = data('pq_map'), alignMap = data('align_map');
    const results: Inference[] = frames.map((frame, b) => {
      const fused = new Float32Array(map.subarray(b * area, (b + 1) * area));
      for (let i = 0; i < area; i++) if (!Number.isFinite(fused[i]!)) fused[i] = 0;
      const branches: BranchDiagnostics = {
        va: finite(vaScore[b]!),
        ta: finite(taScore[b]!),
        vaMapMax: finite(maxOf(vaMap, b * area, (b + 1) * area)),
        taMapMax: finite(maxOf(taMap, b * area, (b + 1) * area)),
      };
      if (memory && pqScore && pqMap && alignMap) {
        branches.pq = finite(pqScore[b]!);
        branches.pqMapMax = finite(maxOf(pqMap, b * area, (b + 1) * area));
        branches.alignMapMax = finite(maxOf(alignMap, b * area, (b + 1) * area));
      }
      return {
        score: finite(score[b]!),
        map: fused,
        size: S,
        mode: memory ? 'few-shot' : 'zero-shot',
        shots: memory ? memory.shots : 0,
        branches,
        timings: { preMs: frame.preMs, encoderMs: encoded.ms, headsMs, postMs: 0 },
        width: frame.image.width,
        height: frame.image.height,
        ...(frame.roi ? { roi: frame.roi } : {}),
        batch: frames.length,
      };
    });
    const postMs = performance.now() - t0;
    for (const r of results) r.timings.postMs = postMs;
    return results;
  }

  async recreate(): Promise<void> {
    // New sessions first: a hung call keeps its old set (released when it returns, if ever); new calls use the new one.
    const fresh = await openSessions(this.pack, this.provider, this.#options);
    const old = this.#sessions;
    this.#sessions = fresh;
    retire(old);
  }

  async close(): Promise<void> {
    const old = this.#sessions;
    this.#sessions = null;
    retire(old);
    await this.#resizer.close();
  }
}

