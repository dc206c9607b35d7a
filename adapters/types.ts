// Northbound contract: the daemon feeds VerdictSinks; commands from the line come back through SinkCommands.
// Verdict codes, outcomes, NO_VERDICT reasons, station states and alarm names are the constants of adapters/protocol.ts.
import type { AlarmName, NoVerdictReason, Outcome, StationStateName, StationStateNumber, VerdictCode } from './protocol.ts';
export type { AlarmName, NoVerdictReason, Outcome, VerdictCode };

export interface VerdictRecord {
  resultId: string; // ULID, same on every channel
  resultSeq: number; // per station, strictly increasing, persisted across restarts
  stationId: string;
  cameraId: string;
  partId: string;
  triggerSeq: number; // the PLC's TriggerSeq; 0 when not triggered by the PLC (free-run, hardware, HTTP or MQTT)
  recipeId: number;
  recipeName: string;
  modelVersion: string; // pack id (name@sha)
  referenceVersion: number;
  outcome: Outcome;
  noVerdictReason?: NoVerdictReason;
  verdictCode: VerdictCode;
  mode: 'zero-shot' | 'few-shot' | 'none';
  shots: number;
  anomalyScore: number;
  threshold: number;
  defects: { count: number; areaPx: number; areaPct: number; bbox: [number, number, number, number]; boxes: [number, number, number, number][] };
  mask: { png: Buffer; width: number; height: number; sha256: string; uri: string } | null;
  timing: { acquiredAt: string; decidedAt: string; processingMs: number; queueMs?: number; inferenceMs?: number };
  replayed?: boolean;
}

export interface StationStatus {
  stationId: string;
  state: StationStateName;
  stateNumber: StationStateNumber;
  ready: boolean;
  busy: boolean;
  cameraConnected: boolean;
  recipeId: number;
  recipeName: string;
  referenceImageCount: number;
  modelVersion: string;
  pendingResults: number;
  errorCode: number;
  errorText: string;
}

export interface Alarm {
  stationId: string;
  alarm: AlarmName;
  active: boolean;
  severity: number;
  text: string;
}

/** Commands the line sends back (OPC UA methods/handshake, MQTT commands). Each returns a PROTOCOLS.md error code (0 ok, <0 reject). */
export interface SinkCommands {
  trigger(stationId: string, partId: string, triggerSeq: number): Promise<number>;
  selectRecipe(stationId: string, recipeId: number): Promise<number>;
  resetError(stationId: string): Promise<number>;
  /** `origin`: which side asked (the agent audits who reset the shift counters). */
  resetCounters(stationId: string, origin?: 'plc' | 'mqtt'): Promise<number>;
  /** Optional: an accepted trigger got no result in time (OPC UA rule 4). The daemon records the NO_VERDICT{timeout}
   *  outcome (its resultSeq, persisted, published on MQTT) and returns it; without this the OPC UA adapter presents
   *  a Verdict 3 record of its own. */
  triggerTimedOut?(stationId: string, triggerSeq: number, partId: string): Promise<VerdictRecord | null>;
}

export interface VerdictSink {
  readonly name: string;
  start(commands: SinkCommands): Promise<void>;
  stop(): Promise<void>;
  /** A verdict once its result row is committed; not called for a sink with the `outbox` capability. */
  publishVerdict(verdict: VerdictRecord): void;
  publishStatus(status: StationStatus): void;
  publishAlarm(alarm: Alarm): void;
  health(): { ok: boolean; detail: string };
  /** What the sink can do beyond the contract; the agent reads these and never tells sinks apart by name. */
  readonly capabilities?: SinkCapabilities;
}

export interface SinkCapabilities {
  /** A durable outbox: each verdict is enqueued inside its result row's transaction (a crash can never split the
   *  two), from the agent's start on, started or not; `flush` follows the commit. The sink gets verdicts only so. */
  outbox?: { enqueue(verdict: VerdictRecord): void; flush(): void };
  /** Counters and latched errors the sink keeps itself, reset here when the reset came another way. */
  localResets?: LocalResets;
  /** Alarms the sink raises itself (OPC UA ResultBufferFull, PlcHeartbeatLost): forwarded to the other sinks. */
  alarms?: { onAlarm(listener: (alarm: Alarm) => void): void };
  /** The broker the sink publishes to: its reachability drives BrokerOffline and the health entry `broker`. */
  broker?: { url: string; connectTimeoutMs: number; onConnection(listener: (connected: boolean) => void): void };
  /** Where clients connect (printed at start). */
  endpointUrl?(): string;
  /** The station set is fixed when the sink starts: stations added by a hot reload appear after a restart. */
  stationsFixedAtStart?: boolean;
}

/** Counters and latched errors a sink keeps (OPC UA `Counters.*`, the latched error). */
export interface LocalResets {
  resetCounters(stationId: string): void;
  resetError(stationId: string): void;
}

/** What the OPC 40100-1 Machine Vision view (adapters/opcua/machine-vision) asks the agent beyond SinkCommands:
 *  products as recipes, how a station is triggered, and results from the store (across restarts). */
export interface MachineVisionPort {
  /** Every product the agent knows, as a recipe any station can prepare (selectRecipe = today's changeover). */
  recipes(): RecipeInfo[];
  /** How the station's camera takes pictures: only 'software' stations run jobs on a method call. */
  triggerMode(stationId: string): 'free-run' | 'software' | 'hardware' | undefined;
  /** A stored result of this station; undefined when there is none (or it belongs to another station). */
  result(stationId: string, resultId: string): StoredResult | undefined;
  /** Stored results of this station, newest first (decidedAt, then resultSeq), at most `limit` (≤ 1000). */
  results(stationId: string, filter: StoredResultFilter): StoredResult[];
}

export interface RecipeInfo {
  recipeId: number;
  /** The product's name. */
  name: string;
  /** The product's current reference set version (0: none yet). */
  referenceVersion: number;
  shots: number;
}

export interface StoredResult {
  resultId: string;
  resultSeq: number;
  stationId: string;
  partId: string;
  triggerSeq: number;
  recipeId: number;
  /** The product's name as recorded ('' when unknown). */
  recipeName: string;
  referenceVersion: number;
  modelVersion: string;
  outcome: Outcome;
  noVerdictReason?: NoVerdictReason | undefined;
  verdictCode: VerdictCode;
  anomalyScore: number;
  threshold: number;
  defectCount: number;
  acquiredAt: Date;
  decidedAt: Date;
  processingMs: number;
  /** '' when no mask is kept. */
  maskUri: string;
}

export interface StoredResultFilter {
  partId?: string;
  outcome?: Outcome;
  recipeId?: number;
  /** decidedAt bounds, inclusive. */
  since?: Date;
  until?: Date;
  limit: number;
}
