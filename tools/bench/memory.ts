// Resident memory of one detector over a session's life (not a test): RSS after the sessions open, after the first
// frame, after a K-shot registration, after N few-shot frames and after one batch-B call, with ORT's CPU arena and
// memory pattern on or off. One process per option set, so RSS is this detector's alone.
//   node --import tsx tools/bench/memory.ts --pack DIR [--shots 4] [--frames 20] [--batch 4] [--arena on|off]
//        [--pattern on|off] [--prepack on|off (default: the runtime's, by precision)] [--threads N]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createDetector } from '../../models/detector.ts';
import { loadPack } from '../../models/pack.ts';
import { median, syntheticFrame } from '../../models/bench.ts';

const { values: args } = parseArgs({
  options: {
    pack: { type: 'string' }, shots: { type: 'string', default: '4' }, frames: { type: 'string', default: '20' },
    batch: { type: 'string', default: '0' }, arena: { type: 'string', default: 'on' }, pattern: { type: 'string', default: 'off' },
    prepack: { type: 'string' },
    threads: { type: 'string' },
  },
});
if (!args.pack) throw new Error('--pack DIR is required');
const onOff = (name: string, v: string) => {
  if (v !== 'on' && v !== 'off') throw new Error(`--${name}: "${v}" is not on or off`);
  return v === 'on';
};
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const marks: Record<string, number> = { start: rssMb() };
const pack = await loadPack(args.pack);
const t0 = performance.now();
const det = await createDetector(pack, {
  providers: ['cpu'], cpuMemArena: onOff('arena', args.arena), memPattern: onOff('pattern', args.pattern),
  ...(args.prepack ? { prepackWeights: onOff('prepack', args.prepack) } : {}),
  ...(args.threads ? { intraOpThreads: Number(args.threads) } : {}),
});
const loadMs = performance.now() - t0;
marks.open = rssMb();
const S = pack.size;
const frame = await syntheticFrame(S, S, 1);
await det.infer([frame]);
marks.firstFrame = rssMb();
const K = Number(args.shots);
const shots = await Promise.all(Array.from({ length: K }, (_, i) => syntheticFrame(S, S, 100 + i)));
const t1 = performance.now();
const { memory } = await det.registerShots(shots);
const registrationMs = performance.now() - t1;
marks.afterRegistration = rssMb();
const times: number[] = [];
for (let i = 0; i < Number(args.frames); i++) {
  const t = performance.now();
  await det.infer([frame], memory);
  times.push(performance.now() - t);
}
marks.afterFrames = rssMb();
const B = Number(args.batch);
if (B > 1) {
  await det.infer(Array.from({ length: B }, () => frame), memory);
  marks.afterBatch = rssMb();
  await det.infer([frame], memory);
  marks.afterBatchThenOne = rssMb();
}
await det.close();
process.stdout.write(`${JSON.stringify({ pack: pack.id, arena: args.arena, pattern: args.pattern, shots: K, frames: times.length, loadMs: Math.round(loadMs), registrationMs: Math.round(registrationMs), frameMsMedian: Math.round(median(times)), rssMb: marks })}\n`);
