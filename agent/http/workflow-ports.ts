// The operator-workflow ports of the HTTP side (issue 13/14 areas): inspection regions, guided capture and shot advice,
// reference sets, evidence, the threshold workbench and the line overview. AgentApi (api.ts) has one member each.
import type { ResultFilter, ResultRow, Shot } from '../store/store.ts';
import type { CandidateView, NewCandidate, ReferenceSetView, ShotAdviceReport } from './shot-views.ts';

// ---- inspection regions ----
export interface RegionView {
  productId: number;
  referenceSet: number;
  region: { roi: { x: number; y: number; width: number; height: number } | null; ignore: [number, number][][]; minAreaPx: number | null } | null;
  checkedAgainst: { source: string; width: number; height: number }[];
}

export interface RegionPort {
  get(productId: number): RegionView;
  /** Checks the region against the product's frame sizes (400 naming the problem, nothing stored), stores it as a new
   *  reference set and rebuilds the product's reference where it is active. */
  put(productId: number, region: { roi?: { x: number; y: number; width: number; height: number } | null; ignore?: [number, number][][]; minAreaPx?: number | null; stationId?: string }, actor: string): Promise<RegionView>;
}

// ---- guided shot capture, shot-quality advice, reference sets (their views in shot-views.ts) ----

export interface CapturePort {
  /** Judges the image against the product and holds it as a candidate (409 when too many are waiting). */
  hold(productId: number, image: NewCandidate): Promise<CandidateView>;
  candidates(productId: number): CandidateView[];
  /** The candidate's image as it would be stored (PNG) or its heat-map overlay (PNG); 404 when gone. */
  candidateImage(id: string, kind: 'image' | 'overlay'): Buffer;
  /** Stores the candidate as a shot (a new reference set) and rebuilds the product's reference where it is active. */
  keep(id: string, actor: string): Promise<{ shot: Shot; referenceSet: ReferenceSetView }>;
  discard(id: string): void;
}

export interface ShotAdvicePort {
  advice(productId: number): Promise<ShotAdviceReport>;
  /** The shot blended with its map against the product's other current shots; 404/409 with a reason. */
  looOverlay(shotId: number): Promise<Buffer>;
  /** Before an activation from the API: 409 naming the flagged shots unless `acknowledged`. */
  checkActivation(productId: number | null, acknowledged: boolean): Promise<void>;
}

export interface ReferenceSetPort {
  list(productId: number): ReferenceSetView[];
  /** The earlier set's shots become the live ones (a new set); the stations running the product follow. */
  restore(productId: number, version: number, actor: string): Promise<ReferenceSetView>;
  /** A result's stored frame becomes a shot of `productId` (default: the result's product). */
  keepResultAsShot(resultId: string, productId: number | undefined, actor: string): Promise<{ shot: Shot; referenceSet: ReferenceSetView }>;
}

// ---- evidence behind verdicts (agent/http/evidence.ts, implemented in agent/evidence.ts) ----

/** An image route's answer: the bytes, or why there are none (said to the caller as it is). */
export type ImageAnswer = { bytes: Buffer } | { status: 404; missing: string };

/** kept: stored; none: never kept (cameras[].keepImages); pruned: removed by retention. */
export type EvidenceImageState = 'kept' | 'none' | 'pruned';

export interface DefectRegionView {
  box: [number, number, number, number];
  areaPx: number;
  /** Share of the frame, in percent. */
  areaPct: number;
  /** Highest map value inside the region. */
  peak: number;
}

/** Everything the History detail panel shows about one result. */
export interface ResultDetail {
  result: ResultRow;
  /** As recorded with the result (older rows: the product's current name); null without a product. */
  productName: string | null;
  threshold: { value: number; source: 'override' | 'shots' | 'pack-default' | null };
  /** The runtime's per-branch image scores and map peaks (null: no inference, or recorded before they were kept). */
  branches: Record<string, number> | null;
  defects: { count: number; areaPx: number; areaPct: number; bbox: [number, number, number, number]; regions: DefectRegionView[] | null };
  timings: { capturedAt: number; decidedAt: number; queueMs: number | null; inferenceMs: number | null; totalMs: number };
  images: {
    frame: { state: EvidenceImageState; url: string | null; width: number | null; height: number | null };
    overlay: { url: string | null };
    mask: { url: string | null };
    map: { state: EvidenceImageState; size: number | null };
    bytes: number;
  };
}

/** One thumbnail of the rejects gallery. */
export interface RejectItem {
  resultId: string;
  resultSeq: number;
  partId: string;
  decidedAt: number;
  score: number;
  threshold: number;
  defectCount: number;
  frameUrl: string;
  detailUrl: string;
}

export interface EvidencePort {
  /** The stored frame (JPEG). undefined never: a missing result is a 404 answer too. */
  frame(resultId: string): ImageAnswer;
  /** Stored frame + heat map from the stored map + defect outlines (PNG). */
  overlay(resultId: string): Promise<ImageAnswer>;
  /** undefined: no such result. */
  detail(resultId: string): ResultDetail | undefined;
  /** Newest FAILs of a station with a kept frame, newest first; undefined: no such station. */
  rejects(stationId: string, limit: number): RejectItem[] | undefined;
  /** The filter's rows as CSV lines (header first), produced one at a time for streaming. */
  csv(filter: ResultFilter): Iterable<string>;
}

// ---- threshold workbench ----

/** What GET /api/products/:id/scores answers (agent/http/thresholds.ts declares its schema). */
export interface ProductScoresView {
  productId: number;
  limit: number;
  threshold: {
    /** What the product is judged with now; null when unknown (inference not running, no override). */
    value: number | null;
    source: 'override' | 'shots' | 'pack-default' | null;
    override: number | null;
    /** What clearing the override gives; null when unknown. */
    calibrated: number | null;
    calibratedSource: 'shots' | 'pack-default' | null;
  };
  shots: { shotId: number; looScore: number | null }[];
  note: string;
  counts: { shown: number; pass: number; fail: number };
  totals: { pass: number; fail: number; noVerdict: number };
  /** Newest first: the last `limit` PASS/FAIL results with the threshold each was judged with. */
  results: { resultId: string; stationId: string; score: number; threshold: number; outcome: 'PASS' | 'FAIL'; decidedAt: number }[];
}

export interface ThresholdPort {
  scores(productId: number, limit: number): Promise<ProductScoresView>;
}

// ---- line overview and shift counters ----

/** The current shift's counts of a station (results decided since `startedAt`). */
export interface ShiftView {
  startedAt: number;
  /** Who started it: a user or token ("api:…"), "plc", "mqtt", "schedule", or "agent" (its first start). */
  startedBy: string;
  cause: 'first-start' | 'http' | 'plc' | 'mqtt' | 'line' | 'schedule';
  ok: number;
  ng: number;
  notInspected: number;
  /** NO_VERDICT by reason. */
  reasons: Record<string, number>;
  total: number;
  /** OK of all parts (OK + NG + not inspected), in percent; null before the first part. */
  yieldPct: number | null;
}

/** What the tile shows in big letters; `why` says in plain words why there is no verdict. */
export interface OverviewVerdict {
  show: 'OK' | 'NG' | 'NO VERDICT';
  why: string;
  /** Which of the reasons `why` words (the UI says it in the chosen language): the camera is not online, no part was
   *  inspected yet, or the last part was not inspected (its `last.reason`); null with a verdict. */
  cause: 'camera' | 'no_part' | 'not_inspected' | null;
}

export interface OverviewStation {
  id: string;
  cameraId: string;
  product: { id: number | null; name: string; recipeId: number };
  camera: { state: string; online: boolean; detail: string | null };
  verdict: OverviewVerdict;
  last: { resultId: string; partId: string; outcome: 'PASS' | 'FAIL' | 'NO_VERDICT'; reason: string | null; score: number; threshold: number; decidedAt: number } | null;
  /** The last part with its heat map and defect outlines. */
  image: { url: string; resultId: string } | null;
  shift: ShiftView;
}

export interface OverviewView {
  at: number;
  stations: OverviewStation[];
}

export interface OverviewPort {
  overview(): OverviewView;
  /** A new shift for the station (audited; the sinks' counters reset with it). */
  resetCounters(stationId: string, actor: string): ShiftView;
}
