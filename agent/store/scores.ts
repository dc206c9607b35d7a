// A product's recent verdict scores, for the threshold workbench: what each result scored, what it was judged with
// and its outcome, plus the product's outcome counts. Read-only: nothing here writes.
import type { Db } from './db.ts';

export interface ScoredResult {
  resultId: string;
  stationId: string;
  score: number;
  /** The threshold the result was judged with (score ≥ threshold failed). */
  threshold: number;
  outcome: 'PASS' | 'FAIL';
  /** Epoch ms. */
  decidedAt: number;
}

export interface ProductScores {
  /** The last `limit` PASS/FAIL results of the product, newest first (a NO_VERDICT has no score to judge). */
  results: ScoredResult[];
  /** Every result of the product the store still holds, by outcome. */
  totals: { pass: number; fail: number; noVerdict: number };
}

export function recentScores(db: Db, productId: number, limit: number): ProductScores {
  const rows = db.prepare(`SELECT result_id, station_id, score, threshold, outcome, decided_at FROM results
    WHERE product_id = ? AND outcome IN ('PASS', 'FAIL') ORDER BY decided_at DESC, result_seq DESC LIMIT ?`).all(productId, limit) as
    { result_id: string; station_id: string; score: number; threshold: number; outcome: 'PASS' | 'FAIL'; decided_at: number }[];
  const counts = db.prepare('SELECT outcome, COUNT(*) AS n FROM results WHERE product_id = ? GROUP BY outcome').all(productId) as { outcome: string; n: number }[];
  const count = (outcome: string) => counts.find((c) => c.outcome === outcome)?.n ?? 0;
  return {
    results: rows.map((r) => ({ resultId: r.result_id, stationId: r.station_id, score: r.score, threshold: r.threshold, outcome: r.outcome, decidedAt: r.decided_at })),
    totals: { pass: count('PASS'), fail: count('FAIL'), noVerdict: count('NO_VERDICT') },
  };
}
