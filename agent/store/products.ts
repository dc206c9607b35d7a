// Products (one per recipe), their normal shots and the shot features cached per model pack. A product's shots are
// the live (unretired) ones; every change of them makes a new reference set (reference-sets.ts).
import type { AuditWriter } from './audit.ts';
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';
import { ReferenceSets } from './reference-sets.ts';

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

interface ProductSql { id: number; recipe_id: number; name: string; threshold: number | null; created_at: number; updated_at: number; shot_count: number }
interface ShotSql { id: number; product_id: number; width: number; height: number; source: string; created_by: string; created_at: number }

const PRODUCT_SELECT = 'SELECT p.*, (SELECT COUNT(*) FROM shots s WHERE s.product_id = p.id AND s.retired_at IS NULL) AS shot_count FROM products p';
const SHOT_SELECT = 'SELECT id, product_id, width, height, source, created_by, created_at FROM shots';

/** A leave-one-out judgement of a shot: against which other shots (ids, ascending, comma-joined), its score and map. */
export interface LooResult {
  others: string;
  score: number | null;
  /** The fused S×S map as float32 bytes, null when the detector gave none. */
  map: Buffer | null;
}

export class Products {
  readonly sets: ReferenceSets;

  constructor(private readonly db: Db, private readonly audit: AuditWriter) {
    this.sets = new ReferenceSets(db, audit);
  }

  list(): Product[] {
    return (this.db.prepare(`${PRODUCT_SELECT} ORDER BY p.recipe_id`).all() as ProductSql[]).map(productFromSql);
  }

  get(id: number): Product | undefined {
    const row = this.db.prepare(`${PRODUCT_SELECT} WHERE p.id = ?`).get(id) as ProductSql | undefined;
    return row && productFromSql(row);
  }

  require(id: number): Product {
    const p = this.get(id);
    if (!p) throw new StoreError(`product ${id} does not exist; list products with GET /api/products`, 404);
    return p;
  }

  byRecipe(recipeId: number): Product | undefined {
    const row = this.db.prepare('SELECT id FROM products WHERE recipe_id = ?').get(recipeId) as { id: number } | undefined;
    return row && this.get(row.id);
  }

  create(input: { name: string; recipeId?: number; threshold?: number | null }, actor: string): Product {
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
      return this.get(Number(info.lastInsertRowid))!;
    })();
  }

  update(id: number, patch: { name?: string; threshold?: number | null }, actor: string): Product {
    return this.db.transaction(() => {
      const before = this.require(id);
      if (patch.name !== undefined && patch.name !== before.name && this.db.prepare('SELECT 1 FROM products WHERE name = ?').get(patch.name)) {
        throw new StoreError(`a product named "${patch.name}" already exists; choose another name`, 409);
      }
      this.db.prepare('UPDATE products SET name = ?, threshold = ?, updated_at = ? WHERE id = ?')
        .run(patch.name ?? before.name, patch.threshold === undefined ? before.threshold : patch.threshold, Date.now(), id);
      this.audit(actor, 'product.update', { id, ...patch });
      return this.get(id)!;
    })();
  }

  delete(id: number, actor: string): void {
    this.db.transaction(() => {
      const p = this.require(id);
      const active = this.db.prepare('SELECT id FROM stations WHERE active_product_id = ?').all(id) as { id: string }[];
      if (active.length) throw new StoreError(`product "${p.name}" is active on ${active.map((s) => s.id).join(', ')}; activate another product first`, 409);
      this.db.prepare('DELETE FROM products WHERE id = ?').run(id);
      this.audit(actor, 'product.delete', { id, name: p.name });
    })();
  }

  addShot(productId: number, shot: { png: Buffer; width: number; height: number; source: string }, actor: string): Shot {
    return this.db.transaction(() => {
      this.require(productId);
      const info = this.db.prepare('INSERT INTO shots (product_id, png, width, height, source, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(productId, shot.png, shot.width, shot.height, shot.source, actor, Date.now());
      const id = Number(info.lastInsertRowid);
      this.audit(actor, 'shot.add', { id, productId, source: shot.source });
      this.sets.record(productId, 'add', `shot #${id} kept (${shot.source})`, actor);
      return this.getShot(id)!;
    })();
  }

  getShot(id: number): Shot | undefined {
    const r = this.db.prepare(`${SHOT_SELECT} WHERE id = ?`).get(id) as ShotSql | undefined;
    return r && shotFromSql(r);
  }

  listShots(productId: number): Shot[] {
    return (this.db.prepare(`${SHOT_SELECT} WHERE product_id = ? AND retired_at IS NULL ORDER BY id`).all(productId) as ShotSql[]).map(shotFromSql);
  }

  shotPng(id: number): Buffer | undefined {
    return (this.db.prepare('SELECT png FROM shots WHERE id = ?').get(id) as { png: Buffer } | undefined)?.png;
  }

  deleteShot(id: number, actor: string): Shot {
    return this.db.transaction(() => {
      const shot = this.getShot(id);
      if (!shot) throw new StoreError(`shot ${id} does not exist; list a product's shots with GET /api/products/{id}/shots`, 404);
      if (this.isRetired(id)) throw new StoreError(`shot ${id} is already retired (not in the product's current reference set); restore an earlier set to use it again`, 409);
      // An earlier set names it: retired, so restoring that set gives it back.
      if (this.sets.isReferenced(id)) this.db.prepare('UPDATE shots SET retired_at = ? WHERE id = ?').run(Date.now(), id);
      else this.db.prepare('DELETE FROM shots WHERE id = ?').run(id);
      this.audit(actor, 'shot.delete', { id, productId: shot.productId });
      this.sets.record(shot.productId, 'delete', `shot #${id} deleted`, actor);
      return shot;
    })();
  }

  /** Features depend on the crop too: `roi` is the region's key (models/regions.ts roiKey; '' = whole frame). */
  shotFeatures(shotId: number, packSha: string, roi = ''): { features: Buffer; looScore: number | null } | undefined {
    const r = this.db.prepare('SELECT features, loo_score FROM shot_features WHERE shot_id = ? AND pack_sha = ? AND roi = ?').get(shotId, packSha, roi) as { features: Buffer; loo_score: number | null } | undefined;
    return r && { features: r.features, looScore: r.loo_score };
  }

  putShotFeatures(shotId: number, packSha: string, features: Buffer, roi = ''): void {
    this.db.prepare(`INSERT INTO shot_features (shot_id, pack_sha, features, loo_score, computed_at, roi) VALUES (?, ?, ?, NULL, ?, ?)
      ON CONFLICT (shot_id, pack_sha) DO UPDATE SET features = excluded.features, roi = excluded.roi, loo_score = NULL, loo_others = NULL, loo_map = NULL, computed_at = excluded.computed_at`).run(shotId, packSha, features, Date.now(), roi);
  }

  /** Retired: not in the product's current reference set (kept for the earlier sets that name it). */
  isRetired(id: number): boolean {
    return Boolean(this.db.prepare('SELECT 1 FROM shots WHERE id = ? AND retired_at IS NOT NULL').get(id));
  }

  looResult(shotId: number, packSha: string): LooResult | undefined {
    const r = this.db.prepare('SELECT loo_others, loo_score, loo_map FROM shot_features WHERE shot_id = ? AND pack_sha = ? AND loo_others IS NOT NULL')
      .get(shotId, packSha) as { loo_others: string; loo_score: number | null; loo_map: Buffer | null } | undefined;
    return r && { others: r.loo_others, score: r.loo_score, map: r.loo_map };
  }

  setLooResults(packSha: string, results: Map<number, LooResult>): void {
    const stmt = this.db.prepare('UPDATE shot_features SET loo_score = ?, loo_others = ?, loo_map = ? WHERE shot_id = ? AND pack_sha = ?');
    this.db.transaction(() => {
      for (const [shotId, r] of results) stmt.run(r.score, r.others, r.map, shotId, packSha);
    })();
  }

  /** Features cached for other packs are dead weight once the pack changed. */
  dropFeaturesExcept(packSha: string): number {
    return this.db.prepare('DELETE FROM shot_features WHERE pack_sha <> ?').run(packSha).changes;
  }
}

function productFromSql(r: ProductSql): Product {
  return { id: r.id, recipeId: r.recipe_id, name: r.name, threshold: r.threshold, createdAt: r.created_at, updatedAt: r.updated_at, shotCount: r.shot_count };
}
function shotFromSql(r: ShotSql): Shot {
  return { id: r.id, productId: r.product_id, width: r.width, height: r.height, source: r.source, createdBy: r.created_by, createdAt: r.created_at };
}
