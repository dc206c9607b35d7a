// Stations: the active product and reference version (changeover) and the per-station resultSeq counter.
// reference_version counts the references a station has judged with: +1 on every activation and every refresh of its
// active product's reference (shots kept, deleted or restored, threshold changed). Its audit entry names the product's
// reference set (`referenceSet`), so a result's referenceVersion leads to the exact shots it was judged against.
import type { AuditWriter } from './audit.ts';
import type { Db } from './db.ts';

export interface StationRow {
  id: string;
  lastSeq: number;
  activeProductId: number | null;
  referenceVersion: number;
}

export class Stations {
  constructor(private readonly db: Db, private readonly audit: AuditWriter, private readonly requireProduct: (id: number) => unknown) {}

  ensure(id: string): StationRow {
    this.db.prepare('INSERT INTO stations (id, updated_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING').run(id, Date.now());
    return this.get(id)!;
  }

  get(id: string): StationRow | undefined {
    const r = this.db.prepare('SELECT * FROM stations WHERE id = ?').get(id) as { id: string; last_seq: number; active_product_id: number | null; reference_version: number } | undefined;
    return r && { id: r.id, lastSeq: r.last_seq, activeProductId: r.active_product_id, referenceVersion: r.reference_version };
  }

  /** Atomic changeover: the active product and the reference version change in one transaction. */
  activate(stationId: string, productId: number | null, actor: string, referenceSet?: number): StationRow {
    return this.db.transaction(() => {
      if (productId !== null) this.requireProduct(productId);
      this.ensure(stationId);
      this.db.prepare('UPDATE stations SET active_product_id = ?, reference_version = reference_version + 1, updated_at = ? WHERE id = ?').run(productId, Date.now(), stationId);
      const st = this.get(stationId)!;
      this.audit(actor, 'station.activate', { stationId, productId, referenceVersion: st.referenceVersion, ...(referenceSet === undefined ? {} : { referenceSet }) });
      return st;
    })();
  }

  /** New reference version for a station whose active product's shots or threshold changed. */
  bumpReference(stationId: string, actor: string, referenceSet?: number): StationRow {
    return this.db.transaction(() => {
      this.db.prepare('UPDATE stations SET reference_version = reference_version + 1, updated_at = ? WHERE id = ?').run(Date.now(), stationId);
      const st = this.get(stationId)!;
      this.audit(actor, 'station.reference', { stationId, productId: st.activeProductId, referenceVersion: st.referenceVersion, ...(referenceSet === undefined ? {} : { referenceSet }) });
      return st;
    })();
  }

  /** The station's next resultSeq, persisted; call inside the transaction that records the result. */
  nextResultSeq(stationId: string): number {
    this.ensure(stationId);
    return (this.db.prepare('UPDATE stations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq').get(stationId) as { last_seq: number }).last_seq;
  }
}
