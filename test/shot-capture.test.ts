// Guided shot capture and the shot-quality advisor against a real agent (synthetic camera, demo pack, real SQLite):
// preview, freeze/upload → candidate judged against the product's shots → keep or discard; refusals store nothing;
// bounded and expiring candidates; flagged shots and the activation that must acknowledge them. Answers are checked
// against the OpenAPI document.
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import sharp from 'sharp';
import { mulberry32, SyntheticLine } from '../drivers/synthetic-line.ts';
import { adviseShots, RULE } from '../agent/shot-advice.ts';
import { CANDIDATE_LIMIT, ShotCandidates } from '../agent/shot-capture.ts';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';

const W = 160;
const H = 120;
const camera = (extra: Record<string, unknown> = {}) => ({ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 4, width: W, height: H, seed: 3, defectRate: 0, ...extra } });

interface Candidate { id: string; productId: number; source: string; width: number; height: number; mode: string; shots: number; score: number; threshold: number; verdict: string; summary: string; imageUrl: string; overlayUrl: string; expiresAt: number; createdAt: number; referenceSet: number }
interface Advice { threshold: number; thresholdSource: string; explanation: string; rule: string; flagged: number[]; shots: { shotId: number; looScore: number | null; flagged: boolean; reasons: string[]; words: string; overlayUrl: string | null }[] }

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
async function documented(h: Harness, path: string, method: string, status: number, body: unknown): Promise<string | null> {
  const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: object }> }> }>> };
  const schema = doc.paths[path]![method]!.responses[String(status)]!.content['application/json']!.schema;
  const v = ajv.compile(schema);
  return v(body) ? null : ajv.errorsText(v.errors);
}

const png = (rgb: Buffer, width = W, height = H) => sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
const goodPart = (i: number, seed = 3) => new SyntheticLine({ width: W, height: H, defectRate: 0, kinds: ['scratch', 'dent', 'missing_feature'], seed }).render(i).rgb;
/** A "part" the demo pack surely finds unlike good ones: seeded noise over the whole frame. */
function noisePart(seed = 7): Buffer {
  const rnd = mulberry32(seed);
  const b = Buffer.alloc(W * H * 3);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

async function product(h: Harness, name: string): Promise<number> {
  const r = await h.api<{ id: number }>('POST', '/api/products', { name });
  return r.body.id;
}

test('preview, freeze → discard → freeze → keep: the candidate is judged against the shots, kept as the PNG it showed', async (t) => {
  const h = await startHarness({ cameras: [camera()] });
  t.teardown(() => h.stop());
  const pid = await product(h, 'Bracket');
  await waitFor(() => h.daemon.stations.get('ST1')!.latestFrame, 5000, 'a first frame');

  // Preview: the newest frame, judged or not.
  const preview = await fetch(`${h.url}/api/stations/ST1/preview.jpg`, { headers: { authorization: 'Bearer test-token-1234' } });
  t.is(preview.status, 200);
  t.is(preview.headers.get('content-type'), 'image/jpeg');
  t.true(Number(preview.headers.get('x-frame-seq')) >= 1);
  const meta = await sharp(Buffer.from(await preview.arrayBuffer())).metadata();
  t.deepEqual([meta.width, meta.height], [W, H]);

  // Freeze: zero-shot while the product has no shots.
  const first = await h.api<Candidate>('POST', `/api/products/${pid}/candidates`, { station: 'ST1' });
  t.is(first.status, 201, JSON.stringify(first.body));
  t.is(await documented(h, '/api/products/{id}/candidates', 'post', 201, first.body), null);
  t.like(first.body, { productId: pid, source: 'cam1', width: W, height: H, mode: 'zero-shot', shots: 0, referenceSet: 0 });
  t.true(first.body.score >= 0 && first.body.score <= 1);
  t.is(first.body.expiresAt - first.body.createdAt, 10 * 60_000);
  t.regex(first.body.summary, /zero-shot/);
  const overlay = await h.api<Buffer>('GET', first.body.overlayUrl);
  t.is(overlay.status, 200);
  t.deepEqual([(await sharp(overlay.body).metadata()).width, (await sharp(overlay.body).metadata()).height], [W, H]);
  t.deepEqual((await h.api<Candidate[]>('GET', `/api/products/${pid}/candidates`)).body.map((c) => c.id), [first.body.id]);

  // Discard: gone, nothing stored.
  t.is((await h.api('DELETE', `/api/candidates/${first.body.id}`)).status, 200);
  t.is((await h.api('GET', first.body.overlayUrl)).status, 404);
  const again = await h.api<{ error: string }>('POST', `/api/candidates/${first.body.id}/keep`);
  t.is(again.status, 404);
  t.regex(again.body.error, /kept, discarded or expired/);
  t.is(h.daemon.store.listShots(pid).length, 0);
  t.deepEqual(h.daemon.store.referenceSets(pid), []);

  // Freeze → keep: the stored shot is exactly the candidate's PNG; a reference set is made, audited.
  const second = await h.api<Candidate>('POST', `/api/products/${pid}/candidates`, { station: 'ST1' });
  const image = (await h.api<Buffer>('GET', second.body.imageUrl)).body;
  const kept = await h.api<{ shot: { id: number; source: string }; referenceSet: { version: number; shotIds: number[]; current: boolean }; shots: { shots: unknown[] } }>('POST', `/api/candidates/${second.body.id}/keep`);
  t.is(kept.status, 201, JSON.stringify(kept.body));
  t.is(await documented(h, '/api/candidates/{id}/keep', 'post', 201, kept.body), null);
  t.is(kept.body.shot.source, 'cam1');
  t.like(kept.body.referenceSet, { version: 1, shotIds: [kept.body.shot.id], current: true });
  t.true(h.daemon.store.shotPng(kept.body.shot.id)!.equals(image));
  t.is(kept.body.shots.shots.length, 1);
  t.is((await h.api('GET', second.body.overlayUrl)).status, 404, 'a kept candidate is no longer held');
  const audit = h.daemon.store.auditLog(10).map((a) => a.action);
  t.true(audit.includes('shot.add') && audit.includes('reference-set.create'));

  // The next freeze is judged few-shot against that shot.
  const third = await h.api<Candidate>('POST', `/api/products/${pid}/candidates`, { station: 'ST1' });
  t.like(third.body, { mode: 'few-shot', shots: 1, referenceSet: 1 });
  t.regex(third.body.summary, /1 good shot/);
});

test('uploads become candidates one by one, decoded with the upload limits; refusals hold and store nothing', async (t) => {
  const h = await startHarness({ cameras: [camera()], http: { maxUploadPixels: 1_000_000 } });
  t.teardown(() => h.stop());
  const pid = await product(h, 'Upload');
  const up = (body: unknown, id = pid, headers: Record<string, string> = {}) => h.api<Candidate & { error: string }>('POST', `/api/products/${id}/candidates/upload`, body, headers);

  const a = await up(await png(goodPart(0)));
  const b = await up(await png(goodPart(1)));
  t.is(a.status, 201);
  t.is(b.status, 201);
  t.is(await documented(h, '/api/products/{id}/candidates/upload', 'post', 201, a.body), null);
  t.is(a.body.source, 'upload');
  t.is((await h.api('POST', `/api/candidates/${a.body.id}/keep`)).status, 201);
  t.is((await h.api('DELETE', `/api/candidates/${b.body.id}`)).status, 200);
  t.is(h.daemon.store.listShots(pid).length, 1);

  // Refusals: each with a clear message; no candidate held, no shot stored.
  const before = h.daemon.store.auditLog(100).length;
  const notImage = await up(Buffer.from('not an image at all'));
  t.is(notImage.status, 415);
  t.regex(notImage.body.error, /PNG, JPEG/);
  const huge = await up(await png(Buffer.alloc(1100 * 1000 * 3, 128), 1100, 1000));
  t.is(huge.status, 413);
  t.regex(huge.body.error, /http\.maxUploadPixels/);
  const noProduct = await up(await png(goodPart(2)), 999);
  t.is(noProduct.status, 404);
  t.regex(noProduct.body.error, /product 999 does not exist/);
  const noToken = await up(await png(goodPart(2)), pid, { authorization: '' });
  t.is(noToken.status, 401);
  const badStation = await h.api<{ error: string }>('POST', `/api/products/${pid}/candidates`, { station: 'NOPE' });
  t.is(badStation.status, 404);
  t.regex(badStation.body.error, /station NOPE does not exist; known: ST1/);
  const noStation = await h.api<{ error: string }>('POST', `/api/products/${pid}/candidates`, {});
  t.is(noStation.status, 400);
  t.regex(noStation.body.error, /station/);
  t.is((await h.api('POST', `/api/candidates/nope/keep`)).status, 404);
  t.is((await h.api('DELETE', `/api/candidates/nope`, undefined, { authorization: '' })).status, 401);
  t.deepEqual((await h.api<Candidate[]>('GET', `/api/products/${pid}/candidates`)).body, []);
  t.is(h.daemon.store.listShots(pid).length, 1);
  t.is(h.daemon.store.auditLog(100).length, before);
});

test('candidates are bounded (409 past the limit, nothing held) and expire after their TTL', async (t) => {
  const h = await startHarness({ cameras: [camera()] });
  t.teardown(() => h.stop());
  const pid = await product(h, 'Bounded');
  const file = await png(goodPart(0));
  for (let i = 0; i < CANDIDATE_LIMIT; i++) t.is((await h.api('POST', `/api/products/${pid}/candidates/upload`, file)).status, 201);
  const over = await h.api<{ error: string }>('POST', `/api/products/${pid}/candidates/upload`, file);
  t.is(over.status, 409);
  t.regex(over.body.error, new RegExp(`${CANDIDATE_LIMIT} candidate shots are waiting .*keep or discard some first`));
  t.is((await h.api<Candidate[]>('GET', `/api/products/${pid}/candidates`)).body.length, CANDIDATE_LIMIT);

  // TTL on the holder itself, with its clock moved on.
  let now = 1_000_000;
  const held = new ShotCandidates(2, 60_000, () => now);
  const view = { productId: 1, source: 'upload', width: 1, height: 1, mode: 'zero-shot' as const, shots: 0, referenceSet: 0, score: 0.1, threshold: 0.5, thresholdSource: 'pack-default' as const, verdict: 'pass' as const, defects: { count: 0, areaPct: 0 }, summary: '' };
  const c1 = held.add(view, Buffer.from('a'), Buffer.from('b'));
  held.add(view, Buffer.from('a'), Buffer.from('b'));
  t.throws(() => held.add(view, Buffer.from('a'), Buffer.from('b')), { message: /2 candidate shots are waiting/ });
  now += 59_999;
  t.is(held.get(c1.id).view.id, c1.id);
  now += 1;
  t.throws(() => held.get(c1.id), { message: /expired/ });
  t.is(held.size, 0);
  held.add(view, Buffer.from('a'), Buffer.from('b'));
  t.is(held.list(1).length, 1);
});

test('a software-triggered camera: the preview says so, freeze asks for a picture first, then works', async (t) => {
  const h = await startHarness({ cameras: [camera({ trigger: 'software' })] });
  t.teardown(() => h.stop());
  const pid = await product(h, 'Triggered');
  const preview = await h.api<{ error: string }>('GET', '/api/stations/ST1/preview.jpg');
  t.is(preview.status, 404);
  t.regex(preview.body.error, /software-triggered.*take a picture/);
  const freeze = await h.api<{ error: string }>('POST', `/api/products/${pid}/candidates`, { station: 'ST1' });
  t.is(freeze.status, 409);
  t.regex(freeze.body.error, /take one .*then freeze/);
  t.is((await h.api('POST', '/api/stations/ST1/trigger', { partId: 'shot-capture' })).status, 200);
  await waitFor(() => h.daemon.stations.get('ST1')!.latestFrame, 5000, 'the triggered frame');
  t.is((await h.api('GET', '/api/stations/ST1/preview.jpg')).status, 200);
  t.is((await h.api('POST', `/api/products/${pid}/candidates`, { station: 'ST1' })).status, 201);
});

test('advisor: an unusual shot is flagged with words and an overlay; HTTP activation needs acknowledgement, the PLC path does not', async (t) => {
  const h = await startHarness({ cameras: [camera()] });
  t.teardown(() => h.stop());
  const pid = await product(h, 'Advised');
  const ids: number[] = [];
  for (const rgb of [goodPart(0), goodPart(1), goodPart(2)]) ids.push((await h.api<{ shot: { id: number } }>('POST', `/api/products/${pid}/shots`, await png(rgb))).body.shot.id);
  const clean = await h.api<Advice>('GET', `/api/products/${pid}/shot-advice`);
  t.is(clean.status, 200);
  t.is(await documented(h, '/api/products/{id}/shot-advice', 'get', 200, clean.body), null);
  t.deepEqual(clean.body.flagged, []);
  t.regex(clean.body.explanation, /0 = like them, 1 = very different.*threshold is 0\.\d{3}/);
  t.is(clean.body.rule, RULE);
  for (const s of clean.body.shots) t.regex(s.words, /^0\.\d{3}: .*like the other shots/);

  const odd = (await h.api<{ shot: { id: number } }>('POST', `/api/products/${pid}/shots`, await png(noisePart()))).body.shot.id;
  const advice = (await h.api<Advice>('GET', `/api/products/${pid}/shot-advice`)).body;
  t.deepEqual(advice.flagged, [odd], JSON.stringify(advice.shots.map((s) => [s.shotId, s.looScore, s.reasons])));
  const flagged = advice.shots.find((s) => s.shotId === odd)!;
  t.true(flagged.reasons.length > 0);
  t.regex(flagged.words, /unlike the other shots/);
  const overlay = await h.api<Buffer>('GET', flagged.overlayUrl!);
  t.is(overlay.status, 200);
  const meta = await sharp(overlay.body).metadata();
  t.deepEqual([meta.width, meta.height], [W, H]);

  // HTTP activation: 409 naming the shot, nothing changed; acknowledged: activated.
  const refused = await h.api<{ error: string }>('POST', '/api/stations/ST1/activate', { productId: pid });
  t.is(refused.status, 409);
  t.regex(refused.body.error, new RegExp(`flagged shot .*#${odd}.*acknowledgeFlaggedShots`));
  t.is(h.daemon.store.getStation('ST1')!.activeProductId, null);
  const badFlag = await h.api('POST', '/api/stations/ST1/activate', { productId: pid, acknowledgeFlaggedShots: 'yes' });
  t.is(badFlag.status, 400);
  const ok = await h.api<{ productId: number; shots: number }>('POST', '/api/stations/ST1/activate', { productId: pid, acknowledgeFlaggedShots: true });
  t.is(ok.status, 200);
  t.like(ok.body, { productId: pid, shots: 4 });
  // The PLC's recipe select goes through the changeover as before (not blocked by the advisor).
  await h.daemon.changeover.activate('ST1', null, 'plc');
  await h.daemon.changeover.activate('ST1', pid, 'plc');
  t.is(h.daemon.changeover.current('ST1').productId, pid);

  // Deleting the odd shot retires it: no overlay against the current shots, and nothing flagged any more.
  t.is((await h.api('DELETE', `/api/shots/${odd}`)).status, 200);
  t.is((await h.api('GET', `/api/shots/${odd}/loo-overlay.png`)).status, 409);
  t.deepEqual((await h.api<Advice>('GET', `/api/products/${pid}/shot-advice`)).body.flagged, []);
  t.is((await h.api('POST', '/api/stations/ST1/activate', { productId: pid })).status, 200);
  t.is((await h.api('GET', `/api/shots/999/loo-overlay.png`)).status, 404);
});

test('the advisor rule on numbers: threshold, standing out from the others, a region over the threshold', (t) => {
  const th = { threshold: 0.47, source: 'shots' as const };
  // The operators' case: three close scores, nothing stands out by score alone…
  t.deepEqual(adviseShots([{ shotId: 1, looScore: 0.399, peak: 0.3 }, { shotId: 2, looScore: 0.421, peak: 0.32 }, { shotId: 3, looScore: 0.417, peak: 0.31 }], th).map((a) => a.flagged), [false, false, false]);
  // …but a defect region on a shot's map does.
  const region = adviseShots([{ shotId: 1, looScore: 0.399, peak: 0.3 }, { shotId: 2, looScore: 0.421, peak: 0.52 }, { shotId: 3, looScore: 0.417, peak: 0.31 }], th);
  t.deepEqual(region.map((a) => a.flagged), [false, true, false]);
  t.regex(region[1]!.reasons[0]!, /region .*0\.520.*threshold 0\.470/);
  // Stands out: above what the others alone would calibrate (max 0.41 + 0.05).
  const out = adviseShots([{ shotId: 1, looScore: 0.40, peak: 0.3 }, { shotId: 2, looScore: 0.41, peak: 0.3 }, { shotId: 3, looScore: 0.465, peak: 0.3 }], { threshold: 0.6, source: 'shots' });
  t.deepEqual(out.map((a) => a.flagged), [false, false, true]);
  t.regex(out[2]!.reasons[0]!, /stands out.*0\.460/);
  // At or above an override threshold.
  const over = adviseShots([{ shotId: 1, looScore: 0.5, peak: 0.4 }, { shotId: 2, looScore: 0.3, peak: 0.2 }], { threshold: 0.45, source: 'override' });
  t.deepEqual(over.map((a) => a.flagged), [true, false]);
  t.regex(over[0]!.reasons[0]!, /would fail/);
  // Below 2 shots there is no score and nothing to flag.
  t.like(adviseShots([{ shotId: 1, looScore: null, peak: null }], th)[0], { flagged: false, words: 'no score yet: a score needs at least 2 shots' });
});
