// REST API on a real daemon: changeover flow, bad input, tokens, concurrent changeovers.
import test from 'ava';
import sharp from 'sharp';
import { startHarness, waitFor, TEST_TOKEN, type Harness } from './helpers/harness.ts';

interface Product { id: number; recipeId: number; name: string; shotCount: number }
interface ShotList { note: string; shots: { id: number; looScore: number | null; source: string }[] }
interface Activation { referenceVersion: number; mode: string; shots: number; threshold: number; thresholdSource: string; ms: number; encodedShots: number }

let h: Harness;
test.before(async () => {
  h = await startHarness({ http: { host: '127.0.0.1', port: 0, token: TEST_TOKEN, maxUploadMb: 1 } });
  await waitFor(() => h.daemon.stations.get('ST1')!.latestFrame, 10_000, 'a first frame');
});
test.after.always(() => h?.stop());

const png = (w: number, h2: number, seed: number) =>
  sharp(Buffer.alloc(w * h2 * 3, seed), { raw: { width: w, height: h2, channels: 3 } }).png().toBuffer();

test.serial('writes without the token are 401, with a wrong token 401; reads stay open', async (t) => {
  const res = await fetch(`${h.url}/api/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' });
  t.is(res.status, 401);
  t.regex(((await res.json()) as { error: string }).error, /Authorization: Bearer/);
  t.is((await h.api('POST', '/api/products', { name: 'y' }, { authorization: 'Bearer wrong-token-0' })).status, 401);
  t.is((await h.api('DELETE', '/api/shots/1', undefined, { authorization: '' })).status, 401);
  t.is((await fetch(`${h.url}/api/products`)).status, 200);
  t.deepEqual((await h.api<Product[]>('GET', '/api/products')).body.filter((p) => p.name === 'x' || p.name === 'y'), []);
});

test.serial('changeover: create, capture 2 live shots and upload one, leave-one-out scores, activate; frames are judged few-shot', async (t) => {
  const created = await h.api<Product>('POST', '/api/products', { name: 'bracket-A', recipeId: 12 });
  t.is(created.status, 201);
  const id = created.body.id;
  for (let i = 0; i < 2; i++) {
    const r = await h.api<{ shot: { source: string } }>('POST', `/api/products/${id}/shots/capture`, { station: 'ST1' });
    t.is(r.status, 201);
    t.is(r.body.shot.source, 'cam1');
  }
  const up = await h.api<{ shots: ShotList }>('POST', `/api/products/${id}/shots`, await png(200, 150, 120));
  t.is(up.status, 201);
  const list = (await h.api<ShotList>('GET', `/api/products/${id}/shots`)).body;
  t.is(list.shots.length, 3);
  for (const s of list.shots) t.true(typeof s.looScore === 'number' && s.looScore >= 0 && s.looScore <= 1, JSON.stringify(s));
  // Activation asks first exactly when the advisor flags a shot. Which camera frames were captured depends on timing
  // (the synthetic line has 20 % defective parts), so the flag itself is not fixed here; shot-capture tests the rule.
  const advice = (await h.api<{ flagged: number[] }>('GET', `/api/products/${id}/shot-advice`)).body;
  t.log(`advisor flagged ${advice.flagged.length ? `shots #${advice.flagged.join(', #')}` : 'no shot'}`);
  if (advice.flagged.length) {
    const asked = await h.api<{ error: string }>('POST', '/api/stations/ST1/activate', { productId: id });
    t.is(asked.status, 409);
    t.regex(asked.body.error, /flagged|unlike/i);
    for (const shotId of advice.flagged) t.true(asked.body.error.includes(`#${shotId}`), asked.body.error);
    t.is(h.daemon.changeover.current('ST1').productId, null, 'nothing changed on the refusal');
  }
  const act = await h.api<Activation>('POST', '/api/stations/ST1/activate', { productId: id, acknowledgeFlaggedShots: true });
  t.is(act.status, 200);
  t.is(act.body.mode, 'few-shot');
  t.is(act.body.shots, 3);
  t.is(act.body.thresholdSource, 'shots');
  const version = act.body.referenceVersion;
  const r = await waitFor(async () => {
    const rows = h.daemon.store.queryResults({ stationId: 'ST1', limit: 5 });
    return rows.find((x) => x.referenceVersion === version && x.outcome !== 'NO_VERDICT');
  }, 10_000, 'a few-shot verdict');
  t.is(r.mode, 'few-shot');
  t.is(r.shots, 3);
  t.is(r.recipeId, 12);
  t.is(r.productId, id);
  // Frames captured before the switch kept the reference they were captured with.
  const older = h.daemon.store.queryResults({ stationId: 'ST1', limit: 1000 }).filter((x) => x.referenceVersion < version && x.outcome !== 'NO_VERDICT');
  t.true(older.every((x) => x.mode === 'zero-shot' || x.productId !== id));
  // Switching back and forth with cached features is fast (the benchmark figure is from tools/bench/changeover.ts).
  const zero = await h.api<Activation>('POST', '/api/stations/ST1/activate', { productId: null });
  t.is(zero.body.mode, 'zero-shot');
  const again = await h.api<Activation>('POST', '/api/stations/ST1/activate', { productId: id, acknowledgeFlaggedShots: true });
  t.is(again.body.encodedShots, 0);
  t.true(again.body.referenceVersion > zero.body.referenceVersion);
});

test.serial('uploads: not an image is 415, too large is 413, a shot for an unknown product is 404; nothing is stored', async (t) => {
  const p = (await h.api<Product>('POST', '/api/products', { name: 'upload-checks' })).body;
  const notImage = await h.api<{ error: string }>('POST', `/api/products/${p.id}/shots`, Buffer.from('this is not an image at all'));
  t.is(notImage.status, 415);
  t.regex(notImage.body.error, /not a readable image|cannot decode/);
  const big = Buffer.alloc(2 * 1024 * 1024, 7);
  const tooLarge = await h.api<{ error: string }>('POST', `/api/products/${p.id}/shots`, big);
  t.is(tooLarge.status, 413);
  t.regex(tooLarge.body.error, /upload too large: the limit is 1\.0 MiB \(http\.maxUploadMb\)/);
  const unknown = await h.api<{ error: string }>('POST', '/api/products/99999/shots', await png(32, 32, 1));
  t.is(unknown.status, 404);
  t.regex(unknown.body.error, /product 99999 does not exist/);
  const unknownCapture = await h.api<{ error: string }>('POST', '/api/products/99999/shots/capture', { station: 'ST1' });
  t.is(unknownCapture.status, 404);
  const badStation = await h.api<{ error: string }>('POST', `/api/products/${p.id}/shots/capture`, { station: 'NOPE' });
  t.is(badStation.status, 404);
  t.regex(badStation.body.error, /station NOPE does not exist; known: ST1/);
  const badBody = await h.api<{ error: string }>('POST', '/api/products', { name: 'z', colour: 'red' });
  t.is(badBody.status, 400);
  t.is((await h.api<ShotList>('GET', `/api/products/${p.id}/shots`)).body.shots.length, 0);
  const dup = await h.api<{ error: string }>('POST', '/api/products', { name: 'upload-checks' });
  t.is(dup.status, 409);
});

test.serial('an uploaded PNG shot is kept byte for byte (its mode decides the resize: RGBA here; changeover encodes these stored bytes)', async (t) => {
  const p = (await h.api<Product>('POST', '/api/products', { name: 'rgba-upload' })).body;
  const rgba = Buffer.alloc(40 * 30 * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 37 + (i >> 7)) & 255;
  const file = await sharp(rgba, { raw: { width: 40, height: 30, channels: 4 } }).png().toBuffer();
  const up = await h.api<{ shot: { id: number } }>('POST', `/api/products/${p.id}/shots`, file);
  t.is(up.status, 201);
  const stored = Buffer.from(await (await fetch(`${h.url}/api/shots/${up.body.shot.id}/image.png`)).arrayBuffer());
  t.true(stored.equals(file));
});

test.serial('two concurrent changeovers on one station run one after the other; the last one wins, versions never collide', async (t) => {
  const a = (await h.api<Product>('POST', '/api/products', { name: 'conc-A' })).body;
  const b = (await h.api<Product>('POST', '/api/products', { name: 'conc-B' })).body;
  await h.api('POST', `/api/products/${b.id}/shots`, await png(64, 48, 90));
  const [ra, rb] = await Promise.all([
    h.api<Activation>('POST', '/api/stations/ST1/activate', { productId: a.id }),
    h.api<Activation>('POST', '/api/stations/ST1/activate', { productId: b.id }),
  ]);
  t.is(ra.status, 200);
  t.is(rb.status, 200);
  t.not(ra.body.referenceVersion, rb.body.referenceVersion);
  const last = ra.body.referenceVersion > rb.body.referenceVersion ? a : b;
  const st = h.daemon.store.getStation('ST1')!;
  t.is(st.activeProductId, last.id);
  t.is(st.referenceVersion, Math.max(ra.body.referenceVersion, rb.body.referenceVersion));
  t.is(h.daemon.changeover.current('ST1').productId, last.id);
  t.is(h.daemon.changeover.current('ST1').version, st.referenceVersion);
  // Every stored result's reference version names one product only.
  const rows = h.daemon.store.db.prepare('SELECT reference_version, COUNT(DISTINCT COALESCE(product_id, 0)) AS n FROM results GROUP BY reference_version HAVING n > 1').all();
  t.deepEqual(rows, []);
  const activate404 = await h.api<{ error: string }>('POST', '/api/stations/ST1/activate', { productId: 424242 });
  t.is(activate404.status, 404);
  t.is(h.daemon.store.getStation('ST1')!.referenceVersion, st.referenceVersion, 'a failed activation does not bump the version');
});

test.serial('history filters, result masks, OpenAPI, health and metrics', async (t) => {
  const fail = await waitFor(() => h.daemon.store.queryResults({ outcome: 'FAIL', limit: 50 }).find((r) => r.hasMask), 15_000, 'a failed result with a mask');
  const mask = await fetch(`${h.url}/results/${fail.resultId}/mask.png`);
  t.is(mask.status, 200);
  const meta = await sharp(Buffer.from(await mask.arrayBuffer())).metadata();
  t.is(meta.width, fail.width);
  t.is(meta.channels, 1);
  const filtered = (await h.api<{ outcome: string }[]>('GET', '/api/results?outcome=FAIL&station=ST1&limit=5')).body;
  t.true(filtered.length > 0 && filtered.every((r) => r.outcome === 'FAIL'));
  t.is((await h.api('GET', '/api/results?outcome=MAYBE')).status, 400);
  t.is((await h.api('GET', '/api/results?since=yesterday-ish')).status, 400);
  t.is((await h.api('GET', '/api/audit?limit=lots')).status, 400);
  t.true((await h.api<unknown[]>('GET', '/api/audit?limit=5')).body.length <= 5);
  t.is((await h.api('GET', '/results/NOPE/mask.png')).status, 404);
  const doc = (await h.api<{ paths: Record<string, Record<string, { security?: unknown }>> }>('GET', '/openapi.json')).body;
  t.truthy(doc.paths['/api/products/{id}/shots']!.post!.security);
  t.truthy(doc.paths['/results/{id}/mask.png']!.get);
  const health = await fetch(`${h.url}/healthz`);
  const hb = (await health.json()) as { ok: boolean; components: Record<string, { ok: boolean; reason: string }> };
  t.is(health.status, hb.ok ? 200 : 503);
  t.truthy(hb.components['camera:cam1']);
  t.truthy(hb.components.inference);
  t.truthy(hb.components.disk);
  const metrics = await (await fetch(`${h.url}/metrics`)).text();
  t.regex(metrics, /adaptclip_frames_captured_total\{camera="cam1"\} \d+/);
  t.regex(metrics, /adaptclip_capture_to_verdict_seconds_bucket/);
  const overlay = await fetch(`${h.url}/api/stations/ST1/overlay.png`);
  t.is(overlay.status, 200);
  t.is(overlay.headers.get('content-type'), 'image/png');
});

test.serial('changing the active product\'s shots or threshold gives the station a new reference version at once', async (t) => {
  const p = (await h.api<Product>('POST', '/api/products', { name: 'live-edit' })).body;
  await h.api('POST', `/api/products/${p.id}/shots/capture`, { station: 'ST1' });
  const act = (await h.api<Activation>('POST', '/api/stations/ST1/activate', { productId: p.id })).body;
  t.is(act.shots, 1);
  await h.api('POST', `/api/products/${p.id}/shots/capture`, { station: 'ST1' });
  const ref = h.daemon.changeover.current('ST1');
  t.is(ref.shots, 2);
  t.is(ref.version, act.referenceVersion + 1);
  t.is(h.daemon.store.getStation('ST1')!.referenceVersion, ref.version);
  t.is(ref.thresholdSource, 'shots');
  const patched = await h.api('PATCH', `/api/products/${p.id}`, { threshold: 0.93 });
  t.is(patched.status, 200);
  t.is(h.daemon.changeover.current('ST1').threshold, 0.93);
  t.is(h.daemon.changeover.current('ST1').thresholdSource, 'override');
  t.is(h.daemon.changeover.current('ST1').version, ref.version + 1);
  const row = await waitFor(() => h.daemon.store.queryResults({ stationId: 'ST1', limit: 3 }).find((r) => r.referenceVersion === ref.version + 1 && r.outcome !== 'NO_VERDICT'), 10_000, 'a verdict with the new version');
  t.is(row.threshold, 0.93);
  t.true(h.daemon.store.auditLog(20).some((e) => e.action === 'station.reference'));
});
