// The threshold workbench's API against a real agent: GET /api/products/:id/scores answers what the store holds
// (the last N PASS/FAIL results with the threshold each was judged with, the shots' leave-one-out scores, the
// current and calibrated thresholds), matches its OpenAPI schema; threshold writes need the token, are audited, and
// bad input is refused in plain words with nothing changed.
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';

interface Scores {
  productId: number;
  limit: number;
  threshold: { value: number | null; source: string | null; override: number | null; calibrated: number | null; calibratedSource: string | null };
  shots: { shotId: number; looScore: number | null }[];
  note: string;
  counts: { shown: number; pass: number; fail: number };
  totals: { pass: number; fail: number; noVerdict: number };
  results: { resultId: string; stationId: string; score: number; threshold: number; outcome: string; decidedAt: number }[];
}
interface Product { id: number; name: string; threshold: number | null; recipeId: number }

let h: Harness;
let product: Product;

test.before(async () => {
  h = await startHarness({ cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 8, width: 160, height: 120, seed: 5, defectRate: 0.5 } }] });
  product = (await h.api<Product>('POST', '/api/products', { name: 'workbench', recipeId: 41 })).body;
  for (let i = 0; i < 2; i++) {
    const added = await h.api('POST', `/api/products/${product.id}/shots/capture`, { station: 'ST1' });
    if (added.status !== 201) throw new Error(`capture: ${JSON.stringify(added.body)}`);
  }
  // The changeover itself (the activation route may ask more of the caller; what it commits is this).
  await h.daemon.changeover.activate('ST1', product.id, 'test');
  await waitFor(() => h.daemon.store.queryResults({ productId: product.id, outcome: 'PASS', limit: 1 }).length && h.daemon.store.queryResults({ productId: product.id, limit: 12 }).length >= 12, 30_000, 'a dozen results of the product');
});
test.after.always(() => h?.stop());

const judgedRows = (limit: number) => h.daemon.store.queryResults({ productId: product.id, limit: 1000 }).filter((r) => r.outcome !== 'NO_VERDICT').slice(0, limit);

test.serial('scores: the last N PASS/FAIL results as the store holds them, the shots\' LOO scores, the calibrated threshold', async (t) => {
  const res = await h.api<Scores>('GET', `/api/products/${product.id}/scores?limit=5`);
  t.is(res.status, 200, JSON.stringify(res.body));
  const s = res.body;
  t.is(s.limit, 5);
  // The store, read through its own results query at the moment after: newer rows may have come, so compare the
  // answer with the store's rows of the same ids, in the same order.
  t.is(s.results.length, 5);
  const byId = new Map(h.daemon.store.queryResults({ productId: product.id, limit: 1000 }).map((r) => [r.resultId, r]));
  for (const r of s.results) {
    const row = byId.get(r.resultId);
    t.truthy(row, `${r.resultId} is in the store`);
    t.deepEqual(r, { resultId: row!.resultId, stationId: row!.stationId, score: row!.score, threshold: row!.threshold, outcome: row!.outcome, decidedAt: row!.decidedAt });
  }
  const decided = s.results.map((r) => r.decidedAt);
  t.deepEqual(decided, [...decided].sort((a, b) => b - a), 'newest first');
  const older = judgedRows(1000).filter((r) => r.decidedAt < s.results[0]!.decidedAt || r.resultId === s.results[0]!.resultId);
  t.deepEqual(s.results.map((r) => r.resultId), older.slice(0, 5).map((r) => r.resultId), 'no PASS/FAIL result of the product left out between them');
  t.is(s.counts.shown, 5);
  t.is(s.counts.pass + s.counts.fail, 5);
  t.is(s.counts.pass, s.results.filter((r) => r.outcome === 'PASS').length);
  t.true(s.totals.pass + s.totals.fail >= 12);
  // The shots and the threshold the product runs with: calibrated from the 2 shots' leave-one-out scores.
  const shotIds = h.daemon.store.listShots(product.id).map((x) => x.id);
  t.deepEqual(s.shots.map((x) => x.shotId), shotIds);
  t.true(s.shots.every((x) => typeof x.looScore === 'number'));
  t.like(s.threshold, { source: 'shots', override: null, calibratedSource: 'shots' });
  t.is(s.threshold.value, h.daemon.changeover.current('ST1').threshold, 'what the station judges with');
  t.is(s.threshold.calibrated, s.threshold.value);
  t.true(s.results.every((r) => r.threshold === s.threshold.value), 'each judged with the calibrated threshold');
  // Default limit, and the answer matches the OpenAPI document (closed objects: no undeclared field).
  const all = (await h.api<Scores>('GET', `/api/products/${product.id}/scores`)).body;
  t.is(all.limit, 200);
  t.true(all.results.length >= 12);
  const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: object }> }> }>> };
  const op = doc.paths['/api/products/{id}/scores']!.get!;
  const validate = new Ajv2020({ strict: false, validateFormats: false }).compile(op.responses['200']!.content['application/json']!.schema);
  t.true(validate(all), JSON.stringify(validate.errors));
});

test.serial('scores: bad product ids and limits get a clear 4xx', async (t) => {
  const bad = async (path: string, status: number, error: string) => {
    const res = await h.api<{ error: string }>('GET', path);
    t.is(res.status, status, path);
    t.is(res.body.error, error, path);
  };
  await bad(`/api/products/${product.id}/scores?limit=0`, 400, 'limit must be a whole number from 1 to 1000 (got "0")');
  await bad(`/api/products/${product.id}/scores?limit=lots`, 400, 'limit must be a whole number from 1 to 1000 (got "lots")');
  await bad(`/api/products/${product.id}/scores?limit=1001`, 400, 'limit must be a whole number from 1 to 1000 (got "1001")');
  await bad('/api/products/abc/scores', 400, 'product id must be a positive integer, got "abc"');
  const missing = await h.api<{ error: string }>('GET', '/api/products/9999/scores');
  t.is(missing.status, 404);
  t.regex(missing.body.error, /product 9999/);
});

test.serial('threshold writes: token needed, bad input refused in plain words, nothing changed; a good one is audited and used', async (t) => {
  const before = h.daemon.store.requireProduct(product.id);
  const auditBefore = h.daemon.store.auditLog(1000).length;
  const patch = (body: unknown, headers: Record<string, string> = {}) => h.api<{ error?: string } & Partial<Product>>('PATCH', `/api/products/${product.id}`, body, headers);

  const noToken = await fetch(`${h.url}/api/products/${product.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ threshold: 0.4 }) });
  t.is(noToken.status, 401);
  const wrongToken = await patch({ threshold: 0.4 }, { authorization: 'Bearer nope' });
  t.is(wrongToken.status, 401);

  const refusals: [unknown, string][] = [
    [{ threshold: 1.5 }, 'invalid request body: threshold must be between 0 and 1 (got 1.5)'],
    [{ threshold: -0.1 }, 'invalid request body: threshold must be between 0 and 1 (got -0.1)'],
    [{ threshold: 'high' }, 'invalid request body: threshold must be between 0 and 1, or null (got "high")'],
    [{ name: '' }, 'invalid request body: name must not be empty'],
    [{ name: '   ' }, 'invalid request body: name must not be empty'],
    [{ name: 'x'.repeat(65) }, 'invalid request body: name must have at most 64 characters (got 65)'],
    [{ threshold: 0.4, colour: 'red' }, 'invalid request body: unknown field "colour"; allowed: name, threshold'],
  ];
  for (const [body, error] of refusals) {
    const res = await patch(body);
    t.is(res.status, 400, JSON.stringify(body));
    t.is(res.body.error, error);
  }
  const create = await h.api<{ error: string }>('POST', '/api/products', { name: 'other', recipeId: 0 });
  t.is(create.status, 400);
  t.is(create.body.error, 'invalid request body: recipeId must be a whole number from 1 to 2147483647 (got 0)');
  const fraction = await h.api<{ error: string }>('POST', '/api/products', { name: 'other', recipeId: 2.5 });
  t.is(fraction.body.error, 'invalid request body: recipeId must be a whole number from 1 to 2147483647 (got 2.5)');
  const nameless = await h.api<{ error: string }>('POST', '/api/products', { recipeId: 3 });
  t.is(nameless.body.error, 'invalid request body: name is required: text of at most 64 characters');
  // Nothing changed on any refusal: the product as it was, no audit entry, no new product.
  t.deepEqual(h.daemon.store.requireProduct(product.id), before);
  t.is(h.daemon.store.auditLog(1000).length, auditBefore);
  t.false(h.daemon.store.listProducts().some((p) => p.name === 'other'));

  // A good write: audited (who, when, what), the product runs with it, the scores route shows it.
  const t0 = Date.now();
  const ok = await patch({ threshold: 0.42 });
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.is(ok.body.threshold, 0.42);
  // The change's own entry (the stations' reference bumps are audited after it).
  const updates = () => h.daemon.store.auditLog(20).filter((e) => e.action === 'product.update');
  const entry = updates()[0];
  t.like(entry, { action: 'product.update', detail: { id: product.id, threshold: 0.42 } });
  t.regex(entry!.actor, /^api:/);
  t.true(entry!.at >= t0);
  await waitFor(() => h.daemon.changeover.current('ST1').threshold === 0.42, 10_000, 'the station judging with 0.42');
  const s = (await h.api<Scores>('GET', `/api/products/${product.id}/scores?limit=3`)).body;
  t.like(s.threshold, { value: 0.42, source: 'override', override: 0.42, calibratedSource: 'shots' });
  const loo = s.shots.map((x) => x.looScore!);
  t.true(s.threshold.calibrated! > Math.max(...loo), 'the calibrated threshold sits above every leave-one-out score');

  // Back to the calibrated threshold.
  const back = await patch({ threshold: null });
  t.is(back.status, 200);
  t.is(back.body.threshold, null);
  t.like(updates()[0], { detail: { id: product.id, threshold: null } });
  const after = (await h.api<Scores>('GET', `/api/products/${product.id}/scores?limit=3`)).body;
  t.like(after.threshold, { value: s.threshold.calibrated, source: 'shots', override: null });
});

test.serial('validation words elsewhere: query and path parameters, enums, nested fields', async (t) => {
  const activate = await h.api<{ error: string }>('POST', '/api/stations/ST1/activate', { productId: 'one' });
  t.is(activate.status, 400);
  t.regex(activate.body.error, /^invalid request body: productId must be a whole number of at least 1, or null \(got "one"\)$/);
  const partId = await h.api<{ error: string }>('POST', '/api/stations/ST1/trigger', { partId: 'p'.repeat(200) });
  t.is(partId.status, 400);
  t.regex(partId.body.error, /^invalid request body: partId must have at most \d+ characters \(got 200\)$/);
});
