// Retention: results, masks and images go by age, then oldest first while the disk is under its free-space watermark.
import { statfsSync, statSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Db } from './db.ts';
import type { ResultImages } from './result-images.ts';

export interface RetentionPolicy {
  maxAgeMs: number;
  maskMaxAgeMs: number;
  /** Stored frames and anomaly maps; default: maskMaxAgeMs. */
  imageMaxAgeMs?: number;
  minFreeBytes: number;
  walCheckpointBytes: number;
}

export interface PruneResult {
  rows: number;
  masks: number;
  /** Results whose stored frame and anomaly map were removed. */
  images: number;
  underWatermark: boolean;
}

export class Retention {
  constructor(private readonly db: Db, private readonly file: string, private readonly images: ResultImages) {}

  /** Deletes by age, then oldest-first while free space is under the watermark. Returns what it removed. Each batch
   *  is its own statement and the event loop gets a turn between them: a long pass over a full disk (seconds) must not
   *  hold up OPC UA handshakes and verdict publishing. A store closed mid-pass ends the pass. */
  async prune(policy: RetentionPolicy, now = Date.now(), freeBytes = () => this.freeBytes()): Promise<PruneResult> {
    let images = this.images.pruneOlderThan(now - (policy.imageMaxAgeMs ?? policy.maskMaxAgeMs), now);
    let rows = this.db.prepare('DELETE FROM results WHERE decided_at < ?').run(now - policy.maxAgeMs).changes;
    let masks = this.db.prepare('UPDATE results SET mask_png = NULL WHERE mask_png IS NOT NULL AND decided_at < ?').run(now - policy.maskMaxAgeMs).changes;
    let underWatermark = freeBytes() < policy.minFreeBytes;
    // Images go first (a frame outweighs its mask many times), then masks, then whole rows, oldest first. Batches
    // start small and double, so a store just under the line loses only its oldest few, never the newest parts' evidence.
    for (let i = 0, batch = 8; underWatermark && i < 100; i++, batch = Math.min(batch * 2, 4096)) {
      const im = this.images.pruneOldest(batch, now);
      const m = im ? 0 : this.db.prepare('UPDATE results SET mask_png = NULL WHERE result_id IN (SELECT result_id FROM results WHERE mask_png IS NOT NULL ORDER BY decided_at LIMIT ?)').run(batch).changes;
      const r = im || m ? 0 : this.db.prepare('DELETE FROM results WHERE result_id IN (SELECT result_id FROM results ORDER BY decided_at LIMIT ?)').run(batch).changes;
      rows += r;
      masks += m;
      images += im;
      if (!im && !m && !r) break;
      await nextTurn();
      if (!this.db.open) return { rows, masks, images, underWatermark };
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.exec('PRAGMA incremental_vacuum');
      underWatermark = freeBytes() < policy.minFreeBytes;
    }
    this.checkpointIfLarge(policy.walCheckpointBytes);
    return { rows, masks, images, underWatermark };
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
