// Evidence of a verdict: the part's frame (JPEG) and the fused anomaly map (8-bit grey PNG at the map's own size),
// one row per result that kept them, in a side table so the results table stays small to scan. Retention empties a
// row's blobs and stamps pruned_at instead of deleting it, so "none kept" and "removed by retention" stay apart.
import type { Db } from './db.ts';

/** What the recorder hands the store to keep with a result. */
export interface ResultEvidence {
  frame: { jpeg: Buffer; width: number; height: number } | null;
  map: { png: Buffer; size: number } | null;
  /** The product's inspection region the map was made with (JSON-safe; the agent's InspectionRegion), or null. */
  region?: unknown;
}

/** kept: stored; none: never kept (policy); pruned: removed by retention. */
export type ImageState = 'kept' | 'none' | 'pruned';

export interface ResultImagesInfo {
  frame: ImageState;
  map: ImageState;
  frameWidth: number | null;
  frameHeight: number | null;
  mapSize: number | null;
  bytes: number;
}

export interface ImageStats {
  stored: number;
  bytes: number;
  /** Rows whose images retention removed since the store was opened. */
  prunedSinceOpen: number;
}

interface ImageSql {
  frame_jpeg: Buffer | null;
  map_png: Buffer | null;
  frame_width: number | null;
  frame_height: number | null;
  map_size: number | null;
  bytes: number;
  pruned_at: number | null;
  region?: string | null;
}

export class ResultImages {
  prunedSinceOpen = 0;

  constructor(private readonly db: Db) {}

  /** Inside the result's transaction (Results.record). */
  put(resultId: string, stationId: string, outcome: string, decidedAt: number, e: ResultEvidence): void {
    if (!e.frame && !e.map) return;
    const bytes = (e.frame?.jpeg.length ?? 0) + (e.map?.png.length ?? 0);
    this.db.prepare(`INSERT INTO result_images (result_id, station_id, outcome, decided_at, frame_jpeg, frame_width, frame_height, map_png, map_size, bytes, region)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(resultId, stationId, outcome, decidedAt, e.frame?.jpeg ?? null, e.frame?.width ?? null,
      e.frame?.height ?? null, e.map?.png ?? null, e.map?.size ?? null, bytes, e.region ? JSON.stringify(e.region) : null);
  }

  /** undefined: no row (nothing was kept, or no such result); null: removed by retention. */
  frame(resultId: string): Buffer | null | undefined {
    const r = this.db.prepare('SELECT frame_jpeg FROM result_images WHERE result_id = ?').get(resultId) as { frame_jpeg: Buffer | null } | undefined;
    return r ? r.frame_jpeg : undefined;
  }

  evidence(resultId: string): (ResultEvidence & { info: ResultImagesInfo }) | undefined {
    const r = this.db.prepare('SELECT frame_jpeg, map_png, frame_width, frame_height, map_size, bytes, pruned_at, region FROM result_images WHERE result_id = ?').get(resultId) as ImageSql | undefined;
    if (!r) return undefined;
    return {
      frame: r.frame_jpeg && r.frame_width && r.frame_height ? { jpeg: r.frame_jpeg, width: r.frame_width, height: r.frame_height } : null,
      map: r.map_png && r.map_size ? { png: r.map_png, size: r.map_size } : null,
      region: r.region ? JSON.parse(r.region) : null,
      info: infoOf(r),
    };
  }

  info(resultId: string): ResultImagesInfo {
    const r = this.db.prepare(`SELECT frame_jpeg IS NOT NULL AS frame_jpeg, map_png IS NOT NULL AS map_png, frame_width, frame_height, map_size, bytes, pruned_at
      FROM result_images WHERE result_id = ?`).get(resultId) as ImageSql | undefined;
    return r ? infoOf(r) : { frame: 'none', map: 'none', frameWidth: null, frameHeight: null, mapSize: null, bytes: 0 };
  }

  /** Newest FAIL results of a station whose frame is still stored. */
  rejects(stationId: string, limit: number): { resultId: string; decidedAt: number }[] {
    return (this.db.prepare(`SELECT result_id, decided_at FROM result_images WHERE station_id = ? AND outcome = 'FAIL' AND frame_jpeg IS NOT NULL
      ORDER BY decided_at DESC LIMIT ?`).all(stationId, limit) as { result_id: string; decided_at: number }[]).map((r) => ({ resultId: r.result_id, decidedAt: r.decided_at }));
  }

  stats(): ImageStats {
    const r = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM result_images WHERE frame_jpeg IS NOT NULL OR map_png IS NOT NULL').get() as { n: number; bytes: number };
    return { stored: r.n, bytes: r.bytes, prunedSinceOpen: this.prunedSinceOpen };
  }

  /** Removes the images of results decided before `before`. */
  pruneOlderThan(before: number, now: number): number {
    const n = this.db.prepare(`UPDATE result_images SET frame_jpeg = NULL, map_png = NULL, bytes = 0, pruned_at = ?
      WHERE (frame_jpeg IS NOT NULL OR map_png IS NOT NULL) AND decided_at < ?`).run(now, before).changes;
    this.prunedSinceOpen += n;
    return n;
  }

  /** Removes the images of the `count` oldest results that still have them (the free-space watermark). */
  pruneOldest(count: number, now: number): number {
    const n = this.db.prepare(`UPDATE result_images SET frame_jpeg = NULL, map_png = NULL, bytes = 0, pruned_at = ?
      WHERE result_id IN (SELECT result_id FROM result_images WHERE frame_jpeg IS NOT NULL OR map_png IS NOT NULL ORDER BY decided_at LIMIT ?)`).run(now, count).changes;
    this.prunedSinceOpen += n;
    return n;
  }
}

function infoOf(r: ImageSql): ResultImagesInfo {
  const state = (has: unknown): ImageState => (has ? 'kept' : r.pruned_at !== null ? 'pruned' : 'none');
  return { frame: state(r.frame_jpeg), map: state(r.map_png), frameWidth: r.frame_width, frameHeight: r.frame_height, mapSize: r.map_size, bytes: r.bytes };
}
