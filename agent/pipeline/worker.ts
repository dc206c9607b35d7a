// One inference worker per device: it batches frames across cameras and survives hung or failing sessions.
import { UnavailableError, type Frame, type Detector, type DetectorFactory, type DetectorInput, type Image, type Reference, type Settlement } from './ports.ts';
import type { BoundedQueue } from './queue.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Job {
  frame: Frame;
  ref: Reference;
  enqueuedAt: number;
  partId: string;
  /** The PLC's TriggerSeq when the PLC triggered this frame, else 0 (a trigger id is never one). */
  triggerSeq: number;
  /** The station object that captured it: the worker settles the job there, even after a hot reload replaced it. */
  owner: JobOwner;
  /** Its row in the store's frames in flight, from when it was queued until its outcome is recorded. */
  inFlightId?: number;
}

export interface JobOwner {
  settle(job: Job, settlement: Settlement, startedAt: number): unknown;
}

export interface JobSource {
  readonly id: string;
  readonly queue: BoundedQueue<Job>;
}

export interface WorkerOptions {
  factory: DetectorFactory;
  maxBatch: number;
  batchTimeoutMs: number;
  inferTimeoutMs: number;
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void; error: (o: object, m: string) => void };
  onBatch?: (size: number, ms: number) => void;
  /** Bound on one session's warm-up (it runs outside inferTimeoutMs); default max(60 s, 10 × inferTimeoutMs). */
  warmupTimeoutMs?: number;
  /** How long hangs, errors and restarts are remembered for recent() (Health's DEGRADED window); default 5 min. */
  incidentWindowMs?: number;
}

/** Trouble the worker had, as Health reports it for a recent window. */
export interface RecentIncidents {
  windowMs: number;
  /** Inference calls that hung past inferTimeoutMs, and the frames they turned into NO_VERDICT{timeout}. */
  timeouts: number;
  timeoutFrames: number;
  /** Inference calls that failed (NO_VERDICT{model_error}). */
  errors: number;
  /** Sessions recreated after a hang or an error. */
  restarts: number;
}

export type WorkerState = 'starting' | 'ready' | 'recovering' | 'failed' | 'stopped';


export class InferenceWorker {
  private detector: Detector | null = null;
  private readonly sources: JobSource[] = [];
  private next = 0; // round-robin start
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private stopping = false;
  private stopSignal!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.stopSignal = r));
  state: WorkerState = 'starting';
  restarts = 0;
  lastError = '';
  /** Duration of the last session warm-up (ms). */
  lastWarmupMs = 0;
  private incidents: { at: number; kind: 'timeout' | 'error' | 'restart'; frames: number }[] = [];

  constructor(private readonly opts: WorkerOptions) {}

  async start(): Promise<void> {
    await this.recreate('start');
    this.loopDone = this.loop();
  }

  /** The live detector, for changeover work (shot encoding, leave-one-out). Throws while recovering. */
  get active(): Detector {
    if (!this.detector || this.state !== 'ready') throw new UnavailableError(`inference is ${this.state}${this.lastError ? ` (${this.lastError})` : ''}; retry in a moment`);
    return this.detector;
  }

  get provider(): string {
    return this.detector?.provider ?? 'none';
  }

  attach(source: JobSource): void {
    this.sources.push(source);
  }

  detach(id: string): void {
    const i = this.sources.findIndex((s) => s.id === id);
    if (i >= 0) this.sources.splice(i, 1);
  }

  notify(): void {
    this.wake?.();
  }

  /** Stops taking new batches, lets the running one finish (bounded by inferTimeoutMs), disposes the session. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal();
    this.notify();
    await this.loopDone;
    await this.detector?.dispose().catch(() => {});
    this.detector = null;
    this.state = 'stopped';
  }

  /** Hangs, errors and restarts within the incident window (now − incidentWindowMs … now). */
  recent(now = Date.now()): RecentIncidents {
    const windowMs = this.opts.incidentWindowMs ?? 300_000;
    this.prune(now);
    const of = (kind: 'timeout' | 'error' | 'restart') => this.incidents.filter((i) => i.kind === kind);
    return { windowMs, timeouts: of('timeout').length, timeoutFrames: of('timeout').reduce((n, i) => n + i.frames, 0), errors: of('error').length, restarts: of('restart').length };
  }

  private incident(kind: 'timeout' | 'error' | 'restart', frames = 0): void {
    this.incidents.push({ at: Date.now(), kind, frames });
    this.prune(Date.now());
  }

  private prune(now: number): void {
    const since = now - (this.opts.incidentWindowMs ?? 300_000);
    while (this.incidents.length && this.incidents[0]!.at < since) this.incidents.shift();
  }

  private queued(): number {
    return this.sources.reduce((n, s) => n + s.queue.length, 0);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (this.state !== 'ready') {
        await this.recreate('recover');
        continue;
      }
      if (this.queued() === 0) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      if (this.opts.batchTimeoutMs > 0 && this.queued() < this.opts.maxBatch && this.sources.length > 1) {
        // Give other cameras a moment to fill the batch; a full batch goes at once.
        const until = Date.now() + this.opts.batchTimeoutMs;
        while (!this.stopping && this.queued() < this.opts.maxBatch && Date.now() < until) {
          await Promise.race([sleep(until - Date.now()), new Promise<void>((r) => (this.wake = r))]);
          this.wake = null;
        }
      }
      const batch = this.collect();
      if (batch.length) await this.run(batch);
    }
  }

  /** Round-robin across cameras; one batch shares one reference memory (the detector takes one memory per call). */
  private collect(): Job[] {
    const batch: Job[] = [];
    let memory: unknown = undefined;
    for (let pass = 0; pass < this.opts.maxBatch && batch.length < this.opts.maxBatch; pass++) {
      let took = false;
      for (let k = 0; k < this.sources.length && batch.length < this.opts.maxBatch; k++) {
        const src = this.sources[(this.next + k) % this.sources.length]!;
        const head = src.queue.peek();
        if (!head) continue;
        if (memory === undefined) memory = head.ref.memory;
        if (head.ref.memory !== memory) continue;
        batch.push(src.queue.shift()!);
        took = true;
      }
      if (!took) break;
    }
    this.next = (this.next + 1) % Math.max(1, this.sources.length);
    return batch;
  }

  private async run(batch: Job[]): Promise<void> {
    const detector = this.detector!;
    const startedAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    // The camera's full-resolution frame as it came: the runtime resizes it to S×S itself (Pillow-exact, the model's
    // preprocessing), so no driver-scaled copy can reach the model.
    // A product's inspection region goes with its frame: the runtime's prepare crops to it before the resize.
    const call = detector.infer(batch.map((j) => (j.ref.region?.roi ? { ...j.frame, roi: j.ref.region.roi } : j.frame)), batch[0]!.ref.memory);
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.opts.inferTimeoutMs)));
    const result = await Promise.race([call.then((v) => ({ ok: v }), (e: unknown) => ({ err: e })), timeout]);
    clearTimeout(timer);
    const ms = Date.now() - startedAt;
    if (result === 'timeout') {
      this.lastError = `inference hung for more than ${this.opts.inferTimeoutMs} ms`;
      this.opts.log.error({ batch: batch.length, ms }, 'inference hung; frames become NO_VERDICT{timeout}, recreating the session');
      this.incident('timeout', batch.length);
      for (const job of batch) job.owner.settle(job, { kind: 'no_verdict', reason: 'timeout', detail: this.lastError }, startedAt);
      this.abandon(detector, call);
      return;
    }
    if ('err' in result) {
      this.lastError = `inference failed: ${result.err instanceof Error ? result.err.message : String(result.err)}`;
      this.opts.log.error({ batch: batch.length }, `${this.lastError}; recreating the session`);
      this.incident('error');
      for (const job of batch) job.owner.settle(job, { kind: 'no_verdict', reason: 'model_error', detail: this.lastError }, startedAt);
      this.abandon(detector, call);
      return;
    }
    if (result.ok.length !== batch.length) {
      this.lastError = `detector returned ${result.ok.length} results for ${batch.length} frames`;
      this.incident('error');
      for (const job of batch) job.owner.settle(job, { kind: 'no_verdict', reason: 'model_error', detail: this.lastError }, startedAt);
      this.abandon(detector, call);
      return;
    }
    this.opts.onBatch?.(batch.length, ms);
    batch.forEach((job, i) => job.owner.settle(job, { kind: 'verdict', inference: result.ok[i]!, inferenceMs: ms }, startedAt));
  }

  /** One inference per graph (zero-shot, few-shot with a one-shot memory) and per batch size in use (1 and maxBatch),
   *  on a synthetic frame, bounded by warmupTimeoutMs rather than inferTimeoutMs. A session that fails or overruns
   *  is disposed (once its call settles) and the caller treats it like one that could not be created. */
  private async warmUp(detector: Detector): Promise<'ready' | 'stopped'> {
    const t0 = Date.now();
    const limit = this.opts.warmupTimeoutMs ?? Math.max(60_000, 10 * this.opts.inferTimeoutMs);
    const frame = warmupFrame();
    const sizes = [...new Set([1, this.opts.maxBatch])];
    const run = (async () => {
      const memory = detector.memoryFrom([await detector.encodeShot(frame)]);
      for (const mem of [null, memory]) for (const n of sizes) await detector.infer(Array.from({ length: n }, () => frame), mem, { warmup: true });
    })();
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<'overrun'>((r) => (timer = setTimeout(() => r('overrun'), limit)));
    const result = await Promise.race([run.then(() => 'ready' as const, (e: unknown) => ({ err: e })), overrun, this.stopped.then(() => 'stopped' as const)]);
    clearTimeout(timer);
    this.lastWarmupMs = Date.now() - t0;
    if (result === 'ready') return 'ready';
    void run.then(() => undefined, () => undefined).finally(() => detector.dispose().catch(() => {}));
    if (result === 'stopped') return 'stopped';
    if (result === 'overrun') throw new Error(`warm-up took more than ${limit} ms`);
    throw result.err;
  }

  /** Forget a broken session; dispose it once its call settles (a hung call may never settle, so never wait on it). */
  private abandon(detector: Detector, call: Promise<unknown>): void {
    this.detector = null;
    this.state = 'recovering';
    void call.then(() => undefined, () => undefined).finally(() => detector.dispose().catch(() => {}));
  }

  private async recreate(why: 'start' | 'recover'): Promise<void> {
    let delay = 250;
    for (;;) {
      let stage = 'create';
      try {
        const detector = await this.opts.factory();
        // Frames wait in their queues (their one outcome comes once ready) while the fresh session runs each graph
        // and batch size once: a cold first call can take longer than inferTimeoutMs and must not count as a hang.
        stage = 'warm up';
        const warm = await this.warmUp(detector);
        if (warm === 'stopped') return;
        this.detector = detector;
        if (why === 'recover') {
          this.restarts++;
          this.incident('restart');
        }
        this.state = 'ready';
        this.opts.log.info({ provider: detector.provider, pack: detector.packId, restarts: this.restarts, warmupMs: this.lastWarmupMs }, why === 'start' ? 'inference session ready' : 'inference session recreated');
        return;
      } catch (err) {
        this.lastError = `cannot ${stage} the inference session: ${err instanceof Error ? err.message : String(err)}`;
        if (why === 'start') {
          this.state = 'failed';
          throw new Error(this.lastError);
        }
        this.state = 'failed';
        this.opts.log.error({ retryInMs: delay }, this.lastError);
        if (this.stopping) return;
        await Promise.race([sleep(delay), this.stopped]);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }
}

/** "3 inference timeouts (5 frames NO_VERDICT{timeout}) and 1 session restart in the last 5 min", or '' when none. */
export function describeIncidents(r: RecentIncidents): string {
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
  const parts = [
    r.timeouts ? `${n(r.timeouts, 'inference timeout')} (${n(r.timeoutFrames, 'frame')} NO_VERDICT{timeout})` : '',
    r.errors ? n(r.errors, 'inference error') : '',
    r.restarts ? n(r.restarts, 'session restart') : '',
  ].filter(Boolean);
  if (!parts.length) return '';
  const s = r.windowMs / 1000;
  const window = s % 60 === 0 ? `${s / 60} min` : `${s} s`;
  return `${parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0]} in the last ${window}`;
}

/** A synthetic 320×240 frame (a gradient, larger than the runtime's inline-resize size, so the resize threads start). */
export function warmupFrame(): Image {
  const width = 320, height = 240;
  const rgb = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.fill(((p % width) + Math.floor(p / width)) & 255, p * 3, p * 3 + 3);
  return { width, height, rgb };
}
