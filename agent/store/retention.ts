// Retention: results and masks go by age, then oldest first while the disk is under its free-space watermark.
import { statfsSync, statSync } from 'node:fs';
import type { Db } from './db.ts';

export interface RetentionPolicy {
  maxAgeMs: number;
  maskMaxAgeMs: number;
  minFreeBytes: number;
  walCheckpointBytes: number;
}

export class Retention {
  constructor(private readonly db: Db, private readonly file: string) {}

  /** Deletes by age, then oldest-first while free space is under the watermark. Returns what it removed. */
  prune(policy: RetentionPolicy, now = Date.now(), freeBytes = () => this.freeBytes()): { rows: number; masks: number; underWatermark: boolean } {
    let rows = this.db.prepare('DELETE FROM results WHERE decided_at < ?').run(now - policy.maxAgeMs).changes;
    let masks = this.db.prepare('UPDATE results SET mask_png = NULL WHERE mask_png IS NOT NULL AND decided_at < ?').run(now - policy.maskMaxAgeMs).changes;
    let underWatermark = freeBytes() < policy.minFreeBytes;
    // Masks go first (they are most of the bytes), then whole rows, oldest first. Batches start small and double, so
    // a store just under the line loses only its oldest few masks, never the newest parts' evidence.
    for (let i = 0, batch = 8; underWatermark && i < 100; i++, batch = Math.min(batch * 2, 4096)) {
      const m = this.db.prepare('UPDATE results SET mask_png = NULL WHERE result_id IN (SELECT result_id FROM results WHERE mask_png IS NOT NULL ORDER BY decided_at LIMIT ?)').run(batch).changes;
      const r = m ? 0 : this.db.prepare('DELETE FROM results WHERE result_id IN (SELECT result_id FROM results ORDER BY decided_at LIMIT ?)').run(batch).changes;
      rows += r;
      masks += m;
      if (!m && !r) break;
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.exec('PRAGMA incremental_vacuum');
      underWatermark = freeBytes() < policy.minFreeBytes;
    }
    this.checkpointIfLarge(policy.walCheckpointBytes);
    return { rows, masks, underWatermark };
  }

  freeBytes(): number {
    const s = statfsSync(this.file);
    return Number(s.bavail) * Number(s.bsize);
  }

  walBytes(): number {
    try {
      return statSync(`${this.file}-wal`).size;
    } catch {
      return 0;
    }
  }

  checkpointIfLarge(limit: number): boolean {
    if (this.walBytes() <= limit) return false;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return true;
  }
}
