// Results: one row per settled frame, numbered per station; the hooks (MQTT outbox) run in the row's transaction.
// These are the store's own types; agent/northbound/verdict-record.ts maps them to the northbound VerdictRecord.
import type { Statement } from 'better-sqlite3';
import { ulid } from 'ulid';
import type { Db } from './db.ts';
import type { InFlightFrame } from './frames-in-flight.ts';
import type { ResultEvidence, ResultImages, ResultImagesInfo } from './result-images.ts';

export type ResultOutcome = 'PASS' | 'FAIL' | 'NO_VERDICT';
type Box = [number, number, number, number];

/** What the pipeline knows about a frame's outcome; the store adds resultSeq (and resultId when none is given). */
export interface ResultInput {
  resultId?: string;
  stationId: string;
  cameraId: string;
  frameSeq: number;
  partId: string;
  triggerSeq: number;
  productId: number | null;
  recipeId: number;
  recipeName: string;
  referenceVersion: number;
  packId: string;
  outcome: ResultOutcome;
  /** Why there is no verdict (NO_VERDICT only). */
  reason: string | null;
  verdictCode: number;
  mode: string;
  shots: number;
  score: number;
  threshold: number;
  defects: { count: number; areaPx: number; areaPct: number; bbox: Box; boxes: Box[] };
  mask: { png: Buffer; width: number; height: number; sha256: string; uri: string } | null;
  /** Epoch ms. */
  capturedAt: number;
  decidedAt: number;
  queueMs: number | null;
  inferenceMs: number | null;
  totalMs: number;
  width: number;
  height: number;
  /** Whether the row keeps the mask PNG; the hooks get the mask either way. */
  keepMask: boolean;
  /** The frame's in-flight row (admitFrame), removed in the result's own transaction. */
  inFlightId?: number;
  /** Where the threshold came from (the reference the frame was judged with). */
  thresholdSource?: 'override' | 'shots' | 'pack-default';
  /** The runtime's per-branch image scores and map peaks. */
  branches?: Record<string, number> | null;
  /** Each defect region's box, area and map peak. */
  regions?: DefectRegionRow[];
  /** Frame and anomaly map to keep with the result (keepImages); never passed to the hooks. */
  evidence?: ResultEvidence | null;
}

export interface DefectRegionRow { box: Box; areaPx: number; peak: number }

/** A result as recorded: what the hooks get and recordResult returns. */
export type RecordedResult = Omit<ResultInput, 'resultId' | 'keepMask' | 'inFlightId' | 'evidence'> & { resultId: string; resultSeq: number };

/** A stored row, as getResult and queryResults (and so the HTTP API) return it. */
export interface ResultRow {
  resultId: string;
  stationId: string;
  resultSeq: number;
  cameraId: string;
  frameSeq: number;
  partId: string;
  triggerSeq: number;
  productId: number | null;
  recipeId: number;
  referenceVersion: number;
  packId: string;
  outcome: ResultOutcome;
  reason: string | null;
  verdictCode: number;
  mode: string;
  shots: number;
  score: number;
  threshold: number;
  defectCount: number;
  defectAreaPx: number;
  bbox: Box;
  capturedAt: number;
  decidedAt: number;
  queueMs: number | null;
  inferenceMs: number | null;
  totalMs: number;
  hasMask: boolean;
  width: number;
  height: number;
}

export interface ResultFilter {
  stationId?: string;
  cameraId?: string;
  outcome?: ResultOutcome;
  reason?: string;
  productId?: number;
  partId?: string;
  since?: number;
  until?: number;
  beforeSeq?: number;
  limit?: number;
}

/** Called inside the result transaction (the MQTT outbox enqueues here, so row and outbox entry commit together). */
export type ResultHook = (result: RecordedResult) => void;

export interface ResultsDeps {
  nextResultSeq: (stationId: string) => number;
  settleFrame: (inFlightId: number) => void;
  images: ResultImages;
}

/** One result with everything its detail view shows (GET /api/results/:id/detail). */
export interface ResultDetailRow extends ResultRow {
  /** The product's name as recorded with the result (older rows: the product's current name; null: none). */
  productName: string | null;
  thresholdSource: 'override' | 'shots' | 'pack-default' | null;
  branches: Record<string, number> | null;
  /** null for results recorded before regions were stored. */
  regions: DefectRegionRow[] | null;
  images: ResultImagesInfo;
}

/** A row as the CSV export streams it: the table's columns plus the product name. */
export type ResultExportRow = ResultRow & { productName: string | null; thresholdSource: string | null };

const RESULT_COLUMNS = `result_id, station_id, result_seq, camera_id, frame_seq, part_id, trigger_seq, product_id, recipe_id,
  reference_version, pack_id, outcome, reason, verdict_code, mode, shots, score, threshold, defect_count, defect_area_px,
  bbox, captured_at, decided_at, queue_ms, inference_ms, total_ms, mask_png IS NOT NULL AS has_mask, width, height`;
const EXTRA_COLUMNS = `COALESCE(NULLIF(recipe_name, ''), (SELECT name FROM products WHERE products.id = results.product_id)) AS product_name,
  threshold_source, branches, defect_regions`;

interface ResultSql {
  result_id: string; station_id: string; result_seq: number; camera_id: string; frame_seq: number; part_id: string; trigger_seq: number;
  product_id: number | null; recipe_id: number; reference_version: number; pack_id: string; outcome: ResultOutcome; reason: string | null;
  verdict_code: number; mode: string; shots: number; score: number; threshold: number; defect_count: number; defect_area_px: number; bbox: string;
  captured_at: number; decided_at: number; queue_ms: number | null; inference_ms: number | null; total_ms: number; has_mask: number; width: number; height: number;
}
interface ExtraSql { product_name: string | null; threshold_source: ResultDetailRow['thresholdSource']; branches: string | null; defect_regions: string | null }

export class Results {
  readonly hooks: ResultHook[] = [];
  private insertStmt?: Statement;

  constructor(private readonly db: Db, private readonly deps: ResultsDeps) {}

  /** Assigns resultId and the station's next resultSeq, writes the row and runs the hooks (outbox) in ONE transaction. */
  record(input: ResultInput): RecordedResult {
    return this.db.transaction(() => {
      const resultSeq = this.deps.nextResultSeq(input.stationId);
      const { resultId: given, keepMask, inFlightId, evidence, regions: _regions, ...rest } = input;
      const resultId = given ?? ulid();
      if (inFlightId !== undefined) this.deps.settleFrame(inFlightId);
      const recorded: RecordedResult = { ...rest, resultId, resultSeq };
      (this.insertStmt ??= this.db.prepare(`INSERT INTO results (result_id, station_id, result_seq, camera_id, frame_seq, part_id, trigger_seq,
        product_id, recipe_id, reference_version, pack_id, outcome, reason, verdict_code, mode, shots, score, threshold, defect_count,
        defect_area_px, bbox, captured_at, decided_at, queue_ms, inference_ms, total_ms, mask_png, width, height, recipe_name, threshold_source, branches, defect_regions)
        VALUES (${new Array(33).fill('?').join(', ')})`)).run(
        resultId, input.stationId, resultSeq, input.cameraId, input.frameSeq, input.partId, input.triggerSeq, input.productId, input.recipeId,
        input.referenceVersion, input.packId, input.outcome, input.reason, input.verdictCode, input.mode, input.shots,
        input.score, input.threshold, input.defects.count, input.defects.areaPx, JSON.stringify(input.defects.bbox),
        input.capturedAt, input.decidedAt, input.queueMs, input.inferenceMs, input.totalMs, keepMask && input.mask ? input.mask.png : null,
        input.width, input.height, input.recipeName, input.thresholdSource ?? null, input.branches ? JSON.stringify(input.branches) : null,
        input.regions ? JSON.stringify(input.regions) : null,
      );
      if (evidence) this.deps.images.put(resultId, input.stationId, input.outcome, input.decidedAt, evidence);
      for (const hook of this.hooks) hook(recorded);
      return recorded;
    })();
  }

  /** NO_VERDICT for an in-flight frame of a station that is no longer configured (nothing else can settle it). */
  settleOrphan(frame: InFlightFrame, reason: 'interrupted', packId: string): RecordedResult {
    const now = Date.now();
    return this.record({
      stationId: frame.stationId, cameraId: frame.cameraId, frameSeq: frame.frameSeq, partId: frame.partId, triggerSeq: frame.triggerSeq,
      productId: frame.productId, recipeId: frame.recipeId, recipeName: frame.recipeName, referenceVersion: frame.referenceVersion, packId,
      outcome: 'NO_VERDICT', reason, verdictCode: 3, mode: 'none', shots: frame.shots, score: 0, threshold: frame.threshold,
      defects: { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0], boxes: [] }, mask: null,
      capturedAt: frame.capturedAt, decidedAt: now, queueMs: 0, inferenceMs: null, totalMs: now - frame.capturedAt,
      width: frame.width, height: frame.height, keepMask: false, inFlightId: frame.id,
    });
  }

  get(resultId: string): ResultRow | undefined {
    const r = this.db.prepare(`SELECT ${RESULT_COLUMNS} FROM results WHERE result_id = ?`).get(resultId) as ResultSql | undefined;
    return r && resultFromSql(r);
  }

  mask(resultId: string): Buffer | null | undefined {
    const r = this.db.prepare('SELECT mask_png FROM results WHERE result_id = ?').get(resultId) as { mask_png: Buffer | null } | undefined;
    return r ? r.mask_png : undefined;
  }

  detail(resultId: string): ResultDetailRow | undefined {
    const r = this.db.prepare(`SELECT ${RESULT_COLUMNS}, ${EXTRA_COLUMNS} FROM results WHERE result_id = ?`).get(resultId) as (ResultSql & ExtraSql) | undefined;
    if (!r) return undefined;
    return {
      ...resultFromSql(r), productName: r.product_name, thresholdSource: r.threshold_source,
      branches: r.branches ? (JSON.parse(r.branches) as Record<string, number>) : null,
      regions: r.defect_regions ? (JSON.parse(r.defect_regions) as DefectRegionRow[]) : null, images: this.deps.images.info(resultId),
    };
  }

  query(f: ResultFilter = {}): ResultRow[] {
    const { sql, args } = filterSql(f);
    return (this.db.prepare(`SELECT ${RESULT_COLUMNS} FROM results ${sql} ORDER BY decided_at DESC, result_seq DESC LIMIT ?`)
      .all(...args, Math.min(f.limit ?? 100, 1000)) as ResultSql[]).map(resultFromSql);
  }

}

/**
 * Every row of the filter (no limit unless one is given), one at a time: the CSV export streams these. `db` must be a
 * connection of its own (Store.exportResults opens a read-only one): an open iterator keeps its connection busy, and
 * the writer must never wait on a slow download.
 */
export function* iterateResults(db: Db, f: ResultFilter = {}): Generator<ResultExportRow> {
  const { sql, args } = filterSql(f);
  const stmt = db.prepare(`SELECT ${RESULT_COLUMNS}, ${EXTRA_COLUMNS} FROM results ${sql} ORDER BY decided_at DESC, result_seq DESC${f.limit === undefined ? '' : ' LIMIT ?'}`);
  for (const r of stmt.iterate(...args, ...(f.limit === undefined ? [] : [f.limit])) as IterableIterator<ResultSql & ExtraSql>) {
    yield { ...resultFromSql(r), productName: r.product_name, thresholdSource: r.threshold_source };
  }
}

function filterSql(f: ResultFilter): { sql: string; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const add = (sql: string, v: string | number | undefined) => {
    if (v !== undefined) {
      where.push(sql);
      args.push(v);
    }
  };
  add('station_id = ?', f.stationId);
  add('camera_id = ?', f.cameraId);
  add('outcome = ?', f.outcome);
  add('reason = ?', f.reason);
  add('product_id = ?', f.productId);
  add('part_id = ?', f.partId);
  add('decided_at >= ?', f.since);
  add('decided_at <= ?', f.until);
  add('result_seq < ?', f.beforeSeq);
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}

function resultFromSql(r: ResultSql): ResultRow {
  return {
    resultId: r.result_id, stationId: r.station_id, resultSeq: r.result_seq, cameraId: r.camera_id, frameSeq: r.frame_seq, partId: r.part_id,
    triggerSeq: r.trigger_seq, productId: r.product_id, recipeId: r.recipe_id, referenceVersion: r.reference_version, packId: r.pack_id,
    outcome: r.outcome, reason: r.reason, verdictCode: r.verdict_code, mode: r.mode, shots: r.shots, score: r.score, threshold: r.threshold,
    defectCount: r.defect_count, defectAreaPx: r.defect_area_px, bbox: JSON.parse(r.bbox) as Box,
    capturedAt: r.captured_at, decidedAt: r.decided_at, queueMs: r.queue_ms, inferenceMs: r.inference_ms, totalMs: r.total_ms,
    hasMask: r.has_mask === 1, width: r.width, height: r.height,
  };
}
