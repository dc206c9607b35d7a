// `adaptclip-edge inspect`: run the detector on image files, one JSON line per image on stdout.
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  calibrateThreshold, createDetector, judgeFrame, loadPack, maskPng, overlayPng, regionProblems,
  type Detector, type InspectionRegion, type Polygon, type PreparedFrame, type Provider, type Rect, type ShotMemory, type ThresholdChoice,
} from '../../models/index.ts';

export interface RuntimeCliOptions {
  pack: string;
  providers?: string;
  threads?: string;
}

export function parseProviders(text: string | undefined): Provider[] | undefined {
  if (!text) return undefined;
  const list = text.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of list) if (p !== 'tensorrt' && p !== 'cuda' && p !== 'cpu') throw new Error(`--providers: "${p}" is not a provider; use tensorrt, cuda or cpu, tried in the order given (e.g. tensorrt,cuda,cpu)`);
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

/** `--roi x,y,w,h`: whole pixels, w and h ≥ 1 (whether it fits is checked against each image). */
export function parseRoi(text: string | undefined): Rect | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => p.trim());
  const n = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === '') || n.some((v) => !Number.isInteger(v))) {
    throw new Error(`--roi: "${text}" is not x,y,width,height in whole pixels (e.g. --roi 100,50,640,480)`);
  }
  const [x, y, width, height] = n as [number, number, number, number];
  if (x < 0 || y < 0 || width < 1 || height < 1) throw new Error(`--roi: "${text}" needs x, y ≥ 0 and width, height ≥ 1`);
  return { x, y, width, height };
}

/** `--ignore "x1,y1 x2,y2 x3,y3"`: a polygon of ≥ 3 points in whole frame pixels, not crossing itself. */
export function parseIgnore(text: string): Polygon {
  const points = text.trim().split(/\s+/).filter(Boolean).map((pair) => {
    const xy = pair.split(',');
    const [x, y] = xy.map(Number) as [number, number];
    if (xy.length !== 2 || xy.some((v) => v.trim() === '') || !Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0) {
      throw new Error(`--ignore: "${pair}" in "${text}" is not a point x,y in whole pixels ≥ 0`);
    }
    return [x, y] as [number, number];
  });
  // The frame size is not known yet: only the shape is checked here, the bounds per image.
  const shape = regionProblems({ ignore: [points] }, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)[0];
  if (shape) throw new Error(`--ignore "${text}": ${shape.replace(/^ignore\[0\]: /, '')}`);
  return points;
}

export function parseMinArea(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`--min-area: "${text}" is not a whole number of pixels ≥ 0`);
  return n;
}

/** The region options of inspect and eval, parsed (shape only); undefined when none was given. */
export function parseRegionOptions(opts: { roi?: string; ignore?: string[]; minArea?: string }): InspectionRegion | undefined {
  const roi = parseRoi(opts.roi);
  const ignore = (opts.ignore ?? []).map(parseIgnore);
  const minAreaPx = parseMinArea(opts.minArea);
  if (!roi && !ignore.length && minAreaPx === undefined) return undefined;
  return { ...(roi ? { roi } : {}), ...(ignore.length ? { ignore } : {}), ...(minAreaPx === undefined ? {} : { minAreaPx }) };
}

/** The region must fit each image it is used on; the message names the image and the part that does not fit. */
export function checkRegionFits(region: InspectionRegion | undefined, label: string, width: number, height: number): void {
  if (!region) return;
  const problems = regionProblems(region, width, height);
  if (problems.length) throw new Error(`${label}: ${problems.join('; ').replace(/^roi:/, '--roi').replace(/ignore\[(\d+)\]:/g, (_, i) => `--ignore #${Number(i) + 1}:`)}`);
}

interface InspectOptions extends RuntimeCliOptions {
  shot: string[];
  roi?: string;
  ignore: string[];
  minArea?: string;
  threshold?: string;
  out?: string;
  batch?: string;
  mode: string;
  minRegionPx?: string;
}

interface RunChoices {
  region?: InspectionRegion;
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
  const region = parseRegionOptions(opts);
  return {
    ...(region ? { region } : {}),
    ...(override === undefined ? {} : { override }),
    fewShot: opts.mode === 'few-shot' || (opts.mode === 'auto' && opts.shot.length > 0),
    batch: parsePositiveInt('--batch', opts.batch, 1),
    minRegionPx: parsePositiveInt('--min-region-px', opts.minRegionPx, 1),
  };
}

/** The shot memory and threshold for this run, chosen as the daemon would for a product. */
async function chooseReference(detector: Detector, shots: string[], choices: RunChoices): Promise<{ memory: ShotMemory | null; choice: ThresholdChoice }> {
  // registerShots refuses an empty list with a clear message when few-shot was demanded.
  const roi = choices.region?.roi;
  if (roi) {
    // Shots are cropped as the images are: the region must fit each of them.
    for (const shot of shots) {
      const { image } = await detector.prepare(shot);
      checkRegionFits({ roi }, `shot ${shot}`, image.width, image.height);
    }
  }
  if (!choices.fewShot) return { memory: null, choice: calibrateThreshold([], detector.pack.manifest.defaultThreshold, choices.override) };
  // One encoder pass per shot gives both the memory and the leave-one-out scores.
  const { memory, leaveOneOut } = await detector.registerShots(shots, roi);
  const loo = choices.override === undefined ? leaveOneOut : [];
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
          const frame = await detector.prepare(path, choices.region?.roi).catch((err: unknown) => {
            // The crop refuses a region that does not fit; say so in the options' words.
            if (err instanceof RangeError) throw new Error(`image ${path}: --roi ${err.message.replace(/^inspection region: /, '')}`);
            throw err;
          });
          checkRegionFits(choices.region, `image ${path}`, frame.image.width, frame.image.height);
          slots.push({ path, frame });
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
        const verdict = judgeFrame(r.score, r.map, r.size, r, {
          threshold: choice.threshold, minRegionPx: choices.minRegionPx,
          ...(choices.region ? { region: choices.region, fusion: { mode: r.mode, branches: r.branches } } : {}),
        });
        const verdictMs = performance.now() - t0;
        if (opts.out) {
          const stem = uniqueStem(slot.path, stems);
          await writeFile(join(opts.out, `${stem}.map.f32`), new Uint8Array(r.map.buffer, r.map.byteOffset, r.map.byteLength));
          await writeFile(join(opts.out, `${stem}.input.u8`), slot.frame.input);
          await writeFile(join(opts.out, `${stem}.mask.png`), await maskPng(verdict));
          await writeFile(join(opts.out, `${stem}.overlay.png`), await overlayPng(slot.frame.image, verdict, choices.region ? { region: choices.region } : {}));
        }
        const { regions: _regions, ...defects } = verdict.defects;
        line({
          image: slot.path,
          // With ignore areas or a minimum area the verdict's score is fused again (README "Inspection region").
          score: verdict.score,
          ...(verdict.score !== r.score ? { modelScore: r.score } : {}),
          ...(choices.region ? { region: choices.region } : {}),
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
    .option('--roi <x,y,w,h>', 'inspect only this rectangle (frame pixels): images and shots are cropped to it before the model\'s resize')
    .option('--ignore <points>', 'an ignore area, "x1,y1 x2,y2 x3,y3 …" (frame pixels, ≥ 3 points; repeat for more): nothing there is a defect', collect, [])
    .option('--min-area <n>', 'defect regions smaller than this many frame pixels are no defect')
    .option('--providers <list>', 'execution providers in order of preference: tensorrt, cuda, cpu (e.g. cuda,cpu)')
    .option('--threads <n>', 'ONNX Runtime threads per operator')
    .argument('<images...>', 'image files (PNG, JPEG, BMP, TIFF)')
    .action(async (images: string[], opts: InspectOptions) => {
      process.exitCode = await inspect(images, opts);
    });
}
