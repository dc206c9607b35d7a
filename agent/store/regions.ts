// A product's inspection region, stored with its reference sets: changing it makes a new set (like a shot change),
// so the line's reference version moves on and restoring an earlier set restores its region too.
import type { AuditWriter } from './audit.ts';
import type { Db } from './db.ts';
import type { Products } from './products.ts';
import type { ReferenceSet, RegionRow } from './reference-sets.ts';

export type { RegionRow } from './reference-sets.ts';

export class Regions {
  constructor(private readonly db: Db, private readonly audit: AuditWriter, private readonly products: Products) {}

  /** The current set's region; null for the whole frame (also for a product whose shots never changed). */
  get(productId: number): RegionRow | null {
    this.products.require(productId);
    return this.products.sets.current(productId)?.region ?? null;
  }

  /** Stores `region` (null: whole frame) as the product's next reference set, audited. Checked by the caller. */
  put(productId: number, region: RegionRow | null, actor: string): ReferenceSet {
    return this.db.transaction(() => {
      this.products.require(productId);
      const before = this.products.sets.current(productId)?.region ?? null;
      const set = this.products.sets.record(productId, 'region', region ? describe(region) : 'region cleared: the whole frame', actor, region);
      this.audit(actor, 'product.region', { productId, version: set.version, before, after: region });
      return set;
    })();
  }
}

function describe(r: RegionRow): string {
  const parts = [r.roi ? `region ${r.roi.x},${r.roi.y} ${r.roi.width}×${r.roi.height}` : 'whole frame'];
  if (r.ignore.length) parts.push(`${r.ignore.length} ignore area${r.ignore.length > 1 ? 's' : ''}`);
  if (r.minAreaPx !== null) parts.push(`min area ${r.minAreaPx} px`);
  return parts.join(', ');
}
