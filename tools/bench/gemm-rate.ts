// The CPU's fp32 GEMM rate through ONNX Runtime (not a test): a 2048² MatMul graph (written with Python's onnx
// package) timed in this process, interleaved with encoder calls of a pack, so "encoder GFLOP/s ÷ GEMM GFLOP/s" compares
// calls made at the same time. The encoder's GFLOP per image is counted from its dimensions (--vision-width,
// --blocks, --dual; ViT-L/14 at S = 518 by default: 1024, 24, 19).
//   node --import tsx tools/bench/gemm-rate.ts --pack DIR [--rounds 3] [--vision-width 1024] [--blocks 24] [--dual 19]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { loadPack } from '../../models/pack.ts';
import { median } from '../../models/bench.ts';

const { values: args } = parseArgs({
  options: {
    pack: { type: 'string' }, rounds: { type: 'string', default: '3' }, 'vision-width': { type: 'string', default: '1024' },
    blocks: { type: 'string', default: '24' }, dual: { type: 'string', default: '19' },
  },
});
if (!args.pack) throw new Error('--pack DIR is required');
const pack = await loadPack(args.pack);
const dir = mkdtempSync(join(tmpdir(), 'gemm-rate-'));
const gemmPath = join(dir, 'gemm.onnx');
const M = 2048;
execFileSync('/usr/bin/python3', ['-c', `
import onnx, sys
from onnx import helper, TensorProto as T
g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
    [helper.make_tensor_value_info("a", T.FLOAT, [${M}, ${M}]), helper.make_tensor_value_info("b", T.FLOAT, [${M}, ${M}])],
    [helper.make_tensor_value_info("c", T.FLOAT, [${M}, ${M}])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])`, gemmPath]);
const gemm = await ort.InferenceSession.create(gemmPath, { executionProviders: ['cpu'] });
const encoder = await ort.InferenceSession.create(pack.files.encoder, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
const a = new ort.Tensor('float32', Float32Array.from({ length: M * M }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [M, M]);
const S = pack.size;
const image = new ort.Tensor('uint8', Uint8Array.from({ length: S * S * 3 }, (_, i) => (i * 31) % 251), [1, S, S, 3]);
const C = Number(args['vision-width']), blocks = Number(args.blocks), dual = Number(args.dual);
const N = pack.patches + 1;
// Per block: qkv + out + MLP = 12·C² MACs per token, attention 2·N²·C MACs; a dual block adds the V-V attention
// and its out projection. Plus the patch embedding.
const macs = blocks * (12 * N * C * C + 2 * N * N * C) + dual * (2 * N * N * C + N * C * C) + pack.patches * C * 3 * pack.manifest.image.patch ** 2;
const encoderGflop = (2 * macs) / 1e9;
const gemmMs: number[] = [], encMs: number[] = [];
await gemm.run({ a, b: a });
await encoder.run({ image });
for (let r = 0; r < Number(args.rounds); r++) {
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await gemm.run({ a, b: a });
    gemmMs.push(performance.now() - t0);
  }
  const t0 = performance.now();
  await encoder.run({ image });
  encMs.push(performance.now() - t0);
}
const gemmRate = (2 * M ** 3) / 1e9 / (median(gemmMs) / 1000);
const encRate = encoderGflop / (median(encMs) / 1000);
await Promise.all([gemm.release(), encoder.release()]);
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ pack: pack.id, encoderGflop: Number(encoderGflop.toFixed(1)), encoderMsMedian: Math.round(median(encMs)), encoderGflops: Number(encRate.toFixed(1)), gemmMsMedian: Number(median(gemmMs).toFixed(1)), gemmGflops: Number(gemmRate.toFixed(1)), ratio: Number((encRate / gemmRate).toFixed(3)), encoderMs: encMs.map(Math.round), gemmMs: gemmMs.map(Math.round) })}\n`);
