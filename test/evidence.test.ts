// Evidence behind verdicts: kept frames and maps per keepImages, the frame/overlay/detail/rejects routes, the CSV
// export (parsed and compared with the store, streamed), image retention by age and under the watermark, migration 5.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createEvidence } from '../agent/evidence.ts';
import { migrate, schemaVersion } from '../agent/store/db.ts';
import { Store, type ResultInput } from '../agent/store/store.ts';
import { parseCsv } from './helpers/csv.ts';
import { startHarness, waitFor, TEST_TOKEN } from './helpers/harness.ts';
import { resultInput } from './helpers/result-input.ts';

const tempDir = (t: { teardown(fn: () => void): void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'evidence-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const records = (text: string) => {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
};

async function evidenceFor(width: number, height: number): Promise<ResultInput['evidence']> {
  const jpeg = await sharp({ create: { width, height, channels: 3, background: { r: 90, g: 120, b: 150 } } }).jpeg().toBuffer();
  const png = await sharp(Buffer.alloc(16 * 16, 40), { raw: { width: 16, height: 16, channels: 1 } }).png().toBuffer();
  return { frame: { jpeg, width, height }, map: { png, size: 16 } };
}

test('keepImages fail/all/none on three live stations; frame, overlay, detail, rejects, CSV and metrics answer; bad input is a clear 4xx; reads need the token', async (t) => {
  const cam = (station: string, id: string, extra: object) => ({ station, ...extra, source: { type: 'synthetic', id, fps: 6, width: 160, height: 120, seed: 5, defectRate: 0.5 } });
  const h = await startHarness({
    http: { openReads: false },
    cameras: [cam('ST1', 'cam1', { keepImages: 'fail' }), cam('ST2', 'cam2', { keepImages: 'all', imageMaxSide: 100, imageQuality: 70 }), cam('ST3', 'cam3', { keepImages: 'none' })],
  });
  t.teardown(() => h.stop());
  // Threshold 0 makes every inspected part a FAIL on ST1 and ST3 (override: the source the detail names).
  const allFail = (await h.api<{ id: number }>('POST', '/api/products', { name: 'AllFail', threshold: 0 })).body;
  for (const st of ['ST1', 'ST3']) t.is((await h.api('POST', `/api/stations/${st}/activate`, { productId: allFail.id })).status, 200);
  // And threshold 1 every part a PASS on ST2 (demo pack scores stay under 1), after its zero-shot FAILs.
  const allPass = (await h.api<{ id: number }>('POST', '/api/products', { name: 'AllPass', threshold: 1 })).body;
  t.is((await h.api('POST', '/api/stations/ST2/activate', { productId: allPass.id })).status, 200);
  const store = h.daemon.store;
  const seen = (st: string, outcome: 'PASS' | 'FAIL') => store.queryResults({ stationId: st, outcome }).length;
  await waitFor(() => seen('ST1', 'FAIL') >= 3 && seen('ST3', 'FAIL') >= 3 && seen('ST2', 'PASS') >= 2, 20_000,
    () => `FAILs on ST1 and ST3, PASSes on ST2 (${['ST1', 'ST2', 'ST3'].map((st) => `${st}: ${seen(st, 'PASS')} PASS ${seen(st, 'FAIL')} FAIL`).join(', ')})`);

  const noToken = await fetch(`${h.url}/api/results/${store.queryResults({ stationId: 'ST1', outcome: 'FAIL' })[0]!.resultId}/frame.jpg`);
  t.is(noToken.status, 401, 'reads need the token when http.openReads is off');

  for (const r of store.queryResults({ limit: 1000 })) {
    const ev = store.resultEvidence(r.resultId);
    if (r.outcome === 'NO_VERDICT' && r.stationId === 'ST2') continue; // kept only where a frame exists
    const expected = r.stationId === 'ST2' || (r.stationId === 'ST1' && r.outcome === 'FAIL');
    t.is(Boolean(ev?.frame), expected, `${r.stationId} ${r.outcome} ${r.resultId}: frame kept = ${expected}`);
    if (r.stationId === 'ST1' && r.outcome === 'PASS') t.is(ev, undefined, 'a PASS under keepImages fail keeps nothing');
    if (r.stationId === 'ST3') t.is(ev, undefined, 'keepImages none keeps nothing');
  }

  const fail = store.queryResults({ stationId: 'ST1', outcome: 'FAIL', productId: allFail.id })[0]!;
  const frame = await h.api<Buffer>('GET', `/api/results/${fail.resultId}/frame.jpg`);
  t.is(frame.status, 200);
  const meta = await sharp(frame.body).metadata();
  t.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 160, 120]);
  const overlay = await h.api<Buffer>('GET', `/api/results/${fail.resultId}/overlay.png`);
  t.is(overlay.status, 200);
  const ometa = await sharp(overlay.body).metadata();
  t.deepEqual([ometa.format, ometa.width, ometa.height], ['png', 160, 120]);

  const detail = (await h.api<{
    result: { resultId: string }; productName: string; threshold: { value: number; source: string }; branches: Record<string, number>;
    defects: { count: number; regions: unknown[] }; images: { frame: { state: string; url: string }; overlay: { url: string }; mask: { url: string | null }; map: { state: string; size: number }; bytes: number };
    timings: { totalMs: number };
  }>('GET', `/api/results/${fail.resultId}/detail`)).body;
  t.is(detail.result.resultId, fail.resultId);
  t.is(detail.productName, 'AllFail');
  t.deepEqual(detail.threshold, { value: 0, source: 'override' });
  t.true(typeof detail.branches.va === 'number' && typeof detail.branches.ta === 'number', JSON.stringify(detail.branches));
  t.true(Array.isArray(detail.defects.regions) && detail.defects.regions.length === detail.defects.count);
  t.is(detail.images.frame.state, 'kept');
  t.is(detail.images.frame.url, `/api/results/${fail.resultId}/frame.jpg`);
  t.is(detail.images.overlay.url, `/api/results/${fail.resultId}/overlay.png`);
  t.is(detail.images.map.state, 'kept');
  t.true(detail.images.map.size > 0 && detail.images.bytes > 0);

  // ST2 keeps every inspected part, scaled to imageMaxSide (aspect kept).
  const pass2 = store.queryResults({ stationId: 'ST2', outcome: 'PASS' })[0]!;
  const small = await sharp((await h.api<Buffer>('GET', `/api/results/${pass2.resultId}/frame.jpg`)).body).metadata();
  t.deepEqual([small.width, small.height], [100, 75]);
  // Nothing kept: a clear 404 that says why.
  const pass1 = store.queryResults({ stationId: 'ST1', outcome: 'PASS' })[0];
  const fail3 = store.queryResults({ stationId: 'ST3', outcome: 'FAIL' })[0]!;
  for (const r of [fail3, ...(pass1 ? [pass1] : [])]) {
    const res = await h.api<{ error: string }>('GET', `/api/results/${r.resultId}/frame.jpg`);
    t.is(res.status, 404);
    t.regex(res.body.error, /no frame was kept for it \(cameras\[\]\.keepImages/);
    t.is((await h.api<{ error: string }>('GET', `/api/results/${r.resultId}/overlay.png`)).status, 404);
    t.is((await h.api<{ images: { frame: { state: string; url: null } } }>('GET', `/api/results/${r.resultId}/detail`)).body.images.frame.state, 'none');
  }

  // Bad ids and unknown ones.
  const bad = await h.api<{ error: string }>('GET', '/api/results/not-an-id/frame.jpg');
  t.is(bad.status, 400);
  t.regex(bad.body.error, /result id must be a ULID/);
  t.is((await h.api('GET', '/api/results/not-an-id/detail')).status, 400);
  const unknown = await h.api<{ error: string }>('GET', '/api/results/01ARZ3NDEKTSV4RRFFQ69G5FAV/overlay.png');
  t.is(unknown.status, 404);
  t.regex(unknown.body.error, /does not exist/);

  // Rejects gallery.
  const rejects = (await h.api<{ resultId: string; frameUrl: string }[]>('GET', '/api/stations/ST1/rejects?limit=4')).body;
  t.true(rejects.length > 0 && rejects.length <= 4);
  for (const r of rejects) {
    t.is(store.getResult(r.resultId)!.outcome, 'FAIL');
    t.is((await h.api('GET', r.frameUrl)).status, 200);
  }
  t.deepEqual((await h.api('GET', '/api/stations/ST3/rejects')).body, [], 'keepImages none: an empty gallery');
  t.is((await h.api('GET', '/api/stations/NOPE/rejects')).status, 404);
  t.is((await h.api('GET', '/api/stations/ST1/rejects?limit=abc')).status, 400);
  t.is((await h.api('GET', '/api/stations/ST1/rejects?limit=500')).status, 400);

  // CSV for a filter, against the store's rows of the same filter (until: a fixed end, results keep coming).
  const until = Date.now();
  const csv = await fetch(`${h.url}/api/results.csv?station=ST1&outcome=FAIL&until=${until}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  t.is(csv.status, 200);
  t.regex(csv.headers.get('content-type') ?? '', /^text\/csv/);
  t.regex(csv.headers.get('content-disposition') ?? '', /attachment; filename="results-.*\.csv"/);
  const rows = records(await csv.text());
  const expected = store.queryResults({ stationId: 'ST1', outcome: 'FAIL', until, limit: 1000 });
  t.is(rows.length, expected.length);
  t.deepEqual(rows.map((r) => r.resultId), expected.map((r) => r.resultId));
  for (const [i, r] of expected.entries()) {
    const row = rows[i]!;
    t.is(Number(row.score), r.score);
    t.is(row.outcome, 'FAIL');
    t.is(row.decidedAt, new Date(r.decidedAt).toISOString());
    t.is(Number(row.resultSeq), r.resultSeq);
    t.is(row.productName, r.productId === allFail.id ? 'AllFail' : '');
  }
  for (const [q, msg] of [['outcome=MAYBE', /outcome must be PASS, FAIL or NO_VERDICT/], ['since=yesterday-ish', /since must be epoch ms or an ISO date/], ['product=x', /product must be a positive integer/]] as const) {
    const res = await h.api<{ error: string }>('GET', `/api/results.csv?${q}`);
    t.is(res.status, 400, q);
    t.regex(res.body.error, msg);
  }

  // Metrics and the disk entry of /healthz count what is kept and pruned.
  const metrics = (await h.api<Buffer>('GET', '/metrics')).body.toString();
  const stored = Number(/^adaptclip_images_stored (\d+)/m.exec(metrics)?.[1]);
  t.true(stored > 0, 'adaptclip_images_stored');
  t.regex(metrics, /^adaptclip_images_bytes \d+/m);
  t.regex(metrics, /^adaptclip_images_pruned_total 0/m);
  t.regex(metrics, /^adaptclip_image_bytes_kept_total\{camera="cam2"\} \d+/m);
  const health = (await h.api<{ components: { disk: { prunedSinceStart: { images: number }; lastPrune: { images: number } } } }>('GET', '/healthz')).body;
  t.is(health.components.disk.prunedSinceStart.images, 0);
});

test('image retention: by age (imageMaxAgeMs), and first in line under the free-space watermark (before masks and rows); the routes say "removed by retention"', async (t) => {
  const store = new Store(join(tempDir(t), 'ret.db'));
  t.teardown(() => store.close());
  const day = 86_400_000;
  const now = Date.now();
  const mask = { png: Buffer.alloc(100, 1), width: 8, height: 8, sha256: 'x', uri: '' };
  const evidence = await evidenceFor(32, 24);
  const ids: string[] = [];
  for (const age of [10, 5, 3, 1, 0]) {
    const at = now - age * day;
    ids.push(store.recordResult(resultInput('ST1', { outcome: 'FAIL', mask, keepMask: true, capturedAt: at, decidedAt: at, totalMs: 1, evidence })).resultId);
  }
  const policy = { maxAgeMs: 30 * day, maskMaxAgeMs: 7 * day, imageMaxAgeMs: 4 * day, minFreeBytes: 1000, walCheckpointBytes: 1 << 20 };
  const r = await store.prune(policy, now, () => 10_000);
  t.deepEqual({ rows: r.rows, masks: r.masks, images: r.images }, { rows: 0, masks: 1, images: 2 });
  t.deepEqual(ids.map((id) => Boolean(store.resultImage(id))), [false, false, true, true, true]);
  t.is(store.resultImage(ids[0]!), null, 'a pruned image is null (the result is still there)');
  t.is(store.resultImage('01ARZ3NDEKTSV4RRFFQ69G5FAV'), undefined, 'no such result: undefined');
  const port = createEvidence({ store, stationIds: () => ['ST1'] });
  const answer = port.frame(ids[0]!);
  t.true('missing' in answer && /removed by retention/.test(answer.missing), JSON.stringify(answer));
  t.is(port.detail(ids[0]!)!.images.frame.state, 'pruned');

  // Under the watermark: images go first (oldest first), masks stay while images remain.
  let probes = 0;
  const r2 = await store.prune(policy, now, () => (++probes > 1 ? 10_000 : 10));
  t.true(r2.images > 0, `${r2.images} images`);
  t.is(r2.masks, 0, 'no mask lost while images could go');
  t.is(r2.rows, 0);
  t.deepEqual(store.queryResults().map((x) => x.hasMask), [true, true, true, true, false]);
  // Still under it: the remaining images, then masks, then rows.
  const r3 = await store.prune(policy, now, () => 10);
  t.true(r3.masks > 0 && r3.rows > 0, JSON.stringify(r3));
  t.deepEqual(store.imageStats().stored, 0);
  t.true(store.imageStats().prunedSinceOpen >= 5);
});

test('the CSV export streams ≥ 5000 rows chunked, quotes awkward part ids, and matches the store row for row', async (t) => {
  const h = await startHarness({ cameras: [] });
  t.teardown(() => h.stop());
  const store = h.daemon.store;
  const awkward = ['a,b', 'say "hi"', 'line\nbreak', '=HYPERLINK("x")', 'plain'];
  const t0 = Date.now() - 10_000_000;
  store.db.transaction(() => {
    for (let i = 0; i < 5200; i++) {
      store.recordResult(resultInput('BULK', { partId: awkward[i % awkward.length]!, score: i / 5200, outcome: i % 3 ? 'PASS' : 'FAIL', capturedAt: t0 + i * 1000, decidedAt: t0 + i * 1000 }));
    }
  })();
  const res = await fetch(`${h.url}/api/results.csv?station=BULK`);
  t.is(res.status, 200);
  t.is(res.headers.get('transfer-encoding'), 'chunked', 'streamed, no content-length');
  t.is(res.headers.get('content-length'), null);
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  t.true(parts.length > 3, `${parts.length} chunks arrived`);
  const rows = records(Buffer.concat(parts).toString('utf8'));
  t.is(rows.length, 5200);
  const expected = [...store.exportResults({ stationId: 'BULK' })];
  t.is(expected.length, 5200);
  for (const [i, r] of expected.entries()) {
    const row = rows[i]!;
    if (row.resultId !== r.resultId || Number(row.score) !== r.score || row.outcome !== r.outcome) {
      t.fail(`row ${i}: ${JSON.stringify(row)} vs ${r.resultId} ${r.score} ${r.outcome}`);
      break;
    }
    const part = r.partId.startsWith('=') ? `'${r.partId}` : r.partId;
    if (row.partId !== part) {
      t.fail(`row ${i}: part ${JSON.stringify(row.partId)} vs ${JSON.stringify(part)}`);
      break;
    }
  }
  t.pass();
  // A limit and a filter still apply.
  t.is(records(await (await fetch(`${h.url}/api/results.csv?station=BULK&outcome=FAIL&limit=10`)).text()).length, 10);
});

test('migration 5 down keeps every result (its evidence table goes), up again works', async (t) => {
  const dir = tempDir(t);
  const store = new Store(join(dir, 'm.db'));
  const id = store.recordResult(resultInput('ST1', { outcome: 'FAIL', evidence: await evidenceFor(16, 12), branches: { va: 0.4, ta: 0.6 }, thresholdSource: 'shots', recipeName: 'Bracket' })).resultId;
  t.is(store.resultDetail(id)!.productName, 'Bracket');
  t.deepEqual(store.resultDetail(id)!.branches, { va: 0.4, ta: 0.6 });
  migrate(store.db, store.file, false, 4);
  t.is(schemaVersion(store.db), 4);
  t.is((store.db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n, 1);
  t.is(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'result_images'").get(), undefined);
  migrate(store.db, store.file, false);
  t.true(schemaVersion(store.db) >= 5);
  t.is(store.getResult(id)!.outcome, 'FAIL');
  t.is(store.resultImage(id), null, 'the evidence went with the down step');
  store.close();
});
