// One pack opened twice with two ORT session settings, timed interleaved in one run (not a test): which CPU arena /
// memory-pattern / weight pre-packing setting costs what per frame. Prints the versus report (B / A) as JSON.
//   node --import tsx tools/bench/session-options.ts --pack DIR --a arena=on,pattern=on --b arena=on,pattern=off
//        [--shots 0,4] [--iterations 5] [--warmup 1]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createDetector, type DetectorOptions } from '../../models/detector.ts';
import { loadPack } from '../../models/pack.ts';
import { runVersus } from '../../models/bench.ts';

const { values: args } = parseArgs({
  options: {
    pack: { type: 'string' }, a: { type: 'string', default: 'arena=on,pattern=on' }, b: { type: 'string', default: 'arena=on,pattern=off' },
    shots: { type: 'string', default: '0,4' }, iterations: { type: 'string', default: '5' }, warmup: { type: 'string', default: '1' },
  },
});
if (!args.pack) throw new Error('--pack DIR is required');

function setting(text: string): DetectorOptions {
  const options: DetectorOptions = { providers: ['cpu'] };
  for (const pair of text.split(',')) {
    const [key, value] = pair.split('=');
    const known = { arena: 'cpuMemArena', pattern: 'memPattern', prepack: 'prepackWeights' } as const;
    if (!(key! in known) || (value !== 'on' && value !== 'off')) throw new Error(`"${pair}": expected arena, pattern or prepack =on|off`);
    options[known[key as keyof typeof known]] = value === 'on';
  }
  return options;
}

const pack = await loadPack(args.pack);
const open = async (text: string) => {
  const t0 = performance.now();
  const detector = await createDetector(pack, setting(text));
  return { detector, loadMs: performance.now() - t0 };
};
const a = await open(args.a);
const b = await open(args.b);
const report = await runVersus(a.detector, b.detector, {
  shots: args.shots.split(',').map(Number), iterations: Number(args.iterations), warmup: Number(args.warmup),
  loadMs: [a.loadMs, b.loadMs], onProgress: (m) => process.stderr.write(`${m}\n`),
});
for (const row of report.rows) process.stderr.write(`K=${row.shots}: ${args.b} / ${args.a} per frame ${row.ratio.toFixed(3)} (paired median ${row.pairedRatioMedian.toFixed(3)})\n`);
process.stdout.write(`${JSON.stringify({ a: args.a, b: args.b, ...report })}\n`);
await Promise.all([a.detector.close(), b.detector.close()]);
