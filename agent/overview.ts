// The line overview: per station one tile's worth (verdict in the words an operator reads from two metres, product,
// last part image, current shift counts, camera state) in one answer, and the shift reset from the UI.
import type { OverviewPort, OverviewStation, OverviewVerdict, ShiftView, StationView } from './http/api.ts';
import type { ShiftCounts, ShiftStartRow, Store } from './store/store.ts';

export type OverviewStore = Pick<Store, 'currentShift' | 'startShift' | 'shiftCounts' | 'queryResults'>;

export interface OverviewDeps {
  store: OverviewStore;
  views(): StationView[];
  /** Whether the station's in-memory live frame is this result and has a heat map (the live overlay route has it). */
  liveOverlay(stationId: string, resultId: string): boolean;
}

/** NO_VERDICT reasons in plain words (adapters/protocol.ts NO_VERDICT_REASONS). */
export const NO_VERDICT_WORDS: Record<string, string> = {
  dropped: 'part not inspected: the queue was full',
  timeout: 'no result in time',
  no_reference: 'no reference for this product: add good shots',
  camera_error: 'camera error',
  model_error: 'inspection model error',
  interrupted: 'the agent stopped while the part was inspected',
};

export function shiftView(start: ShiftStartRow, c: ShiftCounts): ShiftView {
  const total = c.pass + c.fail + c.noVerdict;
  return {
    startedAt: start.startedAt, startedBy: start.actor, cause: start.cause,
    ok: c.pass, ng: c.fail, notInspected: c.noVerdict, reasons: c.reasons, total,
    yieldPct: total ? Math.round((c.pass / total) * 1000) / 10 : null,
  };
}

export function createOverview(deps: OverviewDeps): OverviewPort {
  const { store } = deps;
  const shift = (stationId: string) => {
    const start = store.currentShift(stationId);
    return shiftView(start, store.shiftCounts(stationId, start.startedAt));
  };

  const station = (v: StationView): OverviewStation => {
    const last = store.queryResults({ stationId: v.id, limit: 1 })[0];
    const online = v.camera.state === 'online';
    let verdict: OverviewVerdict;
    if (!online) {
      verdict = { show: 'NO VERDICT', why: `camera ${v.camera.state}${v.camera.lastError ? `: ${v.camera.lastError}` : ''}`, cause: 'camera' };
    } else if (!last) {
      verdict = { show: 'NO VERDICT', why: 'no part inspected yet', cause: 'no_part' };
    } else if (last.outcome === 'NO_VERDICT') {
      verdict = { show: 'NO VERDICT', why: NO_VERDICT_WORDS[last.reason ?? ''] ?? last.reason ?? 'not inspected', cause: 'not_inspected' };
    } else {
      verdict = { show: last.outcome === 'PASS' ? 'OK' : 'NG', why: '', cause: null };
    }
    const image = !last ? null : deps.liveOverlay(v.id, last.resultId)
      ? { url: `/api/stations/${encodeURIComponent(v.id)}/overlay.png?result=${last.resultId}`, resultId: last.resultId }
      : { url: `/api/results/${last.resultId}/overlay.png`, resultId: last.resultId };
    return {
      id: v.id, cameraId: v.cameraId,
      product: { id: v.reference.productId, name: v.reference.productName, recipeId: v.reference.recipeId },
      camera: { state: v.camera.state, online, detail: v.camera.lastError ?? null },
      verdict,
      last: last ? { resultId: last.resultId, partId: last.partId, outcome: last.outcome, reason: last.reason, score: last.score, threshold: last.threshold, decidedAt: last.decidedAt } : null,
      image,
      shift: shift(v.id),
    };
  };

  return {
    overview: () => ({ at: Date.now(), stations: deps.views().map(station) }),
    resetCounters: (stationId, actor) => {
      store.startShift(stationId, actor, 'http');
      return shift(stationId);
    },
  };
}
