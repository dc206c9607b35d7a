// The long-running agent: config → cameras → inference worker → store → sinks, plus the HTTP API and web UI.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import sharp from 'sharp';
import type { CameraConfig } from '../drivers/config.ts';
import type { AgentConfig, CameraEntry } from './config/schema.ts';
import { resolvePath } from './config/load.ts';
import { createAgentApi } from './agent-api.ts';
import { startHttp, type HttpHandle } from './http/server.ts';
import { Metrics } from './metrics.ts';
import { Changeover } from './pipeline/changeover.ts';
import type { Alarm, AlarmName } from '../adapters/types.ts';
import { UnavailableError, type DetectorFactory, type FrameSource, type SinkCommands, type StationStatus, type VerdictSink } from './pipeline/ports.ts';
import { createRecorder } from './pipeline/recorder.ts';
import { Station } from './pipeline/station.ts';
import { withFaults } from './pipeline/faults.ts';
import { describeIncidents, InferenceWorker } from './pipeline/worker.ts';
import { Store, StoreError, type InFlightFrame } from './store/store.ts';

export interface DaemonParts {
  detectorFactory: (config: AgentConfig) => DetectorFactory;
  sourceFactory: (config: CameraConfig) => FrameSource;
  /** Northbound sinks built once the store exists (the MQTT outbox lives in it). */
  sinkFactory: (config: AgentConfig, store: Store, log: Logger, stats: (stationId: string) => Record<string, unknown>, hooks: SinkHooks) => Promise<VerdictSink[]> | VerdictSink[];
}

/** A sink that keeps its own counters / latched error (OPC UA) and resets them when the reset came another way. */
export interface LocalResets {
  resetCounters(stationId: string): void;
  resetError(stationId: string): void;
}

/** What sinks tell the daemon (and ask it) beyond the VerdictSink contract. */
export interface SinkHooks {
  /** An alarm a sink raised itself (OPC UA ResultBufferFull, PlcHeartbeatLost): forwarded to the other sinks. */
  alarm(alarm: Alarm, origin: string): void;
  /** MQTT broker reachability: drives the BrokerOffline alarm and the /healthz broker reason. */
  brokerConnection(connected: boolean): void;
  /** Stations running now (MQTT commands for others are refused). */
  stations(): string[];
  /** A stored result of this station for OPC UA GetResultById (survives restarts, beyond the adapter's ring). */
  resultById(stationId: string, resultId: string): { verdict: number; anomalyScore: number; maskUri: string } | undefined;
  /** A failed OPC UA login (the adapter logs it): counted in adaptclip_opcua_login_failures_total{reason}. */
  loginFailure(reason: string): void;
}

export interface DaemonOptions {
  configFile: string;
  config: AgentConfig | null;
  /** Set when the config is invalid: the daemon runs in safe mode (API up, no cameras) and reports this (no values). */
  configProblems?: string[];
  /** Set when the config is valid but its model pack is not: safe mode too, and the store stays closed (untouched). */
  packProblem?: string;
  /** Safe-mode fallbacks taken from the raw file when they were valid there (agent/config/load.ts safeSettings). */
  safe?: { dataDir?: string; port?: number; host?: string; token?: string; tokenEnv?: string; openReads?: boolean; maxUploadMb?: number };
  parts: DaemonParts;
  logger?: Logger;
  version: string;
}

export interface ComponentHealth {
  ok: boolean;
  reason: string;
  [k: string]: unknown;
}

export interface Health {
  ok: boolean;
  safeMode: boolean;
  components: Record<string, ComponentHealth>;
}

export class Daemon {
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly stations = new Map<string, Station>();
  store!: Store;
  changeover!: Changeover;
  worker: InferenceWorker | null = null;
  /** Started sinks (they receive verdicts and statuses). */
  sinks: VerdictSink[] = [];
  private createdSinks: VerdictSink[] = [];
  /** Every configured sink, started or still starting. */
  get configuredSinks(): readonly VerdictSink[] {
    return this.createdSinks;
  }
  /** Resolves when every sink has started or failed to. */
  sinksStarted: Promise<void> = Promise.resolve();
  private stopping = false;
  http: HttpHandle | null = null;
  readonly dataDir: string;
  readonly startedAt = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private lastStatus = new Map<string, string>();
  private stopped: Promise<void> | null = null;
  private readonly prunedTotal = { rows: 0, masks: 0 };
  private publicUrl = '';
  /** Broker reachability as the MQTT sink reports it; `since` = when it last changed (or the daemon started). */
  private broker = { connected: false, everConnected: false, since: Date.now() };
  private lastPrune: { rows: number; masks: number; underWatermark: boolean } = { rows: 0, masks: 0, underWatermark: false };

  constructor(readonly opts: DaemonOptions) {
    const cfg = opts.config;
    this.log = opts.logger ?? pino({ level: cfg?.agent.logLevel ?? 'info', base: { agent: cfg?.agent.id } });
    this.dataDir = resolvePath(cfg?.agent.dataDir ?? opts.safe?.dataDir ?? './data');
  }

  get config(): AgentConfig | null {
    return this.opts.config;
  }

  get safeMode(): boolean {
    return this.opts.config === null || this.opts.packProblem !== undefined;
  }

  /** Pack safe mode: the store is never opened (no migration, no write); what needs it answers 503. */
  private get storeClosed(): boolean {
    return this.opts.packProblem !== undefined;
  }

  get token(): string | undefined {
    const http = this.opts.config?.http;
    if (http?.tokenEnv) return process.env[http.tokenEnv];
    if (!http && this.opts.safe?.tokenEnv) return process.env[this.opts.safe.tokenEnv];
    return http?.token ?? this.opts.safe?.token;
  }

  get packId(): string {
    try {
      return this.worker?.active.packId ?? '';
    } catch {
      return '';
    }
  }

  async start(): Promise<{ url: string; dataDir: string; stations: string[] }> {
    // A long-running daemon must not keep libvips' operation cache (it only grows); set once, process-wide, here.
    sharp.cache(false);
    const cfg = this.opts.config;
    const why = this.opts.packProblem !== undefined ? 'the model pack is invalid' : 'the config is invalid';
    if (this.storeClosed) {
      this.store = closedStore(`the store is not opened in safe mode (${why}: ${this.opts.packProblem}); fix it and restart`);
    } else {
      mkdirSync(this.dataDir, { recursive: true });
      this.store = new Store(join(this.dataDir, 'agent.db'), { refuseNetworkFs: cfg?.agent.refuseNetworkFs ?? false, warn: (m) => this.log.warn(m) });
    }
    this.changeover = new Changeover(this.store, () => {
      if (!this.worker) throw new UnavailableError(`inference is not running (safe mode: ${why}); fix it and restart`);
      return this.worker.active;
    });
    // Safe mode never grants more than the file asked for: without a readable http section, reads need the token.
    const safe = this.opts.safe;
    const http = cfg?.http ?? { host: safe?.host ?? '127.0.0.1', port: safe?.port ?? 8080, openReads: safe?.openReads ?? false, maxUploadMb: safe?.maxUploadMb ?? 10 };
    this.http = await startHttp(createAgentApi({
      version: this.opts.version, configFile: this.opts.configFile, configProblems: this.opts.configProblems ?? [], dataDir: this.dataDir, startedAt: this.startedAt,
      stations: this.stations, store: this.store, changeover: this.changeover, metrics: this.metrics,
      safeMode: () => this.safeMode, packId: () => this.packId, worker: () => this.worker, health: () => this.health(), counters: () => this.counters(),
      stationStatus: (st) => this.stationStatus(st), publishStatuses: () => this.publishStatuses(false), token: () => this.token,
      maxUploadPixels: () => this.config?.http.maxUploadPixels, log: this.log,
    }), { host: http.host, port: http.port, openReads: http.openReads, maxUploadBytes: http.maxUploadMb * 1024 * 1024 });
    if (cfg && !this.safeMode) await this.startPipeline(cfg);
    else if (this.opts.packProblem !== undefined) this.log.error({ pack: this.opts.packProblem }, 'invalid model pack: running in SAFE MODE (API up, no cameras, store untouched); fix the pack and restart');
    else this.log.error({ problems: this.opts.configProblems }, 'invalid config: running in SAFE MODE (API up, no cameras); fix the config and restart');
    return { url: this.http.url, dataDir: this.dataDir, stations: [...this.stations.keys()] };
  }

  private async startPipeline(cfg: AgentConfig): Promise<void> {
    const factory = withFaults(this.opts.parts.detectorFactory(cfg), cfg.faults);
    const publicUrl = cfg.http.publicUrl ?? this.http!.url.replace('localhost', '127.0.0.1');
    this.publicUrl = publicUrl;
    const settle = createRecorder({ store: this.store, sinks: () => this.sinks, packId: () => this.packId, publicUrl: () => publicUrl, metrics: this.metrics, log: this.log });
    this.worker = new InferenceWorker({
      factory,
      maxBatch: cfg.model.maxBatch,
      batchTimeoutMs: cfg.model.batchTimeoutMs,
      inferTimeoutMs: cfg.model.inferTimeoutMs,
      incidentWindowMs: cfg.model.degradedWindowS * 1000,
      log: this.log,
      onBatch: (size, ms) => {
        this.metrics.batch.observe(size);
        this.metrics.inferSeconds.observe(ms / 1000);
      },
    });
    await this.worker.start();
    // A stop (SIGTERM) that came during the session's warm-up: nothing more to start, stop() is finishing.
    if (this.stopping) return;
    this.settle = settle;
    for (const entry of cfg.cameras) this.stations.set(entry.station, this.createStation(entry, settle));
    await this.changeover.restore([...this.stations.keys()]);
    // Sinks start in the background: an OPC UA server's first start creates its certificate (seconds) and must not
    // hold back inspection. A sink receives verdicts once started; the MQTT outbox gets every row from the start.
    // Frames on record but without an outcome were queued or in inference when the last run died: taken before any
    // camera runs (their own frames are admitted from then on), recorded once the sinks are up to publish them.
    const interrupted = this.store.inFlightFrames();
    this.createdSinks = await this.opts.parts.sinkFactory(cfg, this.store, this.log, (id) => this.stationStats(id), this.sinkHooks());
    const commands = this.commands();
    this.sinksStarted = Promise.all(this.createdSinks.map((sink) =>
      sink.start(commands).then(
        () => {
          if (this.stopping) return;
          this.sinks.push(sink);
          this.lastStatus.clear();
          this.alarmState.clear();
          this.publishStatuses(true);
          this.log.info({ sink: sink.name }, 'sink started');
        },
        (err: Error) => this.log.error({ sink: sink.name, err: err.message }, 'sink failed to start; verdicts still go to the store'),
      ))).then(() => this.recordInterrupted(interrupted));
    for (const st of this.stations.values()) {
      this.metrics.captured.inc({ camera: st.cameraId }, 0);
      await st.start().catch((err: Error) => this.log.error({ camera: st.cameraId, err: err.message }, 'camera failed to start; it stays offline'));
    }
    const retention = {
      maxAgeMs: cfg.store.retentionDays * 86_400_000,
      maskMaxAgeMs: cfg.store.maskRetentionDays * 86_400_000,
      // Retention starts a little above the watermark, so what arrives between two passes never crosses it.
      minFreeBytes: cfg.store.minFreeMb > 0 ? cfg.store.minFreeMb * 1024 * 1024 + Math.max(1024 * 1024, cfg.store.minFreeMb * 1024 * 1024 * 0.1) : 0,
      walCheckpointBytes: cfg.store.walCheckpointMb * 1024 * 1024,
    };
    const prune = () => {
      try {
        this.lastPrune = this.store.prune(retention);
        this.prunedTotal.rows += this.lastPrune.rows;
        this.prunedTotal.masks += this.lastPrune.masks;
        this.metrics.diskFree.set(this.store.freeBytes());
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'retention failed');
      }
    };
    prune();
    this.timers.push(setInterval(prune, cfg.store.pruneIntervalS * 1000).unref());
    this.timers.push(setInterval(() => this.publishStatuses(false), 1000).unref());
    this.publishStatuses(true);
  }

  private settle: ReturnType<typeof createRecorder> | null = null;

  /** NO_VERDICT{interrupted} for each frame the previous run admitted and never settled (kill -9, crash, power). */
  private async recordInterrupted(frames: InFlightFrame[]): Promise<void> {
    if (!frames.length) return;
    const detail = 'the agent stopped (crash or kill) while this frame was queued or in inference';
    for (const row of frames) {
      const station = this.stations.get(row.stationId);
      if (station) await station.recordInterrupted(row, detail);
      else this.store.settleOrphan(row, 'interrupted', this.packId);
    }
    this.log.warn({ frames: frames.length }, 'frames interrupted by the previous run recorded as NO_VERDICT{interrupted}');
  }

  private createStation(entry: CameraEntry, settle: ReturnType<typeof createRecorder>, counters?: Station['counters']): Station {
    const source = this.opts.parts.sourceFactory(entry.source);
    const station = new Station(entry, source, this.changeover, this.worker!, settle, this.log, counters);
    source.on('frame', () => this.metrics.captured.inc({ camera: entry.source.id }));
    source.on('state', () => this.publishStatuses(false));
    return station;
  }

  sinkHooks(): SinkHooks {
    return {
      alarm: (a, origin) => {
        for (const sink of this.sinks) {
          if (sink.name === origin) continue;
          try {
            sink.publishAlarm(a);
          } catch (err) {
            this.log.warn({ sink: sink.name, err: (err as Error).message }, 'sink refused an alarm');
          }
        }
      },
      brokerConnection: (connected) => {
        if (connected === this.broker.connected) return;
        this.broker = { connected, everConnected: this.broker.everConnected || connected, since: Date.now() };
        this.log[connected ? 'info' : 'warn']('MQTT broker ' + (connected ? 'connected' : 'offline: results wait in the outbox'));
        if (!this.stopping) this.publishStatuses(false);
      },
      stations: () => [...this.stations.keys()],
      loginFailure: (reason) => this.metrics.opcuaLoginFailures.inc({ reason }),
      resultById: (stationId, resultId) => {
        const row = this.store.getResult(resultId);
        if (!row || row.stationId !== stationId) return undefined;
        return { verdict: row.verdictCode, anomalyScore: row.score, maskUri: row.hasMask ? `${this.publicUrl}/results/${row.resultId}/mask.png` : '' };
      },
    };
  }

  /** BrokerOffline: the broker went away, or never answered within the connect timeout after start. */
  private brokerOffline(): { active: boolean; text: string } {
    const mqtt = this.opts.config?.mqtt;
    if (!mqtt || !this.createdSinks.some((s) => s.name === 'mqtt') || this.broker.connected) return { active: false, text: '' };
    const waited = Date.now() - this.broker.since;
    const active = this.broker.everConnected || waited > (mqtt.connectTimeoutMs ?? 10_000);
    const text = `MQTT broker ${mqtt.url} unreachable ${this.broker.everConnected ? 'since' : 'since the start at'} ${new Date(this.broker.since).toISOString()}; results wait in the outbox`;
    return { active, text };
  }

  commands(): SinkCommands {
    return {
      trigger: async (stationId, partId, triggerSeq) => {
        const st = this.stations.get(stationId);
        if (!st || st.triggerMode !== 'software' || !st.source.trigger) return -1;
        // triggerSeq 0 (MQTT): not a PLC trigger; its result carries triggerSeq 0, like an HTTP trigger's.
        st.trigger(partId, triggerSeq > 0 ? { origin: 'plc', plcTriggerSeq: triggerSeq } : { origin: 'mqtt' }).catch((err: Error) => this.log.warn({ stationId, err: err.message }, 'trigger refused'));
        return 0;
      },
      triggerTimedOut: async (stationId, triggerSeq, partId) => (await this.stations.get(stationId)?.timeoutTrigger(triggerSeq, partId)) ?? null,
      selectRecipe: async (stationId, recipeId) => {
        if (!this.stations.has(stationId)) return -1;
        const product = this.store.productByRecipe(recipeId);
        if (!product) return -1;
        try {
          await this.changeover.activate(stationId, product.id, 'plc');
          this.publishStatuses(false);
          return 0;
        } catch (err) {
          this.log.error({ stationId, recipeId, err: (err as Error).message }, 'recipe change failed');
          return -3;
        }
      },
      // The line's counters and latched errors live in the OPC UA adapter: a reset from any side reaches it.
      resetError: async (stationId) => this.resetInSinks(stationId, 'resetError'),
      resetCounters: async (stationId) => this.resetInSinks(stationId, 'resetCounters'),
    };
  }

  private resetInSinks(stationId: string, what: keyof LocalResets): number {
    if (!this.stations.has(stationId)) return -1;
    for (const sink of this.sinks) (sink as Partial<LocalResets>)[what]?.(stationId);
    this.log.info({ stationId, what }, 'reset requested');
    return 0;
  }

  stationStatus(st: Station): StationStatus {
    const ref = this.changeover.current(st.id);
    const cam = st.status();
    const inferenceOk = this.worker?.state === 'ready';
    const ready = cam.state === 'online' && inferenceOk && ref.state === 'ready';
    const error = cam.state === 'offline' || !inferenceOk || ref.state === 'error';
    const errorText = cam.state === 'offline' ? `camera ${st.cameraId} offline${cam.lastError ? `: ${cam.lastError}` : ''}` : !inferenceOk ? `inference ${this.worker?.state}` : ref.state === 'error' ? ref.detail : '';
    if (this.stopping) {
      // Shutdown: the line sees Halted (OPC 40100-1 state 2), never a stale Operational.
      return { stationId: st.id, state: 'Halted', stateNumber: 2, ready: false, busy: false, cameraConnected: false, recipeId: ref.recipeId, recipeName: ref.recipeName, referenceImageCount: ref.shots, modelVersion: this.packId, pendingResults: 0, errorCode: 0, errorText: 'agent stopping' };
    }
    return {
      stationId: st.id,
      state: error ? 'Error' : ready ? 'Operational' : 'Preoperational',
      stateNumber: error ? 3 : ready ? 4 : 1,
      ready,
      busy: st.pending > 0,
      cameraConnected: cam.state === 'online',
      recipeId: ref.recipeId,
      recipeName: ref.recipeName,
      referenceImageCount: ref.shots,
      modelVersion: this.packId,
      pendingResults: 0,
      errorCode: error ? -1 : 0,
      errorText,
    };
  }

  private readonly alarmState = new Map<string, boolean>();

  /** OffNormal alarms from pipeline state: raised and cleared once each, to every started sink. */
  private publishAlarms(): void {
    const broker = this.brokerOffline();
    for (const st of this.stations.values()) {
      const cam = st.status();
      const conditions: [AlarmName, boolean, number, string][] = [
        ['CameraDisconnected', cam.state === 'offline', 700, `camera ${st.cameraId} ${cam.state}${cam.lastError ? `: ${cam.lastError}` : ''}`],
        // A graceful stop takes the worker down on purpose: that is not a model failure, so while stopping this
        // alarm keeps the state it had (a real failure stays raised, none is raised by the stop itself).
        ['ModelNotLoaded', this.stopping ? (this.alarmState.get(`${st.id}:ModelNotLoaded`) ?? false) : this.worker !== null && this.worker.state !== 'ready', 800, `inference ${this.worker?.state}: ${this.worker?.lastError ?? ''}`],
        ['BrokerOffline', broker.active, 200, broker.text],
      ];
      for (const [alarm, active, severity, text] of conditions) {
        const key = `${st.id}:${alarm}`;
        if ((this.alarmState.get(key) ?? false) === active) continue;
        this.alarmState.set(key, active);
        for (const sink of this.sinks) {
          try {
            sink.publishAlarm({ stationId: st.id, alarm, active, severity, text: active ? text : `${alarm} cleared` });
          } catch (err) {
            this.log.warn({ sink: sink.name, err: (err as Error).message }, 'sink refused an alarm');
          }
        }
      }
    }
  }

  publishStatuses(force: boolean): void {
    this.publishAlarms();
    for (const st of this.stations.values()) {
      const status = this.stationStatus(st);
      const key = JSON.stringify({ ...status, busy: false });
      if (!force && this.lastStatus.get(st.id) === key) continue;
      this.lastStatus.set(st.id, key);
      for (const sink of this.sinks) {
        try {
          sink.publishStatus(status);
        } catch (err) {
          this.log.warn({ sink: sink.name, err: (err as Error).message }, 'sink refused a status');
        }
      }
    }
    for (const st of this.stations.values()) {
      const cam = st.status();
      this.metrics.cameraOnline.set({ camera: st.cameraId }, cam.state === 'online' ? 1 : 0);
      this.metrics.cameraReconnects.set({ camera: st.cameraId }, cam.reconnectsLastHour);
      this.metrics.cameraBadFrames.set({ camera: st.cameraId }, cam.badFrames);
      this.metrics.queueDepth.set({ camera: st.cameraId }, st.queue.length);
      this.metrics.queueOldest.set({ camera: st.cameraId }, st.oldestQueuedAgeMs() / 1000);
    }
    this.metrics.inferenceRestarts.set(this.worker?.restarts ?? 0);
  }

  /**
   * Hot reload (SIGHUP): only the cameras whose entry changed are restarted (added, removed); the others keep running
   * without a gap. Changes elsewhere are reported as needing a restart and are not applied.
   */
  async reload(next: AgentConfig): Promise<{ restarted: string[]; added: string[]; removed: string[]; needsRestart: string[] }> {
    const cur = this.opts.config;
    if (!cur || !this.settle || this.stopping) throw new Error('reload needs a running daemon with a valid config; restart it instead');
    const needsRestart: string[] = (Object.keys(next) as (keyof AgentConfig)[]).filter((k) => k !== 'cameras' && JSON.stringify(next[k]) !== JSON.stringify(cur[k]));
    const before = new Map(cur.cameras.map((c) => [c.station, c]));
    const after = new Map(next.cameras.map((c) => [c.station, c]));
    const restarted: string[] = [], added: string[] = [], removed: string[] = [];
    for (const [id, entry] of before) {
      const st = this.stations.get(id);
      if (!st) continue;
      const replacement = after.get(id);
      if (replacement && JSON.stringify(replacement) === JSON.stringify(entry)) continue;
      await st.stopIntake();
      await st.drain();
      this.stations.delete(id);
      if (replacement) {
        const fresh = this.createStation(replacement, this.settle, st.counters);
        this.stations.set(id, fresh);
        await fresh.start().catch((err: Error) => this.log.error({ camera: fresh.cameraId, err: err.message }, 'camera failed to start; it stays offline'));
        restarted.push(id);
      } else {
        removed.push(id);
      }
    }
    for (const [id, entry] of after) {
      if (before.has(id)) continue;
      const st = this.createStation(entry, this.settle);
      this.stations.set(id, st);
      await this.changeover.restore([id]);
      await st.start().catch((err: Error) => this.log.error({ camera: st.cameraId, err: err.message }, 'camera failed to start; it stays offline'));
      added.push(id);
    }
    if (added.length && this.configuredSinks.some((s) => s.name === 'opcua')) needsRestart.push('opcua (new stations appear on OPC UA after a restart)');
    this.opts.config = { ...cur, cameras: next.cameras };
    this.publishStatuses(true);
    this.log.info({ restarted, added, removed, needsRestart }, 'config reloaded');
    return { restarted, added, removed, needsRestart };
  }

  health(): Health {
    const components: Record<string, ComponentHealth> = {};
    if (this.opts.packProblem !== undefined) components.pack = { ok: false, reason: `invalid model pack: ${this.opts.packProblem}` };
    components.config = this.opts.config === null
      ? { ok: false, reason: `invalid config ${this.opts.configFile}: ${(this.opts.configProblems ?? []).join(' | ')}` }
      : { ok: true, reason: `loaded ${this.opts.configFile}` };
    for (const st of this.stations.values()) {
      const s = st.status();
      const ref = this.changeover.current(st.id);
      const ok = s.state === 'online' && ref.state === 'ready';
      const reason = s.state !== 'online' ? `camera ${st.cameraId} is ${s.state}${s.lastError ? `: ${s.lastError}` : ''}` : ref.state !== 'ready' ? `reference ${ref.state}: ${ref.detail}` : `online, ${ref.detail}`;
      components[`camera:${st.cameraId}`] = { ok, reason, station: st.id, state: s.state, framesDelivered: s.framesDelivered, reconnectsLastHour: s.reconnectsLastHour, queue: st.queue.length };
    }
    if (this.worker) {
      const ok = this.worker.state === 'ready';
      // CUDA asked for but the session runs on the CPU, or hangs / session restarts within model.degradedWindowS:
      // still inspecting, flagged so nobody mistakes it for normal; it clears by itself once the window is quiet.
      const cudaMissing = ok && this.opts.config?.model.device === 'cuda' && this.worker.provider !== 'cuda';
      const recent = this.worker.recent();
      const trouble = describeIncidents(recent);
      const degraded = ok && (cudaMissing || trouble !== '');
      const ready = `ready on ${this.worker.provider}${cudaMissing ? ', cuda was requested but is unavailable' : ''}`;
      const reason = !ok ? `${this.worker.state}: ${this.worker.lastError}${trouble ? `; ${trouble}` : ''}` : !degraded ? ready : cudaMissing ? `DEGRADED: ${ready}${trouble ? `; ${trouble}` : ''}` : `DEGRADED: ${trouble}; ${ready}`;
      components.inference = { ok, degraded, reason, provider: this.worker.provider, restarts: this.worker.restarts, lastError: this.worker.lastError, recent: { windowS: recent.windowMs / 1000, timeouts: recent.timeouts, timeoutFrames: recent.timeoutFrames, errors: recent.errors, restarts: recent.restarts } };
    } else if (!this.safeMode) {
      components.inference = { ok: false, reason: 'not started' };
    }
    for (const sink of this.createdSinks) {
      const h = this.sinks.includes(sink) ? sink.health() : { ok: false, detail: 'starting' };
      const offline = sink.name === 'mqtt' ? this.brokerOffline() : null;
      components[sink.name === 'mqtt' ? 'broker' : sink.name] = offline?.active ? { ok: false, reason: `${offline.text} (${h.detail})`, since: new Date(this.broker.since).toISOString() } : { ok: h.ok, reason: h.detail };
    }
    if (this.store && !this.storeClosed) {
      const min = (this.opts.config?.store.minFreeMb ?? 0) * 1024 * 1024;
      let free = 0;
      try {
        free = this.store.freeBytes();
      } catch {
        /* reported below */
      }
      const ok = free >= min;
      components.disk = { ok, reason: ok ? `${Math.round(free / 1048576)} MiB free (watermark ${Math.round(min / 1048576)} MiB)` : `only ${Math.round(free / 1048576)} MiB free, under the ${Math.round(min / 1048576)} MiB watermark; retention is deleting the oldest results`, freeBytes: free, watermarkBytes: min, lastPrune: this.lastPrune, prunedSinceStart: { ...this.prunedTotal } };
    }
    return { ok: Object.values(components).every((c) => c.ok), safeMode: this.safeMode, components };
  }

  /** Counters and capture-to-verdict latency percentiles of one station (MQTT metrics topic). */
  stationStats(stationId: string): Record<string, unknown> {
    const st = this.stations.get(stationId);
    if (!st) return {};
    const lat = [...st.latencies].sort((a, b) => a - b);
    const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : null);
    return {
      captured: st.counters.captured, pending: st.pending, outcomes: { ...st.counters.outcomes },
      latencyMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99), window: lat.length },
      queue: { depth: st.queue.length, oldestAgeMs: st.oldestQueuedAgeMs() },
      inference: { provider: this.worker?.provider ?? 'none', restarts: this.worker?.restarts ?? 0 },
    };
  }

  /** Per-station accounting: captured = verdicts + no_verdicts + pending, always. */
  counters(): Record<string, { captured: number; pending: number; outcomes: Record<string, number> }> {
    return Object.fromEntries([...this.stations.values()].map((s) => [s.id, { captured: s.counters.captured, pending: s.pending, outcomes: { ...s.counters.outcomes } }]));
  }

  /** SIGTERM path: stop triggers, finish or NO_VERDICT in-flight frames, flush, publish offline, close. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const t0 = Date.now();
      this.stopping = true;
      for (const t of this.timers) clearInterval(t);
      await Promise.all([...this.stations.values()].map((s) => s.stopIntake()));
      await this.worker?.stop();
      await Promise.all([...this.stations.values()].map((s) => s.drain()));
      this.publishStatuses(true);
      await Promise.race([this.sinksStarted, new Promise((r) => setTimeout(r, 3000))]);
      for (const sink of this.createdSinks) await sink.stop().catch((err: Error) => this.log.warn({ sink: sink.name, err: err.message }, 'sink stop failed'));
      await this.http?.close();
      if (!this.storeClosed) this.store?.close();
      this.log.info({ ms: Date.now() - t0, counters: this.counters() }, 'stopped');
    })();
    return this.stopped;
  }
}

/** A store that was never opened: every use answers 503 with `why` (pack safe mode keeps the database untouched). */
function closedStore(why: string): Store {
  return new Proxy({} as Store, {
    get: (_target, prop) => {
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      throw new UnavailableError(why);
    },
  });
}

export { StoreError };
