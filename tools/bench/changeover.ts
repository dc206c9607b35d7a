// Changeover benchmark (not a test): switching a live station between products whose shot features are cached.
// Reports activation time p50/p95/max over many switches, plus the first (uncached, encoding) activation.
//   node --import tsx tools/bench/changeover.ts [--switches 40] [--shots 4]
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { startHarness, waitFor } from '../../test/helpers/harness.ts';

const { values: args } = parseArgs({ options: { switches: { type: 'string', default: '40' }, shots: { type: 'string', default: '4' } } });
const switches = Number(args.switches), shots = Number(args.shots);
const h = await startHarness({ cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 5, width: 640, height: 480, seed: 7 } }] });
await waitFor(() => h.daemon.stations.get('ST1')!.latestFrame, 10_000, 'a frame');
const ids: number[] = [];
for (const name of ['bench-A', 'bench-B']) {
  const p = (await h.api<{ id: number }>('POST', '/api/products', { name })).body;
  for (let i = 0; i < shots; i++) {
    const f = h.daemon.stations.get('ST1')!.latestFrame!;
    const png = await sharp(f.rgb, { raw: { width: f.width, height: f.height, channels: 3 } }).png().toBuffer();
    h.daemon.store.addShot(p.id, { png, width: f.width, height: f.height, source: 'bench' }, 'bench');
  }
  ids.push(p.id);
}
const first = await h.daemon.changeover.activate('ST1', ids[0]!, 'bench');
const firstB = await h.daemon.changeover.activate('ST1', ids[1]!, 'bench');
const times: number[] = [];
for (let i = 0; i < switches; i++) times.push((await h.daemon.changeover.activate('ST1', ids[i % 2]!, 'bench')).ms);
times.sort((a, b) => a - b);
const q = (p: number) => +times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(2);
const result = {
  shotsPerProduct: shots, switches, frame: '640x480', pack: h.daemon.packId,
  uncachedFirstActivationMs: [+first.ms.toFixed(1), +firstB.ms.toFixed(1)], encodedShots: first.encodedShots + firstB.encodedShots,
  cachedMs: { p50: q(0.5), p95: q(0.95), max: q(1) }, under100ms: times.every((t) => t < 100),
};
console.log(JSON.stringify(result, null, 2));
mkdirSync('bench-results', { recursive: true });
writeFileSync(`bench-results/changeover-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify(result, null, 2));
await h.stop();
