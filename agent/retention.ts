// Retention on a timer: results, masks and kept images by age, then oldest first while free space is under the watermark.
import type { Store } from './store/store.ts';

export interface RetentionSettings {
  retentionDays: number;
  maskRetentionDays: number;
  /** Kept frames and maps; default maskRetentionDays. */
  imageRetentionDays?: number | undefined;
  minFreeMb: number;
  walCheckpointMb: number;
  pruneIntervalS: number;
}

/** The disk's line in /healthz. */
export interface DiskHealth {
  ok: boolean;
  reason: string;
  freeBytes: number;
  watermarkBytes: number;
  lastPrune: { rows: number; masks: number; images: number; underWatermark: boolean };
  prunedSinceStart: { rows: number; masks: number; images: number };
}

export class Retention {
  private last = { rows: 0, masks: 0, images: 0, underWatermark: false };
  private readonly total = { rows: 0, masks: 0, images: 0 };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly settings: RetentionSettings,
    private readonly log: { error(o: object, m: string): void },
    private readonly freeBytesGauge: (bytes: number) => void,
  ) {}

  start(): void {
    this.prune();
    this.timer = setInterval(() => this.prune(), this.settings.pruneIntervalS * 1000).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  prune(): void {
    const s = this.settings;
    const mb = 1024 * 1024;
    try {
      this.last = this.store.prune({
        maxAgeMs: s.retentionDays * 86_400_000,
        maskMaxAgeMs: s.maskRetentionDays * 86_400_000,
        imageMaxAgeMs: (s.imageRetentionDays ?? s.maskRetentionDays) * 86_400_000,
        // Retention starts a little above the watermark, so what arrives between two passes never crosses it.
        minFreeBytes: s.minFreeMb > 0 ? s.minFreeMb * mb + Math.max(mb, s.minFreeMb * mb * 0.1) : 0,
        walCheckpointBytes: s.walCheckpointMb * mb,
      });
      this.total.rows += this.last.rows;
      this.total.masks += this.last.masks;
      this.total.images += this.last.images;
      this.freeBytesGauge(this.store.freeBytes());
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'retention failed');
    }
  }

  health(): DiskHealth {
    const min = this.settings.minFreeMb * 1024 * 1024;
    let free = 0;
    try {
      free = this.store.freeBytes();
    } catch {
      /* reported as 0 MiB free below */
    }
    const ok = free >= min;
    const mib = (b: number) => Math.round(b / 1048576);
    return {
      ok,
      reason: ok ? `${mib(free)} MiB free (watermark ${mib(min)} MiB)` : `only ${mib(free)} MiB free, under the ${mib(min)} MiB watermark; retention is deleting the oldest results`,
      freeBytes: free, watermarkBytes: min, lastPrune: this.last, prunedSinceStart: { ...this.total },
    };
  }
}
