// The long-running agent: config → cameras → inference worker → store → sinks, plus the HTTP API and web UI. It wires
// the parts and runs their life cycle (start, hot reload, stop); the northbound side, status and retention are their
// own modules.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import sharp from 'sharp';
import type { CameraConfig } from '../drivers/config.ts';
import type { MachineVisionPort } from '../adapters/types.ts';
import type { AgentConfig, CameraEntry } from './config/schema.ts';
import { resolvePath } from './config/load.ts';
import { createAgentApi } from './agent-api.ts';
import { startHttp, type HttpHandle } from './http/server.ts';
import { Metrics } from './metrics.ts';
import { lineCommands } from './northbound/commands.ts';
import { machineVisionPort } from './northbound/machine-vision-port.ts';
import { Northbound } from './northbound/northbound.ts';
import { toVerdictRecord } from './northbound/verdict-record.ts';
import { Changeover } from './pipeline/changeover.ts';
import { withFaults } from './pipeline/faults.ts';
import { UnavailableError, type DetectorFactory, type FrameSource, type StationStatus, type VerdictSink } from './pipeline/ports.ts';
import { createRecorder } from './pipeline/recorder.ts';
import { Station } from './pipeline/station.ts';
import { InferenceWorker } from './pipeline/worker.ts';
import { Retention } from './retention.ts';
import { startShiftCounters } from './shifts.ts'; // ---- shift counters ----
import { AgentStatus, type Health } from './status.ts';
import { Store, StoreError, type InFlightFrame } from './store/store.ts';

export type { ComponentHealth, Health } from './status.ts';

export interface DaemonParts {
  detectorFactory: (config: AgentConfig) => DetectorFactory;
  sourceFactory: (config: CameraConfig) => FrameSource;
  /** Northbound sinks built once the store exists (the MQTT outbox lives in it). */
  sinkFactory: (config: AgentConfig, store: Store, log: Logger, stats: (stationId: string) => Record<string, unknown>, hooks: SinkHooks) => Promise<VerdictSink[]> | VerdictSink[];
}

/** What sinks ask the agent while they run (alarms they raise and broker reachability are sink capabilities). */
export interface SinkHooks {
  /** Stations running now (MQTT commands for others are refused). */
  stations(): string[];
  /** A stored result of this station for OPC UA GetResultById (survives restarts, beyond the adapter's ring). */
  resultById(stationId: string, resultId: string): { verdict: number; anomalyScore: number; maskUri: string } | undefined;
  /** A failed OPC UA login (the adapter logs it): counted in adaptclip_opcua_login_failures_total{reason}. */
  loginFailure(reason: string): void;
  /** Products, trigger modes and stored results for the OPC 40100-1 Machine Vision view. */
  machineVision: MachineVisionPort;
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

export class Daemon {
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly stations = new Map<string, Station>();
  store!: Store;
  changeover!: Changeover;
  worker: InferenceWorker | null = null;
  readonly northbound: Northbound;
  readonly status: AgentStatus;
  private retention: Retention | null = null;
  private stopping = false;
  http: HttpHandle | null = null;
  readonly dataDir: string;
  readonly startedAt = Date.now();
  private statusTimer: NodeJS.Timeout | null = null;
  private stopped: Promise<void> | null = null;
  private recorder: ReturnType<typeof createRecorder> | null = null;

  constructor(readonly opts: DaemonOptions) {
    const cfg = opts.config;
    this.log = opts.logger ?? pino({ level: cfg?.agent.logLevel ?? 'info', base: { agent: cfg?.agent.id } });
    this.dataDir = resolvePath(cfg?.agent.dataDir ?? opts.safe?.dataDir ?? './data');
    this.northbound = new Northbound(this.log, () => this.publishStatuses(false));
    this.status = new AgentStatus({
      stations: this.stations,
      changeover: () => this.changeover ?? null,
      worker: () => this.worker,
      northbound: this.northbound,
      metrics: this.metrics,
      retention: () => this.retention,
      stopping: () => this.stopping,
      safeMode: () => this.safeMode,
      config: () => ({ file: opts.configFile, problems: opts.configProblems, packProblem: opts.packProblem, valid: opts.config !== null, device: opts.config?.model.device }),
    });
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
    return this.status.packId;
  }

  /** Started sinks (they receive verdicts and statuses). */
  get sinks(): readonly VerdictSink[] {
    return this.northbound.live;
  }

  /** Every configured sink, started or still starting. */
  get configuredSinks(): readonly VerdictSink[] {
    return this.northbound.sinks;
  }

  /** Resolves when every sink has started or failed to. */
  get sinksStarted(): Promise<void> {
    return this.northbound.ready;
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
      const store = cfg?.store ?? { retentionDays: 0, maskRetentionDays: 0, minFreeMb: 0, walCheckpointMb: 0, pruneIntervalS: 0 };
      this.retention = new Retention(this.store, store, this.log, (bytes) => this.metrics.diskFree.set(bytes));
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
    }), {
      host: http.host, port: http.port, openReads: http.openReads, maxUploadBytes: http.maxUploadMb * 1024 * 1024,
      // ---- web logins (read at start: a reload does not change who may log in) ----
      ...(cfg ? { logins: { users: cfg.http.users, session: cfg.http.session, log: this.log, publicUrl: cfg.http.publicUrl } } : {}),
    });
    if (cfg && !this.safeMode) await this.startPipeline(cfg);
    else if (this.opts.packProblem !== undefined) this.log.error({ pack: this.opts.packProblem }, 'invalid model pack: running in SAFE MODE (API up, no cameras, store untouched); fix the pack and restart');
    else this.log.error({ problems: this.opts.configProblems }, 'invalid config: running in SAFE MODE (API up, no cameras); fix the config and restart');
    return { url: this.http.url, dataDir: this.dataDir, stations: [...this.stations.keys()] };
  }

  private async startPipeline(cfg: AgentConfig): Promise<void> {
    const publicUrl = cfg.http.publicUrl ?? this.http!.url.replace('localhost', '127.0.0.1');
    this.worker = new InferenceWorker({
      factory: withFaults(this.opts.parts.detectorFactory(cfg), cfg.faults),
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
    this.recorder = createRecorder({ store: this.store, northbound: this.northbound, packId: () => this.packId, publicUrl: () => publicUrl, metrics: this.metrics, log: this.log });
    for (const entry of cfg.cameras) this.stations.set(entry.station, this.createStation(entry));
    await this.changeover.restore([...this.stations.keys()]);
    // Frames on record but without an outcome were queued or in inference when the last run died: taken before any
    // camera runs (their own frames are admitted from then on), recorded once the sinks are up to publish them.
    const interrupted = this.store.inFlightFrames();
    const sinks = await this.opts.parts.sinkFactory(cfg, this.store, this.log, (id) => this.status.stationStats(id), this.sinkHooks(publicUrl));
    // An outbox sink's row commits in the same transaction as its result row (kill -9 can never split them).
    this.store.onResult((r) => this.northbound.inTransaction(toVerdictRecord(r)));
    const commands = lineCommands({
      stations: this.stations, productByRecipe: (id) => this.store.productByRecipe(id), activate: (st, pid, actor) => this.changeover.activate(st, pid, actor),
      reset: (st, what) => this.northbound.reset(st, what), changed: () => this.publishStatuses(false), log: this.log,
    });
    startShiftCounters({ store: this.store, stations: this.stations, commands, resetSinks: (st) => this.northbound.reset(st, 'resetCounters'), metrics: this.metrics, schedule: cfg.shifts, log: this.log, stopping: () => this.stopping }); // ---- shift counters (agent/shifts.ts): resets from HTTP, the line and the schedule ----
    void this.northbound.begin(sinks, commands).then(() => this.recordInterrupted(interrupted));
    for (const st of this.stations.values()) {
      this.metrics.captured.inc({ camera: st.cameraId }, 0);
      await st.start().catch((err: Error) => this.log.error({ camera: st.cameraId, err: err.message }, 'camera failed to start; it stays offline'));
    }
    this.retention?.start();
    this.statusTimer = setInterval(() => this.publishStatuses(false), 1000).unref();
    this.publishStatuses(true);
  }

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

  private createStation(entry: CameraEntry, counters?: Station['counters']): Station {
    const source = this.opts.parts.sourceFactory(entry.source);
    const station = new Station(entry, source, this.changeover, this.worker!, this.recorder!, this.log, counters);
    source.on('frame', () => this.metrics.captured.inc({ camera: entry.source.id }));
    source.on('state', () => this.publishStatuses(false));
    return station;
  }

  private sinkHooks(publicUrl: string): SinkHooks {
    return {
      stations: () => [...this.stations.keys()],
      loginFailure: (reason) => this.metrics.opcuaLoginFailures.inc({ reason }),
      machineVision: machineVisionPort({ store: this.store, stations: this.stations, publicUrl: () => publicUrl }),
      resultById: (stationId, resultId) => {
        const row = this.store.getResult(resultId);
        if (!row || row.stationId !== stationId) return undefined;
        return { verdict: row.verdictCode, anomalyScore: row.score, maskUri: row.hasMask ? `${publicUrl}/results/${row.resultId}/mask.png` : '' };
      },
    };
  }

  stationStatus(st: Station): StationStatus {
    return this.status.station(st);
  }

  /** Alarms and changed statuses to the sinks, and the live gauges (`force`: every status again). */
  publishStatuses(force: boolean): void {
    this.status.publish(force);
  }

  health(): Health {
    return this.status.health();
  }

  stationStats(stationId: string): Record<string, unknown> {
    return this.status.stationStats(stationId);
  }

  counters(): ReturnType<AgentStatus['counters']> {
    return this.status.counters();
  }

  /**
   * Hot reload (SIGHUP): only the cameras whose entry changed are restarted (added, removed); the others keep running
   * without a gap. Changes elsewhere are reported as needing a restart and are not applied.
   */
  async reload(next: AgentConfig): Promise<{ restarted: string[]; added: string[]; removed: string[]; needsRestart: string[] }> {
    const cur = this.opts.config;
    if (!cur || !this.recorder || this.stopping) throw new Error('reload needs a running daemon with a valid config; restart it instead');
    const needsRestart: string[] = (Object.keys(next) as (keyof AgentConfig)[]).filter((k) => k !== 'cameras' && JSON.stringify(next[k]) !== JSON.stringify(cur[k]));
    const before = new Map(cur.cameras.map((c) => [c.station, c]));
    const after = new Map(next.cameras.map((c) => [c.station, c]));
    const restarted: string[] = [], added: string[] = [], removed: string[] = [];
    const startCamera = (st: Station) => st.start().catch((err: Error) => this.log.error({ camera: st.cameraId, err: err.message }, 'camera failed to start; it stays offline'));
    for (const [id, entry] of before) {
      const st = this.stations.get(id);
      if (!st) continue;
      const replacement = after.get(id);
      if (replacement && JSON.stringify(replacement) === JSON.stringify(entry)) continue;
      await st.stopIntake();
      await st.drain();
      this.stations.delete(id);
      if (replacement) {
        const fresh = this.createStation(replacement, st.counters);
        this.stations.set(id, fresh);
        await startCamera(fresh);
        restarted.push(id);
      } else {
        removed.push(id);
      }
    }
    for (const [id, entry] of after) {
      if (before.has(id)) continue;
      const st = this.createStation(entry);
      this.stations.set(id, st);
      await this.changeover.restore([id]);
      await startCamera(st);
      added.push(id);
    }
    if (added.length && this.northbound.stationsFixedAtStart()) needsRestart.push('opcua (new stations appear on OPC UA after a restart)');
    this.opts.config = { ...cur, cameras: next.cameras };
    this.publishStatuses(true);
    this.log.info({ restarted, added, removed, needsRestart }, 'config reloaded');
    return { restarted, added, removed, needsRestart };
  }

  /** SIGTERM path: stop triggers, finish or NO_VERDICT in-flight frames, flush, publish offline, close. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const t0 = Date.now();
      this.stopping = true;
      this.northbound.markStopping();
      this.retention?.stop();
      if (this.statusTimer) clearInterval(this.statusTimer);
      await Promise.all([...this.stations.values()].map((s) => s.stopIntake()));
      await this.worker?.stop();
      await Promise.all([...this.stations.values()].map((s) => s.drain()));
      this.publishStatuses(true);
      await this.northbound.stop();
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
