import test from 'ava';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createBackup, restoreBackup } from '../agent/commands/backup.ts';
import { LATEST_VERSION } from '../agent/store/migrations.ts';
import { Store } from '../agent/store/store.ts';

const run = promisify(execFile);

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'backup-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function productNames(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT name FROM products ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

/** A store made by the daemon's own store module, with `n` products, plus a config beside it. */
function liveStore(dir: string, names: string[]): { store: Store; storeFile: string; configFile: string } {
  const storeFile = join(dir, 'data', 'agent.db');
  const configFile = join(dir, 'config.yaml');
  mkdirSync(dir, { recursive: true });
  writeFileSync(configFile, 'agent:\n  dataDir: data\n');
  const store = new Store(storeFile);
  for (const name of names) store.createProduct({ name }, 'test');
  return { store, storeFile, configFile };
}

test('a backup taken while the daemon writes is consistent and restores into a fresh place', async (t) => {
  const dir = tempDir(t);
  const { store, storeFile, configFile } = liveStore(dir, ['gear-A', 'gear-B']);
  t.teardown(() => store.close());
  // Rows still in the WAL (not checkpointed) must be in the copy: the online backup API reads through the WAL.
  t.true(existsSync(`${storeFile}-wal`));
  const out = join(dir, 'backups', 'line1.tar');
  const meta = await createBackup({ storeFile, configFile, out });
  store.createProduct({ name: 'after-backup' }, 'test'); // must not be in the backup
  t.is(meta.schemaVersion, LATEST_VERSION);
  const { stdout } = await run('tar', ['-tf', out]);
  t.deepEqual(stdout.trim().split('\n').sort(), ['backup.json', 'config.yaml', 'store.db']);

  const target = join(dir, 'restored');
  const report = await restoreBackup({ backup: out, storeFile: join(target, 'data', 'agent.db'), configFile: join(target, 'config.yaml') });
  t.deepEqual(productNames(report.storeFile), ['gear-A', 'gear-B']);
  t.is(readFileSync(report.configFile, 'utf8'), readFileSync(configFile, 'utf8'));
  t.is(report.previousStore, null);
  // The daemon's store module opens the restored store as it is.
  const reopened = new Store(report.storeFile);
  t.deepEqual(reopened.listProducts().map((p) => p.name), ['gear-A', 'gear-B']);
  reopened.close();
});

test('restore keeps the store and config it replaces beside them', async (t) => {
  const dir = tempDir(t);
  const { store, storeFile, configFile } = liveStore(dir, ['old']);
  const out = join(dir, 'b.tar');
  await createBackup({ storeFile, configFile, out });
  store.createProduct({ name: 'newer' }, 'test');
  store.close();
  writeFileSync(configFile, 'agent:\n  dataDir: data\n# edited after the backup\n');
  const report = await restoreBackup({ backup: out, storeFile, configFile });
  t.deepEqual(productNames(storeFile), ['old']);
  t.regex(report.previousStore ?? '', /agent\.db\.before-restore-/);
  t.deepEqual(productNames(report.previousStore!), ['newer', 'old']);
  t.regex(readFileSync(report.previousConfig!, 'utf8'), /edited after the backup/);
  t.notRegex(readFileSync(configFile, 'utf8'), /edited/);
});

test('restore refuses a store with a newer schema than this agent, naming both versions, and changes nothing', async (t) => {
  const dir = tempDir(t);
  // The backup comes from a newer agent: its store is one schema version ahead.
  const newer = liveStore(join(dir, 'newer'), ['from-the-future']);
  newer.store.db.pragma(`user_version = ${LATEST_VERSION + 1}`);
  newer.store.close();
  const out = join(dir, 'newer.tar');
  t.is((await createBackup({ storeFile: newer.storeFile, configFile: newer.configFile, out })).schemaVersion, LATEST_VERSION + 1);

  const live = liveStore(join(dir, 'live'), ['current']);
  live.store.close();
  const before = { store: digest(live.storeFile), config: digest(live.configFile) };
  const err = await t.throwsAsync(restoreBackup({ backup: out, storeFile: live.storeFile, configFile: live.configFile }));
  t.is(err?.message, `restore: ${out} holds store schema version ${LATEST_VERSION + 1}, newer than this adaptclip-edge 0.1.0 supports (${LATEST_VERSION}); install adaptclip-edge 0.1.0 or newer, then restore`.replaceAll('0.1.0', JSON.parse(readFileSync('package.json', 'utf8')).version));
  t.deepEqual({ store: digest(live.storeFile), config: digest(live.configFile) }, before);
  t.deepEqual(readdirSync(join(dir, 'live', 'data')).filter((f) => f.includes('restore')), []);
});

test('restore refuses while the daemon has the store open, and changes nothing', async (t) => {
  const dir = tempDir(t);
  const { store, storeFile, configFile } = liveStore(dir, ['a']);
  t.teardown(() => store.close());
  const out = join(dir, 'b.tar');
  await createBackup({ storeFile, configFile, out });
  store.createProduct({ name: 'b' }, 'test');
  const err = await t.throwsAsync(restoreBackup({ backup: out, storeFile, configFile }));
  t.regex(err?.message ?? '', /^restore: the store .*agent\.db is in use, the daemon is probably running; stop it first/);
  t.deepEqual(store.listProducts().map((p) => p.name), ['a', 'b']);
});

test('damaged or foreign backups are refused with a one-line reason and nothing changes', async (t) => {
  const dir = tempDir(t);
  const { store, storeFile, configFile } = liveStore(dir, ['a']);
  const good = join(dir, 'good.tar');
  await createBackup({ storeFile, configFile, out: good });
  store.close();
  const before = digest(storeFile);

  const garbage = join(dir, 'garbage.tar');
  writeFileSync(garbage, 'not a tar file at all');
  const e1 = await t.throwsAsync(restoreBackup({ backup: garbage, storeFile, configFile }));
  t.regex(e1?.message ?? '', /^restore: .*garbage\.tar is not an adaptclip-edge backup \(.+\); pass the file/);

  // Same members, but the store bytes were altered after the checksum was taken.
  const work = join(dir, 'tamper');
  await run('mkdir', [work]);
  await run('tar', ['-xf', good, '-C', work]);
  const db = new Database(join(work, 'store.db'));
  db.prepare("UPDATE products SET name = 'tampered'").run();
  db.close();
  const tampered = join(dir, 'tampered.tar');
  await run('tar', ['-cf', tampered, '-C', work, 'backup.json', 'store.db', 'config.yaml']);
  const e2 = await t.throwsAsync(restoreBackup({ backup: tampered, storeFile, configFile }));
  t.regex(e2?.message ?? '', /^restore: store\.db in .*tampered\.tar does not match its checksum; the backup is damaged/);

  const e3 = await t.throwsAsync(restoreBackup({ backup: join(dir, 'missing.tar'), storeFile, configFile }));
  t.regex(e3?.message ?? '', /^restore: backup .*missing\.tar does not exist/);
  for (const e of [e1, e2, e3]) t.false(e!.message.includes('\n'));
  t.is(digest(storeFile), before);
  t.deepEqual(productNames(storeFile), ['a']);
});

test('backup refuses to overwrite an existing file or to run without a store', async (t) => {
  const dir = tempDir(t);
  const { store, storeFile, configFile } = liveStore(dir, ['a']);
  store.close();
  const out = join(dir, 'b.tar');
  writeFileSync(out, 'an older backup');
  const e1 = await t.throwsAsync(createBackup({ storeFile, configFile, out }));
  t.regex(e1?.message ?? '', /^backup: .*b\.tar already exists; choose another --out/);
  t.is(readFileSync(out, 'utf8'), 'an older backup');
  const e2 = await t.throwsAsync(createBackup({ storeFile: join(dir, 'nope.db'), configFile, out: join(dir, 'c.tar') }));
  t.regex(e2?.message ?? '', /^backup: no store at .*nope\.db; start the daemon once/);
  t.false(existsSync(join(dir, 'c.tar')));
});

test('the CLI finds the store through the config, backs up, refuses a running daemon and restores after it stops', async (t) => {
  const dir = tempDir(t);
  const configFile = join(dir, 'config.yaml');
  // A config the daemon accepts; its dataDir is where the daemon (and so backup/restore) put agent.db.
  writeFileSync(configFile, `agent:\n  dataDir: ${join(dir, 'var')}\nmodel:\n  pack: models/packs/demo-tiny\n`);
  const store = new Store(join(dir, 'var', 'agent.db'));
  store.createProduct({ name: 'cli-product' }, 'test');
  const cli = (...args: string[]) => run(process.execPath, ['agent/bin.js', ...args]);
  const out = join(dir, 'cli.tar');
  const backup = await cli('backup', '--config', configFile, '--out', out);
  t.regex(backup.stdout, new RegExp(`^backup written to ${out} \\(schema ${LATEST_VERSION}, store \\d+ bytes, config\\.yaml\\)`));
  const busy = await t.throwsAsync(cli('restore', '--config', configFile, '--from', out)) as Error & { stderr: string; code: number };
  t.is(busy.code, 1);
  t.regex(busy.stderr, /^adaptclip-edge: restore: the store .*agent\.db is in use, the daemon is probably running; stop it first \(systemctl stop adaptclip-edge\)\n$/);
  store.createProduct({ name: 'after-backup' }, 'test');
  store.close();
  const restored = await cli('restore', '--config', configFile, '--from', out);
  t.regex(restored.stdout, /^restored schema \d+ store to .*agent\.db; the previous store is kept as .*agent\.db\.before-restore-/);
  t.deepEqual(productNames(join(dir, 'var', 'agent.db')), ['cli-product']);
});

test('the CLI explains a config it cannot read instead of guessing a store', async (t) => {
  const dir = tempDir(t);
  const configFile = join(dir, 'broken.yaml');
  writeFileSync(configFile, 'agent: [unclosed\n');
  const err = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'backup', '--config', configFile, '--out', join(dir, 'x.tar')])) as Error & { stderr: string };
  t.regex(err.stderr, /^adaptclip-edge: cannot tell where the store is from .*broken\.yaml: .*YAML syntax/);
  t.false(existsSync(join(dir, 'x.tar')));
});
