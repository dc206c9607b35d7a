// Reference sets against a real agent and real SQLite: every change of a product's shots makes a new set (audited),
// retired shots stay for the sets that name them, restore gives back exactly an earlier set and the station's
// reference follows; a false reject's stored frame becomes a shot; migration 6 gives existing shots a first set.
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { SyntheticLine } from '../drivers/synthetic-line.ts';
import { migrate } from '../agent/store/db.ts';
import { Store } from '../agent/store/store.ts';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';

const W = 160;
const H = 120;
const goodPart = (i: number) => new SyntheticLine({ width: W, height: H, defectRate: 0, kinds: ['scratch', 'dent', 'missing_feature'], seed: 3 }).render(i).rgb;
const png = (rgb: Buffer) => sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();

interface SetView { productId: number; version: number; action: string; detail: string; createdBy: string; createdAt: number; shotIds: number[]; current: boolean }

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
async function documented(h: Harness, path: string, method: string, status: number, body: unknown): Promise<string | null> {
  const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: object }> }> }>> };
  const v = ajv.compile(doc.paths[path]![method]!.responses[String(status)]!.content['application/json']!.schema);
  return v(body) ? null : ajv.errorsText(v.errors);
}

async function addShot(h: Harness, pid: number, i: number): Promise<number> {
  const r = await h.api<{ shot: { id: number } }>('POST', `/api/products/${pid}/shots`, await png(goodPart(i)));
  if (r.status !== 201) throw new Error(`upload answered ${r.status}`);
  return r.body.shot.id;
}

const auditOf = (h: Harness, action: string) => h.daemon.store.auditLog(500).filter((a) => a.action === action).map((a) => a.detail as Record<string, unknown>);

test('every change makes a set; restore gives back exactly an earlier set, audited, and the station follows', async (t) => {
  const h = await startHarness({ cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 4, width: W, height: H, seed: 3, defectRate: 0 } }] });
  t.teardown(() => h.stop());
  const pid = (await h.api<{ id: number }>('POST', '/api/products', { name: 'Sets' })).body.id;
  t.deepEqual((await h.api<SetView[]>('GET', `/api/products/${pid}/reference-sets`)).body, []);
  const [a, b, c] = [await addShot(h, pid, 0), await addShot(h, pid, 1), await addShot(h, pid, 2)];
  const act = await h.api<{ referenceVersion: number; shots: number }>('POST', '/api/stations/ST1/activate', { productId: pid });
  t.is(act.status, 200, JSON.stringify(act.body));
  const r0 = act.body.referenceVersion;
  t.is(auditOf(h, 'station.activate').at(0)?.referenceSet, 3);

  // Deleting a shot: a new set without it; the shot is retired, not gone (set 3 still names it).
  t.is((await h.api('DELETE', `/api/shots/${b}`)).status, 200);
  t.deepEqual(h.daemon.store.listShots(pid).map((s) => s.id), [a, c]);
  t.truthy(h.daemon.store.shotPng(b), 'a retired shot keeps its image');
  t.is((await h.api('GET', `/api/shots/${b}/image.png`)).status, 200);
  t.like(h.daemon.changeover.current('ST1'), { shots: 2, version: r0 + 1 });
  t.like(auditOf(h, 'station.reference').at(0), { referenceVersion: r0 + 1, referenceSet: 4 });
  const again = await h.api<{ error: string }>('DELETE', `/api/shots/${b}`);
  t.is(again.status, 409);
  t.regex(again.body.error, /already retired/);

  const sets = await h.api<SetView[]>('GET', `/api/products/${pid}/reference-sets`);
  t.is(sets.status, 200);
  t.is(await documented(h, '/api/products/{id}/reference-sets', 'get', 200, sets.body), null);
  t.deepEqual(sets.body.map((s) => [s.version, s.action, s.shotIds, s.current]), [
    [4, 'delete', [a, c], true], [3, 'add', [a, b, c], false], [2, 'add', [a, b], false], [1, 'add', [a], false],
  ]);
  t.true(sets.body.every((s) => s.createdBy === 'api:api-token@127.0.0.1' && s.createdAt > 0));

  // Refusals change nothing.
  const count = () => h.daemon.store.referenceSets(pid).length;
  const missing = await h.api<{ error: string }>('POST', `/api/products/${pid}/reference-sets/99/restore`);
  t.is(missing.status, 404);
  t.regex(missing.body.error, /no reference set 99; known versions: 4, 3, 2, 1/);
  const current = await h.api<{ error: string }>('POST', `/api/products/${pid}/reference-sets/4/restore`);
  t.is(current.status, 409);
  t.regex(current.body.error, /already the current one/);
  t.is((await h.api('POST', `/api/products/${pid}/reference-sets/x/restore`)).status, 400);
  t.is((await h.api('POST', `/api/products/999/reference-sets/1/restore`)).status, 404);
  t.is((await h.api('POST', `/api/products/${pid}/reference-sets/2/restore`, undefined, { authorization: '' })).status, 401);
  t.is(count(), 4);
  t.deepEqual(h.daemon.store.listShots(pid).map((s) => s.id), [a, c]);

  // Restore set 2: exactly its shots, as set 5; the station gets the restored reference.
  const restored = await h.api<{ referenceSet: SetView; shots: { shots: { id: number; looScore: number | null }[] } }>('POST', `/api/products/${pid}/reference-sets/2/restore`);
  t.is(restored.status, 201, JSON.stringify(restored.body));
  t.is(await documented(h, '/api/products/{id}/reference-sets/{version}/restore', 'post', 201, restored.body), null);
  t.like(restored.body.referenceSet, { version: 5, action: 'restore', detail: 'restored set 2', shotIds: [a, b], current: true });
  t.deepEqual(restored.body.shots.shots.map((s) => s.id), [a, b]);
  t.true(restored.body.shots.shots.every((s) => typeof s.looScore === 'number'), 'leave-one-out scores of the restored set');
  t.deepEqual(h.daemon.store.listShots(pid).map((s) => s.id), [a, b]);
  t.true(h.daemon.store.isShotRetired(c));
  t.like(h.daemon.changeover.current('ST1'), { productId: pid, shots: 2, version: r0 + 2 });
  t.like(auditOf(h, 'reference-set.create').at(0), { productId: pid, version: 5, action: 'restore', shotIds: [a, b] });
  t.is(h.daemon.store.auditLog(50).find((e) => e.action === 'reference-set.create')!.actor, 'api:api-token@127.0.0.1', 'the token names itself in the audit');
  t.like(auditOf(h, 'station.reference').at(0), { referenceVersion: r0 + 2, referenceSet: 5 });
  // Results judged after the restore carry the new reference version with the restored set's size.
  const res = await waitFor(() => h.daemon.store.queryResults({ limit: 20 }).find((r) => r.referenceVersion === r0 + 2 && r.outcome !== 'NO_VERDICT'), 10_000, 'a result with the restored reference');
  t.like(res, { productId: pid, shots: 2, mode: 'few-shot' });

  // Set 3 again: c, retired since set 5, comes back.
  t.is((await h.api('POST', `/api/products/${pid}/reference-sets/3/restore`)).status, 201);
  t.deepEqual(h.daemon.store.listShots(pid).map((s) => s.id), [a, b, c]);
});

test('false reject → good shot: the stored frame becomes a shot in a new set; clear 409s when it cannot', async (t) => {
  const h = await startHarness({ cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 4, width: W, height: H, seed: 11, defectRate: 0.5 } }] });
  t.teardown(() => h.stop());
  // A strict threshold override: this demo pack rejects some parts at it (false rejects to recover).
  const pid = (await h.api<{ id: number }>('POST', '/api/products', { name: 'Rejects', threshold: 0.4 })).body.id;
  const other = (await h.api<{ id: number }>('POST', '/api/products', { name: 'Other' })).body.id;

  // Zero-shot results (no product): a stored frame, but no product to add it to unless one is named.
  const zeroShot = await waitFor(() => h.daemon.store.queryResults({ outcome: 'FAIL', limit: 50 }).find((r) => r.productId === null && h.daemon.store.resultImage(r.resultId)), 15_000, 'a zero-shot FAIL with its frame');
  const noProduct = await h.api<{ error: string }>('POST', `/api/results/${zeroShot.resultId}/keep-as-shot`);
  t.is(noProduct.status, 409);
  t.regex(noProduct.body.error, /without a product.*productId/);
  t.is(h.daemon.store.listShots(pid).length, 0);

  await addShot(h, pid, 0);
  await addShot(h, pid, 1);
  // At that threshold the advisor flags good shots too (their leave-one-out scores reach it): acknowledged.
  const act = await h.api<{ referenceVersion: number }>('POST', '/api/stations/ST1/activate', { productId: pid, acknowledgeFlaggedShots: true });
  t.is(act.status, 200, JSON.stringify(act.body));
  const fail = await waitFor(() => h.daemon.store.queryResults({ outcome: 'FAIL', limit: 50 }).find((r) => r.productId === pid && r.referenceVersion === act.body.referenceVersion && h.daemon.store.resultImage(r.resultId)), 20_000, 'a few-shot FAIL with its frame');
  const pass = await waitFor(() => h.daemon.store.queryResults({ outcome: 'PASS', limit: 50 }).find((r) => r.productId === pid), 20_000, 'a PASS');

  // Refusals first: nothing stored.
  const noFrame = await h.api<{ error: string }>('POST', `/api/results/${pass.resultId}/keep-as-shot`);
  t.is(noFrame.status, 409);
  t.regex(noFrame.body.error, /no stored frame .*keepImages/);
  t.is((await h.api('POST', '/api/results/NOPE/keep-as-shot')).status, 404);
  t.is((await h.api('POST', `/api/results/${fail.resultId}/keep-as-shot`, { productId: 'x' })).status, 400);
  t.is((await h.api('POST', `/api/results/${fail.resultId}/keep-as-shot`, { productId: 999 })).status, 404);
  t.is((await h.api('POST', `/api/results/${fail.resultId}/keep-as-shot`, undefined, { authorization: '' })).status, 401);
  t.is(h.daemon.store.listShots(pid).length, 2);
  t.is(h.daemon.store.referenceSets(pid).length, 2);

  const kept = await h.api<{ shot: { id: number; source: string; width: number; height: number }; referenceSet: SetView; shots: { shots: unknown[] } }>('POST', `/api/results/${fail.resultId}/keep-as-shot`);
  t.is(kept.status, 201, JSON.stringify(kept.body));
  t.is(await documented(h, '/api/results/{id}/keep-as-shot', 'post', 201, kept.body), null);
  t.like(kept.body.shot, { source: `result:${fail.resultId}`, width: W, height: H });
  t.like(kept.body.referenceSet, { version: 3, action: 'add', current: true });
  t.is(kept.body.shots.shots.length, 3);
  const stored = await sharp(h.daemon.store.shotPng(kept.body.shot.id)!).metadata();
  t.is(stored.format, 'png');
  // The shot holds the stored JPEG's pixels exactly (kept losslessly from there on).
  const fromJpeg = await sharp(h.daemon.store.resultImage(fail.resultId)!).removeAlpha().raw().toBuffer();
  t.true((await sharp(h.daemon.store.shotPng(kept.body.shot.id)!).raw().toBuffer()).equals(fromJpeg));
  t.like(h.daemon.changeover.current('ST1'), { shots: 3, version: act.body.referenceVersion + 1 });

  // The earlier set comes back in one step.
  t.is((await h.api('POST', `/api/products/${pid}/reference-sets/2/restore`)).status, 201);
  t.is(h.daemon.store.listShots(pid).length, 2);
  t.like(h.daemon.changeover.current('ST1'), { shots: 2 });

  // A frame of this product's result into another product, named explicitly.
  const into = await h.api<{ shot: { productId: number } }>('POST', `/api/results/${zeroShot.resultId}/keep-as-shot`, { productId: other });
  t.is(into.status, 201);
  t.is(into.body.shot.productId, other);
});

test('migration 6 gives every product with shots a first reference set; deleting a product takes its sets along', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'refsets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.db');
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  migrate(old, file, false, 5);
  old.prepare('INSERT INTO products (id, recipe_id, name, created_at, updated_at) VALUES (1, 1, ?, 1, 1), (2, 2, ?, 1, 1)').run('WithShots', 'Empty');
  const shot = old.prepare("INSERT INTO shots (product_id, png, width, height, source, created_by, created_at) VALUES (1, ?, 1, 1, 'upload', 'old', 1)");
  shot.run(Buffer.from('a'));
  shot.run(Buffer.from('b'));
  old.close();

  const store = new Store(file);
  t.teardown(() => store.close());
  t.like(store.referenceSets(1), [{ version: 1, action: 'migrated', createdBy: 'migration', shotIds: [1, 2] }]);
  t.deepEqual(store.referenceSets(2), []);
  t.is(store.listProducts().find((p) => p.id === 1)!.shotCount, 2);
  store.deleteShot(1, 'test');
  t.is(store.listProducts().find((p) => p.id === 1)!.shotCount, 1);
  t.deepEqual(store.referenceSets(1).map((s) => s.shotIds), [[2], [1, 2]]);
  store.deleteProduct(1, 'test');
  t.deepEqual(store.referenceSets(1), []);
  t.is((store.db.prepare('SELECT COUNT(*) AS n FROM shots').get() as { n: number }).n, 0);
});
