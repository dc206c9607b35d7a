// `adaptclip-edge backup` / `restore`: a consistent copy of the SQLite store (SQLite's online backup API, safe while
// the daemon runs) plus the config, in one tar file. Restore checks everything before it touches the live files
// and keeps what it replaces beside them (*.before-restore-<stamp>), so nothing already stored is lost.
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, loadConfig, resolvePath } from '../config/load.ts';
import { LATEST_VERSION } from '../store/migrations.ts';

const run = promisify(execFile);

export const BACKUP_FORMAT = 'adaptclip-edge/backup';
export const BACKUP_FORMAT_VERSION = 1;
const META = 'backup.json';
const STORE = 'store.db';
const CONFIG = 'config.yaml';

export interface BackupMeta {
  format: typeof BACKUP_FORMAT;
  formatVersion: number;
  createdAt: string;
  agentVersion: string;
  schemaVersion: number;
  store: { file: string; bytes: number; sha256: string; source: string };
  config: { file: string; bytes: number; sha256: string; source: string };
}

export interface RestoreReport {
  schemaVersion: number;
  storeFile: string;
  configFile: string;
  /** Where the store and config that were there before now are; null when there was none (or it was identical). */
  previousStore: string | null;
  previousConfig: string | null;
}

export class BackupError extends Error {}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function agentVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Writes `out` (a tar file) atomically: a store snapshot through the online backup API, the config and backup.json. */
export async function createBackup(opts: { storeFile: string; configFile: string; out: string }): Promise<BackupMeta> {
  const out = resolve(opts.out);
  if (!existsSync(opts.storeFile)) throw new BackupError(`backup: no store at ${opts.storeFile}; start the daemon once with this config so it creates one, or check agent.dataDir`);
  if (!existsSync(opts.configFile)) throw new BackupError(`backup: config ${opts.configFile} does not exist; pass the daemon's --config FILE`);
  if (existsSync(out)) throw new BackupError(`backup: ${out} already exists; choose another --out or move the old backup away`);
  mkdirSync(dirname(out), { recursive: true });
  const work = mkdtempSync(join(dirname(out), '.backup-'));
  try {
    const source = new Database(opts.storeFile, { readonly: true, fileMustExist: true });
    let schemaVersion: number;
    try {
      source.pragma('busy_timeout = 5000');
      await source.backup(join(work, STORE));
    } finally {
      source.close();
    }
    const copy = new Database(join(work, STORE));
    try {
      // A self-contained file: no -wal beside it, readable by any sqlite3.
      copy.pragma('journal_mode = DELETE');
      schemaVersion = copy.pragma('user_version', { simple: true }) as number;
    } finally {
      copy.close();
    }
    writeFileSync(join(work, CONFIG), readFileSync(opts.configFile));
    const meta: BackupMeta = {
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      agentVersion: agentVersion(),
      schemaVersion,
      store: { file: STORE, bytes: statSync(join(work, STORE)).size, sha256: sha256(join(work, STORE)), source: resolve(opts.storeFile) },
      config: { file: CONFIG, bytes: statSync(join(work, CONFIG)).size, sha256: sha256(join(work, CONFIG)), source: resolve(opts.configFile) },
    };
    writeFileSync(join(work, META), `${JSON.stringify(meta, null, 2)}\n`);
    const partial = `${out}.partial`;
    await run('tar', ['-cf', partial, '-C', work, META, STORE, CONFIG]);
    renameSync(partial, out);
    return meta;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Reads and checks a backup into `work`: format, checksums, SQLite integrity, and a schema this agent can run. */
export async function unpackBackup(backup: string, work: string, supportedSchema = LATEST_VERSION): Promise<BackupMeta> {
  if (!existsSync(backup)) throw new BackupError(`restore: backup ${backup} does not exist; pass the file \`adaptclip-edge backup --out\` wrote`);
  try {
    await run('tar', ['-xf', backup, '-C', work, META, STORE, CONFIG]);
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr ?? err).trim().split('\n')[0];
    throw new BackupError(`restore: ${backup} is not an adaptclip-edge backup (${why}); pass the file \`adaptclip-edge backup --out\` wrote`);
  }
  let meta: BackupMeta;
  try {
    meta = JSON.parse(readFileSync(join(work, META), 'utf8')) as BackupMeta;
  } catch {
    throw new BackupError(`restore: ${backup} has an unreadable ${META}; the backup is damaged, use another one`);
  }
  if (meta.format !== BACKUP_FORMAT || meta.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new BackupError(`restore: ${backup} has backup format ${meta.format}/${meta.formatVersion}, this agent reads ${BACKUP_FORMAT}/${BACKUP_FORMAT_VERSION}; use the adaptclip-edge version that wrote it (${meta.agentVersion ?? 'unknown'})`);
  }
  for (const part of [meta.store, meta.config]) {
    if (sha256(join(work, part.file)) !== part.sha256) throw new BackupError(`restore: ${part.file} in ${backup} does not match its checksum; the backup is damaged, use another one`);
  }
  const db = new Database(join(work, STORE), { readonly: true, fileMustExist: true });
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== meta.schemaVersion) throw new BackupError(`restore: ${backup} says schema ${meta.schemaVersion} but its store has ${version}; the backup is damaged, use another one`);
    if (version > supportedSchema) {
      throw new BackupError(`restore: ${backup} holds store schema version ${version}, newer than this adaptclip-edge ${agentVersion()} supports (${supportedSchema}); install adaptclip-edge ${meta.agentVersion} or newer, then restore`);
    }
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new BackupError(`restore: the store in ${backup} fails SQLite's integrity check (${String(integrity)}); use another backup`);
  } finally {
    db.close();
  }
  return meta;
}

/** Throws when another process (the daemon) has the store open; otherwise folds its WAL into the main file. */
function quiesceLiveStore(storeFile: string): void {
  const db = new Database(storeFile, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new BackupError(`restore: the store ${storeFile} is in use, the daemon is probably running; stop it first (systemctl stop adaptclip-edge)`);
      }
      // A damaged store is what restores are for: it is kept aside as it is.
    }
  } finally {
    db.close();
  }
}

/** Moves `file` (and its -wal/-shm) aside as `<file>.before-restore-<stamp>`; returns the new name. */
function keepAside(file: string, stamp: string): string {
  const kept = `${file}.before-restore-${stamp}`;
  renameSync(file, kept);
  for (const suffix of ['-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, kept + suffix);
  return kept;
}

export async function restoreBackup(opts: { backup: string; storeFile: string; configFile: string; restoreConfig?: boolean; supportedSchema?: number }): Promise<RestoreReport> {
  mkdirSync(dirname(opts.storeFile), { recursive: true });
  // Unpacked beside the store so the final step is a rename on the same filesystem.
  const work = mkdtempSync(join(dirname(opts.storeFile), '.restore-'));
  try {
    const meta = await unpackBackup(opts.backup, work, opts.supportedSchema);
    if (existsSync(opts.storeFile)) quiesceLiveStore(opts.storeFile);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const previousStore = existsSync(opts.storeFile) ? keepAside(opts.storeFile, stamp) : null;
    renameSync(join(work, STORE), opts.storeFile);
    let previousConfig: string | null = null;
    if (opts.restoreConfig !== false) {
      const incoming = readFileSync(join(work, CONFIG));
      const current = existsSync(opts.configFile) ? readFileSync(opts.configFile) : null;
      if (!current?.equals(incoming)) {
        if (current) previousConfig = keepAside(opts.configFile, stamp);
        mkdirSync(dirname(opts.configFile), { recursive: true });
        writeFileSync(opts.configFile, incoming);
      }
    }
    return { schemaVersion: meta.schemaVersion, storeFile: opts.storeFile, configFile: opts.configFile, previousStore, previousConfig };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The store file the daemon opens for this config: <agent.dataDir>/agent.db, relative to the working directory as in
 * the daemon. An invalid config still names its dataDir, so a broken setup can be backed up and restored.
 */
export function storeFileFor(configFile: string): string {
  let dataDir: string;
  try {
    dataDir = loadConfig(configFile).config.agent.dataDir;
  } catch (err) {
    // Same fallback as the daemon's safe mode: the file's dataDir when it is a string, else ./data.
    const raw = err instanceof ConfigError ? (err.raw as { agent?: { dataDir?: unknown } } | null | undefined) : undefined;
    if (raw === undefined || raw === null) throw new BackupError(`cannot tell where the store is from ${configFile}: ${(err as Error).message.split('\n')[0]}`);
    dataDir = typeof raw.agent?.dataDir === 'string' ? raw.agent.dataDir : './data';
  }
  return join(resolvePath(dataDir), 'agent.db');
}

export function registerBackupCommands(program: Command, resolveStoreFile: (configFile: string) => string = storeFileFor): void {
  program
    .command('backup')
    .description('write a consistent copy of the SQLite store plus the config into one tar file (safe while the daemon runs)')
    .requiredOption('--config <file>', "the daemon's config file")
    .requiredOption('--out <file>', 'the backup file to write (must not exist)')
    .action(async (o: { config: string; out: string }) => {
      const meta = await createBackup({ storeFile: resolveStoreFile(o.config), configFile: o.config, out: o.out });
      console.log(`backup written to ${resolve(o.out)} (schema ${meta.schemaVersion}, store ${meta.store.bytes} bytes, ${basename(meta.config.source)})`);
    });
  program
    .command('restore')
    .description('restore a backup: the store (and the config unless --keep-config); the daemon must be stopped')
    .requiredOption('--config <file>', "the daemon's config file (the store goes where this config puts it)")
    .requiredOption('--from <file>', 'the backup file written by `adaptclip-edge backup`')
    .option('--keep-config', 'restore only the store and leave the config file as it is')
    .action(async (o: { config: string; from: string; keepConfig?: boolean }) => {
      const report = await restoreBackup({ backup: o.from, storeFile: resolveStoreFile(o.config), configFile: o.config, restoreConfig: !o.keepConfig });
      console.log(`restored schema ${report.schemaVersion} store to ${report.storeFile}` +
        (report.previousStore ? `; the previous store is kept as ${report.previousStore}` : '') +
        (report.previousConfig ? `; the previous config is kept as ${report.previousConfig}` : ''));
    });
}
