// A small real station for tests and the benchmark: implements SinkCommands the way the daemon does (a trigger
// yields one verdict after a processing delay, resultSeq persisted in SQLite, recipes that prepare) and feeds
// every given sink. Not a mock of the daemon's internals: it exercises the adapters through their public contract.
import type { Database } from 'better-sqlite3';
import type { SinkCommands, StationStatus, VerdictRecord, VerdictSink } from '../../adapters/types.ts';
import { makeMaskPng, sampleVerdict } from './sample-verdict.ts';

export class TestStation implements SinkCommands {
  processingMs = 30;
  hang = false; // accept triggers but never answer (trigger timeout)
  nextNok = false;
  recipes = new Map<number, string>([[12, 'A-12'], [13, 'B-13']]);
  status: StationStatus;
  produced: VerdictRecord[] = [];
  private mask: Buffer | null = null;
  private nextSeq;
  private record;

  constructor(readonly stationId: string, private db: Database, private sinks: VerdictSink[]) {
    db.exec('CREATE TABLE IF NOT EXISTS station_results (station_id TEXT NOT NULL, result_seq INTEGER NOT NULL, result_id TEXT NOT NULL, PRIMARY KEY (station_id, result_seq))');
    this.nextSeq = db.prepare('SELECT coalesce(max(result_seq), 0) + 1 AS s FROM station_results WHERE station_id = ?');
    this.record = db.prepare('INSERT INTO station_results VALUES (?,?,?)');
    this.status = {
      stationId, state: 'Operational', stateNumber: 4, ready: true, busy: false, cameraConnected: true, recipeId: 12, recipeName: 'A-12',
      referenceImageCount: 2, modelVersion: 'adaptclip-vitl14@0123abcd', pendingResults: 0, errorCode: 0, errorText: '',
    };
  }

  publishStatus(patch: Partial<StationStatus> = {}) {
    this.status = { ...this.status, ...patch };
    for (const s of this.sinks) s.publishStatus(this.status);
  }

  /** Records and publishes one result, as the daemon's result path does. */
  async produce(partId: string, triggerSeq: number, nok = this.nextNok): Promise<VerdictRecord> {
    this.mask ??= await makeMaskPng(64, 48, [10, 8, 12, 6]);
    const seq = (this.nextSeq.get(this.stationId) as { s: number }).s;
    const v = sampleVerdict({ stationId: this.stationId, resultSeq: seq, nok, maskPng: this.mask, partId, triggerSeq, recipeId: this.status.recipeId });
    this.record.run(this.stationId, seq, v.resultId);
    this.produced.push(v);
    for (const s of this.sinks) s.publishVerdict(v);
    return v;
  }

  async trigger(_stationId: string, partId: string, triggerSeq: number): Promise<number> {
    if (!this.hang) setTimeout(() => void this.produce(partId, triggerSeq), this.processingMs);
    return 0;
  }
  async selectRecipe(_stationId: string, recipeId: number): Promise<number> {
    await new Promise((r) => setTimeout(r, 100)); // preparing: reference features are loaded
    const name = this.recipes.get(recipeId);
    if (!name) return -1;
    this.publishStatus({ recipeId, recipeName: name });
    return 0;
  }
  async resetError(): Promise<number> {
    return 0;
  }
  async resetCounters(): Promise<number> {
    return 0;
  }
}
