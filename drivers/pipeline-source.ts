// Supervision shared by the process-backed drivers (ffmpeg inputs, GigE through gst-launch | ffmpeg):
// exact frame splitting, liveness stamped only on full frames, a stall watchdog that kills the children,
// jittered exponential respawn backoff, stderr tails, resolution-change handling and spawned/reaped accounting.
// With a software trigger the stream keeps running under the same supervision; the latch picks the frames passed on.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { Backoff } from './backoff.ts';
import { BaseSource, type FrameInput } from './base.ts';
import { FrameSplitter } from './frame-splitter.ts';
import { TriggerLatch } from './latch.ts';
import { StderrTail } from './stderr-tail.ts';

export interface Pipeline {
  /** Every child of this pipeline; any one ending ends the pipeline. */
  processes: { name: string; child: ChildProcess }[];
  /** Packed RGB24 at the output size. */
  frames: Readable;
}

export interface SupervisionOptions {
  stallMs: number;
  firstFrameTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  stderrLines: number;
  /** Grace between SIGTERM and SIGKILL (RELIABILITY.md: at most 5 s). */
  killGraceMs: number;
  /** Output size when the driver pins it; otherwise taken from ffmpeg's filter-graph input line. */
  pinned?: { width: number; height: number };
  /** Legitimately idle source (hardware trigger): no stall watchdog once running. */
  idleOk?: boolean;
  /** Latched software trigger (drivers/latch.ts): frames are passed on only to answer trigger(). */
  softwareTrigger?: { delayMs: number; timeoutMs: number };
}

export interface ProcessStats {
  spawned: number;
  reaped: number;
  running: number;
}

// ffmpeg -loglevel verbose prints this each time a filter graph is (re)configured for a new input size.
const GRAPH_INPUT = /\[graph -?\d+ input from stream \d+:\d+ @ [^\]]+\] w:(\d+) h:(\d+) pixfmt:(\S+)/;

interface Live {
  generation: number;
  pipeline: Pipeline;
  open: Set<ChildProcess>;
  splitter: FrameSplitter;
  size?: { width: number; height: number };
  inputSize?: string;
  spawnedAt: number;
  lastFrameAt?: number;
  killing: boolean;
  /** Set when this pipeline must be replaced at once (resolution change), not after a backoff. */
  respawnNow: boolean;
  endReason?: string;
  closed: Promise<void>;
}

export abstract class PipelineSource extends BaseSource {
  private running = false;
  private generation = 0;
  private live: Live | undefined;
  private respawnTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private tail: StderrTail;
  private spawned = 0;
  private reaped = 0;
  private readonly history: number[] = [];
  private readonly latch: TriggerLatch | undefined;

  constructor(id: string, protected readonly supervision: SupervisionOptions) {
    super(id);
    this.backoff = new Backoff(supervision.backoffInitialMs, supervision.backoffMaxMs);
    this.tail = new StderrTail(supervision.stderrLines);
    const trigger = supervision.softwareTrigger;
    if (trigger) this.latch = new TriggerLatch({ ...trigger, describe: () => this.describe(), stateText: () => this.stateText() });
  }

  /** Software trigger: resolves once the first frame that started arriving after it (+ delay) was emitted, tagged. */
  async trigger(triggerId: number): Promise<void> {
    if (!this.latch) throw new Error(`${this.describe()} is free-running; set trigger: software in its config to trigger it`);
    if (!this.running) throw new Error(`${this.describe()}: not started; start the source before triggering`);
    return this.latch.arm(triggerId);
  }

  private stateText(): string {
    const status = this.status();
    const since = ((Date.now() - status.since) / 1000).toFixed(1);
    // lastError usually starts with the camera's own description, which the trigger error already names.
    const error = status.lastError?.replace(`${this.describe()}: `, '');
    const why = status.state !== 'online' && error ? `: ${error}` : '';
    return `${status.state} since ${since} s${why}`;
  }

  /** Starts the children of one attempt. Throwing counts as a failed attempt. */
  protected abstract spawnPipeline(): Pipeline;

  /** What the messages call the camera, credentials scrubbed (e.g. rtsp://***@host/path). */
  protected abstract describe(): string;

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.setState('starting');
    this.watchdog = setInterval(() => this.checkStall(), 100);
    this.launch();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.watchdog = this.respawnTimer = undefined;
    this.latch?.rejectAll('stopped');
    const live = this.live;
    if (live) {
      this.kill(live, 'stopped');
      await live.closed;
    }
    this.setState('stopped');
  }

  processStats(): ProcessStats {
    return { spawned: this.spawned, reaped: this.reaped, running: this.spawned - this.reaped };
  }

  /** PIDs of the last 64 children spawned, for leak checks against /proc. */
  recentPids(): number[] {
    return [...this.history];
  }

  /** PIDs of the children now running (for tests and the probe). */
  pids(): number[] {
    return this.live ? [...this.live.open].map((c) => c.pid).filter((p): p is number => p !== undefined) : [];
  }

  protected override stderrTail(): string[] {
    return this.tail.get();
  }

  private launch(): void {
    this.respawnTimer = undefined;
    if (!this.running) return;
    const generation = ++this.generation;
    this.tail = new StderrTail(this.supervision.stderrLines, (line) => this.onStderrLine(generation, line));
    let pipeline: Pipeline;
    try {
      pipeline = this.spawnPipeline();
    } catch (err) {
      this.failAttempt(`cannot start ${this.describe()}: ${(err as Error).message}`);
      return;
    }
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const live: Live = {
      generation,
      pipeline,
      open: new Set(),
      splitter: new FrameSplitter((b, startedAt) => this.onFull(live, b, startedAt)),
      spawnedAt: Date.now(),
      killing: false,
      respawnNow: false,
      closed,
    };
    const { pinned } = this.supervision;
    if (pinned) {
      live.size = pinned;
      live.splitter.setFrameBytes(pinned.width * pinned.height * 3);
    }
    this.live = live;

    pipeline.frames.on('data', (chunk: Buffer) => live.splitter.push(chunk));
    pipeline.frames.on('error', () => undefined); // the child's exit reports the failure

    for (const { name, child } of pipeline.processes) {
      if (child.pid !== undefined) {
        this.spawned++;
        this.history.push(child.pid);
        if (this.history.length > 64) this.history.shift();
        live.open.add(child);
      }
      child.stderr?.on('data', (chunk: Buffer) => this.tail.push(chunk));
      let done = false;
      const finish = (why: string): void => {
        if (done) return;
        done = true;
        if (live.open.delete(child)) this.reaped++;
        // One child gone breaks the pipeline: the others are ended too.
        if (!live.endReason) live.endReason = why;
        if (live.open.size > 0) this.kill(live, why);
        else this.onPipelineClosed(live, resolveClosed);
      };
      child.on('error', (err) => {
        if (child.pid === undefined) finish(`cannot run ${name}: ${err.message}`);
      });
      child.on('close', (code, signal) => finish(`${name} exited (${signal ? `signal ${signal}` : `code ${code}`})`));
    }
  }

  private onPipelineClosed(live: Live, resolveClosed: () => void): void {
    this.tail.end();
    const leftover = live.splitter.flush();
    if (leftover > 0) this.noteBadFrame(`${leftover} bytes of an incomplete frame discarded when ${this.describe()} ended`);
    resolveClosed();
    if (this.live !== live) return;
    this.live = undefined;
    if (!this.running) return;
    const lines = this.tail.get();
    const last = lines.filter((l) => /error|fail|refused|timed out|invalid|unable|cannot|denied|unauthori[sz]ed|not found|no such/i.test(l)).at(-1) ?? lines.at(-1);
    const reason = `${this.describe()}: ${live.endReason ?? 'ended'}${last ? `; last output: ${last}` : ''}`;
    if (live.respawnNow) {
      this.noteRestart();
      this.respawnTimer = setTimeout(() => this.launch(), 0);
      return;
    }
    this.failAttempt(reason);
  }

  /** Every end of a pipeline while running is a disconnect: offline now, respawn after the backoff. */
  private failAttempt(reason: string): void {
    this.setState('offline', reason);
    this.noteError(new Error(reason));
    if (!this.running) return;
    const delay = this.backoff.next();
    this.respawnTimer = setTimeout(() => {
      this.noteRestart();
      this.launch();
    }, delay);
  }

  private kill(live: Live, why: string): void {
    if (!live.endReason) live.endReason = why;
    if (live.killing) return;
    live.killing = true;
    for (const child of live.open) child.kill('SIGTERM');
    // A frozen peer can leave ffmpeg or gst-launch deaf to SIGTERM: SIGKILL whatever is left after the grace.
    const timer = setTimeout(() => {
      for (const child of live.open) child.kill('SIGKILL');
    }, this.supervision.killGraceMs);
    void live.closed.then(() => clearTimeout(timer));
  }

  private checkStall(): void {
    const live = this.live;
    if (!live || live.killing || !this.running) return;
    if (this.supervision.idleOk && live.lastFrameAt !== undefined) return;
    const since = live.lastFrameAt ?? live.spawnedAt;
    const limit = live.lastFrameAt === undefined ? this.supervision.firstFrameTimeoutMs : this.supervision.stallMs;
    const quiet = Date.now() - since;
    if (quiet <= limit) return;
    const reason = live.lastFrameAt === undefined ? `no first frame within ${limit} ms` : `no full frame for ${quiet} ms (stall limit ${limit} ms)`;
    this.setState('offline', `${this.describe()}: ${reason}; restarting`);
    this.kill(live, reason);
  }

  private onStderrLine(generation: number, line: string): void {
    const live = this.live;
    if (!live || live.generation !== generation) return;
    const m = GRAPH_INPUT.exec(line);
    if (!m) return;
    const size = `${m[1]}x${m[2]}`;
    const width = Number(m[1]);
    const height = Number(m[2]);
    if (live.inputSize === undefined) {
      live.inputSize = size;
      if (!live.size) {
        live.size = { width, height };
        live.splitter.setFrameBytes(width * height * 3);
      }
      return;
    }
    if (live.inputSize === size) return;
    const message = `${this.describe()}: stream changed resolution from ${live.inputSize} to ${size}`;
    live.inputSize = size;
    if (this.supervision.pinned) {
      // ffmpeg scales to the pinned size, so frames stay valid; say so once.
      this.noteError(new Error(`${message}; frames are scaled to the configured ${this.supervision.pinned.width}x${this.supervision.pinned.height}`));
      return;
    }
    // New native size: replace the pipeline so buffers are reallocated; nothing produced meanwhile is passed on.
    this.noteError(new Error(`${message}; restarting at the new size`));
    this.noteBadFrame(message);
    live.respawnNow = true;
    this.setState('starting', message);
    this.kill(live, 'resolution change');
  }

  private onFull(live: Live, rgb: Buffer, startedAt: number): void {
    if (live.killing || this.live !== live) return;
    this.emitFrame(live, rgb, startedAt);
  }

  private emitFrame(live: Live, rgb: Buffer, startedAt: number): void {
    const size = live.size;
    if (!size) return;
    const input: FrameInput = { width: size.width, height: size.height, rgb, firstByteAt: startedAt };
    if (!this.latch) {
      if (this.deliver(input)) this.noteFullFrame(live);
      return;
    }
    // Latched: every valid frame is liveness (stall watchdog, online state); only a claimed one is passed on.
    if (!this.validFrame(input)) return;
    this.markAlive();
    this.noteFullFrame(live);
    const claim = this.latch.claim(startedAt);
    if (!claim) return;
    this.deliver({ ...input, triggerId: claim.triggerId });
    claim.done();
  }

  private noteFullFrame(live: Live): void {
    if (live.lastFrameAt === undefined) this.backoff.reset();
    live.lastFrameAt = Date.now();
  }
}
