// A product's inspection region as the API offers it: checked against every frame size it will be used on (the
// product's shots, the cameras running it, a station named in the request) before anything is stored, then stored as
// a new reference set and the stations running the product rebuild their reference (shot features for the new crop).
import { regionProblems, type InspectionRegion } from '../models/regions.ts';
import { HttpError } from './http/common.ts';
import type { RegionPort, RegionView } from './http/api.ts';
import type { Reference } from './pipeline/ports.ts';
import type { RegionRow, Store } from './store/store.ts';

export interface RegionDeps {
  store: Pick<Store, 'requireProduct' | 'listShots' | 'productRegion' | 'putProductRegion' | 'currentReferenceSet'>;
  changeover: { current(stationId: string): Reference; refreshProduct(productId: number): Promise<void> };
  /** Station ids with the size of the newest frame each camera delivered (null: none yet). */
  stations(): { id: string; frame: { width: number; height: number } | null }[];
}

export interface RegionInput {
  roi?: { x: number; y: number; width: number; height: number } | null;
  ignore?: [number, number][][];
  minAreaPx?: number | null;
  stationId?: string;
}

export function createRegions(deps: RegionDeps): RegionPort {
  const { store, changeover } = deps;
  const view = (productId: number, checkedAgainst: RegionView['checkedAgainst'] = []): RegionView => ({
    productId, referenceSet: store.currentReferenceSet(productId)?.version ?? 0, region: store.productRegion(productId), checkedAgainst,
  });

  /** The frame sizes a product's region must fit: its shots, the stations running it, and the one asked for. */
  const frameSizes = (productId: number, stationId: string | undefined): RegionView['checkedAgainst'] => {
    const sizes: RegionView['checkedAgainst'] = store.listShots(productId).map((s) => ({ source: `shot #${s.id}`, width: s.width, height: s.height }));
    const stations = deps.stations();
    if (stationId !== undefined && !stations.some((s) => s.id === stationId)) {
      throw new HttpError(404, `station "${stationId}" does not exist; stations: ${stations.map((s) => s.id).join(', ') || 'none'}`);
    }
    for (const st of stations) {
      if (st.id !== stationId && changeover.current(st.id).productId !== productId) continue;
      if (st.frame) sizes.push({ source: `station ${st.id}`, ...st.frame });
      else if (st.id === stationId) throw new HttpError(409, `station "${stationId}" has not delivered a frame yet, so its frame size is unknown; try again when its camera runs`);
    }
    return sizes;
  };

  return {
    get: (productId) => {
      store.requireProduct(productId);
      return view(productId);
    },
    put: async (productId, input: RegionInput, actor) => {
      store.requireProduct(productId);
      const region: InspectionRegion = { roi: input.roi ?? null, ignore: input.ignore ?? [], minAreaPx: input.minAreaPx ?? null };
      const sizes = frameSizes(productId, input.stationId);
      // Shape (whole pixels, ≥ 3 points, no self-crossing, min area ≥ 0) is checked even with no frame size known.
      const shape = regionProblems(region, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      if (shape.length) throw new HttpError(400, `region: ${shape.join('; ')}; nothing was stored`);
      for (const size of sizes) {
        const problems = regionProblems(region, size.width, size.height);
        if (problems.length) throw new HttpError(400, `region does not fit ${size.source} (${size.width}×${size.height}): ${problems.join('; ')}; nothing was stored`);
      }
      const empty = !region.roi && !region.ignore?.length && region.minAreaPx === null;
      const row: RegionRow | null = empty ? null : { roi: region.roi ?? null, ignore: region.ignore ?? [], minAreaPx: region.minAreaPx ?? null };
      store.putProductRegion(productId, row, actor);
      await changeover.refreshProduct(productId);
      return view(productId, sizes);
    },
  };
}
