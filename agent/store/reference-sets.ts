// A product's reference sets: the shots it is judged with, versioned. Every change of the shots (kept, deleted,
// restored) records the product's live shots as its next version; a shot an earlier set names is retired, not deleted.
import type { AuditWriter } from './audit.ts';
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';

export type ReferenceSetAction = 'add' | 'delete' | 'restore' | 'migrated' | 'region';

/** What a set inspects (agent/regions.ts checks it before it is stored): frame pixels; null roi = whole frame. */
export interface RegionRow {
  roi: { x: number; y: number; width: number; height: number } | null;
  ignore: [number, number][][];
  minAreaPx: number | null;
}

export interface ReferenceSet {
  productId: number;
  version: number;
  action: ReferenceSetAction;
  detail: string;
  createdBy: string;
  createdAt: number;
  shotIds: number[];
  /** Null: the whole frame, no ignore areas, no minimum area. */
  region: RegionRow | null;
}

interface SetSql { product_id: number; version: number; action: ReferenceSetAction; detail: string; created_by: string; created_at: number; shot_ids: string | null; region: string | null }

const SET_SELECT = `SELECT r.*, (SELECT group_concat(shot_id) FROM (SELECT shot_id FROM reference_set_shots x
  WHERE x.product_id = r.product_id AND x.version = r.version ORDER BY shot_id)) AS shot_ids FROM reference_sets r`;

export class ReferenceSets {
  constructor(private readonly db: Db, private readonly audit: AuditWriter) {}

  /** Records the product's live (unretired) shots as its next set; call inside the transaction that changed them.
   *  The region is the current set's unless one is given (null: whole frame). */
  record(productId: number, action: ReferenceSetAction, detail: string, actor: string, region?: RegionRow | null): ReferenceSet {
    const current = this.currentVersion(productId);
    const version = current + 1;
    const regionJson = region === undefined ? this.regionJson(productId, current) : region ? JSON.stringify(region) : null;
    this.db.prepare('INSERT INTO reference_sets (product_id, version, action, detail, created_by, created_at, region) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(productId, version, action, detail, actor, Date.now(), regionJson);
    this.db.prepare('INSERT INTO reference_set_shots (product_id, version, shot_id) SELECT product_id, ?, id FROM shots WHERE product_id = ? AND retired_at IS NULL')
      .run(version, productId);
    const set = this.get(productId, version)!;
    this.audit(actor, 'reference-set.create', { productId, version, action, detail, shotIds: set.shotIds, region: set.region });
    return set;
  }

  private regionJson(productId: number, version: number): string | null {
    return (this.db.prepare('SELECT region FROM reference_sets WHERE product_id = ? AND version = ?').get(productId, version) as { region: string | null } | undefined)?.region ?? null;
  }

  currentVersion(productId: number): number {
    return (this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM reference_sets WHERE product_id = ?').get(productId) as { v: number }).v;
  }

  current(productId: number): ReferenceSet | undefined {
    return this.get(productId, this.currentVersion(productId));
  }

  get(productId: number, version: number): ReferenceSet | undefined {
    const r = this.db.prepare(`${SET_SELECT} WHERE r.product_id = ? AND r.version = ?`).get(productId, version) as SetSql | undefined;
    return r && setFromSql(r);
  }

  /** Newest first. */
  list(productId: number): ReferenceSet[] {
    return (this.db.prepare(`${SET_SELECT} WHERE r.product_id = ? ORDER BY r.version DESC`).all(productId) as SetSql[]).map(setFromSql);
  }

  /** True when some set names the shot (it must then be retired, never deleted). */
  isReferenced(shotId: number): boolean {
    return Boolean(this.db.prepare('SELECT 1 FROM reference_set_shots WHERE shot_id = ? LIMIT 1').get(shotId));
  }

  /** The shots of `version` become the live ones again, recorded as a new set (history is never rewritten). */
  restore(productId: number, version: number, actor: string): ReferenceSet {
    return this.db.transaction(() => {
      const earlier = this.get(productId, version);
      if (!earlier) {
        const known = this.list(productId).map((s) => s.version);
        throw new StoreError(`product ${productId} has no reference set ${version}; known versions: ${known.join(', ') || 'none yet (sets are made when shots change)'}`, 404);
      }
      const current = this.currentVersion(productId);
      if (version === current) throw new StoreError(`reference set ${version} is already the current one of product ${productId}; pick an earlier version`, 409);
      const now = Date.now();
      this.db.prepare(`UPDATE shots SET retired_at = CASE WHEN id IN (SELECT shot_id FROM reference_set_shots WHERE product_id = ? AND version = ?)
        THEN NULL ELSE COALESCE(retired_at, ?) END WHERE product_id = ?`).run(productId, version, now, productId);
      // The earlier set's region comes back with its shots.
      return this.record(productId, 'restore', `restored set ${version}`, actor, earlier.region);
    })();
  }
}

function setFromSql(r: SetSql): ReferenceSet {
  return {
    productId: r.product_id, version: r.version, action: r.action, detail: r.detail, createdBy: r.created_by, createdAt: r.created_at,
    shotIds: r.shot_ids ? r.shot_ids.split(',').map(Number).sort((a, b) => a - b) : [],
    region: r.region ? JSON.parse(r.region) as RegionRow : null,
  };
}
