// The HTTP layer's one view of the agent (a port): the operations the routes need and nothing more. The routes never
// see the daemon, its sinks or its pipeline classes; agent/agent-api.ts implements this from the running agent.
import type { InspectionRegion } from '../../models/regions.ts';
import type { FrameVerdict } from '../../models/verdict.ts';
import type { Frame, SourceStatus, StationStatus, VerdictRecord } from '../pipeline/ports.ts';
import type { Product, ResultFilter, ResultRow, Shot } from '../store/store.ts';
import type { RegionPort, CapturePort, ShotAdvicePort, ReferenceSetPort, EvidencePort, ThresholdPort, OverviewPort } from './workflow-ports.ts';

export interface AgentInfo {
  version: string;
  pack: string;
  provider: string;
  safeMode: boolean;
  configFile: string;
  /** Problems of an invalid config (where, what; never a value). */
  configProblems: string[];
  dataDir: string;
  writable: boolean;
  stations: string[];
  startedAt: number;
  /** The northbound constants the browser UI needs (adapters/protocol.ts protocolForUi()). */
  protocol: UiProtocol;
}

export interface UiProtocol {
  outcomes: Record<string, string>;
  noVerdictReasons: string[];
  verdicts: Record<string, number>;
  partIdMaxLength: number;
}

export interface ComponentReport {
  ok: boolean;
  reason: string;
  [detail: string]: unknown;
}

export interface HealthReport {
  ok: boolean;
  safeMode: boolean;
  components: Record<string, ComponentReport>;
}

/** captured = sum(outcomes) + pending, always. */
export interface StationCounts {
  captured: number;
  pending: number;
  outcomes: Record<string, number>;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  detail: unknown;
}

export type TriggerMode = 'free-run' | 'software' | 'hardware';

/** The newest judged frame of a station: the frame, its verdict and (for a verdict) the heat map behind it. */
export interface LiveFrame {
  frame: Frame;
  verdict: VerdictRecord;
  judged: FrameVerdict | null;
  region?: InspectionRegion | null;
}

export interface ReferenceView {
  productId: number | null;
  recipeId: number;
  productName: string;
  version: number;
  state: 'ready' | 'preparing' | 'error';
  shots: number;
  mode: 'few-shot' | 'zero-shot';
  threshold: number;
  thresholdSource: 'override' | 'shots' | 'pack-default';
  detail: string;
}

/** A verdict without its mask bytes (the mask is fetched by its URI). */
export type LatestVerdict = Omit<VerdictRecord, 'mask'> & { mask: Omit<NonNullable<VerdictRecord['mask']>, 'png'> | null };

export interface StationView {
  id: string;
  cameraId: string;
  triggerMode: TriggerMode;
  camera: SourceStatus;
  status: StationStatus;
  reference: ReferenceView;
  latest: LatestVerdict | null;
  counters: StationCounts;
  queue: { depth: number; capacity: number; policy: string };
}

export interface TriggerReceipt {
  /** The result's frameSeq. */
  triggerId: number;
  /** 0: only PLC triggers carry one. */
  triggerSeq: number;
}

/** One station as the routes use it. */
export interface StationPort {
  readonly id: string;
  readonly cameraId: string;
  readonly triggerMode: TriggerMode;
  /** Software-triggered, and its camera takes triggers. */
  readonly triggerable: boolean;
  live(): LiveFrame | null;
  /** Newest frame the camera delivered, judged or not. */
  latestFrame(): Frame | null;
  /** Inspects one part (the frame is also judged, like any trigger). */
  trigger(partId: string): Promise<TriggerReceipt>;
}

export interface Activation {
  stationId: string;
  productId: number | null;
  referenceVersion: number;
  mode: 'few-shot' | 'zero-shot';
  shots: number;
  threshold: number;
  thresholdSource: 'override' | 'shots' | 'pack-default';
  ms: number;
  encodedShots: number;
}

export interface ProductView extends Product {
  /** Stations this product is active on. */
  activeOn: string[];
  mode: 'few-shot' | 'zero-shot';
}

export interface ShotView extends Shot {
  looScore: number | null;
  imageUrl: string;
}

export interface ShotList {
  /** Why scores are missing, if they are. */
  note: string;
  shots: ShotView[];
}

export interface NewShot {
  png: Buffer;
  width: number;
  height: number;
  /** 'upload' or the camera id it was captured from. */
  source: string;
}

/**
 * Store-backed operations throw StoreError (404/409 with their message) or UnavailableError (503, e.g. the store in
 * pack safe mode); the routes pass those on as they are.
 */
export interface AgentApi {
  info(): AgentInfo;
  health(): HealthReport;
  /** Prometheus exposition text (statuses are published first, so the gauges are current). */
  metrics(): Promise<{ contentType: string; text: string }>;
  counters(): Record<string, StationCounts>;
  /** Newest first; user, action (or its area) and a time range narrow it (agent/store/audit.ts AuditFilter). */
  audit(filter: { limit: number; user?: string; action?: string; from?: number; to?: number }): AuditEntry[];

  stationIds(): string[];
  station(id: string): StationPort | undefined;
  stations(): StationView[];
  /** Changeover: `productId` (null = none, zero-shot) becomes active on the station. */
  activate(stationId: string, productId: number | null, actor: string): Promise<Activation>;

  products(): ProductView[];
  product(id: number): Product;
  createProduct(input: { name: string; recipeId?: number; threshold: number | null }, actor: string): Product;
  /** The product's reference is rebuilt where it is active. */
  updateProduct(id: number, patch: { name?: string; threshold?: number | null }, actor: string): Promise<Product>;
  deleteProduct(id: number, actor: string): void;
  shots(productId: number): Promise<ShotList>;
  /** Stores the shot, rebuilds the product's reference and answers the shot with the product's new list. */
  addShot(productId: number, shot: NewShot, actor: string): Promise<{ shot: Shot; shots: ShotList }>;
  shotPng(id: number): Buffer | undefined;
  deleteShot(id: number, actor: string): Promise<void>;

  results(filter: ResultFilter): ResultRow[];
  result(id: string): ResultRow | undefined;
  /** undefined: no such result; null: it has no stored mask. */
  mask(resultId: string): Buffer | null | undefined;

  /** http.token (undefined: writes are disabled). */
  token(): string | undefined;
  /** Largest shot upload in pixels (http.maxUploadPixels). */
  maxUploadPixels(): number;
  logError(fields: Record<string, unknown>, message: string): void;
  /** Evidence behind verdicts: stored frames, overlays, a result's detail, rejects, CSV (agent/http/evidence.ts). */
  evidence: EvidencePort;

  // ---- guided shot capture, shot-quality advice, reference sets (agent/http/capture.ts, shot-advice.ts, reference-sets.ts) ----
  capture: CapturePort;
  shotAdvice: ShotAdvicePort;
  referenceSets: ReferenceSetPort;

  // ---- threshold workbench (agent/http/thresholds.ts, built by agent/thresholds.ts) ----
  thresholds: ThresholdPort;

  // ---- line overview and shift counters (agent/http/overview.ts, built by agent/overview.ts) ----
  overview: OverviewPort;

  // ---- inspection regions (agent/http/regions.ts, built by agent/regions.ts) ----
  regions: RegionPort;
}

export type * from './workflow-ports.ts';
export type { CandidateView, NewCandidate, ReferenceSetView, ShotAdvice, ShotAdviceReport } from './shot-views.ts';
