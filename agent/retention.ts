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
  /** The pass in progress: a timer tick while one runs is skipped, not queued. */
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly settings: RetentionSettings,
    private readonly log: { error(o: object, m: string): void },
    private readonly freeBytesGauge: (bytes: number) => void,
  ) {}

  start(): void {
    void this.prune();
    this.timer = setInterval(() => void this.prune(), this.settings.pruneIntervalS * 1000).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Free bytes right after the last pass, and the most the disk filled between two passes (a moving peak). */
  private freeAfterLast: number | null = null;
  private inflowPerPass = 0;

  /** Retention starts above the watermark by more than arrives between two passes (at least 1 MiB or 10 %), so the
   *  free space never crosses it: with frames kept as evidence the inflow can be megabytes per pass. */
  private margin(): number {
    const mb = 1024 * 1024;
    const watermark = this.settings.minFreeMb * mb;
    return Math.max(mb, watermark * 0.1, 2 * this.inflowPerPass);
  }

  /** One pass; resolves when it is done (or at once with the pass already running). */
  prune(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const s = this.settings;
    const mb = 1024 * 1024;
    try {
      const freeBefore = this.store.freeBytes();
      if (this.freeAfterLast !== null) {
        const arrived = Math.max(0, this.freeAfterLast - freeBefore);
        // Follows a rise at once and forgets it slowly (a burst of kept frames must not be forgotten after one pass).
        this.inflowPerPass = Math.max(arrived, this.inflowPerPass * 0.9);
      }
      this.last = await this.store.prune({
        maxAgeMs: s.retentionDays * 86_400_000,
        maskMaxAgeMs: s.maskRetentionDays * 86_400_000,
        imageMaxAgeMs: (s.imageRetentionDays ?? s.maskRetentionDays) * 86_400_000,
        minFreeBytes: s.minFreeMb > 0 ? s.minFreeMb * mb + this.margin() : 0,
        walCheckpointBytes: s.walCheckpointMb * mb,
      });
      this.total.rows += this.last.rows;
      this.total.masks += this.last.masks;
      this.total.images += this.last.images;
      this.freeAfterLast = this.store.freeBytes();
      this.freeBytesGauge(this.freeAfterLast);
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
