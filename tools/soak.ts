// Soak benchmark (not a test): N synthetic cameras at F fps for M minutes on the real runtime, sampling RSS, open
// file descriptors, child processes and per-station outcome counters over time. Writes bench-results/soak-*.json.
//   node --import tsx tools/soak.ts --cameras 4 --fps 5 --minutes 10 [--interval 10] [--width 640 --height 480]
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startHarness } from '../test/helpers/harness.ts';

const { values: args } = parseArgs({
  options: {
    cameras: { type: 'string', default: '4' },
    fps: { type: 'string', default: '5' },
    minutes: { type: 'string', default: '10' },
    interval: { type: 'string', default: '10' },
    width: { type: 'string', default: '640' },
    height: { type: 'string', default: '480' },
    'max-batch': { type: 'string', default: '4' },
    out: { type: 'string' },
  },
});
const n = Number(args.cameras), fps = Number(args.fps), minutes = Number(args.minutes), intervalS = Number(args.interval);

function fds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Direct children and zombies among them, from /proc (a leaked ffmpeg or a zombie shows here). */
function children(): { total: number; zombies: number } {
  let total = 0, zombies = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      total++;
      if (fields[0] === 'Z') zombies++;
    } catch {
      /* exited */
    }
  }
  return { total, zombies };
}

const h = await startHarness({
  model: { maxBatch: Number(args['max-batch']), batchTimeoutMs: 10, inferTimeoutMs: 5000 },
  cameras: Array.from({ length: n }, (_, i) => ({
    station: `ST${i + 1}`,
    queue: { size: 4, policy: 'drop-oldest' },
    source: { type: 'synthetic', id: `cam${i + 1}`, fps, width: Number(args.width), height: Number(args.height), seed: i + 1 },
  })),
});
const t0 = Date.now();
const samples: Record<string, unknown>[] = [];
const sample = () => {
  const c = h.daemon.counters();
  const captured = Object.values(c).reduce((a, s) => a + s.captured, 0);
  const outcomes: Record<string, number> = {};
  for (const s of Object.values(c)) for (const [k, v] of Object.entries(s.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const pending = Object.values(c).reduce((a, s) => a + s.pending, 0);
  const mem = process.memoryUsage();
  const row = { tS: Math.round((Date.now() - t0) / 1000), rssMb: +(mem.rss / 1048576).toFixed(1), heapMb: +(mem.heapUsed / 1048576).toFixed(1), fds: fds(), ...children(), captured, pending, outcomes, inferenceRestarts: h.daemon.worker?.restarts ?? 0 };
  samples.push(row);
  console.log(JSON.stringify(row));
};
sample();
const timer = setInterval(sample, intervalS * 1000);
await new Promise((r) => setTimeout(r, minutes * 60_000));
clearInterval(timer);
sample();
await h.daemon.stop();
const final = h.daemon.counters();
const balanced = Object.values(final).every((s) => s.pending === 0 && s.captured === Object.values(s.outcomes).reduce((a, b) => a + b, 0));
// Growth after warm-up: compare the sample at 20 % of the run with the last one.
const warm = samples[Math.floor(samples.length * 0.2)] as { rssMb: number; fds: number };
const last = samples.at(-1) as { rssMb: number; fds: number; total: number; zombies: number };
const summary = {
  cameras: n, fps, minutes, width: Number(args.width), height: Number(args.height),
  capturedTotal: Object.values(final).reduce((a, s) => a + s.captured, 0),
  accountingBalanced: balanced,
  rssGrowthAfterWarmupPct: +((100 * (last.rssMb - warm.rssMb)) / warm.rssMb).toFixed(2),
  fdsWarm: warm.fds, fdsLast: last.fds, childrenLast: last.total, zombiesLast: last.zombies,
  perStation: final,
};
console.log(JSON.stringify({ summary }));
const out = args.out ?? `bench-results/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
mkdirSync('bench-results', { recursive: true });
writeFileSync(out, JSON.stringify({ summary, samples }, null, 2));
console.log(`wrote ${out}`);
await h.stop();
process.exit(balanced ? 0 : 1);
