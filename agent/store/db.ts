// Opens the agent's SQLite database: WAL, synchronous=NORMAL, busy_timeout, versioned migrations with a backup first.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { LATEST_VERSION, MIGRATIONS } from './migrations.ts';

export type Db = Database.Database;

// statfs magic numbers of network filesystems, where SQLite's locking and WAL are unsafe.
const NETWORK_FS: Record<number, string> = {
  0x6969: 'NFS',
  0xff534d42: 'CIFS',
  0xfe534d42: 'SMB2',
  0x517b: 'SMB',
  0x564c: 'NCP',
  0x65735546: 'FUSE', // sshfs and friends
};

export interface OpenOptions {
  /** Refuse (throw) instead of warning when the folder is on a network filesystem. */
  refuseNetworkFs?: boolean;
  warn?: (message: string) => void;
  busyTimeoutMs?: number;
}

export function networkFilesystem(folder: string): string | null {
  try {
    return NETWORK_FS[Number(statfsSync(folder).type)] ?? null;
  } catch {
    return null;
  }
}

export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  const folder = dirname(file);
  mkdirSync(folder, { recursive: true });
  const fs = networkFilesystem(folder);
  if (fs) {
    const msg = `database folder ${folder} is on a network filesystem (${fs}); SQLite WAL is unsafe there, move agent.dataDir to a local disk`;
    if (opts.refuseNetworkFs) throw new Error(msg);
    opts.warn?.(msg);
  }
  const existed = existsSync(file);
  const db = new Database(file);
  try {
    // Must precede the first table; lets retention give pages back to the filesystem.
    if (!existed) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    db.pragma('foreign_keys = ON');
    migrate(db, file, existed);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Brings the schema to `target` (default: latest), up or down, one transaction per step. Backs up first. */
export function migrate(db: Db, file: string, backup = true, target = LATEST_VERSION): string | null {
  const current = schemaVersion(db);
  if (current > LATEST_VERSION && target === LATEST_VERSION) {
    throw new Error(`database ${file} has schema version ${current}, newer than this agent knows (${LATEST_VERSION}); upgrade the agent or restore a backup`);
  }
  if (current === target) return null;
  let backupFile: string | null = null;
  if (backup && current > 0) {
    backupFile = `${file}.v${current}-${Date.now()}.bak`;
    db.exec(`VACUUM INTO '${backupFile.replaceAll("'", "''")}'`);
  }
  const steps = current < target
    ? MIGRATIONS.filter((m) => m.version > current && m.version <= target).map((m) => ({ sql: m.up, to: m.version }))
    : MIGRATIONS.filter((m) => m.version <= current && m.version > target).reverse().map((m) => ({ sql: m.down, to: m.version - 1 }));
  for (const step of steps) {
    db.transaction(() => {
      db.exec(step.sql);
      db.pragma(`user_version = ${step.to}`);
    })();
  }
  return backupFile;
}
