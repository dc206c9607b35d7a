// The store's result rows in the northbound contract's words (adapters/types.ts VerdictRecord), and back.
// The store keeps its own types; this is the one place that knows both.
import type { NoVerdictReason, VerdictCode, VerdictRecord } from '../../adapters/types.ts';
import type { RecordedResult, ResultInput } from '../store/store.ts';

/** The record the sinks get for a result the store recorded (also what the result hooks map, e.g. the MQTT outbox). */
export function toVerdictRecord(r: RecordedResult): VerdictRecord {
  return {
    stationId: r.stationId,
    cameraId: r.cameraId,
    partId: r.partId,
    triggerSeq: r.triggerSeq,
    recipeId: r.recipeId,
    recipeName: r.recipeName,
    modelVersion: r.packId,
    referenceVersion: r.referenceVersion,
    outcome: r.outcome,
    ...(r.reason === null ? {} : { noVerdictReason: r.reason as NoVerdictReason }),
    verdictCode: r.verdictCode as VerdictCode,
    mode: r.mode as VerdictRecord['mode'],
    shots: r.shots,
    anomalyScore: r.score,
    threshold: r.threshold,
    defects: r.defects,
    mask: r.mask,
    timing: {
      acquiredAt: new Date(r.capturedAt).toISOString(),
      decidedAt: new Date(r.decidedAt).toISOString(),
      processingMs: r.totalMs,
      ...(r.queueMs === null ? {} : { queueMs: r.queueMs }),
      ...(r.inferenceMs === null ? {} : { inferenceMs: r.inferenceMs }),
    },
    resultId: r.resultId,
    resultSeq: r.resultSeq,
  };
}

/** What the store needs beyond a northbound record: the frame, its product and whether the row keeps the mask. */
export type RowExtras = Pick<ResultInput, 'frameSeq' | 'productId' | 'width' | 'height' | 'keepMask' | 'inFlightId'>;

/** The store input for a northbound record made elsewhere (a replay, a test's sample verdict); resultSeq is the store's. */
export function resultInputFromVerdict(v: Omit<VerdictRecord, 'resultSeq' | 'resultId'> & { resultId?: string }, extras: RowExtras): ResultInput {
  return {
    ...(v.resultId === undefined ? {} : { resultId: v.resultId }),
    stationId: v.stationId, cameraId: v.cameraId, frameSeq: extras.frameSeq, partId: v.partId, triggerSeq: v.triggerSeq,
    productId: extras.productId, recipeId: v.recipeId, recipeName: v.recipeName, referenceVersion: v.referenceVersion, packId: v.modelVersion,
    outcome: v.outcome, reason: v.noVerdictReason ?? null, verdictCode: v.verdictCode, mode: v.mode, shots: v.shots,
    score: v.anomalyScore, threshold: v.threshold, defects: v.defects, mask: v.mask,
    capturedAt: Date.parse(v.timing.acquiredAt), decidedAt: Date.parse(v.timing.decidedAt),
    queueMs: v.timing.queueMs ?? null, inferenceMs: v.timing.inferenceMs ?? null, totalMs: v.timing.processingMs,
    width: extras.width, height: extras.height, keepMask: extras.keepMask,
    ...(extras.inFlightId === undefined ? {} : { inFlightId: extras.inFlightId }),
  };
}
