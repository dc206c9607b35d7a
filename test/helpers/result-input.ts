// A store ResultInput for tests that write results directly (a PASS at zero-shot unless `over` says otherwise).
import type { ResultInput } from '../../agent/store/store.ts';

export function resultInput(stationId: string, over: Partial<ResultInput> = {}): ResultInput {
  const now = Date.now();
  return {
    stationId, cameraId: 'cam1', frameSeq: 1, partId: '', triggerSeq: 0, productId: null, recipeId: 0, recipeName: '', referenceVersion: 0,
    packId: 'pack@abc', outcome: 'PASS', reason: null, verdictCode: 1, mode: 'zero-shot', shots: 0, score: 0.1, threshold: 0.5,
    defects: { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0], boxes: [] }, mask: null,
    capturedAt: now, decidedAt: now, queueMs: null, inferenceMs: null, totalMs: 5, width: 8, height: 8, keepMask: false, ...over,
  };
}
