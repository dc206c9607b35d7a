// Upgrading a line PC: the new agent starts on a store written by the previous schema version. It migrates on start
// with a backup written first; when a migration fails, the old store keeps its content and the daemon says why.
import test from 'ava';
import Database from 'better-sqlite3';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { migrate, schemaVersion } from '../agent/store/db.ts';
import { LATEST_VERSION, MIGRATIONS } from '../agent/store/migrations.ts';
import { Store } from '../agent/store/store.ts';
import { freePort } from './helpers/mosquitto.ts';

const run = promisify(execFile);
const PREVIOUS = LATEST_VERSION - 1;

function setup(t: { teardown(fn: () => void): void }): { dir: string; storeFile: string; configFile: string; port: Promise<number> } {
  const dir = mkdtempSync(join(tmpdir(), 'upgrade-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = freePort();
  const configFile = join(dir, 'config.yaml');
  return { dir, storeFile: join(dir, 'data', 'agent.db'), configFile, port };
}

async function writeConfig(configFile: string, dataDir: string, port: number): Promise<void> {
  writeFileSync(configFile, `agent:\n  dataDir: ${dataDir}\nmodel:\n  pack: models/packs/demo-tiny\nhttp:\n  host: 127.0.0.1\n  port: ${port}\n`);
}

/** Everything a store holds: schema objects, every row of every table, user_version. */
function contents(file: string): unknown {
  const db = new Database(file, { readonly: true });
  try {
    const objects = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as { type: string; name: string }[];
    const rows = Object.fromEntries(objects.filter((o) => o.type === 'table').map((o) => [o.name, db.prepare(`SELECT * FROM "${o.name}"`).all()]));
    return { version: db.pragma('user_version', { simple: true }), objects, rows };
  } finally {
    db.close();
  }
}

/** A store as the previous agent version left it: made by the store module, with data, migrated down one step. */
function previousVersionStore(storeFile: string): void {
  const store = new Store(storeFile);
  store.createProduct({ name: 'made-by-the-old-agent' }, 'test');
  migrate(store.db, storeFile, false, PREVIOUS);
  store.close();
}

// Needs two schema versions; with one there is no previous version to upgrade from (deploy/README.md says so).
(LATEST_VERSION >= 2 ? test : test.skip)('a store of the previous schema version migrates on start, with a backup written first', async (t) => {
  const { dir, storeFile, configFile, port } = setup(t);
  previousVersionStore(storeFile);
  const before = contents(storeFile);
  await writeConfig(configFile, join(dir, 'data'), await port);
  const agent = spawn(process.execPath, ['agent/bin.js', 'run', '--config', configFile], { stdio: 'ignore' });
  t.teardown(() => { if (agent.exitCode === null) agent.kill('SIGKILL'); });
  const exited = new Promise<number | null>((resolve) => agent.once('exit', resolve));
  const url = `http://127.0.0.1:${await port}/healthz`;
  for (let i = 0; i < 200 && !(await fetch(url).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
  agent.kill('SIGTERM');
  t.is(await exited, 0);
  const backups = readdirSync(join(dir, 'data')).filter((f) => new RegExp(`^agent\\.db\\.v${PREVIOUS}-\\d+\\.bak$`).test(f));
  t.is(backups.length, 1, readdirSync(join(dir, 'data')).join(', '));
  t.deepEqual(contents(join(dir, 'data', backups[0]!)), before);
  const db = new Database(storeFile, { readonly: true });
  t.is(schemaVersion(db), LATEST_VERSION);
  t.deepEqual(db.prepare('SELECT name FROM products').all(), [{ name: 'made-by-the-old-agent' }]);
  db.close();
});

/** Makes the step to LATEST_VERSION fail on this store by creating first what that step creates. */
function sabotageNextStep(storeFile: string): string {
  const step = MIGRATIONS.find((m) => m.version === LATEST_VERSION)!;
  const db = new Database(storeFile);
  try {
    const table = /CREATE TABLE (?:IF NOT EXISTS )?"?(\w+)"?/i.exec(step.up);
    const column = /ALTER TABLE "?(\w+)"? ADD COLUMN "?(\w+)"?/i.exec(step.up);
    const index = /CREATE INDEX (?:IF NOT EXISTS )?"?(\w+)"? ON "?(\w+)"?/i.exec(step.up);
    // A step that only creates what is missing (IF NOT EXISTS) fails on a table under the name of one of its indexes.
    const idempotent = !/CREATE (?:TABLE|(?:UNIQUE )?INDEX) (?!IF NOT EXISTS)/i.test(step.up) && index;
    // Otherwise the first thing it creates, planted beforehand: a table (its index may be on a table it creates too).
    if (idempotent) db.exec(`CREATE TABLE "${idempotent[1]}" (planted INTEGER); INSERT INTO "${idempotent[1]}" VALUES (42)`);
    else if (table) db.exec(`CREATE TABLE "${table[1]}" (planted INTEGER); INSERT INTO "${table[1]}" VALUES (42)`);
    else if (index) db.exec(`CREATE INDEX "${index[1]}" ON "${index[2]}"(${/\((\w+)/.exec(step.up)![1]})`);
    else if (column) db.exec(`ALTER TABLE "${column[1]}" ADD COLUMN "${column[2]}" INTEGER`);
    else throw new Error(`teach sabotageNextStep how to make migration ${LATEST_VERSION} fail`);
    return (idempotent ? index : table ?? index ?? column)![0];
  } finally {
    db.close();
  }
}

test('a failed migration leaves the old store as it was, and the daemon exits saying why', async (t) => {
  const { dir, storeFile, configFile, port } = setup(t);
  if (PREVIOUS > 0) previousVersionStore(storeFile);
  else mkdirSync(join(dir, 'data')); // version 0: a store file that has no schema yet
  sabotageNextStep(storeFile);
  const before = contents(storeFile);
  await writeConfig(configFile, join(dir, 'data'), await port);
  const err = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'run', '--config', configFile], { timeout: 30_000 })) as Error & { code: number; stderr: string };
  t.is(err.code, 1);
  t.regex(err.stderr, /^adaptclip-edge: .*migration from schema \d+ to \d+ failed \(.*(already exists|duplicate column|there is already a table named).*\); the store was left at schema \d+, unchanged/m);
  t.deepEqual(contents(storeFile), before);
});
