// `adaptclip-edge eval`: metrics on an MVTec AD style dataset, JSON + self-contained HTML report.
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readMvtec } from '../../models/eval/dataset.ts';
import { renderHtml } from '../../models/eval/report.ts';
import { evaluate, prepareMapsDir, type EvalReport } from '../../models/eval/run.ts';
import { openDetector, parsePositiveInt, parseRegionOptions } from './inspect.ts';

interface EvalCliOptions {
  pack: string;
  data: string;
  shots: string;
  seeds: string;
  classes?: string;
  out: string;
  pixelSize?: string;
  saveMaps?: string;
  batch: string;
  providers?: string;
  threads?: string;
  roi?: string;
  ignore: string[];
  minArea?: string;
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise (logs, CI). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): (done: number, total: number, label: string) => void {
  let lastDecile = -1;
  return (done, total, label) => {
    const width = 30;
    const filled = Math.round((width * done) / total);
    const text = `eval [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`;
    if (stream.isTTY) {
      stream.write(`\r${text}\x1b[K${done === total ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor((10 * done) / total);
    if (decile !== lastDecile) {
      lastDecile = decile;
      stream.write(`${text}\n`);
    }
  };
}

function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((s) => Number(s.trim()));
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`--seeds: "${text}" is not a comma-separated list of whole numbers ≥ 0`);
  return seeds;
}

async function runEval(opts: EvalCliOptions): Promise<void> {
  const shots = Number(opts.shots);
  if (!Number.isInteger(shots) || shots < 0) throw new Error(`--shots: "${opts.shots}" is not a whole number ≥ 0`);
  const seeds = parseSeeds(opts.seeds);
  const classes = readMvtec(opts.data, opts.classes ? opts.classes.split(',').map((c) => c.trim()) : undefined);
  for (const c of classes) if (c.train.length < shots) throw new Error(`--shots ${shots}: class "${c.name}" has only ${c.train.length} images in train/good`);
  const batch = parsePositiveInt('--batch', opts.batch, 4);
  const pixelSize = opts.pixelSize === undefined ? undefined : parsePositiveInt('--pixel-size', opts.pixelSize, 256);
  const region = parseRegionOptions(opts);
  // Before the model loads: a folder we cannot write to should not cost a whole evaluation.
  if (opts.saveMaps) await prepareMapsDir(opts.saveMaps);
  const detector = await openDetector(opts);
  let report: EvalReport;
  try {
    report = await evaluate(detector, classes, {
      shots,
      seeds,
      batch,
      ...(pixelSize ? { pixelSize } : {}),
      ...(opts.saveMaps ? { saveMaps: opts.saveMaps } : {}),
      ...(region ? { region } : {}),
      onProgress: progressBar(),
      onWarning: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    await detector.close();
  }
  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, 'eval.json'), `${JSON.stringify(report, null, 1)}\n`);
  await writeFile(join(opts.out, 'report.html'), renderHtml(report));
  const summary = {
    pack: report.pack,
    shots: report.shots,
    seeds: report.seeds,
    pixelSize: report.pixelSize,
    mean: report.mean,
    classes: Object.fromEntries(report.classes.map((c) => [c.name, c.mean])),
    json: join(opts.out, 'eval.json'),
    html: join(opts.out, 'report.html'),
    ...(report.savedMaps ? { maps: join(report.savedMaps, 'index.json') } : {}),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

export function registerEvalCommands(program: Command): void {
  program
    .command('eval')
    .description(
      'evaluate on an MVTec AD style dataset with the official AdaptCLIP test protocol: I-AUROC, I-AP, I-F1max, P-AUROC, P-AUPR, P-F1max, AUPRO (FPR ≤ 0.3) per class and seed, means over seeds and classes; plus overkill at 2/5 % escape',
    )
    .requiredOption('--pack <dir>', 'model pack directory')
    .requiredOption('--data <root>', 'dataset root: <class>/train/good, <class>/test/<type>, <class>/ground_truth/<type>/*_mask.png')
    .option('--shots <k>', 'normal shots drawn from train/good per seed (0 = zero-shot)', '0')
    .option('--seeds <list>', 'seeds for drawing the shots', '0,1,2')
    .option('--classes <list>', 'only these classes')
    .option('--out <dir>', 'where eval.json and report.html go', 'adaptclip-eval')
    .option('--pixel-size <n>', 'pixel metrics on an n×n grid instead of the official S×S: map bilinear, S×S ground truth nearest (the official Real-IAD protocol is 256)')
    .option('--save-maps <dir>', 'also write each image\'s map (.f32, float32 LE, row-major) and ground truth (.u8, 0/1) as the metrics used them, with index.json (path, label, score, files, metrics)')
    .option('--batch <n>', 'frames per inference call', '4')
    .option('--roi <x,y,w,h>', 'as inspect: every image and shot cropped to this rectangle (frame pixels) before the resize')
    .option('--ignore <points>', 'as inspect: an ignore area "x1,y1 x2,y2 x3,y3 …" (repeat for more); its pixels count as normal', (v: string, prev: string[]) => [...prev, v], [])
    .option('--min-area <n>', 'as inspect: defect regions smaller than this many frame pixels do not count towards the image score')
    .option('--providers <list>', 'execution providers in order of preference: tensorrt, cuda, cpu (e.g. cuda,cpu)')
    .option('--threads <n>', 'ONNX Runtime threads per operator')
    .action(async (opts: EvalCliOptions) => {
      await runEval(opts);
    });
}
