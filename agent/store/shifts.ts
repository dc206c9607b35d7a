// Shift counters: each row of shift_starts opens a station's shift; its counts are the results decided since then
// (computed from the results table, so they survive a restart and always match what the store holds).
import type { AuditWriter } from './audit.ts';
import type { Db } from './db.ts';

/** Who opened the shift: the agent's first start, a person over HTTP, the PLC (OPC UA), MQTT, the line without saying which, or the shift schedule. */
export type ShiftCause = 'first-start' | 'http' | 'plc' | 'mqtt' | 'line' | 'schedule';

export interface ShiftStartRow {
  id: number;
  stationId: string;
  startedAt: number;
  actor: string;
  cause: ShiftCause;
}

export interface ShiftCounts {
  pass: number;
  fail: number;
  noVerdict: number;
  /** NO_VERDICT counts by reason. */
  reasons: Record<string, number>;
}

/** After a new shift was committed: the row and the counts of the shift it ended (null for a first start). */
export type ShiftHook = (started: ShiftStartRow, ended: { start: ShiftStartRow; counts: ShiftCounts } | null) => void;

type CountRow = { outcome: string; reason: string | null; n: number };

function tally(rows: unknown[], into: ShiftCounts = { pass: 0, fail: 0, noVerdict: 0, reasons: {} }): ShiftCounts {
  for (const r of rows as CountRow[]) {
    if (r.outcome === 'PASS') into.pass += r.n;
    else if (r.outcome === 'FAIL') into.fail += r.n;
    else {
      into.noVerdict += r.n;
      const reason = r.reason ?? 'unknown';
      into.reasons[reason] = (into.reasons[reason] ?? 0) + r.n;
    }
  }
  return into;
}

type Raw = { id: number; station_id: string; started_at: number; actor: string; cause: ShiftCause };
const toRow = (r: Raw): ShiftStartRow => ({ id: r.id, stationId: r.station_id, startedAt: r.started_at, actor: r.actor, cause: r.cause });

export class Shifts {
  readonly hooks: ShiftHook[] = [];
  private readonly latest;
  private readonly insert;
  private readonly count;
  private readonly countNew;
  private readonly oldest;
  private readonly lastRowid;
  /** Per station: the counts of its shift up to a rowid; only newer rows are counted on the next read. */
  private readonly cache = new Map<string, { since: number; upTo: number; oldest: number | null; counts: ShiftCounts }>();

  constructor(private readonly db: Db, private readonly audit: AuditWriter) {
    this.latest = db.prepare('SELECT * FROM shift_starts WHERE station_id = ? ORDER BY started_at DESC, id DESC LIMIT 1');
    this.insert = db.prepare('INSERT INTO shift_starts (station_id, started_at, actor, cause) VALUES (?, ?, ?, ?)');
    // Covered by results_station_decided (migration 8): no table rows are read.
    this.count = db.prepare('SELECT outcome, reason, COUNT(*) AS n FROM results WHERE station_id = ? AND decided_at >= ? AND decided_at < ? AND rowid <= ? GROUP BY outcome, reason');
    // The unary + keeps the planner on the rowid range (the few new rows), off the index (the whole shift).
    this.countNew = db.prepare('SELECT outcome, reason, COUNT(*) AS n FROM results WHERE rowid > ? AND rowid <= ? AND +station_id = ? AND +decided_at >= ? GROUP BY outcome, reason');
    this.oldest = db.prepare('SELECT MIN(decided_at) AS t FROM results WHERE station_id = ?');
    this.lastRowid = db.prepare('SELECT MAX(rowid) AS r FROM results');
  }

  current(stationId: string): ShiftStartRow | undefined {
    const r = this.latest.get(stationId) as Raw | undefined;
    return r && toRow(r);
  }

  /** The station's shift; a station never seen before starts its first one now. */
  ensure(stationId: string, now = Date.now()): ShiftStartRow {
    return this.current(stationId) ?? this.start(stationId, 'agent', 'first-start', now);
  }

  /**
   * Results decided in [since, until). For an open end (the current shift) only rows newer than the last read are
   * counted (a full count of a long shift takes ~75 ms per 150k rows on the writer's thread); a removed row (retention
   * removes oldest first, so the station's oldest result changes) makes it count everything again.
   */
  counts(stationId: string, since: number, until?: number): ShiftCounts {
    const upTo = (this.lastRowid.get() as { r: number | null }).r ?? 0;
    if (until !== undefined) return tally(this.count.all(stationId, since, until, upTo));
    const oldest = (this.oldest.get(stationId) as { t: number | null }).t;
    const c = this.cache.get(stationId);
    if (!c || c.since !== since || c.oldest !== oldest || upTo < c.upTo) {
      const counts = tally(this.count.all(stationId, since, Number.MAX_SAFE_INTEGER, upTo));
      this.cache.set(stationId, { since, upTo, oldest, counts });
      return structuredClone(counts);
    }
    if (upTo > c.upTo) {
      tally(this.countNew.all(c.upTo, upTo, stationId, since), c.counts);
      c.upTo = upTo;
    }
    return structuredClone(c.counts);
  }

  /** Opens a new shift at `at` (audited with the counts of the shift it ends, in the same transaction). */
  start(stationId: string, actor: string, cause: ShiftCause, at = Date.now()): ShiftStartRow {
    const { row, ended } = this.db.transaction(() => {
      const prev = this.current(stationId);
      const ended = prev ? { start: prev, counts: this.counts(stationId, prev.startedAt, at) } : null;
      const id = Number(this.insert.run(stationId, at, actor, cause).lastInsertRowid);
      this.audit(actor, cause === 'first-start' ? 'shift.first-start' : 'shift.reset', {
        stationId, cause, startedAt: at, ended: ended && { startedAt: ended.start.startedAt, ...ended.counts },
      });
      return { row: { id, stationId, startedAt: at, actor, cause } satisfies ShiftStartRow, ended };
    })();
    for (const hook of this.hooks) hook(row, ended);
    return row;
  }
}
