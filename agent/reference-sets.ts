// Reference sets as the API offers them: list, restore an earlier one (the stations running the product follow through
// the changeover), and a false reject's stored frame kept as a good shot.
import sharp from 'sharp';
import { decodeImage } from '../models/image.ts';
import type { ReferenceSetPort, ReferenceSetView } from './http/api.ts';
import { HttpError } from './http/common.ts';
import type { ReferenceSet, Store } from './store/store.ts';

export interface ReferenceSetDeps {
  store: Pick<Store, 'requireProduct' | 'referenceSets' | 'restoreReferenceSet' | 'currentReferenceSet' | 'getResult' | 'resultImage' | 'addShot'>;
  changeover: { refreshProduct(productId: number): Promise<void> };
  maxUploadPixels(): number;
}

export function createReferenceSets(deps: ReferenceSetDeps): ReferenceSetPort {
  const { store } = deps;
  const view = (s: ReferenceSet, current: number): ReferenceSetView => ({ ...s, current: s.version === current });
  return {
    list: (productId) => {
      store.requireProduct(productId);
      const sets = store.referenceSets(productId);
      return sets.map((s) => view(s, sets[0]!.version));
    },
    restore: async (productId, version, actor) => {
      const set = store.restoreReferenceSet(productId, version, actor);
      await deps.changeover.refreshProduct(productId);
      return view(set, set.version);
    },
    keepResultAsShot: async (resultId, productId, actor) => {
      const result = store.getResult(resultId);
      if (!result) throw new HttpError(404, `result ${resultId} does not exist; find results with GET /api/results`);
      const target = productId ?? result.productId;
      if (target === null) throw new HttpError(409, `result ${resultId} was judged without a product (zero-shot); say which product the part belongs to with {"productId": …}`);
      try {
        store.requireProduct(target);
      } catch (err) {
        if (productId !== undefined) throw err;
        throw new HttpError(409, `result ${resultId}'s product ${target} no longer exists; say which product the part belongs to with {"productId": …}`);
      }
      const jpeg = store.resultImage(resultId);
      if (!jpeg) {
        throw new HttpError(409, `result ${resultId} has no stored frame (the station keeps none for ${result.outcome} results, or retention removed it); `
          + "set the station's keepImages to keep frames of rejects, or upload a photo of the part instead");
      }
      // The frame as the agent stored it (JPEG), kept losslessly from here on.
      const img = await decodeImage(jpeg, deps.maxUploadPixels());
      const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
      const shot = store.addShot(target, { png, width: img.width, height: img.height, source: `result:${resultId}` }, actor);
      await deps.changeover.refreshProduct(target);
      const set = store.currentReferenceSet(target)!;
      return { shot, referenceSet: view(set, set.version) };
    },
  };
}
