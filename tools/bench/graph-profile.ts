// Where an ONNX graph's time goes (not a test): runs one graph of a pack under ORT's profiler and sums the kernel
// time per op type, and writes ORT's optimised graph so the fusions it applied can be read. Feeds are seeded random
// (uint8 image, unit-norm memory of --shots shots).
//   node --import tsx tools/bench/graph-profile.ts --pack DIR [--graph encoder|zeroShot|fewShot] [--shots 4] [--runs 3]
//        [--optimized OUT.onnx] [--threads N]
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { loadPack } from '../../models/pack.ts';

const { values: args } = parseArgs({
  options: {
    pack: { type: 'string' }, graph: { type: 'string', default: 'encoder' }, shots: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' }, optimized: { type: 'string' }, threads: { type: 'string' },
  },
});
if (!args.pack) throw new Error('--pack DIR is required');
const pack = await loadPack(args.pack);
const graph = args.graph as 'encoder' | 'zeroShot' | 'fewShot';
if (!['encoder', 'zeroShot', 'fewShot'].includes(graph)) throw new Error(`--graph: "${args.graph}" is not encoder, zeroShot or fewShot`);
const prefix = join(tmpdir(), `graph-profile-${process.pid}`);
const session = await ort.InferenceSession.create(pack.files[graph], {
  executionProviders: ['cpu'], graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: prefix,
  ...(args.optimized ? { optimizedModelFilePath: args.optimized } : {}),
  ...(args.threads ? { intraOpNumThreads: Number(args.threads) } : {}),
});
const { size: S, dim: D, layers: L, patches: N } = pack;
let state = 12345;
const rand = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const image = new ort.Tensor('uint8', Uint8Array.from({ length: S * S * 3 }, () => Math.floor(rand() * 256)), [1, S, S, 3]);
let feeds: Record<string, ort.Tensor> = { image };
if (graph !== 'encoder') {
  const enc = await ort.InferenceSession.create(pack.files.encoder, { executionProviders: ['cpu'] });
  const out = await enc.run({ image });
  feeds = { global: out.global!, patches: out.patches! };
  await enc.release();
  if (graph === 'fewShot') {
    const K = Number(args.shots);
    const memory = Float32Array.from({ length: L * K * N * D }, () => rand() - 0.5);
    for (let r = 0; r < L * K * N; r++) {
      let sq = 0;
      for (let d = 0; d < D; d++) sq += memory[r * D + d]! ** 2;
      for (let d = 0; d < D; d++) memory[r * D + d]! /= Math.sqrt(sq);
    }
    feeds.memory = new ort.Tensor('float32', memory, [L, K * N, D]);
  }
}
const runs = Number(args.runs);
const walls: number[] = [];
for (let i = 0; i < runs + 1; i++) {
  const t0 = performance.now();
  await session.run(feeds);
  if (i > 0) walls.push(performance.now() - t0); // the first run is a warm-up
}
session.endProfiling();
await session.release();
// The node binding does not return the profile's name: it is <prefix>_<timestamp>.json.
const base = basename(prefix);
const found = readdirSync(tmpdir()).filter((f) => f.startsWith(base) && f.endsWith('.json'));
if (!found.length) throw new Error(`no ORT profile ${prefix}_*.json was written`);
const file = join(tmpdir(), found.sort().at(-1)!);
interface Event { cat: string; name: string; dur: number; args?: { op_name?: string } }
const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
rmSync(file, { force: true });
const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const runsSeen = runs + 1;
const byOp = new Map<string, number>();
for (const e of nodes) byOp.set(e.args?.op_name ?? '?', (byOp.get(e.args?.op_name ?? '?') ?? 0) + e.dur / 1000 / runsSeen);
const total = [...byOp.values()].reduce((a, b) => a + b, 0);
const rows = [...byOp.entries()].sort((a, b) => b[1] - a[1]).map(([op, ms]) => ({ op, ms: Number(ms.toFixed(2)), share: Number((ms / total).toFixed(3)) }));
process.stdout.write(`${JSON.stringify({ pack: pack.id, graph, wallMs: walls.map((w) => Math.round(w)), kernelMsPerRun: Math.round(total) })}\n`);
for (const r of rows) process.stdout.write(`${r.op.padEnd(28)} ${r.ms.toFixed(2).padStart(9)} ms  ${(r.share * 100).toFixed(1).padStart(5)} %\n`);
