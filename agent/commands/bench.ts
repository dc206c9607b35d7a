// `adaptclip-edge bench`: bare ONNX Runtime calls vs the full runtime path, medians and ratios as JSON.
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench, runVersus, type BenchSetting } from '../../models/bench.ts';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT, runExporter } from './pack.ts';
import { openDetector, parsePositiveInt } from './inspect.ts';

interface BenchCliOptions {
  pack?: string;
  size?: string;
  shots: string;
  batch: string;
  frame?: string;
  iterations: string;
  warmup: string;
  out?: string;
  providers?: string;
  threads?: string;
  vs?: string;
}

function parseList(name: string, text: string, min: number): number[] {
  const list = text.split(',').map((v) => Number(v.trim()));
  if (!list.length || list.some((v) => !Number.isInteger(v) || v < min)) throw new Error(`${name}: "${text}" is not a comma-separated list of whole numbers ≥ ${min}`);
  return list;
}

function exporterDigest(): string {
  const folder = join(REPO_ROOT, 'models', 'export');
  const hash = createHash('sha256');
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.py')).sort()) hash.update(file).update(readFileSync(join(folder, file)));
  return hash.digest('hex').slice(0, 12);
}

/**
 * A benchmark-size random pack (real token count: S=518, P=14 → N=1369; width 256, 8 blocks) built once
 * with the exporter into the temp folder.
 */
export async function benchmarkPack(size: number): Promise<string> {
  if (size % 14) throw new Error(`--size: ${size} is not a multiple of the patch size 14; use e.g. 518 or 224`);
  // Keyed by the exporter's sources too: a pack built by an older exporter (other graphs) is never reused.
  const dir = join(tmpdir(), 'adaptclip-bench-packs', `s${size}-p14-w256-l8-${exporterDigest()}`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  const work = `${dir}.tmp-${process.pid}`;
  mkdirSync(work, { recursive: true });
  process.stderr.write(`bench: building a random benchmark pack at S=${size} with the exporter (once) into ${dir}\n`);
  const code = await runExporter(['--tiny', '--seed', '518', '--size', String(size), '--patch', '14', '--width', '256', '--layers', '8', '--out', join(work, 'pack')]);
  if (code !== 0) throw new Error(`the exporter failed (exit ${code}) building the benchmark pack; see its messages above`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(join(work, 'pack'), dir);
  rmSync(work, { recursive: true, force: true });
  return dir;
}

async function bench(opts: BenchCliOptions): Promise<void> {
  const shots = parseList('--shots', opts.shots, 0);
  const batches = parseList('--batch', opts.batch, 1);
  const iterations = parsePositiveInt('--iterations', opts.iterations, 7);
  const warmup = parsePositiveInt('--warmup', opts.warmup, 2);
  let frame: { width: number; height: number } | undefined;
  if (opts.frame) {
    const m = /^(\d+)x(\d+)$/.exec(opts.frame);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--frame: "${opts.frame}" is not WIDTHxHEIGHT, e.g. 1280x1024`);
    frame = { width: Number(m[1]), height: Number(m[2]) };
  }
  const size = opts.size === undefined ? undefined : parsePositiveInt('--size', opts.size, 518);
  const packDir = opts.pack ?? (await benchmarkPack(size ?? 518));
  if (opts.vs !== undefined) return versus(packDir, opts.vs, shots, iterations, warmup, opts);
  const detector = await openDetector({ pack: packDir, ...(opts.providers ? { providers: opts.providers } : {}), ...(opts.threads ? { threads: opts.threads } : {}) });
  try {
    if (size !== undefined && detector.pack.size !== size) throw new Error(`--size ${size} does not match the pack's image size ${detector.pack.size}; drop --size or --pack`);
    const settings: BenchSetting[] = shots.flatMap((k) => batches.map((b) => ({ shots: k, batch: b })));
    const report = await runBench(detector, { settings, iterations, warmup, ...(frame ? { frame } : {}), onProgress: (m) => process.stderr.write(`bench: ${m}\n`) });
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (opts.out) await writeFile(opts.out, text);
    process.stdout.write(text);
  } finally {
    await detector.close();
  }
}

/** `--vs B`: the two packs interleaved in one run, B's per-frame time over A's. */
async function versus(packA: string, packB: string, shots: number[], iterations: number, warmup: number, opts: BenchCliOptions): Promise<void> {
  const open = async (pack: string) => {
    const t0 = performance.now();
    const detector = await openDetector({ pack, ...(opts.providers ? { providers: opts.providers } : {}), ...(opts.threads ? { threads: opts.threads } : {}) });
    return { detector, ms: performance.now() - t0 };
  };
  const a = await open(packA);
  try {
    const b = await open(packB);
    try {
      const report = await runVersus(a.detector, b.detector, { shots, iterations, warmup, loadMs: [a.ms, b.ms], onProgress: (m) => process.stderr.write(`bench: ${m}\n`) });
      const text = `${JSON.stringify(report, null, 2)}\n`;
      if (opts.out) await writeFile(opts.out, text);
      process.stdout.write(text);
      for (const r of report.rows) {
        process.stderr.write(`bench: K=${r.shots}: ${r.b.pack} / ${r.a.pack} = ${r.ratio.toFixed(3)} per frame (paired median ${r.pairedRatioMedian.toFixed(3)}, encoder ${r.encoderRatio.toFixed(3)}; ${r.a.totalMs.toFixed(1)} vs ${r.b.totalMs.toFixed(1)} ms)\n`);
      }
    } finally {
      await b.detector.close();
    }
  } finally {
    await a.detector.close();
  }
}

export function registerBenchCommands(program: Command): void {
  program
    .command('bench')
    .description('time bare ONNX Runtime session calls vs the full runtime path (decode/resize → score, map, mask, PNG); JSON out')
    .option('--pack <dir>', 'model pack; default: a random benchmark pack at --size built with the exporter')
    .option('--size <S>', 'image size of the benchmark pack to build (multiple of 14)', undefined)
    .option('--shots <list>', 'shot counts to measure', '0,1,4')
    .option('--batch <list>', 'batch sizes to measure', '1,4')
    .option('--frame <WxH>', 'frame resolution of the PNG frames fed to the full path (default S×S)')
    .option('--iterations <n>', 'measured calls per setting (median)', '7')
    .option('--warmup <n>', 'unmeasured calls per setting first', '2')
    .option('--out <file>', 'also write the JSON report here')
    .option('--providers <list>', 'execution providers in order of preference: tensorrt, cuda, cpu (e.g. cuda,cpu)')
    .option('--threads <n>', 'ONNX Runtime threads per operator')
    .option('--vs <dir>', 'a second pack of the same image size: both timed interleaved per frame (batch 1, --shots), B/A ratio printed')
    .action(async (opts: BenchCliOptions) => {
      await bench(opts);
    });
}
