// Shared bookkeeping of every FrameSource: state, sequence numbers, counters, size validation.
import { EventEmitter } from 'node:events';
import type { Frame, FrameSource, FrameSourceEvents, SourceState, SourceStatus } from './types.ts';

const HOUR_MS = 3_600_000;

export interface FrameInput {
  width: number;
  height: number;
  rgb: Buffer;
  groundTruth?: Frame['groundTruth'];
  triggerId?: number;
  firstByteAt?: number;
  file?: Buffer;
}

export abstract class BaseSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  private state: SourceState = 'stopped';
  private since = Date.now();
  private seq = 0;
  private delivered = 0;
  private bad = 0;
  private restartCount = 0;
  private restartTimes: number[] = [];
  private lastError: string | undefined;

  constructor(readonly id: string) {
    super();
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  /** Overridden by process-backed sources to expose their child's stderr. */
  protected stderrTail(): string[] {
    return [];
  }

  status(): SourceStatus {
    const cutoff = Date.now() - HOUR_MS;
    this.restartTimes = this.restartTimes.filter((t) => t >= cutoff);
    return {
      state: this.state,
      since: this.since,
      framesDelivered: this.delivered,
      badFrames: this.bad,
      restarts: this.restartCount,
      reconnectsLastHour: this.restartTimes.length,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      stderrTail: this.stderrTail(),
    };
  }

  protected get currentState(): SourceState {
    return this.state;
  }

  protected setState(next: SourceState, error?: string): void {
    if (error !== undefined) this.lastError = error;
    if (next === this.state) return;
    this.state = next;
    this.since = Date.now();
    this.emit('state', next, this.status());
  }

  protected noteRestart(): void {
    this.restartCount++;
    this.restartTimes.push(Date.now());
  }

  protected noteBadFrame(reason: string): void {
    this.bad++;
    this.lastError = reason;
  }

  protected noteError(err: Error): void {
    this.lastError = err.message;
    // An 'error' event without a listener would throw; sources report through state and lastError anyway.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Size check of a frame; a mismatch is counted as a bad frame. */
  protected validFrame(input: FrameInput): boolean {
    const { width, height, rgb } = input;
    if (rgb.length !== width * height * 3) {
      this.noteBadFrame(`frame of ${rgb.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
      return false;
    }
    return true;
  }

  /** Liveness after a full, size-validated frame, whether or not it is emitted (a latched trigger keeps most back). */
  protected markAlive(): void {
    if (this.state !== 'online') this.setState('online');
  }

  /**
   * Validates the size and emits the frame. Liveness (state `online`) is stamped only here, after a full,
   * size-validated frame. Returns false when the data was discarded.
   */
  protected deliver(input: FrameInput): boolean {
    if (!this.validFrame(input)) return false;
    const { width, height, rgb } = input;
    this.delivered++;
    const frame: Frame = { cameraId: this.id, seq: ++this.seq, capturedAt: Date.now(), width, height, rgb };
    if (input.groundTruth) frame.groundTruth = input.groundTruth;
    if (input.triggerId !== undefined) frame.triggerId = input.triggerId;
    if (input.firstByteAt !== undefined) frame.firstByteAt = input.firstByteAt;
    if (input.file) frame.file = input.file;
    this.markAlive();
    this.emit('frame', frame);
    return true;
  }
}
