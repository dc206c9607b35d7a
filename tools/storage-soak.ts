// Storage figure for kept images (not a test): one synthetic 640×480 camera at 5 fps with keepImages fail and about
// 20 % FAILs (a product threshold set at the 80th percentile of a warm-up's scores), for a few minutes, with the
// free-space watermark set just under the disk's current free space so retention has to hold it.
//   node --import tsx tools/storage-soak.ts [--minutes 5] [--fps 5] [--headroom-mb 8]
import { mkdirSync, writeFileSync } from 'node:fs';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { startHarness } from '../test/helpers/harness.ts';

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, fps: { type: 'string', default: '5' }, 'headroom-mb': { type: 'string', default: '8' } } });
const minutes = Number(args.minutes), fps = Number(args.fps), headroomMb = Number(args['headroom-mb']);
const free = () => { const s = statfsSync(tmpdir()); return Number(s.bavail) * Number(s.bsize); };
const mb = 1024 * 1024;
// agent/retention.ts starts pruning 10 % above the watermark: put that line `headroom` under today's free space.
const minFreeMb = Math.floor((free() / mb - headroomMb) / 1.1);

const h = await startHarness({
  cameras: [{ station: 'ST1', keepImages: 'fail', source: { type: 'synthetic', id: 'cam1', fps, width: 640, height: 480, seed: 21, defectRate: 0.2 } }],
  store: { minFreeMb, pruneIntervalS: 5 },
});
const store = h.daemon.store;
// Warm-up: the demo pack's zero-shot scores, to put the threshold where about one part in five fails.
await new Promise((r) => setTimeout(r, 20_000));
const scores = store.queryResults({ stationId: 'ST1', limit: 1000 }).filter((r) => r.outcome !== 'NO_VERDICT').map((r) => r.score).sort((a, b) => a - b);
const threshold = scores[Math.floor(scores.length * 0.8)]!;
const product = (await h.api<{ id: number }>('POST', '/api/products', { name: 'Soak', threshold })).body;
await h.api('POST', '/api/stations/ST1/activate', { productId: product.id });
// Counts from the outcome counter: retention under the watermark may delete rows, a counter keeps counting.
const failCount = async () => Number(/^adaptclip_outcomes_total\{camera="cam1",outcome="FAIL",reason=""\} (\d+)/m.exec(await (await fetch(`${h.url}/metrics`)).text())?.[1] ?? 0);
const allCount = async () => [...(await (await fetch(`${h.url}/metrics`)).text()).matchAll(/^adaptclip_outcomes_total\{camera="cam1"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
const failsAtStart = await failCount();
const allAtStart = await allCount();
const t0 = Date.now();
const samples: { s: number; freeMb: number; watermarkMb: number; stored: number; bytes: number; pruned: number }[] = [];
while (Date.now() - t0 < minutes * 60_000) {
  await new Promise((r) => setTimeout(r, 10_000));
  const st = store.imageStats();
  samples.push({ s: Math.round((Date.now() - t0) / 1000), freeMb: Math.round(free() / mb), watermarkMb: minFreeMb, stored: st.stored, bytes: st.bytes, pruned: st.prunedSinceOpen });
  console.log(JSON.stringify(samples.at(-1)));
}
const elapsedH = (Date.now() - t0) / 3_600_000;
const failsAll = await failCount();
const resultsSoak = (await allCount()) - allAtStart;
const kept = store.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(frame_jpeg)), 0) AS jpeg, COALESCE(SUM(LENGTH(map_png)), 0) AS map FROM result_images WHERE decided_at >= ? AND frame_jpeg IS NOT NULL').get(t0) as { n: number; jpeg: number; map: number };
const keptEver = failsAll - failsAtStart; // keepImages fail: one kept frame per FAIL
const metrics = await (await fetch(`${h.url}/metrics`)).text();
const keptBytesAll = Number(/^adaptclip_image_bytes_kept_total\{camera="cam1"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
// The byte counter includes the warm-up's FAILs (zero-shot): bytes per frame over every FAIL, rates over the soak only.
const keptBytes = failsAll ? Math.round((keptBytesAll / failsAll) * keptEver) : 0;
const st = store.imageStats();
const summary = {
  observed: true, fps, frame: '640x480', minutes, threshold, results: resultsSoak, failRate: keptEver / resultsSoak,
  framesStoredPerHour: Math.round(keptEver / elapsedH),
  bytesPerStoredFrame: keptEver ? Math.round(keptBytes / keptEver) : null, keptBytesTotal: keptBytes,
  jpegBytesPerFrame: kept.n ? Math.round(kept.jpeg / kept.n) : null, mapBytesPerFrame: kept.n ? Math.round(kept.map / kept.n) : null,
  diskPerDayMb: Math.round((keptBytes / elapsedH) * 24 / mb),
  watermarkMb: minFreeMb, minFreeSeenMb: Math.min(...samples.map((x) => x.freeMb)), imagesPrunedByRetention: st.prunedSinceOpen, imagesStoredAtEnd: st.stored,
};
console.log(JSON.stringify(summary, null, 2));
mkdirSync('bench-results', { recursive: true });
writeFileSync(`bench-results/storage-soak-${Date.now()}.json`, JSON.stringify({ summary, samples }, null, 2));
await h.stop();
