// What the agent says about itself: each station's status for the line, the alarm conditions, /healthz with a reason
// per component, per-station stats and the accounting counters. It reads the pipeline; it changes nothing.
import { ALARMS, METHOD_RESULT, STATION_STATES, type StationStateName } from '../adapters/protocol.ts';
import type { StationStatus } from '../adapters/types.ts';
import type { Metrics } from './metrics.ts';
import type { AlarmCondition, Northbound } from './northbound/northbound.ts';
import type { Changeover } from './pipeline/changeover.ts';
import type { Station } from './pipeline/station.ts';
import { describeIncidents, type InferenceWorker } from './pipeline/worker.ts';
import type { Retention } from './retention.ts';

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

export interface StationCounts {
  captured: number;
  pending: number;
  outcomes: Record<string, number>;
}

export interface StatusDeps {
  stations: ReadonlyMap<string, Station>;
  changeover: () => Changeover | null;
  worker: () => InferenceWorker | null;
  northbound: Northbound;
  metrics: Metrics;
  retention: () => Retention | null;
  stopping: () => boolean;
  safeMode: () => boolean;
  /** Config facts Health reports: the file, why it or the pack is invalid, the device asked for. */
  config: () => { file: string; problems?: string[] | undefined; packProblem?: string | undefined; valid: boolean; device?: 'cpu' | 'cuda' | 'tensorrt' | undefined };
}

/** A state name with its number, as PROTOCOLS.md pairs them. */
function stationState<S extends StationStateName>(state: S): { state: S; stateNumber: (typeof STATION_STATES)[S] } {
  return { state, stateNumber: STATION_STATES[state] };
}

export class AgentStatus {
  constructor(private readonly deps: StatusDeps) {}

  get packId(): string {
    try {
      return this.deps.worker()?.active.packId ?? '';
    } catch {
      return '';
    }
  }

  station(st: Station): StationStatus {
    const ref = this.deps.changeover()!.current(st.id);
    const cam = st.status();
    const worker = this.deps.worker();
    const inferenceOk = worker?.state === 'ready';
    const ready = cam.state === 'online' && inferenceOk && ref.state === 'ready';
    const error = cam.state === 'offline' || !inferenceOk || ref.state === 'error';
    const errorText = cam.state === 'offline' ? `camera ${st.cameraId} offline${cam.lastError ? `: ${cam.lastError}` : ''}` : !inferenceOk ? `inference ${worker?.state}` : ref.state === 'error' ? ref.detail : '';
    const common = { stationId: st.id, recipeId: ref.recipeId, recipeName: ref.recipeName, referenceImageCount: ref.shots, modelVersion: this.packId, pendingResults: 0 };
    if (this.deps.stopping()) {
      // Shutdown: the line sees Halted (OPC 40100-1 state 2), never a stale Operational.
      return { ...common, state: 'Halted', stateNumber: STATION_STATES.Halted, ready: false, busy: false, cameraConnected: false, errorCode: METHOD_RESULT.ok, errorText: 'agent stopping' };
    }
    return {
      ...common,
      ...stationState(error ? 'Error' : ready ? 'Operational' : 'Preoperational'),
      ready,
      busy: st.pending > 0,
      cameraConnected: cam.state === 'online',
      errorCode: error ? METHOD_RESULT.notReady : METHOD_RESULT.ok,
      errorText,
    };
  }

  /** OffNormal conditions from the pipeline's state, per station. */
  alarmConditions(): AlarmCondition[] {
    const worker = this.deps.worker();
    const broker = this.deps.northbound.brokerOffline();
    return [...this.deps.stations.values()].flatMap((st): AlarmCondition[] => {
      const cam = st.status();
      // A graceful stop takes the worker down on purpose: not a model failure, so while stopping this alarm keeps the
      // state it had (a real failure stays raised, none is raised by the stop itself).
      const modelDown = this.deps.stopping() ? this.deps.northbound.raised(st.id, 'ModelNotLoaded') : worker !== null && worker.state !== 'ready';
      return [
        { stationId: st.id, alarm: 'CameraDisconnected', active: cam.state === 'offline', severity: ALARMS.CameraDisconnected, text: `camera ${st.cameraId} ${cam.state}${cam.lastError ? `: ${cam.lastError}` : ''}` },
        { stationId: st.id, alarm: 'ModelNotLoaded', active: modelDown, severity: ALARMS.ModelNotLoaded, text: `inference ${worker?.state}: ${worker?.lastError ?? ''}` },
        { stationId: st.id, alarm: 'BrokerOffline', active: broker.active, severity: ALARMS.BrokerOffline, text: broker.text },
      ];
    });
  }

  /** Alarms and statuses to the sinks (each once per change; `force`: statuses again), and the live gauges. */
  publish(force: boolean): void {
    const nb = this.deps.northbound;
    nb.alarms(this.alarmConditions());
    nb.statuses([...this.deps.stations.values()].map((st) => this.station(st)), force);
    const m = this.deps.metrics;
    for (const st of this.deps.stations.values()) {
      const cam = st.status();
      m.cameraOnline.set({ camera: st.cameraId }, cam.state === 'online' ? 1 : 0);
      m.cameraReconnects.set({ camera: st.cameraId }, cam.reconnectsLastHour);
      m.cameraBadFrames.set({ camera: st.cameraId }, cam.badFrames);
      m.queueDepth.set({ camera: st.cameraId }, st.queue.length);
      m.queueOldest.set({ camera: st.cameraId }, st.oldestQueuedAgeMs() / 1000);
    }
    m.inferenceRestarts.set(this.deps.worker()?.restarts ?? 0);
  }

  health(): Health {
    const cfg = this.deps.config();
    const components: Record<string, ComponentHealth> = {};
    if (cfg.packProblem !== undefined) components.pack = { ok: false, reason: `invalid model pack: ${cfg.packProblem}` };
    components.config = cfg.valid ? { ok: true, reason: `loaded ${cfg.file}` } : { ok: false, reason: `invalid config ${cfg.file}: ${(cfg.problems ?? []).join(' | ')}` };
    const changeover = this.deps.changeover();
    for (const st of this.deps.stations.values()) {
      const s = st.status();
      const ref = changeover!.current(st.id);
      const ok = s.state === 'online' && ref.state === 'ready';
      const reason = s.state !== 'online' ? `camera ${st.cameraId} is ${s.state}${s.lastError ? `: ${s.lastError}` : ''}` : ref.state !== 'ready' ? `reference ${ref.state}: ${ref.detail}` : `online, ${ref.detail}`;
      components[`camera:${st.cameraId}`] = { ok, reason, station: st.id, state: s.state, framesDelivered: s.framesDelivered, reconnectsLastHour: s.reconnectsLastHour, queue: st.queue.length };
    }
    const worker = this.deps.worker();
    if (worker) components.inference = this.inference(worker, cfg.device);
    else if (!this.deps.safeMode()) components.inference = { ok: false, reason: 'not started' };
    for (const sink of this.deps.northbound.health()) {
      components[sink.key] = { ok: sink.ok, reason: sink.reason, ...(sink.since ? { since: sink.since } : {}) };
    }
    const disk = this.deps.retention()?.health();
    if (disk) components.disk = { ...disk };
    return { ok: Object.values(components).every((c) => c.ok), safeMode: this.deps.safeMode(), components };
  }

  /** A GPU asked for (cuda, tensorrt) but the session runs on something less, or hangs / session restarts within model.degradedWindowS: still
   *  inspecting, flagged DEGRADED so nobody mistakes it for normal; it clears by itself once the window is quiet. */
  private inference(worker: InferenceWorker, device: 'cpu' | 'cuda' | 'tensorrt' | undefined): ComponentHealth {
    const ok = worker.state === 'ready';
    const cudaMissing = ok && device !== undefined && device !== 'cpu' && worker.provider !== device;
    const recent = worker.recent();
    const trouble = describeIncidents(recent);
    const degraded = ok && (cudaMissing || trouble !== '');
    const ready = `ready on ${worker.provider}${cudaMissing ? `, ${device} was requested but is unavailable` : ''}`;
    const reason = !ok ? `${worker.state}: ${worker.lastError}${trouble ? `; ${trouble}` : ''}` : !degraded ? ready : cudaMissing ? `DEGRADED: ${ready}${trouble ? `; ${trouble}` : ''}` : `DEGRADED: ${trouble}; ${ready}`;
    return { ok, degraded, reason, provider: worker.provider, restarts: worker.restarts, lastError: worker.lastError, recent: { windowS: recent.windowMs / 1000, timeouts: recent.timeouts, timeoutFrames: recent.timeoutFrames, errors: recent.errors, restarts: recent.restarts } };
  }

  /** Counters and capture-to-verdict latency percentiles of one station (MQTT metrics topic). */
  stationStats(stationId: string): Record<string, unknown> {
    const st = this.deps.stations.get(stationId);
    if (!st) return {};
    const lat = [...st.latencies].sort((a, b) => a - b);
    const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : null);
    const worker = this.deps.worker();
    return {
      captured: st.counters.captured, pending: st.pending, outcomes: { ...st.counters.outcomes },
      latencyMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99), window: lat.length },
      queue: { depth: st.queue.length, oldestAgeMs: st.oldestQueuedAgeMs() },
      inference: { provider: worker?.provider ?? 'none', restarts: worker?.restarts ?? 0 },
    };
  }

  /** Per-station accounting: captured = verdicts + no_verdicts + pending, always. */
  counters(): Record<string, StationCounts> {
    return Object.fromEntries([...this.deps.stations.values()].map((s) => [s.id, { captured: s.counters.captured, pending: s.pending, outcomes: { ...s.counters.outcomes } }]));
  }
}
