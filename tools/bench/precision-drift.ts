// How far converted packs drift from their fp32 pack (not a test): on the ../shared/fidelity cases (original image
// files, the official shots) each pack's final score and map against the fp32 pack's and the official outputs; on an
// MVTec-layout dataset, eval's I-AUROC and P-AUPR for each pack and their change vs fp32.
//   node --import tsx tools/bench/precision-drift.ts --fp32 DIR --other DIR [--other DIR] [--fidelity DIR]
//        [--data DIR --shots K --seeds 0,1]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDetector, loadPack, type Detector } from '../../models/index.ts';
import { readMvtec } from '../../models/eval/dataset.ts';
import { evaluate } from '../../models/eval/run.ts';

const { values: args } = parseArgs({
  options: { fp32: { type: 'string' }, other: { type: 'string', multiple: true }, fidelity: { type: 'string' }, data: { type: 'string' }, shots: { type: 'string', default: '2' }, seeds: { type: 'string', default: '0,1' } },
});
if (!args.fp32 || !args.other?.length) throw new Error('--fp32 DIR and at least one --other DIR are required');
const open = async (dir: string) => createDetector(await loadPack(dir), { providers: ['cpu'] });
const detectors: Detector[] = [await open(args.fp32), ...(await Promise.all(args.other.map(open)))];
const label = (d: Detector) => `${d.pack.id} (${d.pack.manifest.precision ?? 'fp32'})`;
const report: Record<string, unknown> = { packs: detectors.map(label) };

if (args.fidelity) {
  const expected = JSON.parse(readFileSync(join(args.fidelity, 'expected.json'), 'utf8')) as { cases: { k: number; query: string; shots: string[]; score: number; map: string }[] };
  const rows = [];
  for (const c of expected.cases) {
    const officialMap = new Float32Array(readFileSync(join(args.fidelity, c.map)).buffer.slice(0));
    const results = [];
    for (const d of detectors) {
      const memory = c.k ? (await d.registerShots(c.shots.map((s) => join(args.fidelity!, s)))).memory : null;
      const [r] = await d.infer([join(args.fidelity, c.query)], memory);
      results.push(r!);
    }
    const [base, ...rest] = results;
    const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    rows.push({
      case: `k${c.k} ${c.query}`,
      fp32VsOfficial: { score: Math.abs(base!.score - c.score), map: maxAbs(base!.map, officialMap) },
      converted: rest.map((r, i) => ({ pack: label(detectors[i + 1]!), scoreVsFp32: Math.abs(r.score - base!.score), mapVsFp32: maxAbs(r.map, base!.map), scoreVsOfficial: Math.abs(r.score - c.score), mapVsOfficial: maxAbs(r.map, officialMap) })),
    });
  }
  report.fidelity = rows;
}

if (args.data) {
  const classes = readMvtec(args.data);
  const seeds = args.seeds!.split(',').map(Number);
  const metrics: { pack: string; iAuroc: number; pAupr: number; pAuroc: number }[] = [];
  for (const d of detectors) {
    const r = await evaluate(d, classes, { shots: Number(args.shots), seeds });
    metrics.push({ pack: label(d), iAuroc: r.mean.iAuroc, pAupr: r.mean.pAupr, pAuroc: r.mean.pAuroc });
  }
  report.eval = metrics.map((m) => ({ ...m, dIAuroc: m.iAuroc - metrics[0]!.iAuroc, dPAupr: m.pAupr - metrics[0]!.pAupr }));
}
await Promise.all(detectors.map((d) => d.close()));
process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
