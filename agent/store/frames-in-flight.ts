// Frames on record before they are queued: one still here at start-up was interrupted by a crash.
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.ts';

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

export class FramesInFlight {
  private admitStmt?: Statement;
  private settleStmt?: Statement;

  constructor(private readonly db: Db) {}

  /** Puts a frame on record before it is queued (one WAL commit: it survives a crash of the process). */
  admit(frame: Omit<InFlightFrame, 'id'>): number {
    const r = (this.admitStmt ??= this.db.prepare(`INSERT INTO frames_in_flight (station_id, camera_id, frame_seq, part_id, trigger_seq, product_id, recipe_id,
      recipe_name, reference_version, shots, threshold, captured_at, width, height) VALUES (${new Array(14).fill('?').join(', ')})`)).run(
      frame.stationId, frame.cameraId, frame.frameSeq, frame.partId, frame.triggerSeq, frame.productId, frame.recipeId, frame.recipeName,
      frame.referenceVersion, frame.shots, frame.threshold, frame.capturedAt, frame.width, frame.height);
    return Number(r.lastInsertRowid);
  }

  /** Frames admitted and never settled, oldest first: after a crash, the ones that were queued or in inference. */
  list(): InFlightFrame[] {
    return this.db.prepare(`SELECT id, station_id AS stationId, camera_id AS cameraId, frame_seq AS frameSeq, part_id AS partId,
      trigger_seq AS triggerSeq, product_id AS productId, recipe_id AS recipeId, recipe_name AS recipeName,
      reference_version AS referenceVersion, shots, threshold, captured_at AS capturedAt, width, height
      FROM frames_in_flight ORDER BY id`).all() as InFlightFrame[];
  }

  /** Removes the frame's row; the result path calls it inside the result's own transaction. */
  settle(id: number): void {
    (this.settleStmt ??= this.db.prepare('DELETE FROM frames_in_flight WHERE id = ?')).run(id);
  }
}
