// Store-and-forward outbox for MQTT, in the daemon's own SQLite database (better-sqlite3), table made by the agent store.
// The daemon calls enqueue() inside the transaction that records the result, so a result is either
// recorded AND queued for MQTT, or neither. The publisher drains oldest first and deletes on PUBACK.
import type { Database } from 'better-sqlite3';
import type { Alarm, VerdictRecord } from '../types.ts';
import type { OutboxLimits } from './config.ts';
import { alarmPayload, alarmTopic, maskTopic, verdictPayload, verdictTopic } from './payloads.ts';

export type OutboxKind = 'verdict' | 'mask' | 'alarm';
// Lowest value first when the outbox is full: masks go before alarms, alarms before verdicts.
const DROP_ORDER: OutboxKind[] = ['mask', 'alarm', 'verdict'];

export interface OutboxRow {
  id: number;
  kind: OutboxKind;
  stationId: string;
  resultId: string | null;
  resultSeq: number | null;
  topic: string; // relative to the prefix P
  payload: Buffer;
  props: Record<string, unknown> | null; // MQTT v5 publish properties
  createdAt: number; // epoch ms
  attempts: number; // sends that ended without PUBACK
}

export interface OutboxStats {
  depth: number;
  bytes: number;
  dropped: Record<OutboxKind, number>;
  full: boolean; // dropped something since the backlog last fell below 90 % of its limits
}

export interface Outbox {
  /** Queues the verdict (and its mask). Call inside the transaction that records the result. */
  enqueue(verdict: VerdictRecord): void;
  enqueueAlarm(alarm: Alarm): void;
  /** Oldest first, skipping the ids given (in flight). */
  peek(limit: number, skip?: ReadonlySet<number>): OutboxRow[];
  remove(id: number): void;
  markFailed(id: number): void;
  /** Drops rows past maxAge and re-reads the totals. */
  prune(now?: number): void;
  stats(): OutboxStats;
}

const TABLE = 'mqtt_outbox';

// The seam: a database handle, not a store interface. enqueue() must run on the connection, and inside the
// transaction, that records the result, and the queue's own SQL (drop order, byte totals) belongs with the queue.
// The table is the agent store's (agent/store/migrations.ts, schema 4); this module never creates or alters it.
export function createOutbox(db: Database, limits: OutboxLimits, onDrop?: (kind: OutboxKind, count: number, why: 'full' | 'age') => void): Outbox {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(TABLE)) {
    throw new Error(`MQTT outbox: table ${TABLE} is missing in ${db.name}; the agent store creates it (schema 4): open the database with the agent's Store first`);
  }
  const insert = db.prepare(
    `INSERT OR IGNORE INTO ${TABLE} (kind, station_id, result_id, result_seq, topic, payload, props, created_at, bytes) VALUES (?,?,?,?,?,?,?,?,?)`,
  );
  const selectOldest = db.prepare(`SELECT id, kind, station_id, result_id, result_seq, topic, payload, props, created_at, attempts FROM ${TABLE} ORDER BY id LIMIT ?`);
  const del = db.prepare(`DELETE FROM ${TABLE} WHERE id = ? RETURNING bytes`);
  const fail = db.prepare(`UPDATE ${TABLE} SET attempts = attempts + 1 WHERE id = ?`);
  const totals = db.prepare(`SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM ${TABLE}`);
  const oldestOfKind = db.prepare(`SELECT id, bytes FROM ${TABLE} WHERE kind = ? ORDER BY id LIMIT ?`);
  const expired = db.prepare(`SELECT kind, count(*) AS n FROM ${TABLE} WHERE created_at < ? GROUP BY kind`);
  const deleteExpired = db.prepare(`DELETE FROM ${TABLE} WHERE created_at < ?`);

  let depth = 0;
  let bytes = 0;
  let full = false;
  const dropped: Record<OutboxKind, number> = { verdict: 0, mask: 0, alarm: 0 };

  const resync = () => {
    const t = totals.get() as { n: number; b: number };
    depth = t.n;
    bytes = t.b;
    if (full && depth < 0.9 * limits.maxMessages && bytes < 0.9 * limits.maxBytes) full = false;
  };
  resync();

  const put = (kind: OutboxKind, stationId: string, resultId: string | null, resultSeq: number | null, topic: string, payload: Buffer, props: object | null) => {
    const propsJson = props ? JSON.stringify(props) : null;
    const size = payload.length + topic.length + (propsJson?.length ?? 0);
    const info = insert.run(kind, stationId, resultId, resultSeq, topic, payload, propsJson, Date.now(), size);
    if (info.changes) {
      depth += 1;
      bytes += size;
    }
  };

  const enforceLimits = () => {
    while (depth > limits.maxMessages || bytes > limits.maxBytes) {
      const chunk = Math.max(1, Math.ceil(depth * 0.01));
      const kind = DROP_ORDER.find((k) => oldestOfKind.all(k, 1).length > 0);
      if (!kind) break;
      const rows = oldestOfKind.all(kind, chunk) as { id: number; bytes: number }[];
      for (const r of rows) del.run(r.id);
      depth -= rows.length;
      bytes -= rows.reduce((s, r) => s + r.bytes, 0);
      dropped[kind] += rows.length;
      full = true;
      onDrop?.(kind, rows.length, 'full');
    }
  };

  return {
    enqueue(v) {
      if (v.mask) {
        put('mask', v.stationId, v.resultId, v.resultSeq, maskTopic(v.stationId, v.resultId), v.mask.png, {
          contentType: 'image/png',
          userProperties: { resultId: v.resultId, sha256: v.mask.sha256 },
        });
      }
      put('verdict', v.stationId, v.resultId, v.resultSeq, verdictTopic(v.stationId), Buffer.from(JSON.stringify(verdictPayload(v))), null);
      enforceLimits();
    },
    enqueueAlarm(a) {
      put('alarm', a.stationId, null, null, alarmTopic(a.stationId), Buffer.from(JSON.stringify(alarmPayload(a))), null);
      enforceLimits();
    },
    peek(limit, skip) {
      const want = limit + (skip?.size ?? 0);
      const rows = selectOldest.all(want) as {
        id: number; kind: OutboxKind; station_id: string; result_id: string | null; result_seq: number | null;
        topic: string; payload: Buffer; props: string | null; created_at: number; attempts: number;
      }[];
      const out: OutboxRow[] = [];
      for (const r of rows) {
        if (skip?.has(r.id)) continue;
        out.push({
          id: r.id, kind: r.kind, stationId: r.station_id, resultId: r.result_id, resultSeq: r.result_seq, topic: r.topic,
          payload: r.payload, props: r.props ? (JSON.parse(r.props) as Record<string, unknown>) : null, createdAt: r.created_at, attempts: r.attempts,
        });
        if (out.length >= limit) break;
      }
      return out;
    },
    remove(id) {
      const r = del.get(id) as { bytes: number } | undefined;
      if (r) {
        depth -= 1;
        bytes -= r.bytes;
      }
    },
    markFailed(id) {
      fail.run(id);
    },
    prune(now = Date.now()) {
      const cutoff = now - limits.maxAgeS * 1000;
      const old = expired.all(cutoff) as { kind: OutboxKind; n: number }[];
      if (old.length) {
        deleteExpired.run(cutoff);
        for (const o of old) {
          dropped[o.kind] += o.n;
          onDrop?.(o.kind, o.n, 'age');
        }
      }
      resync();
    },
    stats: () => ({ depth, bytes, dropped: { ...dropped }, full }),
  };
}
