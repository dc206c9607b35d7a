// What the OPC UA handshake must keep across restarts: the last ResultSeq (strictly increasing), the result
// shown and the un-acknowledged queue (never lost or overwritten silently), the counters, and the last seen
// PLC sequence counters (so a PLC rewriting its current value after a restart is no phantom trigger).
import type { Database } from 'better-sqlite3';

export interface PresentedResult {
  resultSeq: number; // OPC UA ResultSeq
  resultId: string;
  triggerSeq: number;
  partId: string;
  verdict: number;
  anomalyScore: number;
  threshold: number;
  defectCount: number;
  defectAreaPx: number;
  bbox: [number, number, number, number];
  processingTimeMs: number;
  acquiredAt: string;
  recipeId: number;
  maskUri: string;
}

export interface StationState {
  lastResultSeq: number;
  shown: PresentedResult | null;
  shownAcked: boolean;
  waiting: PresentedResult[];
  counters: { total: number; ok: number; nok: number; error: number; missedTriggers: number };
  baselines: { triggerSeq: number; triggerAckSeq: number; changeSeq: number; changeAckSeq: number; resetErrorSeq: number; resultAckSeq: number };
}

export const emptyStationState = (): StationState => ({
  lastResultSeq: 0,
  shown: null,
  shownAcked: true,
  waiting: [],
  counters: { total: 0, ok: 0, nok: 0, error: 0, missedTriggers: 0 },
  baselines: { triggerSeq: 0, triggerAckSeq: 0, changeSeq: 0, changeAckSeq: 0, resetErrorSeq: 0, resultAckSeq: 0 },
});

/** The daemon can back this with its own store; createSqliteStationStore uses a table in the same database. */
export interface StationStateStore {
  load(stationId: string): StationState | undefined;
  save(stationId: string, state: StationState): void;
}

const TABLE = 'opcua_station_state';

/** Takes the agent's database handle, for the one table the agent store made for it (agent/store/migrations.ts,
 * schema 4): the state is this adapter's JSON, the store only keeps it. */
export function createSqliteStationStore(db: Database): StationStateStore {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(TABLE)) {
    throw new Error(`OPC UA station state: table ${TABLE} is missing in ${db.name}; the agent store creates it (schema 4): open the database with the agent's Store first`);
  }
  const get = db.prepare('SELECT state FROM opcua_station_state WHERE station_id = ?');
  const put = db.prepare('INSERT INTO opcua_station_state (station_id, state, updated_at) VALUES (?,?,?) ON CONFLICT(station_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at');
  return {
    load(stationId) {
      const row = get.get(stationId) as { state: string } | undefined;
      return row ? { ...emptyStationState(), ...(JSON.parse(row.state) as StationState) } : undefined;
    },
    save(stationId, state) {
      put.run(stationId, JSON.stringify(state), Date.now());
    },
  };
}
