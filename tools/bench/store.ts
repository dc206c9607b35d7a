// Store benchmark (not a test): what putting each frame on record before it is queued costs. Rounds alternate the
// old path (one result transaction per frame) and the crash-proof one (admit row, then the result transaction that
// removes it), so both are measured under the same load. Writes frames/s of each and their ratio as JSON.
//   node --import tsx tools/bench/store.ts [--frames 2000] [--rounds 6]
// fsyncs per frame: run it under `strace -f -c -e trace=fsync,fdatasync` (WAL with synchronous=NORMAL commits
// without an fsync; SQLite fsyncs at WAL checkpoints only).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Store, type ResultInput } from '../../agent/store/store.ts';

const { values: args } = parseArgs({ options: { frames: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '6' } } });
const frames = Number(args.frames), rounds = Number(args.rounds);
const dir = mkdtempSync(join(tmpdir(), 'store-bench-'));
const store = new Store(join(dir, 'agent.db'));

function result(seq: number, inFlightId?: number): ResultInput {
  const now = Date.now();
  return {
    stationId: 'ST1', cameraId: 'cam1', partId: `P-${seq}`, triggerSeq: 0, recipeId: 0, recipeName: 'bench', packId: 'bench@0',
    referenceVersion: 1, outcome: 'PASS', reason: null, verdictCode: 1, mode: 'zero-shot', shots: 0, score: 0.2, threshold: 0.5,
    defects: { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0], boxes: [] }, mask: null,
    capturedAt: now, decidedAt: now, totalMs: 40, queueMs: 1, inferenceMs: 30,
    frameSeq: seq, productId: null, width: 1280, height: 1024, keepMask: false, ...(inFlightId === undefined ? {} : { inFlightId }),
  };
}

let seq = 0;
const rate = { direct: [] as number[], admitted: [] as number[] };
for (let round = 0; round < rounds; round++) {
  for (const mode of round % 2 ? (['admitted', 'direct'] as const) : (['direct', 'admitted'] as const)) {
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) {
      seq++;
      if (mode === 'direct') store.recordResult(result(seq));
      else {
        const id = store.admitFrame({ stationId: 'ST1', cameraId: 'cam1', frameSeq: seq, partId: `P-${seq}`, triggerSeq: 0, productId: null, recipeId: 0,
          recipeName: 'bench', referenceVersion: 1, shots: 0, threshold: 0.5, capturedAt: Date.now(), width: 1280, height: 1024 });
        store.recordResult(result(seq, id));
      }
    }
    rate[mode].push(frames / ((performance.now() - t0) / 1000));
  }
}
store.close();
rmSync(dir, { recursive: true, force: true });
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const report = {
  frames, rounds,
  directFramesPerS: Math.round(median(rate.direct)),
  admittedFramesPerS: Math.round(median(rate.admitted)),
  admittedOverDirect: +(median(rate.admitted) / median(rate.direct)).toFixed(3),
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
