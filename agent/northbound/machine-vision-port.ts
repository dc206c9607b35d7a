// What the OPC 40100-1 Machine Vision view asks the agent (adapters/types.ts MachineVisionPort): products as recipes,
// each station's trigger mode, and results from the store, so GetResultById/GetResultListFiltered answer across restarts.
import { NO_VERDICT_REASONS, type NoVerdictReason, type VerdictCode } from '../../adapters/protocol.ts';
import type { MachineVisionPort, StoredResult, StoredResultFilter } from '../../adapters/types.ts';
import type { Station } from '../pipeline/station.ts';
import type { Store } from '../store/store.ts';
import type { ResultRow } from '../store/results.ts';

export interface MachineVisionPortDeps {
  store: Store;
  stations: ReadonlyMap<string, Station>;
  /** The agent's public URL: masks are offered at <publicUrl>/results/<id>/mask.png while they are kept. */
  publicUrl: () => string;
}

const REASONS = new Set<string>(NO_VERDICT_REASONS);

export function machineVisionPort(deps: MachineVisionPortDeps): MachineVisionPort {
  const { store } = deps;
  const names = () => new Map(store.listProducts().map((p) => [p.recipeId, p.name]));
  const toStored = (r: ResultRow, byRecipe: Map<number, string>): StoredResult => ({
    resultId: r.resultId, resultSeq: r.resultSeq, stationId: r.stationId, partId: r.partId, triggerSeq: r.triggerSeq,
    recipeId: r.recipeId, recipeName: byRecipe.get(r.recipeId) ?? '', referenceVersion: r.referenceVersion, modelVersion: r.packId,
    outcome: r.outcome, ...(r.outcome === 'NO_VERDICT' && r.reason && REASONS.has(r.reason) ? { noVerdictReason: r.reason as NoVerdictReason } : {}),
    verdictCode: r.verdictCode as VerdictCode, anomalyScore: r.score, threshold: r.threshold, defectCount: r.defectCount,
    acquiredAt: new Date(r.capturedAt), decidedAt: new Date(r.decidedAt), processingMs: r.totalMs,
    maskUri: r.hasMask ? `${deps.publicUrl()}/results/${r.resultId}/mask.png` : '',
  });
  return {
    recipes: () =>
      store.listProducts().map((p) => ({ recipeId: p.recipeId, name: p.name, referenceVersion: store.currentReferenceSet(p.id)?.version ?? 0, shots: p.shotCount })),
    triggerMode: (stationId) => deps.stations.get(stationId)?.triggerMode,
    result: (stationId, resultId) => {
      const row = store.getResult(resultId);
      return row && row.stationId === stationId ? toStored(row, names()) : undefined;
    },
    results: (stationId, f: StoredResultFilter) => {
      let productId: number | undefined;
      if (f.recipeId !== undefined) {
        const product = store.productByRecipe(f.recipeId);
        if (!product) return [];
        productId = product.id;
      }
      const rows = store.queryResults({
        stationId, limit: Math.min(f.limit, 1000),
        ...(f.partId !== undefined ? { partId: f.partId } : {}), ...(f.outcome ? { outcome: f.outcome } : {}),
        ...(productId !== undefined ? { productId } : {}),
        ...(f.since ? { since: f.since.getTime() } : {}), ...(f.until ? { until: f.until.getTime() } : {}),
      });
      const byRecipe = names();
      return rows.map((r) => toStored(r, byRecipe));
    },
  };
}
