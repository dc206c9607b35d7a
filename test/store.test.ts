import test from 'ava';
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase, schemaVersion } from '../agent/store/db.ts';
import { LATEST_VERSION, MIGRATIONS } from '../agent/store/migrations.ts';
import { Store, type ResultInput } from '../agent/store/store.ts';

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'store-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function resultInput(stationId: string, over: Partial<ResultInput> = {}): ResultInput {
  const now = new Date().toISOString();
  return {
    stationId, cameraId: 'cam1', partId: '', triggerSeq: 0, recipeId: 0, recipeName: '', modelVersion: 'pack@abc', referenceVersion: 0,
    outcome: 'PASS', verdictCode: 1, mode: 'zero-shot', shots: 0, anomalyScore: 0.1, threshold: 0.5,
    defects: { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0], boxes: [] }, mask: null,
    timing: { acquiredAt: now, decidedAt: now, processingMs: 5 }, frameSeq: 1, productId: null, width: 8, height: 8, keepMask: false, ...over,
  };
}

test('a new database is WAL, synchronous NORMAL, at the latest schema version', (t) => {
  const store = new Store(join(tempDir(t), 'a.db'));
  t.is(store.db.pragma('journal_mode', { simple: true }), 'wal');
  t.is(store.db.pragma('synchronous', { simple: true }), 1);
  t.true((store.db.pragma('busy_timeout', { simple: true }) as number) > 0);
  t.is(schemaVersion(store.db), LATEST_VERSION);
  store.close();
});

test('migrations run down to 0 and up again on a copy; migrating an existing schema writes a backup first', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.db');
  const store = new Store(file);
  store.createProduct({ name: 'kept' }, 'test');
  store.close();
  const copy = join(dir, 'copy.db');
  copyFileSync(file, copy);
  const db = new Database(copy);
  const backup = migrate(db, copy, true, 0);
  t.is(schemaVersion(db), 0);
  t.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all(), []);
  migrate(db, copy, false);
  t.is(schemaVersion(db), LATEST_VERSION);
  db.close();
  t.truthy(backup);
  t.true(existsSync(backup!));
  const b = new Database(backup!, { readonly: true });
  t.is(schemaVersion(b), LATEST_VERSION);
  t.deepEqual(b.prepare('SELECT name FROM products').all(), [{ name: 'kept' }]);
  b.close();
});

test('a schema newer than the agent knows is refused with a clear message and left untouched', (t) => {
  const file = join(tempDir(t), 'n.db');
  new Store(file).close();
  const newer = new Database(file);
  newer.pragma(`user_version = ${LATEST_VERSION + 5}`);
  newer.close();
  t.throws(() => openDatabase(file), { message: /newer than this agent knows/ });
  const check = new Database(file, { readonly: true });
  t.is(schemaVersion(check), LATEST_VERSION + 5);
  check.close();
});

test('resultSeq is per station, strictly increasing and continues after reopening', (t) => {
  const file = join(tempDir(t), 'r.db');
  let store = new Store(file);
  const seen: number[] = [];
  store.onResult((v) => seen.push(v.resultSeq));
  for (let i = 0; i < 3; i++) store.recordResult(resultInput('ST1'));
  store.recordResult(resultInput('ST2'));
  store.close();
  store = new Store(file);
  const v = store.recordResult(resultInput('ST1'));
  t.deepEqual(seen, [1, 2, 3, 1]);
  t.is(v.resultSeq, 4);
  t.regex(v.resultId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  t.is(store.queryResults({ stationId: 'ST1' }).length, 4);
  store.close();
});

test('a hook that throws rolls back the result row and does not consume a sequence number', (t) => {
  const store = new Store(join(tempDir(t), 'h.db'));
  let fail = true;
  store.onResult(() => {
    if (fail) throw new Error('outbox full');
  });
  t.throws(() => store.recordResult(resultInput('ST1')), { message: 'outbox full' });
  fail = false;
  t.is(store.recordResult(resultInput('ST1')).resultSeq, 1);
  t.is(store.queryResults().length, 1);
  store.close();
});

test('products: unique names and recipe ids, clear errors, shots for an unknown product refused, active product protected', (t) => {
  const store = new Store(join(tempDir(t), 'p.db'));
  const a = store.createProduct({ name: 'A', recipeId: 12 }, 'op');
  t.is(store.createProduct({ name: 'B' }, 'op').recipeId, 13);
  t.throws(() => store.createProduct({ name: 'A' }, 'op'), { message: /already exists/ });
  t.throws(() => store.createProduct({ name: 'C', recipeId: 12 }, 'op'), { message: /recipe id 12 is already used/ });
  t.throws(() => store.addShot(999, { png: Buffer.from('x'), width: 1, height: 1, source: 'upload' }, 'op'), { message: /product 999 does not exist/ });
  store.addShot(a.id, { png: Buffer.from('x'), width: 1, height: 1, source: 'cam1' }, 'op');
  t.is(store.getProduct(a.id)!.shotCount, 1);
  const st = store.activate('ST1', a.id, 'op');
  t.is(st.referenceVersion, 1);
  t.throws(() => store.deleteProduct(a.id, 'op'), { message: /active on ST1/ });
  t.is(store.productByRecipe(12)!.id, a.id);
  t.true(store.auditLog().some((e) => e.action === 'station.activate'));
  store.close();
});

test('retention removes rows by age, masks by age, and oldest rows while under the free-space watermark', (t) => {
  const store = new Store(join(tempDir(t), 'ret.db'));
  const day = 86_400_000;
  const now = Date.now();
  const mask = { png: Buffer.alloc(100, 1), width: 8, height: 8, sha256: 'x', uri: '' };
  for (const age of [40, 10, 2, 0]) {
    const at = new Date(now - age * day).toISOString();
    store.recordResult(resultInput('ST1', { outcome: 'FAIL', mask, keepMask: true, timing: { acquiredAt: at, decidedAt: at, processingMs: 1 } }));
  }
  const policy = { maxAgeMs: 30 * day, maskMaxAgeMs: 7 * day, minFreeBytes: 1000, walCheckpointBytes: 1 << 20 };
  const r = store.prune(policy, now, () => 10_000);
  t.is(r.rows, 1);
  t.is(r.masks, 1);
  t.deepEqual(store.queryResults().map((x) => x.hasMask), [true, true, false]);
  // Fake a full disk through the free-space probe: masks go first, then the oldest rows, until above the watermark.
  let calls = 0;
  const r2 = store.prune(policy, now, () => (++calls > 2 ? 10_000 : 10));
  t.is(r2.masks, 2, 'the watermark pass removed the two remaining masks first');
  t.true(r2.rows >= 0);
  t.false(r2.underWatermark);
  t.deepEqual(store.queryResults().filter((x) => x.hasMask), []);
  store.close();
});

test('a store just under the watermark loses only its oldest masks; batches grow while it stays under', (t) => {
  const store = new Store(join(tempDir(t), 'ret2.db'));
  const mask = { png: Buffer.alloc(100, 1), width: 8, height: 8, sha256: 'x', uri: '' };
  const start = Date.now() - 1000 * 1000;
  for (let i = 0; i < 1000; i++) {
    const at = new Date(start + i * 1000).toISOString();
    store.recordResult(resultInput('ST1', { outcome: 'FAIL', mask, keepMask: true, timing: { acquiredAt: at, decidedAt: at, processingMs: 1 } }));
  }
  const policy = { maxAgeMs: 30 * 86_400_000, maskMaxAgeMs: 7 * 86_400_000, minFreeBytes: 1000, walCheckpointBytes: 1 << 20 };
  // Back above the line after the first batch: a handful of the oldest masks go, the rest stay.
  let probes = 0;
  const r = store.prune(policy, Date.now(), () => (++probes > 1 ? 10_000 : 10));
  t.true(r.masks > 0 && r.masks <= 16, `${r.masks} masks removed`);
  const rows = store.queryResults({ limit: 1000 });
  t.true(rows.slice(0, 1000 - 16).every((x) => x.hasMask), 'every newer result keeps its mask');
  t.false(rows.at(-1)!.hasMask, 'the oldest lost its mask');
  // Staying under the line for several probes removes more per batch (doubling), still oldest first.
  probes = 0;
  const r2 = store.prune(policy, Date.now(), () => (++probes > 5 ? 10_000 : 10));
  t.true(r2.masks > 4 * r.masks, `${r2.masks} masks in the second pass`);
  const kept = store.queryResults({ limit: 1000 }).map((x) => x.hasMask);
  t.is(kept.indexOf(false), kept.filter(Boolean).length, 'masks are kept exactly on the newest results');
  store.close();
});

test('a WAL file over the limit is checkpointed and truncated', (t) => {
  const store = new Store(join(tempDir(t), 'wal.db'));
  const mask = { png: Buffer.alloc(64 * 1024, 5), width: 8, height: 8, sha256: 'x', uri: '' };
  for (let i = 0; i < 40; i++) store.recordResult(resultInput('ST1', { outcome: 'FAIL', mask, keepMask: true }));
  t.true(store.walBytes() > 1024 * 1024, `wal is ${store.walBytes()} bytes`);
  t.false(store.checkpointIfLarge(64 * 1024 * 1024), 'under the limit nothing happens');
  t.true(store.checkpointIfLarge(1024 * 1024));
  t.is(store.walBytes(), 0);
  t.is(store.queryResults({ limit: 1000 }).length, 40);
  store.close();
});

test('a migration that fails part-way leaves the store at its old schema, unchanged, and the error names store, step and backup', (t) => {
  const file = join(tempDir(t), 'up.db');
  const store = new Store(file);
  store.createProduct({ name: 'kept' }, 'test');
  store.close();
  const db = new Database(file);
  const next = LATEST_VERSION + 1;
  const failing = [
    ...MIGRATIONS,
    { version: next, description: 'adds a table', up: 'CREATE TABLE upgrade_probe (id INTEGER);', down: 'DROP TABLE upgrade_probe;' },
    { version: next + 1, description: 'breaks', up: 'CREATE TABLE products (id INTEGER);', down: '' },
  ];
  const err = t.throws(() => migrate(db, file, true, undefined, failing));
  t.regex(err!.message, new RegExp(`${file}: migration from schema ${next} to ${next + 1} failed \\(.*already exists\\); the store was left at schema ${LATEST_VERSION}, unchanged; a backup taken before migrating is .*\\.bak`));
  t.is(schemaVersion(db), LATEST_VERSION);
  t.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'upgrade_probe'").all(), [], 'the step that succeeded was rolled back too');
  t.deepEqual(db.prepare('SELECT name FROM products').all(), [{ name: 'kept' }]);
  db.close();
});
