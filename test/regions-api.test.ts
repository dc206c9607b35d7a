// Inspection region API on a real daemon: bad input is refused naming the problem with nothing stored; a region is a
// new reference set (audited, restorable); live verdicts then see defects only inside the region, none in ignore areas.
import test from 'ava';
import sharp from 'sharp';
import { startHarness, waitFor, TEST_TOKEN, type Harness } from './helpers/harness.ts';
import { roiKey } from '../models/regions.ts';

interface RegionView { productId: number; referenceSet: number; region: { roi: { x: number; y: number; width: number; height: number } | null; ignore: [number, number][][]; minAreaPx: number | null } | null; checkedAgainst: { source: string; width: number; height: number }[] }
interface SetView { version: number; action: string; region: RegionView['region']; current: boolean }

let h: Harness;
test.before(async () => {
  h = await startHarness({ http: { host: '127.0.0.1', port: 0, token: TEST_TOKEN } });
  await waitFor(() => h.daemon.stations.get('ST1')!.latestFrame, 10_000, 'a first frame');
});
test.after.always(() => h?.stop());

// The synthetic camera is 160×120.
const roi = { x: 20, y: 10, width: 120, height: 100 };
const band: [number, number][] = [[60, 10], [100, 10], [100, 110], [60, 110]];

test.serial('PUT region: bad input is a 400 naming the problem, nothing stored; a good one is a new audited reference set', async (t) => {
  const p = (await h.api<{ id: number }>('POST', '/api/products', { name: 'railed-part', threshold: 0 })).body;
  for (let i = 0; i < 2; i++) t.is((await h.api('POST', `/api/products/${p.id}/shots/capture`, { station: 'ST1' })).status, 201);
  const shots = h.daemon.store.listShots(p.id);
  const before = (await h.api<RegionView>('GET', `/api/products/${p.id}/region`)).body;
  t.is(before.region, null);
  const setsBefore = h.daemon.store.referenceSets(p.id).length;
  t.is((await h.api('PUT', `/api/products/${p.id}/region`, { roi }, { authorization: '' })).status, 401);
  const bad: [unknown, RegExp][] = [
    [{ roi: { x: 100, y: 0, width: 100, height: 50 } }, new RegExp(`region does not fit shot #${shots[0]!.id} \\(160×120\\): roi: x 100\\.\\.200, y 0\\.\\.50 is outside the 160×120 frame`)],
    [{ roi: { x: 1.5, y: 0, width: 10, height: 10 } }, /roi: x 1\.5 is not a whole number of pixels/],
    [{ ignore: [[[0, 0], [10, 10]]] }, /ignore\[0\]: it has 2 points; a polygon needs at least 3/],
    [{ ignore: [[[0, 0], [10, 10], [10, 0], [0, 10]]] }, /ignore\[0\]: it intersects itself/],
    [{ ignore: [[[0, 0], [5, 5], [10, 10]]] }, /ignore\[0\]: it is empty/],
    [{ ignore: [[[0, 0], [200, 0], [0, 10]]] }, /ignore\[0\]: point 200,0 is outside the 160×120 frame/],
    [{ minAreaPx: -1 }, /minAreaPx: -1 is not a whole number ≥ 0/],
    [{ roi, colour: 'red' }, /colour/],
    [{ roi, stationId: 'NOPE' }, /station "NOPE" does not exist/],
  ];
  for (const [body, expected] of bad) {
    const r = await h.api<{ error: string }>('PUT', `/api/products/${p.id}/region`, body);
    t.true(r.status === 400 || r.status === 404, `${JSON.stringify(body)} → ${r.status}`);
    t.regex(r.body.error, expected);
  }
  t.is(h.daemon.store.referenceSets(p.id).length, setsBefore, 'nothing stored on refusal');
  t.is((await h.api<RegionView>('GET', `/api/products/${p.id}/region`)).body.region, null);

  const put = await h.api<RegionView>('PUT', `/api/products/${p.id}/region`, { roi, ignore: [band], minAreaPx: 4, stationId: 'ST1' });
  t.is(put.status, 200, JSON.stringify(put.body));
  t.deepEqual(put.body.region, { roi, ignore: [band], minAreaPx: 4 });
  t.deepEqual(put.body.checkedAgainst.map((c) => c.source).sort(), [...shots.map((s) => `shot #${s.id}`), 'station ST1'].sort());
  const sets = (await h.api<SetView[]>('GET', `/api/products/${p.id}/reference-sets`)).body;
  t.is(sets[0]!.action, 'region');
  t.true(sets[0]!.current);
  t.deepEqual(sets[0]!.region, put.body.region);
  t.is(put.body.referenceSet, sets[0]!.version);
  const audit = h.daemon.store.auditLog({ limit: 20 }).find((a) => a.action === 'product.region');
  t.truthy(audit);
  t.regex(audit!.actor, /^api:/);
});

test.serial('live: the region crops the frame, ignore areas hold no defect, features are kept per crop; restore brings the old region back', async (t) => {
  const p = h.daemon.store.listProducts().find((x) => x.name === 'railed-part')!;
  const act = await h.api<{ referenceVersion: number }>('POST', '/api/stations/ST1/activate', { productId: p.id, acknowledgeFlaggedShots: true });
  t.is(act.status, 200, JSON.stringify(act.body));
  t.deepEqual(h.daemon.changeover.current('ST1').region?.roi, roi);
  // Threshold 0: every inspected pixel is a defect pixel, so the mask shows exactly what is inspected.
  const row = await waitFor(() => h.daemon.store.queryResults({ stationId: 'ST1', limit: 5 }).find((r) => r.referenceVersion >= act.body.referenceVersion && r.outcome === 'FAIL'), 15_000, 'a FAIL with the region');
  const regions = h.daemon.store.resultDetail(row.resultId)!.regions ?? [];
  t.true(regions.length >= 1);
  for (const { box: [x, y, w, hh] } of regions) {
    t.true(x >= roi.x && y >= roi.y && x + w <= roi.x + roi.width && y + hh <= roi.y + roi.height, `box ${[x, y, w, hh]} inside the region`);
    t.false(x >= 60 && x + w <= 100, 'no box lies only in the ignore band');
  }
  const [bx, by, bw, bh] = row.bbox;
  t.true(bx >= roi.x && by >= roi.y && bx + bw <= roi.x + roi.width && by + bh <= roi.y + roi.height);
  const maskPng = h.daemon.store.resultMask(row.resultId)!;
  const { data, info } = await sharp(maskPng).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => data[(y * info.width + x) * info.channels]!;
  t.is(at(5, 5), 0, 'outside the region');
  t.is(at(80, 50), 0, 'in the ignore band');
  t.is(at(30, 50), 255, 'inspected');
  t.is(at(120, 50), 255, 'inspected');
  // The kept evidence is drawn with the region it was judged with: heat only where inspected (the map covers the
  // region, not the frame), the outside dimmed, never the map stretched over the whole frame.
  const overlay = await fetch(`${h.url}/api/results/${row.resultId}/overlay.png`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  t.is(overlay.status, 200);
  const o = await sharp(Buffer.from(await overlay.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([o.info.width, o.info.height], [160, 120]);
  // Not inspected = dimmed and hatched with grey-160 lines: present left of the region, absent inside it.
  const hatched = (x0: number, x1: number, y0: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
      const i = (y * o.info.width + x) * o.info.channels;
      if (o.data[i] === 160 && o.data[i + 1] === 160 && o.data[i + 2] === 160) n++;
    }
    return n;
  };
  t.true(hatched(0, 16, 40, 70) > 10, 'outside the region hatched');
  t.is(hatched(26, 56, 30, 60), 0, 'inside the region (outside the ignore band) not hatched');
  // Shot features were computed for this crop.
  const sha = h.daemon.changeover['detector']().packSha as string;
  for (const s of h.daemon.store.listShots(p.id)) {
    t.truthy(h.daemon.store.shotFeatures(s.id, sha, roiKey(roi)));
    t.falsy(h.daemon.store.shotFeatures(s.id, sha, ''));
  }
  // Restoring the set before the region: whole frame again, stations follow.
  const sets = h.daemon.store.referenceSets(p.id);
  const earlier = sets.find((s) => s.action !== 'region')!;
  const restored = await h.api<{ referenceSet: SetView }>('POST', `/api/products/${p.id}/reference-sets/${earlier.version}/restore`, {});
  t.is(restored.status, 201, JSON.stringify(restored.body));
  t.is(restored.body.referenceSet.region, null);
  t.is((await h.api<RegionView>('GET', `/api/products/${p.id}/region`)).body.region, null);
  await waitFor(() => h.daemon.changeover.current('ST1').region === null, 10_000, 'the station back on the whole frame');
  // And restoring the region's set brings the region back.
  const regionSet = sets.find((s) => s.action === 'region')!;
  const back = await h.api<{ referenceSet: SetView }>('POST', `/api/products/${p.id}/reference-sets/${regionSet.version}/restore`, {});
  t.deepEqual(back.body.referenceSet.region?.roi, roi);
});
