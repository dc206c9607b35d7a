// `adaptclip-edge inspect`: run the detector on image files, one JSON line per image on stdout.
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  calibrateThreshold, createDetector, judgeFrame, loadPack, maskPng, overlayPng,
  type Detector, type PreparedFrame, type Provider, type ShotMemory, type ThresholdChoice,
} from '../../models/index.ts';

export interface RuntimeCliOptions {
  pack: string;
  providers?: string;
  threads?: string;
}

export function parseProviders(text: string | undefined): Provider[] | undefined {
  if (!text) return undefined;
  const list = text.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of list) if (p !== 'cuda' && p !== 'cpu') throw new Error(`--providers: "${p}" is not a provider; use cuda, cpu or cuda,cpu`);
  return list as Provider[];
}

export function parsePositiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${text}" is not a positive whole number`);
  return n;
}

export async function openDetector(opts: RuntimeCliOptions): Promise<Detector> {
  const pack = await loadPack(opts.pack);
  const threads = opts.threads === undefined ? undefined : parsePositiveInt('--threads', opts.threads, 1);
  return createDetector(pack, { providers: parseProviders(opts.providers), ...(threads ? { intraOpThreads: threads } : {}) });
}

/** File stem for outputs; a repeated stem gets -2, -3, … so nothing is overwritten. */
function uniqueStem(path: string, used: Map<string, number>): string {
  const stem = basename(path, extname(path)) || 'image';
  const n = (used.get(stem) ?? 0) + 1;
  used.set(stem, n);
  return n === 1 ? stem : `${stem}-${n}`;
}

interface InspectOptions extends RuntimeCliOptions {
  shot: string[];
  threshold?: string;
  out?: string;
  batch?: string;
  mode: string;
  minRegionPx?: string;
}

interface RunChoices {
  override?: number;
  fewShot: boolean;
  batch: number;
  minRegionPx: number;
}

/** Checks every option before the pack is opened, so a typo costs nothing. */
function parseChoices(opts: InspectOptions): RunChoices {
  let override: number | undefined;
  if (opts.threshold !== undefined) {
    override = Number(opts.threshold);
    if (opts.threshold.trim() === '' || !Number.isFinite(override) || override < 0 || override > 1) {
      throw new Error(`--threshold: "${opts.threshold}" is not a number between 0 and 1`);
    }
  }
  if (!['auto', 'zero-shot', 'few-shot'].includes(opts.mode)) throw new Error(`--mode: "${opts.mode}" is not one of auto, zero-shot, few-shot`);
  if (opts.mode === 'zero-shot' && opts.shot.length) throw new Error('--mode zero-shot was given together with --shot images; drop one of them');
  return {
    ...(override === undefined ? {} : { override }),
    fewShot: opts.mode === 'few-shot' || (opts.mode === 'auto' && opts.shot.length > 0),
    batch: parsePositiveInt('--batch', opts.batch, 1),
    minRegionPx: parsePositiveInt('--min-region-px', opts.minRegionPx, 1),
  };
}

/** The shot memory and threshold for this run, chosen as the daemon would for a product. */
async function chooseReference(detector: Detector, shots: string[], choices: RunChoices): Promise<{ memory: ShotMemory | null; choice: ThresholdChoice }> {
  // encodeShots refuses an empty list with a clear message when few-shot was demanded.
  const memory = choices.fewShot ? await detector.encodeShots(shots) : null;
  const loo = choices.fewShot && choices.override === undefined && shots.length >= 2 ? await detector.leaveOneOutScores(shots) : [];
  return { memory, choice: calibrateThreshold(loo, detector.pack.manifest.defaultThreshold, choices.override) };
}

async function inspect(images: string[], opts: InspectOptions): Promise<number> {
  const choices = parseChoices(opts);
  const detector = await openDetector(opts);
  let failures = 0;
  try {
    const { memory, choice } = await chooseReference(detector, opts.shot, choices);
    if (opts.out) await mkdir(opts.out, { recursive: true });
    const stems = new Map<string, number>();
    const line = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);
    for (let i = 0; i < images.length; i += choices.batch) {
      // Lines come out in input order; a bad image is reported in its place and the rest still run.
      const slots: ({ path: string; frame: PreparedFrame } | { path: string; error: string })[] = [];
      for (const path of images.slice(i, i + choices.batch)) {
        try {
          slots.push({ path, frame: await detector.prepare(path) });
        } catch (err) {
          failures++;
          const message = err instanceof Error ? err.message : String(err);
          process.stderr.write(`adaptclip-edge inspect: ${message}\n`);
          slots.push({ path, error: message });
        }
      }
      const ready = slots.filter((s) => 'frame' in s);
      const results = ready.length ? await detector.inferPrepared(ready.map((s) => s.frame), memory) : [];
      for (const slot of slots) {
        if ('error' in slot) {
          line({ image: slot.path, error: slot.error });
          continue;
        }
        const r = results[ready.indexOf(slot)]!;
        const t0 = performance.now();
        const verdict = judgeFrame(r.score, r.map, r.size, r, { threshold: choice.threshold, minRegionPx: choices.minRegionPx });
        const verdictMs = performance.now() - t0;
        if (opts.out) {
          const stem = uniqueStem(slot.path, stems);
          await writeFile(join(opts.out, `${stem}.map.f32`), new Uint8Array(r.map.buffer, r.map.byteOffset, r.map.byteLength));
          await writeFile(join(opts.out, `${stem}.input.u8`), slot.frame.input);
          await writeFile(join(opts.out, `${stem}.mask.png`), await maskPng(verdict));
          await writeFile(join(opts.out, `${stem}.overlay.png`), await overlayPng(slot.frame.image, verdict));
        }
        const { regions: _regions, ...defects } = verdict.defects;
        line({
          image: slot.path,
          score: r.score,
          threshold: choice.threshold,
          thresholdSource: choice.source,
          verdict: verdict.verdict,
          mode: r.mode,
          shots: r.shots,
          defects,
          width: r.width,
          height: r.height,
          branches: r.branches,
          timings: { ...r.timings, verdictMs, batch: r.batch },
          pack: detector.pack.id,
          provider: detector.provider,
        });
      }
    }
  } finally {
    await detector.close();
  }
  return failures ? 1 : 0;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerInspectCommands(program: Command): void {
  program
    .command('inspect')
    .description('inspect image files: one JSON line per image (score, threshold, verdict, mode, shots, defects, timings)')
    .requiredOption('--pack <dir>', 'model pack directory')
    .option('--shot <img>', 'a normal image of the product (repeat for K shots); with shots the run is few-shot', collect, [])
    .option('--threshold <t>', 'image threshold 0..1; default: calibrated from ≥ 2 shots, else the pack default')
    .option('--mode <mode>', 'auto (few-shot when shots are given), zero-shot or few-shot', 'auto')
    .option('--out <dir>', 'write <name>.map.f32 (S×S float32 LE), <name>.input.u8 (the model input, S×S×3 RGB), <name>.mask.png and <name>.overlay.png')
    .option('--batch <n>', 'frames per inference call', '1')
    .option('--min-region-px <n>', 'ignore defect regions smaller than this (frame pixels)', '1')
    .option('--providers <list>', 'execution providers in order of preference (cuda,cpu)')
    .option('--threads <n>', 'ONNX Runtime threads per operator')
    .argument('<images...>', 'image files (PNG, JPEG, BMP, TIFF)')
    .action(async (images: string[], opts: InspectOptions) => {
      process.exitCode = await inspect(images, opts);
    });
}
