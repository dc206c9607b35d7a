// One camera = one station: frame intake, bounded queue, software triggers, per-frame accounting and the live view.
import type { FrameVerdict } from '../../models/verdict.ts';
import type { CameraEntry } from '../config/schema.ts';
import type { Changeover } from './changeover.ts';
import type { Frame, FrameSource, NoVerdictReason, Outcome, SourceStatus, VerdictRecord } from './ports.ts';
import { BoundedQueue } from './queue.ts';
import type { InferenceWorker, Job } from './worker.ts';

export type OutcomeKey = 'PASS' | 'FAIL' | `NO_VERDICT:${NoVerdictReason}`;

export interface StationCounters {
  captured: number;
  outcomes: Record<string, number>;
}

export interface LiveView {
  frame: Frame;
  verdict: VerdictRecord;
  judged: FrameVerdict | null;
}

/** Settles one job: judge, store, publish. Every captured frame passes through here exactly once. */
export type Settle = (station: Station, job: Job, outcome: Outcome, startedAt: number) => Promise<VerdictRecord | null>;

export class Station {
  readonly id: string;
  readonly cameraId: string;
  readonly queue: BoundedQueue<Job>;
  readonly counters: StationCounters = { captured: 0, outcomes: {} };
  live: LiveView | null = null;
  /** Newest frame the camera delivered, judged or not (shot capture takes it). */
  latestFrame: Frame | null = null;
  private stopping = false;
  private readonly partIds = new Map<number, string>();
  private triggerSeq = 0;
  private settling = new Set<Promise<unknown>>();

  constructor(
    readonly entry: CameraEntry,
    readonly source: FrameSource,
    private readonly changeover: Changeover,
    private readonly worker: InferenceWorker,
    private readonly settle: Settle,
    private readonly log: { warn: (o: object, m: string) => void },
  ) {
    this.id = entry.station;
    this.cameraId = entry.source.id;
    this.queue = new BoundedQueue<Job>(entry.queue.size, entry.queue.policy);
  }

  get triggerMode(): 'free-run' | 'software' | 'hardware' {
    const t = (this.entry.source as { trigger?: string }).trigger;
    return t === 'software' ? 'software' : t === 'hardware' ? 'hardware' : 'free-run';
  }

  status(): SourceStatus {
    return this.source.status();
  }

  async start(): Promise<void> {
    this.source.on('frame', (f) => this.onFrame(f));
    this.source.on('error', (err) => this.log.warn({ camera: this.cameraId, err: err.message }, 'camera error'));
    this.worker.attach(this);
    await this.source.start();
  }

  /** Stops the trigger side; queued frames that the worker will not take become NO_VERDICT{dropped}. */
  async stopIntake(): Promise<void> {
    this.stopping = true;
    await this.source.stop().catch((err: Error) => this.log.warn({ camera: this.cameraId, err: err.message }, 'camera stop failed'));
  }

  /** After the worker stopped: whatever is still queued is accounted for, then wait until every record is written. */
  async drain(): Promise<void> {
    this.worker.detach(this.id);
    for (const job of this.queue.drain()) this.finish(job, { kind: 'no_verdict', reason: 'dropped', detail: 'agent shutting down' }, Date.now());
    while (this.settling.size) await Promise.allSettled([...this.settling]);
  }

  /** Software trigger (OPC UA, MQTT, HTTP). Resolves with the triggerSeq; a camera failure is itself an outcome. */
  async trigger(partId: string): Promise<number> {
    if (this.stopping) throw new Error(`station ${this.id} is shutting down`);
    if (!this.source.trigger) throw new Error(`camera ${this.cameraId} is free-running (trigger: free); set trigger: software in its config to trigger it`);
    const seq = ++this.triggerSeq;
    this.partIds.set(seq, partId);
    try {
      await this.source.trigger(seq);
    } catch (err) {
      if (this.partIds.delete(seq)) {
        // No frame came: still exactly one outcome for this trigger.
        this.counters.captured++;
        const now = Date.now();
        const frame: Frame = { cameraId: this.cameraId, seq: 0, capturedAt: now, width: 0, height: 0, rgb: Buffer.alloc(0), triggerSeq: seq };
        this.finish({ frame, ref: this.changeover.current(this.id), enqueuedAt: now, partId }, { kind: 'no_verdict', reason: 'camera_error', detail: (err as Error).message }, now);
      }
    }
    return seq;
  }

  private onFrame(frame: Frame): void {
    this.counters.captured++;
    this.latestFrame = frame;
    const partId = frame.triggerSeq !== undefined ? (this.partIds.get(frame.triggerSeq) ?? '') : '';
    if (frame.triggerSeq !== undefined) this.partIds.delete(frame.triggerSeq);
    const job: Job = { frame, ref: this.changeover.current(this.id), enqueuedAt: Date.now(), partId };
    if (this.stopping) return this.finish(job, { kind: 'no_verdict', reason: 'dropped', detail: 'agent shutting down' }, Date.now());
    if (job.ref.state !== 'ready') return this.finish(job, { kind: 'no_verdict', reason: 'no_reference', detail: job.ref.detail }, Date.now());
    const dropped = this.queue.push(job);
    if (dropped) this.finish(dropped, { kind: 'no_verdict', reason: 'dropped', detail: `queue full (${this.queue.capacity}, ${this.queue.policy})` }, Date.now());
    if (dropped !== job) this.worker.notify();
  }

  /** Frames captured but not yet settled (queued, in inference, or being recorded): captured − outcomes. */
  get pending(): number {
    return this.counters.captured - Object.values(this.counters.outcomes).reduce((a, b) => a + b, 0);
  }

  /** Called by the worker (via the daemon) and by the station itself; records and counts the outcome. */
  finish(job: Job, outcome: Outcome, startedAt: number): void {
    const p = this.settle(this, job, outcome, startedAt)
      .then((v) => {
        if (v) {
          const key = v.outcome === 'NO_VERDICT' ? `NO_VERDICT:${v.noVerdictReason}` : v.outcome;
          this.counters.outcomes[key] = (this.counters.outcomes[key] ?? 0) + 1;
        }
      })
      .catch((err: Error) => this.log.warn({ station: this.id, err: err.message }, 'could not record an outcome'))
      .finally(() => this.settling.delete(p));
    this.settling.add(p);
  }

  oldestQueuedAgeMs(now = Date.now()): number {
    const head = this.queue.peek();
    return head ? now - head.enqueuedAt : 0;
  }
}
