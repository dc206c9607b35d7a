// Overhead benchmark: bare ONNX Runtime session calls vs the full runtime path on the same frames.
// Both run in the same process, interleaved, so their ratio is fair even when the machine's speed drifts.
import sharp from 'sharp';
import { performance } from 'node:perf_hooks';
import type { Detector } from './detector.ts';
import { resizeForModel } from './image.ts';
import type { ShotMemory } from './shot-memory.ts';
import { judgeFrame, maskPng } from './verdict.ts';

export interface BenchSetting {
  shots: number;
  batch: number;
}

export interface BenchRow extends BenchSetting {
  /** Median ms per call over the measured iterations. */
  bareMs: number;
  fullMs: number;
  /** full / bare, of the medians. */
  ratio: number;
  /** Median of full/bare of calls made back to back (less sensitive to load drift). */
  pairedRatioMedian: number;
  bareMinMs: number;
  fullMinMs: number;
  /** fullMinMs / bareMinMs: the ratio on the least disturbed calls. */
  minRatio: number;
  /** Median of (full − bare) of calls made back to back: the runtime's own cost in ms. */
  pairedOverheadMs: number;
  /** Medians of the full path's parts (per batch). */
  parts: { decodeResizeMs: number; encoderMs: number; headsMs: number; postMs: number; verdictMs: number; maskPngMs: number };
}

export interface BenchReport {
  pack: string;
  provider: string;
  size: number;
  frame: { width: number; height: number; format: 'png' };
  iterations: number;
  warmup: number;
  rows: BenchRow[];
  /** Full-path time at K shots / zero-shot, batch 1, for each K > 0 measured. */
  fewShotRatios: { shots: number; full: number; fullPaired: number; bare: number; fullMin: number }[];
  /** The Pillow-exact resize alone (raw RGB camera frame → S×S×3), per frame size. */
  resize: ResizeRow[];
}

export interface ResizeRow {
  width: number;
  height: number;
  size: number;
  medianMs: number;
  minMs: number;
}

/** Typical camera resolutions: VGA, 1.3 MP (SXGA) and 5 MP (2448×2048) sensors. */
export const RESIZE_FRAMES = [{ width: 640, height: 480 }, { width: 1280, height: 1024 }, { width: 2448, height: 2048 }];

/** Times resizeForModel on raw RGB frames (as the drivers deliver them), `iterations` times after one warm-up. */
export function benchResize(size: number, frames: { width: number; height: number }[], iterations: number): ResizeRow[] {
  return frames.map(({ width, height }) => {
    const rgb = Buffer.alloc(width * height * 3);
    let state = (width * 31 + height) >>> 0;
    for (let i = 0; i < rgb.length; i++) rgb[i] = (state = (state * 1664525 + 1013904223) >>> 0) >>> 24;
    const frame = { data: rgb, width, height };
    resizeForModel(frame, size);
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      resizeForModel(frame, size);
      times.push(performance.now() - t0);
    }
    return { width, height, size, medianMs: median(times), minMs: Math.min(...times) };
  });
}

export const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A textured PNG, like a part under line light: smooth shading plus fine noise (realistic PNG decode cost). */
export async function syntheticFrame(width: number, height: number, seed: number): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3);
  let state = seed * 2654435761 >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (state * 1664525 + 1013904223) >>> 0;
      const noise = (state >>> 24) / 32;
      const o = (y * width + x) * 3;
      const shade = 90 + 60 * Math.sin((x + seed * 13) / 37) * Math.cos((y - seed * 7) / 53);
      rgb[o] = shade + noise;
      rgb[o + 1] = shade * 0.9 + noise;
      rgb[o + 2] = shade * 0.8 + 20 + noise;
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export interface BenchOptions {
  settings: BenchSetting[];
  frame?: { width: number; height: number };
  iterations?: number;
  warmup?: number;
  onProgress?: (message: string) => void;
}

export async function runBench(detector: Detector, options: BenchOptions): Promise<BenchReport> {
  const S = detector.pack.size;
  const frame = options.frame ?? { width: S, height: S };
  const iterations = options.iterations ?? 7;
  const warmup = options.warmup ?? 2;
  const maxBatch = Math.max(...options.settings.map((s) => s.batch));
  const maxShots = Math.max(...options.settings.map((s) => s.shots));
  const frames = await Promise.all(Array.from({ length: maxBatch }, (_, i) => syntheticFrame(frame.width, frame.height, i + 1)));
  const shotImages = await Promise.all(Array.from({ length: maxShots }, (_, i) => syntheticFrame(frame.width, frame.height, 100 + i)));
  const memories = new Map<number, ShotMemory | null>([[0, null]]);
  for (const k of new Set(options.settings.map((s) => s.shots))) {
    if (k > 0) memories.set(k, await detector.encodeShots(shotImages.slice(0, k)));
  }
  type FullRun = { total: number; decodeResizeMs: number; encoderMs: number; headsMs: number; postMs: number; verdictMs: number; maskPngMs: number };
  interface Case { setting: BenchSetting; bare: () => Promise<number>; full: () => Promise<FullRun>; bareTimes: number[]; fullRuns: FullRun[] }
  const cases: Case[] = [];
  for (const setting of options.settings) {
    const memory = memories.get(setting.shots)!;
    const inputs = frames.slice(0, setting.batch);
    // The bare path gets exactly the tensor the full path builds, prepared once outside the timing.
    const prepared = await Promise.all(inputs.map((f) => detector.prepare(f)));
    const batchTensor = new Uint8Array(setting.batch * S * S * 3);
    prepared.forEach((p, i) => batchTensor.set(p.input, i * S * S * 3));
    const bare = async () => {
      const t0 = performance.now();
      const encoded = await detector.runEncoder(batchTensor, setting.batch);
      await detector.runHeads(encoded, memory);
      return performance.now() - t0;
    };
    const full = async (): Promise<FullRun> => {
      const t0 = performance.now();
      const ready = await Promise.all(inputs.map((f) => detector.prepare(f)));
      const t1 = performance.now();
      const results = await detector.inferPrepared(ready, memory);
      const t2 = performance.now();
      const verdicts = results.map((r) => judgeFrame(r.score, r.map, r.size, r, { threshold: detector.pack.manifest.defaultThreshold }));
      const t3 = performance.now();
      await Promise.all(verdicts.map((v) => maskPng(v)));
      const t4 = performance.now();
      const r0 = results[0]!;
      return { total: t4 - t0, decodeResizeMs: t1 - t0, encoderMs: r0.timings.encoderMs, headsMs: r0.timings.headsMs, postMs: t2 - t1 - r0.timings.encoderMs - r0.timings.headsMs, verdictMs: t3 - t2, maskPngMs: t4 - t3 };
    };
    cases.push({ setting, bare, full, bareTimes: [], fullRuns: [] });
  }
  // Every setting runs once per round, bare and full alternating first, so all ratios (full/bare and
  // K-shot/zero-shot) compare calls made at the same time, even when other load on the machine drifts.
  for (let round = 0; round < warmup + iterations; round++) {
    for (const c of cases) {
      const measured = round >= warmup;
      if (round % 2) {
        const f = await c.full();
        const b = await c.bare();
        if (measured) c.fullRuns.push(f), c.bareTimes.push(b);
      } else {
        const b = await c.bare();
        const f = await c.full();
        if (measured) c.fullRuns.push(f), c.bareTimes.push(b);
      }
    }
    options.onProgress?.(`round ${round + 1}/${warmup + iterations}${round < warmup ? ' (warm-up)' : ''}`);
  }
  const rows: BenchRow[] = cases.map(({ setting, bareTimes, fullRuns }) => {
    const bareMs = median(bareTimes);
    const fullMs = median(fullRuns.map((r) => r.total));
    const part = (k: keyof FullRun) => median(fullRuns.map((r) => r[k]));
    const pairRatios = fullRuns.map((r, i) => r.total / bareTimes[i]!);
    return {
      ...setting,
      bareMs,
      fullMs,
      ratio: fullMs / bareMs,
      pairedRatioMedian: median(pairRatios),
      bareMinMs: Math.min(...bareTimes),
      fullMinMs: Math.min(...fullRuns.map((r) => r.total)),
      minRatio: Math.min(...fullRuns.map((r) => r.total)) / Math.min(...bareTimes),
      pairedOverheadMs: median(fullRuns.map((r, i) => r.total - bareTimes[i]!)),
      parts: { decodeResizeMs: part('decodeResizeMs'), encoderMs: part('encoderMs'), headsMs: part('headsMs'), postMs: part('postMs'), verdictMs: part('verdictMs'), maskPngMs: part('maskPngMs') },
    };
  });
  const zeroCase = cases.find((c) => c.setting.shots === 0 && c.setting.batch === 1);
  const fewShotRatios = zeroCase
    ? cases
        .filter((c) => c.setting.shots > 0 && c.setting.batch === 1)
        .map((c) => ({
          shots: c.setting.shots,
          full: median(c.fullRuns.map((r) => r.total)) / median(zeroCase.fullRuns.map((r) => r.total)),
          fullPaired: median(c.fullRuns.map((r, i) => r.total / zeroCase.fullRuns[i]!.total)),
          bare: median(c.bareTimes) / median(zeroCase.bareTimes),
          fullMin: Math.min(...c.fullRuns.map((r) => r.total)) / Math.min(...zeroCase.fullRuns.map((r) => r.total)),
        }))
    : [];
  const resize = benchResize(S, RESIZE_FRAMES, Math.max(iterations, 5));
  return { pack: detector.pack.id, provider: detector.provider, size: S, frame: { ...frame, format: 'png' }, iterations, warmup, rows, fewShotRatios, resize };
}

export interface VersusSide {
  pack: string;
  provider: string;
  /** Opening the sessions (the caller times createDetector). */
  loadMs?: number;
  /** Medians per frame (batch 1) over the measured rounds. */
  encoderMs: number;
  headsMs: number;
  totalMs: number;
  totalMinMs: number;
  /** Encoding the K shots and their leave-one-out scores (registerShots), once. */
  registrationMs: number | null;
}

export interface VersusRow {
  shots: number;
  a: VersusSide;
  b: VersusSide;
  /** b / a of the per-frame medians (encoder + heads): < 1 means B is faster. */
  ratio: number;
  /** Median of b/a over calls made back to back (less sensitive to load drift). */
  pairedRatioMedian: number;
  encoderRatio: number;
}

export interface VersusReport {
  size: number;
  iterations: number;
  warmup: number;
  rows: VersusRow[];
}

/**
 * Two packs of one image size timed in one run: per round each runs one frame (encoder + heads, batch 1) on the
 * same model input, the order alternating, so the ratio compares calls made at the same time.
 */
export async function runVersus(a: Detector, b: Detector, options: { shots: number[]; iterations?: number; warmup?: number; loadMs?: [number, number]; onProgress?: (m: string) => void }): Promise<VersusReport> {
  if (a.pack.size !== b.pack.size) throw new Error(`--vs: the packs take different image sizes (${a.pack.size} and ${b.pack.size}); compare packs of one size`);
  const S = a.pack.size;
  const iterations = options.iterations ?? 7;
  const warmup = options.warmup ?? 2;
  const maxShots = Math.max(0, ...options.shots);
  const frame = await syntheticFrame(S, S, 1);
  const shotImages = await Promise.all(Array.from({ length: maxShots }, (_, i) => syntheticFrame(S, S, 100 + i)));
  const input = (await a.prepare(frame)).input;
  const rows: VersusRow[] = [];
  for (const shots of options.shots) {
    const sides = [a, b].map((detector) => ({ detector, memory: null as ShotMemory | null, registrationMs: null as number | null, runs: [] as { encoderMs: number; headsMs: number }[] }));
    for (const side of sides) {
      if (!shots) continue;
      const t0 = performance.now();
      side.memory = shots >= 2 ? (await side.detector.registerShots(shotImages.slice(0, shots))).memory : await side.detector.encodeShots(shotImages.slice(0, shots));
      side.registrationMs = performance.now() - t0;
    }
    for (let round = 0; round < warmup + iterations; round++) {
      const order = round % 2 ? [sides[1]!, sides[0]!] : [sides[0]!, sides[1]!];
      for (const side of order) {
        const encoded = await side.detector.runEncoder(input, 1);
        const { ms } = await side.detector.runHeads(encoded, side.memory);
        if (round >= warmup) side.runs.push({ encoderMs: encoded.ms, headsMs: ms });
      }
      options.onProgress?.(`K=${shots} round ${round + 1}/${warmup + iterations}${round < warmup ? ' (warm-up)' : ''}`);
    }
    const summary = (side: (typeof sides)[number], i: number): VersusSide => ({
      pack: side.detector.pack.id,
      provider: side.detector.provider,
      ...(options.loadMs ? { loadMs: options.loadMs[i]! } : {}),
      encoderMs: median(side.runs.map((r) => r.encoderMs)),
      headsMs: median(side.runs.map((r) => r.headsMs)),
      totalMs: median(side.runs.map((r) => r.encoderMs + r.headsMs)),
      totalMinMs: Math.min(...side.runs.map((r) => r.encoderMs + r.headsMs)),
      registrationMs: side.registrationMs,
    });
    const [sa, sb] = [summary(sides[0]!, 0), summary(sides[1]!, 1)];
    const pairs = sides[0]!.runs.map((r, i) => (sides[1]!.runs[i]!.encoderMs + sides[1]!.runs[i]!.headsMs) / (r.encoderMs + r.headsMs));
    rows.push({ shots, a: sa, b: sb, ratio: sb.totalMs / sa.totalMs, pairedRatioMedian: median(pairs), encoderRatio: sb.encoderMs / sa.encoderMs });
  }
  return { size: S, iterations, warmup, rows };
}
