// Prometheus metrics of one daemon (own registry, so tests can run several daemons in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the store reports about kept frames and maps (Store.imageStats). */
export interface ImageStatsSource {
  (): { stored: number; bytes: number; prunedSinceOpen: number };
}

/** Each station's current shift as the store counts it (agent/shifts.ts). */
export interface ShiftSource {
  (): { stationId: string; startedAt: number; pass: number; fail: number; noVerdict: number; reasons: Record<string, number> }[];
}

export class Metrics {
  readonly registry = new Registry();
  readonly captured = new Counter({ name: 'adaptclip_frames_captured_total', help: 'Frames captured or triggered, per camera', labelNames: ['camera'], registers: [this.registry] });
  readonly outcomes = new Counter({ name: 'adaptclip_outcomes_total', help: 'Per-frame outcomes: PASS, FAIL, NO_VERDICT with reason', labelNames: ['camera', 'outcome', 'reason'], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'adaptclip_queue_depth', help: 'Frames waiting for inference, per camera', labelNames: ['camera'], registers: [this.registry] });
  readonly queueOldest = new Gauge({ name: 'adaptclip_queue_oldest_age_seconds', help: 'Age of the oldest queued frame, per camera', labelNames: ['camera'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'adaptclip_capture_to_verdict_seconds', help: 'Capture to stored verdict, per camera', labelNames: ['camera'], registers: [this.registry],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
  });
  readonly batch = new Histogram({ name: 'adaptclip_inference_batch_size', help: 'Frames per inference call', registers: [this.registry], buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32, 64] });
  readonly inferSeconds = new Histogram({ name: 'adaptclip_inference_seconds', help: 'Inference call duration', registers: [this.registry], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5] });
  readonly inferenceRestarts = new Gauge({ name: 'adaptclip_inference_restarts', help: 'Inference sessions recreated after a hang or error', registers: [this.registry] });
  readonly changeoverSeconds = new Histogram({ name: 'adaptclip_changeover_seconds', help: 'Product activation time', registers: [this.registry], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30] });
  readonly cameraOnline = new Gauge({ name: 'adaptclip_camera_online', help: '1 when the camera delivers frames (state online)', labelNames: ['camera'], registers: [this.registry] });
  readonly cameraReconnects = new Gauge({ name: 'adaptclip_camera_reconnects_last_hour', help: 'Camera restarts in the last hour', labelNames: ['camera'], registers: [this.registry] });
  readonly cameraBadFrames = new Gauge({ name: 'adaptclip_camera_bad_frames', help: 'Short or mis-sized frames discarded', labelNames: ['camera'], registers: [this.registry] });
  readonly diskFree = new Gauge({ name: 'adaptclip_disk_free_bytes', help: 'Free bytes on the data folder disk', registers: [this.registry] });
  readonly opcuaLoginFailures = new Counter({ name: 'adaptclip_opcua_login_failures_total', help: 'Failed OPC UA logins, by reason (bad_credentials: unknown user or wrong password, not told apart here)', labelNames: ['reason'], registers: [this.registry] });

  // ---- kept frames and anomaly maps (keepImages) ----
  readonly imagesKept = new Counter({ name: 'adaptclip_image_bytes_kept_total', help: 'Bytes of frames and anomaly maps kept with results, per camera', labelNames: ['camera'], registers: [this.registry] });
  private imageStats: ImageStatsSource | null = null;
  private prunedSeen = 0;
  readonly imagesStored = new Gauge({
    name: 'adaptclip_images_stored', help: 'Results whose frame or anomaly map is stored now', registers: [this.registry],
    collect: () => this.readImageStats(),
  });
  readonly imagesBytes = new Gauge({ name: 'adaptclip_images_bytes', help: 'Bytes of stored frames and anomaly maps', registers: [this.registry] });
  readonly imagesPruned = new Counter({ name: 'adaptclip_images_pruned_total', help: "Results whose frame and map retention removed (by age or under the free-space watermark)", registers: [this.registry] });

  // ---- shift counters (the totals above never reset; these follow the shift) ----
  readonly shiftResets = new Counter({ name: 'adaptclip_shift_resets_total', help: 'New shifts (shift counter resets) per station, by cause: http, plc, mqtt, schedule', labelNames: ['station', 'cause'], registers: [this.registry] });
  private shiftSource: ShiftSource | null = null;
  readonly shiftParts = new Gauge({
    name: 'adaptclip_shift_parts', help: 'Parts of the current shift per station: PASS, FAIL, NO_VERDICT by reason (0 again at each new shift)', labelNames: ['station', 'outcome', 'reason'], registers: [this.registry],
    collect: () => this.readShifts(),
  });
  readonly shiftStarted = new Gauge({ name: 'adaptclip_shift_started_timestamp_seconds', help: "When the station's current shift started (Unix seconds)", labelNames: ['station'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The image gauges read the store at scrape time. */
  watchImages(source: ImageStatsSource): void {
    this.imageStats = source;
  }

  private readImageStats(): void {
    if (!this.imageStats) return;
    try {
      const s = this.imageStats();
      this.imagesStored.set(s.stored);
      this.imagesBytes.set(s.bytes);
      if (s.prunedSinceOpen > this.prunedSeen) this.imagesPruned.inc(s.prunedSinceOpen - this.prunedSeen);
      this.prunedSeen = s.prunedSinceOpen;
    } catch {
      /* store closed (shutting down): the last values stay */
    }
  }

  /** The shift gauges read the store at scrape time. */
  watchShifts(source: ShiftSource): void {
    this.shiftSource = source;
  }

  private readShifts(): void {
    if (!this.shiftSource) return;
    try {
      const shifts = this.shiftSource();
      this.shiftParts.reset();
      this.shiftStarted.reset();
      for (const s of shifts) {
        this.shiftParts.set({ station: s.stationId, outcome: 'PASS', reason: '' }, s.pass);
        this.shiftParts.set({ station: s.stationId, outcome: 'FAIL', reason: '' }, s.fail);
        for (const [reason, n] of Object.entries(s.reasons)) this.shiftParts.set({ station: s.stationId, outcome: 'NO_VERDICT', reason }, n);
        this.shiftStarted.set({ station: s.stationId }, Math.floor(s.startedAt / 1000));
      }
    } catch {
      /* store closed (shutting down): the last values stay */
    }
  }
}
