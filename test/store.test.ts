import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase, schemaVersion } from '../agent/store/db.ts';
import { LATEST_VERSION, MIGRATIONS } from '../agent/store/migrations.ts';
import { createOutbox } from '../adapters/mqtt/outbox.ts';
import { createSqliteStationStore, emptyStationState } from '../adapters/opcua/state-store.ts';
import type { VerdictRecord } from '../adapters/types.ts';
import { resultInputFromVerdict, toVerdictRecord } from '../agent/northbound/verdict-record.ts';
import { Store } from '../agent/store/store.ts';
import { resultInput } from './helpers/result-input.ts';

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'store-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
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

// What an agent of schema 3 ran in its adapters (adapters/mqtt/outbox.ts, adapters/opcua/state-store.ts at that release).
const SCHEMA_3_ADAPTER_TABLES = `
  CREATE TABLE IF NOT EXISTS mqtt_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('verdict','mask','alarm')),
    station_id TEXT NOT NULL,
    result_id TEXT,
    result_seq INTEGER,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    props TEXT,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX IF NOT EXISTS mqtt_outbox_result ON mqtt_outbox(kind, result_id) WHERE result_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS mqtt_outbox_kind ON mqtt_outbox(kind, id);
  CREATE INDEX IF NOT EXISTS mqtt_outbox_age ON mqtt_outbox(created_at);
  CREATE TABLE IF NOT EXISTS opcua_station_state (station_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
`;

const adapterRows = (db: Database.Database) => ({
  outbox: db.prepare('SELECT * FROM mqtt_outbox ORDER BY id').all(),
  opcua: db.prepare('SELECT * FROM opcua_station_state ORDER BY station_id').all(),
  indexes: db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('mqtt_outbox', 'opcua_station_state') AND sql IS NOT NULL ORDER BY name").all(),
});

test("a schema-3 store whose adapters made their tables migrates to the store's own, rows kept as they were", (t) => {
  const file = join(tempDir(t), 'old.db');
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  migrate(old, file, false, 3);
  old.exec(SCHEMA_3_ADAPTER_TABLES);
  old.prepare('INSERT INTO mqtt_outbox (kind, station_id, result_id, result_seq, topic, payload, props, created_at, attempts, bytes) VALUES (?,?,?,?,?,?,?,?,?,?)')
    .run('verdict', 'ST1', '01JOLDRESULT0000000000000A', 7, 'ST1/verdict', Buffer.from('{"resultSeq":7}'), null, 1_700_000_000_000, 2, 27);
  old.prepare('INSERT INTO mqtt_outbox (kind, station_id, result_id, result_seq, topic, payload, props, created_at, bytes) VALUES (?,?,?,?,?,?,?,?,?)')
    .run('mask', 'ST1', '01JOLDRESULT0000000000000A', 7, 'ST1/mask/01JOLDRESULT0000000000000A', Buffer.from([137, 80, 78, 71]), '{"contentType":"image/png"}', 1_700_000_000_000, 40);
  const state = { ...emptyStationState(), lastResultSeq: 7, counters: { total: 7, ok: 5, nok: 1, error: 1, missedTriggers: 0 } };
  old.prepare('INSERT INTO opcua_station_state (station_id, state, updated_at) VALUES (?,?,?)').run('ST1', JSON.stringify(state), 1_700_000_000_000);
  const before = adapterRows(old);
  old.close();

  const store = new Store(file);
  t.is(schemaVersion(store.db), LATEST_VERSION);
  t.deepEqual(adapterRows(store.db), before);
  t.is(before.outbox.length, 2);
  // The adapters work on the tables the store kept: the outbox drains what the old agent queued, OPC UA resumes.
  const outbox = createOutbox(store.db, { maxMessages: 100, maxBytes: 1_000_000, maxAgeS: 3600 });
  t.deepEqual(outbox.peek(10).map((r) => [r.kind, r.resultSeq, r.attempts]), [['verdict', 7, 2], ['mask', 7, 0]]);
  t.is(outbox.stats().depth, 2);
  t.deepEqual(createSqliteStationStore(store.db).load('ST1'), state);
  store.close();
});

test("a new store has the adapters' tables from its migration; migrating down drops them", (t) => {
  const file = join(tempDir(t), 'fresh.db');
  const store = new Store(file);
  const tables = (db: Database.Database) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('mqtt_outbox', 'opcua_station_state') ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  t.deepEqual(tables(store.db), ['mqtt_outbox', 'opcua_station_state']);
  const created = adapterRows(store.db);
  t.deepEqual(created.indexes, [{ name: 'mqtt_outbox_age' }, { name: 'mqtt_outbox_kind' }, { name: 'mqtt_outbox_result' }]);
  migrate(store.db, file, false, 3);
  t.deepEqual(tables(store.db), []);
  migrate(store.db, file, false);
  t.deepEqual(tables(store.db), ['mqtt_outbox', 'opcua_station_state']);
  store.close();
});

test('the adapters refuse a database the store did not make, naming the table and the store', (t) => {
  const db = new Database(join(tempDir(t), 'bare.db'));
  t.throws(() => createOutbox(db, { maxMessages: 1, maxBytes: 1, maxAgeS: 1 }), { message: /^MQTT outbox: table mqtt_outbox is missing in .*bare\.db; the agent store creates it/ });
  t.throws(() => createSqliteStationStore(db), { message: /^OPC UA station state: table opcua_station_state is missing in .*bare\.db; the agent store creates it/ });
  t.deepEqual(db.prepare("SELECT name FROM sqlite_master").all(), [], 'nothing was created');
  db.close();
});

test('the result hook gets the recorded row, and the northbound record maps it as the sinks expect', (t) => {
  const store = new Store(join(tempDir(t), 'hook.db'));
  const seen: VerdictRecord[] = [];
  store.onResult((r) => seen.push(toVerdictRecord(r)));
  const mask = { png: Buffer.from([1, 2, 3]), width: 8, height: 8, sha256: 'abc', uri: 'http://x/results/r/mask.png' };
  const at = Date.parse('2025-01-02T03:04:05.678Z');
  const recorded = store.recordResult(resultInput('ST1', { outcome: 'FAIL', verdictCode: 2, mask, capturedAt: at, decidedAt: at + 40, queueMs: 3, inferenceMs: 30, totalMs: 40, recipeName: 'A-12', partId: 'P1' }));
  store.recordResult(resultInput('ST1', { outcome: 'NO_VERDICT', reason: 'timeout', verdictCode: 3, mode: 'none' }));
  t.like(seen[0], {
    resultId: recorded.resultId, resultSeq: 1, stationId: 'ST1', partId: 'P1', recipeName: 'A-12', modelVersion: 'pack@abc', outcome: 'FAIL', verdictCode: 2,
    anomalyScore: 0.1, mask, timing: { acquiredAt: '2025-01-02T03:04:05.678Z', decidedAt: '2025-01-02T03:04:05.718Z', processingMs: 40, queueMs: 3, inferenceMs: 30 },
  });
  t.false('noVerdictReason' in seen[0]!);
  t.deepEqual(Object.keys(seen[0]!.timing), ['acquiredAt', 'decidedAt', 'processingMs', 'queueMs', 'inferenceMs']);
  t.like(seen[1], { resultSeq: 2, outcome: 'NO_VERDICT', noVerdictReason: 'timeout', mode: 'none' });
  t.deepEqual(Object.keys(seen[1]!.timing), ['acquiredAt', 'decidedAt', 'processingMs'], 'no queue or inference time was recorded');
  t.like(store.getResult(recorded.resultId), { resultSeq: 1, packId: 'pack@abc', score: 0.1, hasMask: false, capturedAt: at, decidedAt: at + 40, queueMs: 3, inferenceMs: 30, totalMs: 40 });
  // And back: a northbound record becomes the same store input.
  const { resultSeq: _seq, ...northbound } = seen[0]!;
  t.deepEqual(resultInputFromVerdict(northbound, { frameSeq: 1, productId: null, width: 8, height: 8, keepMask: false }),
    { ...resultInput('ST1', { outcome: 'FAIL', verdictCode: 2, mask, capturedAt: at, decidedAt: at + 40, queueMs: 3, inferenceMs: 30, totalMs: 40, recipeName: 'A-12', partId: 'P1' }), resultId: recorded.resultId });
  store.close();
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

test('retention removes rows by age, masks by age, and oldest rows while under the free-space watermark', async (t) => {
  const store = new Store(join(tempDir(t), 'ret.db'));
  const day = 86_400_000;
  const now = Date.now();
  const mask = { png: Buffer.alloc(100, 1), width: 8, height: 8, sha256: 'x', uri: '' };
  for (const age of [40, 10, 2, 0]) {
    const at = now - age * day;
    store.recordResult(resultInput('ST1', { outcome: 'FAIL', mask, keepMask: true, capturedAt: at, decidedAt: at, totalMs: 1 }));
  }
  const policy = { maxAgeMs: 30 * day, maskMaxAgeMs: 7 * day, minFreeBytes: 1000, walCheckpointBytes: 1 << 20 };
  const r = await store.prune(policy, now, () => 10_000);
  t.is(r.rows, 1);
  t.is(r.masks, 1);
  t.deepEqual(store.queryResults().map((x) => x.hasMask), [true, true, false]);
  // Fake a full disk through the free-space probe: masks go first, then the oldest rows, until above the watermark.
  let calls = 0;
  const r2 = await store.prune(policy, now, () => (++calls > 2 ? 10_000 : 10));
  t.is(r2.masks, 2, 'the watermark pass removed the two remaining masks first');
  t.true(r2.rows >= 0);
  t.false(r2.underWatermark);
  t.deepEqual(store.queryResults().filter((x) => x.hasMask), []);
  store.close();
});

/** A store of `count` FAIL results with masks, one a second up to now, and a policy that keeps them all by age. */
function failsWithMasks(t: ExecutionContext, name: string, count: number) {
  const store = new Store(join(tempDir(t), name));
  const mask = { png: Buffer.alloc(100, 1), width: 8, height: 8, sha256: 'x', uri: '' };
  const start = Date.now() - count * 1000;
  for (let i = 0; i < count; i++) {
    const at = start + i * 1000;
    store.recordResult(resultInput('ST1', { outcome: 'FAIL', mask, keepMask: true, capturedAt: at, decidedAt: at, totalMs: 1 }));
  }
  const policy = { maxAgeMs: 30 * 86_400_000, maskMaxAgeMs: 7 * 86_400_000, minFreeBytes: 1000, walCheckpointBytes: 1 << 20 };
  return { store, policy };
}

test('a long watermark pass gives the event loop a turn between batches and ends when the store closes', async (t) => {
  const { store, policy } = failsWithMasks(t, 'ret3.db', 600);
  // Each probe (one per batch) schedules a callback; it must have run by the next probe: the pass yielded.
  let probes = 0;
  let ranBetween = 0;
  let pending = false;
  const r = await store.prune(policy, Date.now(), () => {
    if (probes++ > 0 && !pending) ranBetween++;
    pending = true;
    setImmediate(() => (pending = false));
    return probes > 6 ? 10_000 : 10;
  });
  t.true(probes >= 6, `${probes} probes`);
  t.is(ranBetween, probes - 1, 'a turn of the event loop after every batch');
  t.true(r.masks > 0);
  // Closing the store while a pass waits for its next turn ends that pass without an error.
  const pass = store.prune(policy, Date.now(), () => 10);
  store.close();
  const cut = await pass;
  t.true(cut.underWatermark);
});

test('a store just under the watermark loses only its oldest masks; batches grow while it stays under', async (t) => {
  const { store, policy } = failsWithMasks(t, 'ret2.db', 1000);
  // Back above the line after the first batch: a handful of the oldest masks go, the rest stay.
  let probes = 0;
  const r = await store.prune(policy, Date.now(), () => (++probes > 1 ? 10_000 : 10));
  t.true(r.masks > 0 && r.masks <= 16, `${r.masks} masks removed`);
  const rows = store.queryResults({ limit: 1000 });
  t.true(rows.slice(0, 1000 - 16).every((x) => x.hasMask), 'every newer result keeps its mask');
  t.false(rows.at(-1)!.hasMask, 'the oldest lost its mask');
  // Staying under the line for several probes removes more per batch (doubling), still oldest first.
  probes = 0;
  const r2 = await store.prune(policy, Date.now(), () => (++probes > 5 ? 10_000 : 10));
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
