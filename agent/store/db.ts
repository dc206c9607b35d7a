// Opens the agent's SQLite database: WAL, synchronous=NORMAL, busy_timeout, versioned migrations with a backup first.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations.ts';

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

/** Brings the schema to `target` (default: latest), up or down, all steps in ONE transaction so a failing step
 * leaves the store exactly as it was. Backs up first. */
export function migrate(db: Db, file: string, backup = true, target?: number, migrations: Migration[] = MIGRATIONS): string | null {
  const current = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest && target === undefined) {
    throw new Error(`database ${file} has schema version ${current}, newer than this agent knows (${latest}); upgrade the agent or restore a backup`);
  }
  const goal = target ?? latest;
  if (current === goal) return null;
  let backupFile: string | null = null;
  if (backup && current > 0) {
    backupFile = `${file}.v${current}-${Date.now()}.bak`;
    db.exec(`VACUUM INTO '${backupFile.replaceAll("'", "''")}'`);
  }
  const steps = current < goal
    ? migrations.filter((m) => m.version > current && m.version <= goal).map((m) => ({ sql: m.up, from: m.version - 1, to: m.version }))
    : migrations.filter((m) => m.version <= current && m.version > goal).reverse().map((m) => ({ sql: m.down, from: m.version, to: m.version - 1 }));
  db.transaction(() => {
    for (const step of steps) {
      try {
        db.exec(step.sql);
      } catch (err) {
        const kept = backupFile ? `; a backup taken before migrating is ${backupFile}` : '';
        throw new Error(`database ${file}: migration from schema ${step.from} to ${step.to} failed (${(err as Error).message}); the store was left at schema ${current}, unchanged${kept}`);
      }
      db.pragma(`user_version = ${step.to}`);
    }
  })();
  return backupFile;
}
