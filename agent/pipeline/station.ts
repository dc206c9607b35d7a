// One camera = one station: frame intake, bounded queue, software triggers, per-frame accounting and the live view.
import type { InspectionRegion } from '../../models/regions.ts';
import { OUTCOME } from '../../adapters/protocol.ts';
import type { FrameVerdict } from '../../models/verdict.ts';
import type { CameraEntry } from '../config/schema.ts';
import type { Changeover } from './changeover.ts';
import type { InFlightFrame } from '../store/store.ts';
import type { Frame, FrameSource, NoVerdictReason, Settlement, SourceStatus, VerdictRecord } from './ports.ts';
import { BoundedQueue } from './queue.ts';
import type { InferenceWorker, Job, JobOwner } from './worker.ts';

/** Timed-out triggers remembered so that their late frames still get exactly one outcome. */
const MAX_REMEMBERED_TIMEOUTS = 1000;

export type OutcomeKey = 'PASS' | 'FAIL' | `NO_VERDICT:${NoVerdictReason}`;

export interface StationCounters {
  captured: number;
  outcomes: Record<string, number>;
}

export interface LiveView {
  frame: Frame;
  verdict: VerdictRecord;
  judged: FrameVerdict | null;
  /** The inspection region it was judged with (outlined on the overlay). */
  region?: InspectionRegion | null;
}

/** Settles one job: judge, store, publish. Every captured frame passes through here exactly once. */
export type Settle = (station: Station, job: Job, settlement: Settlement, startedAt: number) => Promise<VerdictRecord | null>;

/** Where outcomes go: `admit` puts a frame on record before it is queued (so a crash cannot lose it), `settle`
 *  records its one outcome (and takes it off that record in the same transaction). */
export interface Recorder {
  admit(station: Station, job: Job): number;
  settle: Settle;
}

/** Where a software trigger came from. Only the PLC's TriggerSeq is echoed in results; the others publish 0. */
export type TriggerFrom = { origin: 'plc'; plcTriggerSeq: number } | { origin: 'http' | 'mqtt' };

/** One software trigger: the trigger id the camera gets, and what the result must carry. */
export interface TriggerTicket {
  triggerId: number;
  partId: string;
  /** 0 when the PLC did not trigger it. */
  plcTriggerSeq: number;
  origin: TriggerFrom['origin'];
}

/** Answer to a trigger: its trigger id (stored as the result's frame_seq) and the triggerSeq the result will carry. */
export interface TriggerReceipt {
  triggerId: number;
  triggerSeq: number;
}

/** Trigger ids are shared by all stations of the process, so a hot-reloaded station never reuses its predecessor's. */
let lastTriggerId = 0;

export class Station implements JobOwner {
  readonly id: string;
  readonly cameraId: string;
  readonly queue: BoundedQueue<Job>;
  readonly counters: StationCounters;
  live: LiveView | null = null;
  /** Capture-to-verdict latencies (ms) of the last verdicts, for percentiles. */
  readonly latencies: number[] = [];
  /** Newest frame the camera delivered, judged or not (shot capture takes it). */
  latestFrame: Frame | null = null;
  private stopping = false;
  /** Triggers sent to the camera whose frame has not come yet, by trigger id. */
  private readonly awaiting = new Map<number, TriggerTicket>();
  /** Triggers answered with NO_VERDICT{timeout}: their late frames get the same outcome, never a second verdict. */
  private readonly timedOut = new Map<number, TriggerTicket>();
  /** The trigger each triggered job answers, until its outcome is recorded. */
  private readonly tickets = new WeakMap<Job, TriggerTicket>();
  private settling = new Set<Promise<unknown>>();

  constructor(
    readonly entry: CameraEntry,
    readonly source: FrameSource,
    private readonly changeover: Changeover,
    private readonly worker: InferenceWorker,
    private readonly recorder: Recorder,
    private readonly log: { warn: (o: object, m: string) => void },
    /** A hot-reloaded station continues its predecessor's accounting. */
    counters: StationCounters = { captured: 0, outcomes: {} },
  ) {
    this.counters = counters;
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
    for (const job of this.queue.drain()) this.settle(job, { kind: 'no_verdict', reason: 'dropped', detail: 'agent shutting down' }, Date.now());
    while (this.settling.size) await Promise.allSettled([...this.settling]);
  }

  /** Software trigger (OPC UA, MQTT, HTTP). The camera is triggered with a fresh trigger id, never the PLC's
   *  TriggerSeq: a PLC number and an HTTP/MQTT trigger can then never be mistaken for each other. Resolves once the
   *  camera took the trigger; a camera failure is itself an outcome. */
  async trigger(partId: string, from: TriggerFrom = { origin: 'http' }): Promise<TriggerReceipt> {
    if (this.stopping) throw new Error(`station ${this.id} is shutting down`);
    if (this.triggerMode !== 'software' || !this.source.trigger) throw new Error(`camera ${this.cameraId} is ${this.triggerMode}; set trigger: software in its config to trigger it`);
    const ticket: TriggerTicket = { triggerId: ++lastTriggerId, partId, plcTriggerSeq: from.origin === 'plc' ? from.plcTriggerSeq : 0, origin: from.origin };
    this.awaiting.set(ticket.triggerId, ticket);
    try {
      await this.source.trigger(ticket.triggerId);
    } catch (err) {
      if (this.awaiting.delete(ticket.triggerId)) {
        // No frame came: still exactly one outcome for this trigger.
        this.counters.captured++;
        void this.settle(this.frameless(ticket), { kind: 'no_verdict', reason: 'camera_error', detail: (err as Error).message }, Date.now());
      }
    }
    return { triggerId: ticket.triggerId, triggerSeq: ticket.plcTriggerSeq };
  }

  /** OPC UA handshake rule 4: the PLC trigger `plcTriggerSeq` got no result in time. Returns the NO_VERDICT{timeout}
   *  it recorded, or null when the frame is already in inference (its verdict follows). */
  async timeoutTrigger(plcTriggerSeq: number, partId: string): Promise<VerdictRecord | null> {
    const detail = 'no result within the trigger timeout';
    const isIt = (t: TriggerTicket | undefined) => t?.origin === 'plc' && t.plcTriggerSeq === plcTriggerSeq;
    const ticket = [...this.awaiting.values()].reverse().find(isIt);
    if (ticket) {
      this.awaiting.delete(ticket.triggerId);
      this.timedOut.set(ticket.triggerId, ticket);
      // A late frame that never comes must not grow this forever: forget the oldest beyond a generous bound.
      if (this.timedOut.size > MAX_REMEMBERED_TIMEOUTS) this.timedOut.delete(this.timedOut.keys().next().value!);
      this.counters.captured++;
      return this.settle(this.frameless({ ...ticket, partId }), { kind: 'no_verdict', reason: 'timeout', detail }, Date.now());
    }
    const queued = this.queue.remove((j) => isIt(this.tickets.get(j)));
    return queued ? this.settle(queued, { kind: 'no_verdict', reason: 'timeout', detail }, Date.now()) : null;
  }

  private frameless(ticket: TriggerTicket): Job {
    const now = Date.now();
    const frame: Frame = { cameraId: this.cameraId, seq: 0, capturedAt: now, width: 0, height: 0, rgb: Buffer.alloc(0), triggerId: ticket.triggerId };
    const job: Job = { frame, ref: this.changeover.current(this.id), enqueuedAt: now, partId: ticket.partId, triggerSeq: 0, owner: this };
    this.tickets.set(job, ticket);
    return job;
  }

  private onFrame(frame: Frame): void {
    this.counters.captured++;
    this.latestFrame = frame;
    // The trigger id this station gave the camera (drivers/latch.ts tags the frame with it).
    const id = frame.triggerId;
    const late = id === undefined ? undefined : this.timedOut.get(id);
    const ticket = id === undefined ? undefined : (this.awaiting.get(id) ?? late);
    if (id !== undefined) {
      this.awaiting.delete(id);
      this.timedOut.delete(id);
    }
    const job: Job = { frame, ref: this.changeover.current(this.id), enqueuedAt: Date.now(), partId: ticket?.partId ?? '', triggerSeq: 0, owner: this };
    if (ticket) this.tickets.set(job, ticket);
    const now = Date.now();
    if (late) {
      void this.settle(job, { kind: 'no_verdict', reason: 'timeout', detail: 'frame arrived after its trigger timed out' }, now);
      return;
    }
    if (this.stopping) return void this.settle(job, { kind: 'no_verdict', reason: 'dropped', detail: 'agent shutting down' }, now);
    if (job.ref.state !== 'ready') return void this.settle(job, { kind: 'no_verdict', reason: 'no_reference', detail: job.ref.detail }, now);
    try {
      job.inFlightId = this.recorder.admit(this, this.forRecord(job, { keepTicket: true }));
    } catch (err) {
      // The store is failing (its own health says so); the frame still gets its outcome, it is just not crash-proof.
      this.log.warn({ station: this.id, err: (err as Error).message }, 'could not put a frame on record before queueing it');
    }
    const dropped = this.queue.push(job);
    if (dropped) void this.settle(dropped, { kind: 'no_verdict', reason: 'dropped', detail: `queue full (${this.queue.capacity}, ${this.queue.policy})` }, Date.now());
    if (dropped !== job) this.worker.notify();
  }

  /** Frames captured but not yet settled (queued, in inference, or being recorded): captured − outcomes. */
  get pending(): number {
    return this.counters.captured - Object.values(this.counters.outcomes).reduce((a, b) => a + b, 0);
  }

  /** Called by the worker and by the station itself; records and counts the job's one outcome. */
  settle(job: Job, settlement: Settlement, startedAt: number): Promise<VerdictRecord | null> {
    return this.record(this.forRecord(job), settlement, startedAt);
  }

  /** A frame admitted before a crash (or kill) that never got its outcome: it gets NO_VERDICT{interrupted} now,
   *  counted here as captured and settled. */
  recordInterrupted(row: InFlightFrame, detail: string): Promise<VerdictRecord | null> {
    this.counters.captured++;
    const frame: Frame = { cameraId: row.cameraId, seq: row.frameSeq, capturedAt: row.capturedAt, width: row.width, height: row.height, rgb: Buffer.alloc(0) };
    const ref = { ...this.changeover.current(this.id), productId: row.productId, recipeId: row.recipeId, recipeName: row.recipeName, version: row.referenceVersion, shots: row.shots, threshold: row.threshold };
    const job: Job = { frame, ref, enqueuedAt: row.capturedAt, partId: row.partId, triggerSeq: row.triggerSeq, owner: this, inFlightId: row.id };
    return this.record(job, { kind: 'no_verdict', reason: 'interrupted', detail }, Date.now());
  }

  private record(job: Job, settlement: Settlement, startedAt: number): Promise<VerdictRecord | null> {
    const p = this.recorder.settle(this, job, settlement, startedAt)
      .then((v) => {
        if (v) {
          if (v.outcome !== OUTCOME.noVerdict) {
            this.latencies.push(v.timing.processingMs);
            if (this.latencies.length > 1000) this.latencies.shift();
          }
          const key = v.outcome === OUTCOME.noVerdict ? `NO_VERDICT:${v.noVerdictReason}` : v.outcome;
          this.counters.outcomes[key] = (this.counters.outcomes[key] ?? 0) + 1;
        }
        return v;
      })
      .catch((err: Error) => {
        this.log.warn({ station: this.id, err: err.message }, 'could not record an outcome');
        return null;
      })
      .finally(() => this.settling.delete(p));
    this.settling.add(p);
    return p;
  }

  /** What the recorder sees: the PLC's TriggerSeq (0 when the PLC did not trigger it) and, as frame_seq, the trigger
   *  id, so that the result the HTTP trigger answered with {triggerId} can be found in the store. */
  private forRecord(job: Job, opts: { keepTicket?: boolean } = {}): Job {
    const ticket = this.tickets.get(job);
    if (!ticket) return job;
    if (!opts.keepTicket) this.tickets.delete(job);
    return { ...job, frame: { ...job.frame, seq: ticket.triggerId }, triggerSeq: ticket.plcTriggerSeq };
  }

  oldestQueuedAgeMs(now = Date.now()): number {
    const head = this.queue.peek();
    return head ? now - head.enqueuedAt : 0;
  }
}
