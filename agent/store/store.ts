// The agent's single-writer store. Every write goes through this object on the main thread, so SQLite sees one writer.
import type Database from 'better-sqlite3';
import { statfsSync, statSync } from 'node:fs';
import { ulid } from 'ulid';
import type { VerdictRecord } from '../../adapters/types.ts';
import { openDatabase, type Db, type OpenOptions } from './db.ts';

export interface Product {
  id: number;
  recipeId: number;
  name: string;
  threshold: number | null;
  createdAt: number;
  updatedAt: number;
  shotCount: number;
}

export interface Shot {
  id: number;
  productId: number;
  width: number;
  height: number;
  source: string;
  createdBy: string;
  createdAt: number;
}

export interface StationRow {
  id: string;
  lastSeq: number;
  activeProductId: number | null;
  referenceVersion: number;
}

/** What the pipeline knows about a frame's outcome; the store adds resultId and resultSeq. */
export type ResultInput = Omit<VerdictRecord, 'resultId' | 'resultSeq'> & {
  resultId?: string; frameSeq: number; productId: number | null; width: number; height: number; keepMask: boolean;
  /** The frame's in-flight row (admitFrame), removed in the result's own transaction. */
  inFlightId?: number;
};

/** A frame on record before it was queued; one still here at start-up was interrupted by a crash. */
export interface InFlightFrame {
  id: number;
  stationId: string;
  cameraId: string;
  frameSeq: number;
  partId: string;
  triggerSeq: number;
  productId: number | null;
  recipeId: number;
  recipeName: string;
  referenceVersion: number;
  shots: number;
  threshold: number;
  capturedAt: number;
  width: number;
  height: number;
}

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
  outcome: 'PASS' | 'FAIL' | 'NO_VERDICT';
  reason: string | null;
  verdictCode: number;
  mode: string;
  shots: number;
  score: number;
  threshold: number;
  defectCount: number;
  defectAreaPx: number;
  bbox: [number, number, number, number];
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
  outcome?: 'PASS' | 'FAIL' | 'NO_VERDICT';
  reason?: string;
  productId?: number;
  partId?: string;
  since?: number;
  until?: number;
  beforeSeq?: number;
  limit?: number;
}

export interface RetentionPolicy {
  maxAgeMs: number;
  maskMaxAgeMs: number;
  minFreeBytes: number;
  walCheckpointBytes: number;
}

/** Called inside the result transaction (the MQTT outbox enqueues here, so row and outbox entry commit together). */
export type ResultHook = (verdict: VerdictRecord) => void;

export class StoreError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

const RESULT_COLUMNS = `result_id, station_id, result_seq, camera_id, frame_seq, part_id, trigger_seq, product_id, recipe_id,
  reference_version, pack_id, outcome, reason, verdict_code, mode, shots, score, threshold, defect_count, defect_area_px,
  bbox, captured_at, decided_at, queue_ms, inference_ms, total_ms, mask_png IS NOT NULL AS has_mask, width, height`;

export class Store {
  readonly db: Db;
  private readonly resultHooks: ResultHook[] = [];

  constructor(readonly file: string, opts: OpenOptions = {}) {
    this.db = openDatabase(file, opts);
  }

  close(): void {
    if (this.db.open) {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
  }

  onResult(hook: ResultHook): void {
    this.resultHooks.push(hook);
  }

  audit(actor: string, action: string, detail: unknown): void {
    this.db.prepare('INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)').run(Date.now(), actor, action, JSON.stringify(detail));
  }

  auditLog(limit = 100): { id: number; at: number; actor: string; action: string; detail: unknown }[] {
    return (this.db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as { id: number; at: number; actor: string; action: string; detail: string }[])
      .map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }));
  }

  // ---- products ----
  listProducts(): Product[] {
    return (this.db.prepare(`SELECT p.*, (SELECT COUNT(*) FROM shots s WHERE s.product_id = p.id) AS shot_count FROM products p ORDER BY p.recipe_id`).all() as ProductSql[]).map(productFromSql);
  }

  getProduct(id: number): Product | undefined {
    const row = this.db.prepare(`SELECT p.*, (SELECT COUNT(*) FROM shots s WHERE s.product_id = p.id) AS shot_count FROM products p WHERE p.id = ?`).get(id) as ProductSql | undefined;
    return row && productFromSql(row);
  }

  requireProduct(id: number): Product {
    const p = this.getProduct(id);
    if (!p) throw new StoreError(`product ${id} does not exist; list products with GET /api/products`, 404);
    return p;
  }

  productByRecipe(recipeId: number): Product | undefined {
    const row = this.db.prepare('SELECT id FROM products WHERE recipe_id = ?').get(recipeId) as { id: number } | undefined;
    return row && this.getProduct(row.id);
  }

  createProduct(input: { name: string; recipeId?: number; threshold?: number | null }, actor: string): Product {
    return this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM products WHERE name = ?').get(input.name)) {
        throw new StoreError(`a product named "${input.name}" already exists; choose another name`, 409);
      }
      const recipeId = input.recipeId ?? ((this.db.prepare('SELECT COALESCE(MAX(recipe_id), 0) + 1 AS next FROM products').get() as { next: number }).next);
      if (this.db.prepare('SELECT 1 FROM products WHERE recipe_id = ?').get(recipeId)) {
        throw new StoreError(`recipe id ${recipeId} is already used by another product; choose another recipe id`, 409);
      }
      const now = Date.now();
      const info = this.db.prepare('INSERT INTO products (recipe_id, name, threshold, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
        .run(recipeId, input.name, input.threshold ?? null, now, now);
      this.audit(actor, 'product.create', { id: Number(info.lastInsertRowid), name: input.name, recipeId });
      return this.getProduct(Number(info.lastInsertRowid))!;
    })();
  }

  updateProduct(id: number, patch: { name?: string; threshold?: number | null }, actor: string): Product {
    return this.db.transaction(() => {
      const before = this.requireProduct(id);
      if (patch.name !== undefined && patch.name !== before.name && this.db.prepare('SELECT 1 FROM products WHERE name = ?').get(patch.name)) {
        throw new StoreError(`a product named "${patch.name}" already exists; choose another name`, 409);
      }
      this.db.prepare('UPDATE products SET name = ?, threshold = ?, updated_at = ? WHERE id = ?')
        .run(patch.name ?? before.name, patch.threshold === undefined ? before.threshold : patch.threshold, Date.now(), id);
      this.audit(actor, 'product.update', { id, ...patch });
      return this.getProduct(id)!;
    })();
  }

  deleteProduct(id: number, actor: string): void {
    this.db.transaction(() => {
      const p = this.requireProduct(id);
      const active = this.db.prepare('SELECT id FROM stations WHERE active_product_id = ?').all(id) as { id: string }[];
      if (active.length) throw new StoreError(`product "${p.name}" is active on ${active.map((s) => s.id).join(', ')}; activate another product first`, 409);
      this.db.prepare('DELETE FROM products WHERE id = ?').run(id);
      this.audit(actor, 'product.delete', { id, name: p.name });
    })();
  }

  // ---- shots ----
  addShot(productId: number, shot: { png: Buffer; width: number; height: number; source: string }, actor: string): Shot {
    return this.db.transaction(() => {
      this.requireProduct(productId);
      const info = this.db.prepare('INSERT INTO shots (product_id, png, width, height, source, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(productId, shot.png, shot.width, shot.height, shot.source, actor, Date.now());
      const id = Number(info.lastInsertRowid);
      this.audit(actor, 'shot.add', { id, productId, source: shot.source });
      return this.getShot(id)!;
    })();
  }

  getShot(id: number): Shot | undefined {
    const r = this.db.prepare('SELECT id, product_id, width, height, source, created_by, created_at FROM shots WHERE id = ?').get(id) as ShotSql | undefined;
    return r && shotFromSql(r);
  }

  listShots(productId: number): Shot[] {
    return (this.db.prepare('SELECT id, product_id, width, height, source, created_by, created_at FROM shots WHERE product_id = ? ORDER BY id').all(productId) as ShotSql[]).map(shotFromSql);
  }

  shotPng(id: number): Buffer | undefined {
    return (this.db.prepare('SELECT png FROM shots WHERE id = ?').get(id) as { png: Buffer } | undefined)?.png;
  }

  deleteShot(id: number, actor: string): Shot {
    return this.db.transaction(() => {
      const shot = this.getShot(id);
      if (!shot) throw new StoreError(`shot ${id} does not exist; list a product's shots with GET /api/products/{id}/shots`, 404);
      this.db.prepare('DELETE FROM shots WHERE id = ?').run(id);
      this.audit(actor, 'shot.delete', { id, productId: shot.productId });
      return shot;
    })();
  }

  shotFeatures(shotId: number, packSha: string): { features: Buffer; looScore: number | null } | undefined {
    const r = this.db.prepare('SELECT features, loo_score FROM shot_features WHERE shot_id = ? AND pack_sha = ?').get(shotId, packSha) as { features: Buffer; loo_score: number | null } | undefined;
    return r && { features: r.features, looScore: r.loo_score };
  }

  putShotFeatures(shotId: number, packSha: string, features: Buffer): void {
    this.db.prepare(`INSERT INTO shot_features (shot_id, pack_sha, features, loo_score, computed_at) VALUES (?, ?, ?, NULL, ?)
      ON CONFLICT (shot_id, pack_sha) DO UPDATE SET features = excluded.features, loo_score = NULL, computed_at = excluded.computed_at`).run(shotId, packSha, features, Date.now());
  }

  setLooScores(packSha: string, scores: Map<number, number | null>): void {
    const stmt = this.db.prepare('UPDATE shot_features SET loo_score = ? WHERE shot_id = ? AND pack_sha = ?');
    this.db.transaction(() => {
      for (const [shotId, score] of scores) stmt.run(score, shotId, packSha);
    })();
  }

  /** Features cached for other packs are dead weight once the pack changed. */
  dropFeaturesExcept(packSha: string): number {
    return this.db.prepare('DELETE FROM shot_features WHERE pack_sha <> ?').run(packSha).changes;
  }

  // ---- stations and changeover ----
  ensureStation(id: string): StationRow {
    this.db.prepare('INSERT INTO stations (id, updated_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING').run(id, Date.now());
    return this.getStation(id)!;
  }

  getStation(id: string): StationRow | undefined {
    const r = this.db.prepare('SELECT * FROM stations WHERE id = ?').get(id) as { id: string; last_seq: number; active_product_id: number | null; reference_version: number } | undefined;
    return r && { id: r.id, lastSeq: r.last_seq, activeProductId: r.active_product_id, referenceVersion: r.reference_version };
  }

  /** Atomic changeover: the active product and the reference version change in one transaction. */
  activate(stationId: string, productId: number | null, actor: string, check?: () => void): StationRow {
    return this.db.transaction(() => {
      if (productId !== null) this.requireProduct(productId);
      check?.();
      this.ensureStation(stationId);
      this.db.prepare('UPDATE stations SET active_product_id = ?, reference_version = reference_version + 1, updated_at = ? WHERE id = ?').run(productId, Date.now(), stationId);
      const st = this.getStation(stationId)!;
      this.audit(actor, 'station.activate', { stationId, productId, referenceVersion: st.referenceVersion });
      return st;
    })();
  }

  /** New reference version for a station whose active product's shots or threshold changed. */
  bumpReference(stationId: string, actor: string): StationRow {
    return this.db.transaction(() => {
      this.db.prepare('UPDATE stations SET reference_version = reference_version + 1, updated_at = ? WHERE id = ?').run(Date.now(), stationId);
      const st = this.getStation(stationId)!;
      this.audit(actor, 'station.reference', { stationId, productId: st.activeProductId, referenceVersion: st.referenceVersion });
      return st;
    })();
  }

  // ---- results ----
  /** Assigns resultId and the station's next resultSeq, writes the row and runs the hooks (outbox) in ONE transaction. */
  recordResult(input: ResultInput): VerdictRecord {
    return this.db.transaction(() => {
      this.ensureStation(input.stationId);
      const { last_seq } = this.db.prepare('UPDATE stations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq').get(input.stationId) as { last_seq: number };
      const resultId = input.resultId ?? ulid();
      const { frameSeq, productId, width, height, keepMask, resultId: _given, inFlightId, ...rest } = input;
      if (inFlightId !== undefined) (this._settleFrame ??= this.db.prepare('DELETE FROM frames_in_flight WHERE id = ?')).run(inFlightId);
      const verdict: VerdictRecord = { ...rest, resultId, resultSeq: last_seq };
      this.insertStmt.run(
        resultId, input.stationId, last_seq, input.cameraId, frameSeq, input.partId, input.triggerSeq, productId, input.recipeId,
        input.referenceVersion, input.modelVersion, input.outcome, input.noVerdictReason ?? null, input.verdictCode, input.mode, input.shots,
        input.anomalyScore, input.threshold, input.defects.count, input.defects.areaPx, JSON.stringify(input.defects.bbox),
        Date.parse(input.timing.acquiredAt), Date.parse(input.timing.decidedAt), input.timing.queueMs ?? null, input.timing.inferenceMs ?? null,
        input.timing.processingMs, keepMask && input.mask ? input.mask.png : null, width, height,
      );
      for (const hook of this.resultHooks) hook(verdict);
      return verdict;
    })();
  }

  /** Puts a frame on record before it is queued (one WAL commit: it survives a crash of the process). */
  admitFrame(frame: Omit<InFlightFrame, 'id'>): number {
    const r = (this._admit ??= this.db.prepare(`INSERT INTO frames_in_flight (station_id, camera_id, frame_seq, part_id, trigger_seq, product_id, recipe_id,
      recipe_name, reference_version, shots, threshold, captured_at, width, height) VALUES (${new Array(14).fill('?').join(', ')})`)).run(
      frame.stationId, frame.cameraId, frame.frameSeq, frame.partId, frame.triggerSeq, frame.productId, frame.recipeId, frame.recipeName,
      frame.referenceVersion, frame.shots, frame.threshold, frame.capturedAt, frame.width, frame.height);
    return Number(r.lastInsertRowid);
  }

  /** Frames admitted and never settled, oldest first: after a crash, the ones that were queued or in inference. */
  inFlightFrames(): InFlightFrame[] {
    return this.db.prepare(`SELECT id, station_id AS stationId, camera_id AS cameraId, frame_seq AS frameSeq, part_id AS partId,
      trigger_seq AS triggerSeq, product_id AS productId, recipe_id AS recipeId, recipe_name AS recipeName,
      reference_version AS referenceVersion, shots, threshold, captured_at AS capturedAt, width, height
      FROM frames_in_flight ORDER BY id`).all() as InFlightFrame[];
  }

  /** NO_VERDICT for an in-flight frame of a station that is no longer configured (nothing else can settle it). */
  settleOrphan(frame: InFlightFrame, reason: 'interrupted', packId: string): VerdictRecord {
    const now = Date.now();
    return this.recordResult({
      stationId: frame.stationId, cameraId: frame.cameraId, partId: frame.partId, triggerSeq: frame.triggerSeq,
      recipeId: frame.recipeId, recipeName: frame.recipeName, modelVersion: packId, referenceVersion: frame.referenceVersion,
      outcome: 'NO_VERDICT', noVerdictReason: reason, verdictCode: 3, mode: 'none', shots: frame.shots, anomalyScore: 0,
      threshold: frame.threshold, defects: { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0], boxes: [] }, mask: null,
      timing: { acquiredAt: new Date(frame.capturedAt).toISOString(), decidedAt: new Date(now).toISOString(), processingMs: now - frame.capturedAt, queueMs: 0 },
      frameSeq: frame.frameSeq, productId: frame.productId, width: frame.width, height: frame.height, keepMask: false, inFlightId: frame.id,
    });
  }

  private get insertStmt() {
    return (this._insert ??= this.db.prepare(`INSERT INTO results (result_id, station_id, result_seq, camera_id, frame_seq, part_id, trigger_seq,
      product_id, recipe_id, reference_version, pack_id, outcome, reason, verdict_code, mode, shots, score, threshold, defect_count,
      defect_area_px, bbox, captured_at, decided_at, queue_ms, inference_ms, total_ms, mask_png, width, height)
      VALUES (${new Array(29).fill('?').join(', ')})`));
  }
  private _insert?: Database.Statement;
  private _admit?: Database.Statement;
  private _settleFrame?: Database.Statement;

  getResult(resultId: string): ResultRow | undefined {
    const r = this.db.prepare(`SELECT ${RESULT_COLUMNS} FROM results WHERE result_id = ?`).get(resultId) as ResultSql | undefined;
    return r && resultFromSql(r);
  }

  resultMask(resultId: string): Buffer | null | undefined {
    const r = this.db.prepare('SELECT mask_png FROM results WHERE result_id = ?').get(resultId) as { mask_png: Buffer | null } | undefined;
    return r ? r.mask_png : undefined;
  }

  queryResults(f: ResultFilter = {}): ResultRow[] {
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
    const sql = `SELECT ${RESULT_COLUMNS} FROM results ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY decided_at DESC, result_seq DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, Math.min(f.limit ?? 100, 1000)) as ResultSql[]).map(resultFromSql);
  }

  outcomeCounts(stationId?: string): Record<string, number> {
    const rows = this.db.prepare(`SELECT outcome || COALESCE(':' || reason, '') AS k, COUNT(*) AS n FROM results ${stationId ? 'WHERE station_id = ?' : ''} GROUP BY k`)
      .all(...(stationId ? [stationId] : [])) as { k: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.k, r.n]));
  }

  // ---- retention ----
  /** Deletes by age, then oldest-first while free space is under the watermark. Returns what it removed. */
  prune(policy: RetentionPolicy, now = Date.now(), freeBytes = () => this.freeBytes()): { rows: number; masks: number; underWatermark: boolean } {
    let rows = this.db.prepare('DELETE FROM results WHERE decided_at < ?').run(now - policy.maxAgeMs).changes;
    let masks = this.db.prepare('UPDATE results SET mask_png = NULL WHERE mask_png IS NOT NULL AND decided_at < ?').run(now - policy.maskMaxAgeMs).changes;
    let underWatermark = freeBytes() < policy.minFreeBytes;
    // Masks go first (they are most of the bytes), then whole rows, oldest first. Batches start small and double, so
    // a store just under the line loses only its oldest few masks, never the newest parts' evidence.
    for (let i = 0, batch = 8; underWatermark && i < 100; i++, batch = Math.min(batch * 2, 4096)) {
      const m = this.db.prepare('UPDATE results SET mask_png = NULL WHERE result_id IN (SELECT result_id FROM results WHERE mask_png IS NOT NULL ORDER BY decided_at LIMIT ?)').run(batch).changes;
      const r = m ? 0 : this.db.prepare('DELETE FROM results WHERE result_id IN (SELECT result_id FROM results ORDER BY decided_at LIMIT ?)').run(batch).changes;
      rows += r;
      masks += m;
      if (!m && !r) break;
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.exec('PRAGMA incremental_vacuum');
      underWatermark = freeBytes() < policy.minFreeBytes;
    }
    this.checkpointIfLarge(policy.walCheckpointBytes);
    return { rows, masks, underWatermark };
  }

  freeBytes(): number {
    const s = statfsSync(this.file);
    return Number(s.bavail) * Number(s.bsize);
  }

  walBytes(): number {
    try {
      return statSync(`${this.file}-wal`).size;
    } catch {
      return 0;
    }
  }

  checkpointIfLarge(limit: number): boolean {
    if (this.walBytes() <= limit) return false;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return true;
  }
}

interface ProductSql { id: number; recipe_id: number; name: string; threshold: number | null; created_at: number; updated_at: number; shot_count: number }
interface ShotSql { id: number; product_id: number; width: number; height: number; source: string; created_by: string; created_at: number }
interface ResultSql {
  result_id: string; station_id: string; result_seq: number; camera_id: string; frame_seq: number; part_id: string; trigger_seq: number;
  product_id: number | null; recipe_id: number; reference_version: number; pack_id: string; outcome: ResultRow['outcome']; reason: string | null;
  verdict_code: number; mode: string; shots: number; score: number; threshold: number; defect_count: number; defect_area_px: number; bbox: string;
  captured_at: number; decided_at: number; queue_ms: number | null; inference_ms: number | null; total_ms: number; has_mask: number; width: number; height: number;
}

function productFromSql(r: ProductSql): Product {
  return { id: r.id, recipeId: r.recipe_id, name: r.name, threshold: r.threshold, createdAt: r.created_at, updatedAt: r.updated_at, shotCount: r.shot_count };
}
function shotFromSql(r: ShotSql): Shot {
  return { id: r.id, productId: r.product_id, width: r.width, height: r.height, source: r.source, createdBy: r.created_by, createdAt: r.created_at };
}
function resultFromSql(r: ResultSql): ResultRow {
  return {
    resultId: r.result_id, stationId: r.station_id, resultSeq: r.result_seq, cameraId: r.camera_id, frameSeq: r.frame_seq, partId: r.part_id,
    triggerSeq: r.trigger_seq, productId: r.product_id, recipeId: r.recipe_id, referenceVersion: r.reference_version, packId: r.pack_id,
    outcome: r.outcome, reason: r.reason, verdictCode: r.verdict_code, mode: r.mode, shots: r.shots, score: r.score, threshold: r.threshold,
    defectCount: r.defect_count, defectAreaPx: r.defect_area_px, bbox: JSON.parse(r.bbox) as [number, number, number, number],
    capturedAt: r.captured_at, decidedAt: r.decided_at, queueMs: r.queue_ms, inferenceMs: r.inference_ms, totalMs: r.total_ms,
    hasMask: r.has_mask === 1, width: r.width, height: r.height,
  };
}
