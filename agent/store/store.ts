// The agent's single-writer store. Every write goes through this object on the main thread, so SQLite sees one writer.
// A facade over one module per area; it owns every table (the adapters' included, see migrations.ts) and imports
// nothing from adapters/: its rows are its own types.
import { auditWriter, readAuditLog, type AuditEntry, type AuditFilter, type AuditWriter } from './audit.ts';
import { openDatabase, type Db, type OpenOptions } from './db.ts';
import { FramesInFlight, type InFlightFrame } from './frames-in-flight.ts';
import { Products, type LooResult, type Product, type Shot } from './products.ts';
// ---- reference sets ----
import type { ReferenceSet } from './reference-sets.ts';
import { Results, type RecordedResult, type ResultFilter, type ResultHook, type ResultInput, type ResultRow } from './results.ts';
import { Retention, type RetentionPolicy } from './retention.ts';
// ---- evidence (frames, anomaly maps, detail, CSV export) ----
import Database from 'better-sqlite3';
import { ResultImages, type ImageStats } from './result-images.ts';
import { iterateResults, type ResultDetailRow, type ResultExportRow } from './results.ts';
import type { PruneResult } from './retention.ts';
import { Stations, type StationRow } from './stations.ts';
// ---- threshold workbench ----
import { recentScores, type ProductScores } from './scores.ts';
export type { ProductScores, ScoredResult } from './scores.ts';

// ---- inspection regions ----
import { Regions, type RegionRow } from './regions.ts';
export type { RegionRow } from './regions.ts';

// ---- shift counters ----
import { Shifts, type ShiftCounts, type ShiftHook, type ShiftStartRow, type ShiftCause } from './shifts.ts';
export type { ShiftCause, ShiftCounts, ShiftHook, ShiftStartRow } from './shifts.ts';

export { StoreError } from './errors.ts';
export type { AuditEntry, AuditFilter, InFlightFrame, Product, RecordedResult, ResultFilter, ResultHook, ResultInput, ResultRow, RetentionPolicy, Shot, StationRow };
export type { ResultOutcome } from './results.ts';
export type { LooResult } from './products.ts';
export type { ReferenceSet, ReferenceSetAction } from './reference-sets.ts';
export type { ImageState, ImageStats, ResultEvidence, ResultImagesInfo } from './result-images.ts';
export type { DefectRegionRow, ResultDetailRow, ResultExportRow } from './results.ts';
export type { PruneResult } from './retention.ts';

export class Store {
  readonly db: Db;
  private readonly writeAudit: AuditWriter;
  private readonly products: Products;
  private readonly stations: Stations;
  private readonly frames: FramesInFlight;
  private readonly results: Results;
  private readonly retention: Retention;
  private readonly images: ResultImages;
  private readonly shifts: Shifts;
  private readonly regions: Regions;

  constructor(readonly file: string, opts: OpenOptions = {}) {
    this.db = openDatabase(file, opts);
    this.writeAudit = auditWriter(this.db);
    this.products = new Products(this.db, this.writeAudit);
    this.stations = new Stations(this.db, this.writeAudit, (id) => this.products.require(id));
    this.frames = new FramesInFlight(this.db);
    this.images = new ResultImages(this.db);
    this.results = new Results(this.db, { nextResultSeq: (id) => this.stations.nextResultSeq(id), settleFrame: (id) => this.frames.settle(id), images: this.images });
    this.retention = new Retention(this.db, file, this.images);
    this.shifts = new Shifts(this.db, this.writeAudit);
    this.regions = new Regions(this.db, this.writeAudit, this.products);
  }

  close(): void {
    if (this.db.open) {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
  }

  onResult(hook: ResultHook): void {
    this.results.hooks.push(hook);
  }

  audit(actor: string, action: string, detail: unknown): void {
    this.writeAudit(actor, action, detail);
  }

  auditLog(filter: number | AuditFilter = 100): AuditEntry[] {
    return readAuditLog(this.db, typeof filter === 'number' ? { limit: filter } : filter);
  }

  // ---- products, shots, shot features ----
  listProducts(): Product[] { return this.products.list(); }
  getProduct(id: number): Product | undefined { return this.products.get(id); }
  requireProduct(id: number): Product { return this.products.require(id); }
  productByRecipe(recipeId: number): Product | undefined { return this.products.byRecipe(recipeId); }
  createProduct(input: { name: string; recipeId?: number; threshold?: number | null }, actor: string): Product { return this.products.create(input, actor); }
  updateProduct(id: number, patch: { name?: string; threshold?: number | null }, actor: string): Product { return this.products.update(id, patch, actor); }
  deleteProduct(id: number, actor: string): void { this.products.delete(id, actor); }
  addShot(productId: number, shot: { png: Buffer; width: number; height: number; source: string }, actor: string): Shot { return this.products.addShot(productId, shot, actor); }
  getShot(id: number): Shot | undefined { return this.products.getShot(id); }
  listShots(productId: number): Shot[] { return this.products.listShots(productId); }
  shotPng(id: number): Buffer | undefined { return this.products.shotPng(id); }
  deleteShot(id: number, actor: string): Shot { return this.products.deleteShot(id, actor); }
  /** `roi`: the crop's key (models/regions.ts roiKey), '' = whole frame; features of another crop are not returned. */
  shotFeatures(shotId: number, packSha: string, roi = ''): { features: Buffer; looScore: number | null } | undefined { return this.products.shotFeatures(shotId, packSha, roi); }
  putShotFeatures(shotId: number, packSha: string, features: Buffer, roi = ''): void { this.products.putShotFeatures(shotId, packSha, features, roi); }
  /** Features cached for other packs are dead weight once the pack changed. */
  dropFeaturesExcept(packSha: string): number { return this.products.dropFeaturesExcept(packSha); }

  // ---- reference sets (versioned shot sets; retired shots) and leave-one-out results ----
  /** A product's reference sets, newest first. */
  referenceSets(productId: number): ReferenceSet[] { return this.products.sets.list(productId); }
  /** The product's current set (undefined: its shots never changed yet). */
  currentReferenceSet(productId: number): ReferenceSet | undefined { return this.products.sets.current(productId); }
  /** The shots of an earlier set become the live ones, as a new set (audited). */
  restoreReferenceSet(productId: number, version: number, actor: string): ReferenceSet { this.products.require(productId); return this.products.sets.restore(productId, version, actor); }
  isShotRetired(id: number): boolean { return this.products.isRetired(id); }
  looResult(shotId: number, packSha: string): LooResult | undefined { return this.products.looResult(shotId, packSha); }
  setLooResults(packSha: string, results: Map<number, LooResult>): void { this.products.setLooResults(packSha, results); }

  // ---- inspection regions (stored with the reference sets) ----
  /** The product's current region; null = the whole frame. */
  productRegion(productId: number): RegionRow | null { return this.regions.get(productId); }
  /** A new reference set with `region` (null: whole frame), audited; the caller checked it. */
  putProductRegion(productId: number, region: RegionRow | null, actor: string): ReferenceSet { return this.regions.put(productId, region, actor); }

  // ---- stations and changeover ----
  ensureStation(id: string): StationRow { return this.stations.ensure(id); }
  getStation(id: string): StationRow | undefined { return this.stations.get(id); }
  /** Atomic changeover: the active product and the reference version change in one transaction. */
  activate(stationId: string, productId: number | null, actor: string, referenceSet?: number): StationRow { return this.stations.activate(stationId, productId, actor, referenceSet); }
  /** New reference version for a station whose active product's shots or threshold changed. */
  bumpReference(stationId: string, actor: string, referenceSet?: number): StationRow { return this.stations.bumpReference(stationId, actor, referenceSet); }

  // ---- results and frames in flight ----
  /** Assigns resultId and the station's next resultSeq, writes the row and runs the hooks (outbox) in ONE transaction. */
  recordResult(input: ResultInput): RecordedResult { return this.results.record(input); }
  /** Puts a frame on record before it is queued (one WAL commit: it survives a crash of the process). */
  admitFrame(frame: Omit<InFlightFrame, 'id'>): number { return this.frames.admit(frame); }
  /** Frames admitted and never settled, oldest first: after a crash, the ones that were queued or in inference. */
  inFlightFrames(): InFlightFrame[] { return this.frames.list(); }
  /** NO_VERDICT for an in-flight frame of a station that is no longer configured (nothing else can settle it). */
  settleOrphan(frame: InFlightFrame, reason: 'interrupted', packId: string): RecordedResult { return this.results.settleOrphan(frame, reason, packId); }
  getResult(resultId: string): ResultRow | undefined { return this.results.get(resultId); }
  resultMask(resultId: string): Buffer | null | undefined { return this.results.mask(resultId); }
  queryResults(f: ResultFilter = {}): ResultRow[] { return this.results.query(f); }

  // ---- retention ----
  /** Deletes by age, then oldest-first while free space is under the watermark. Returns what it removed. */
  prune(policy: RetentionPolicy, now = Date.now(), freeBytes = () => this.freeBytes()): Promise<PruneResult> {
    return this.retention.prune(policy, now, freeBytes);
  }
  freeBytes(): number { return this.retention.freeBytes(); }
  walBytes(): number { return this.retention.walBytes(); }
  checkpointIfLarge(limit: number): boolean { return this.retention.checkpointIfLarge(limit); }

  // ---- evidence: stored frames and anomaly maps, the detail view, the CSV export ----
  /** The stored frame (JPEG). undefined: no such result; null: none kept (policy) or removed by retention. */
  resultImage(resultId: string): Buffer | null | undefined {
    const jpeg = this.images.frame(resultId);
    if (jpeg) return jpeg;
    return this.results.get(resultId) ? null : undefined;
  }
  /** Frame and anomaly map with what became of them; undefined when the result kept none. */
  resultEvidence(resultId: string): ReturnType<ResultImages['evidence']> { return this.images.evidence(resultId); }
  resultDetail(resultId: string): ResultDetailRow | undefined { return this.results.detail(resultId); }
  /** Newest FAIL results of a station that still have their frame. */
  rejects(stationId: string, limit: number): { resultId: string; decidedAt: number }[] { return this.images.rejects(stationId, limit); }
  imageStats(): ImageStats { return this.images.stats(); }
  /**
   * The filter's rows, streamed from a read-only connection of their own (a consistent WAL snapshot; the writer is
   * never blocked by a slow download). Closed when the iteration ends or is abandoned (return()).
   */
  *exportResults(f: ResultFilter): Generator<ResultExportRow> {
    const reader = new Database(this.file, { readonly: true, fileMustExist: true });
    try {
      reader.pragma('busy_timeout = 5000');
      yield* iterateResults(reader, f);
    } finally {
      reader.close();
    }
  }

  // ---- threshold workbench ----
  /** A product's last `limit` PASS/FAIL results (score, threshold judged with, outcome) and its outcome totals. */
  productScores(productId: number, limit: number): ProductScores { return recentScores(this.db, productId, limit); }

  // ---- shift counters ----
  /** The station's current shift (a station never seen before starts its first one now). */
  currentShift(stationId: string, now?: number): ShiftStartRow { return this.shifts.ensure(stationId, now); }
  /** A new shift from `at` (default now): audited with the counts of the one it ends; the hooks run after the commit. */
  startShift(stationId: string, actor: string, cause: ShiftCause, at?: number): ShiftStartRow { return this.shifts.start(stationId, actor, cause, at); }
  /** PASS/FAIL/NO_VERDICT (by reason) of the station's results decided in [since, until). */
  shiftCounts(stationId: string, since: number, until?: number): ShiftCounts { return this.shifts.counts(stationId, since, until); }
  onShiftStart(hook: ShiftHook): void { this.shifts.hooks.push(hook); }
}
