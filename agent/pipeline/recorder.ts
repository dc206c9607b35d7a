// Settles a frame: judge it (threshold of the reference it was captured with), store it with its resultSeq and
// outbox entry in one transaction, then publish. Masks are made only where they are kept or published.
import { OUTCOME, verdictCodeOf } from '../../adapters/protocol.ts';
import { createHash } from 'node:crypto';
import { ulid } from 'ulid';
import { judgeFrame, maskPng, type FrameVerdict } from '../../models/verdict.ts';
import type { Metrics } from '../metrics.ts';
import { toVerdictRecord } from '../northbound/verdict-record.ts';
import type { Store } from '../store/store.ts';
import type { VerdictRecord } from './ports.ts';
import type { Recorder } from './station.ts';

export interface RecorderDeps {
  store: Store;
  /** Gets each verdict after its row committed (outbox sinks had it inside the transaction, through the store). */
  northbound: { verdict(record: VerdictRecord): void };
  packId: () => string;
  publicUrl: () => string;
  metrics: Metrics;
  log: { warn: (o: object, m: string) => void };
}

const NO_DEFECTS = { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0] as [number, number, number, number], boxes: [] };

export function createRecorder(deps: RecorderDeps): Recorder {
  const admit: Recorder['admit'] = (station, { frame, ref, partId, triggerSeq }) => deps.store.admitFrame({
    stationId: station.id,
    cameraId: station.cameraId,
    frameSeq: frame.seq,
    partId,
    triggerSeq,
    productId: ref.productId,
    recipeId: ref.recipeId,
    recipeName: ref.recipeName,
    referenceVersion: ref.version,
    shots: ref.shots,
    threshold: ref.threshold,
    capturedAt: frame.capturedAt,
    width: frame.width,
    height: frame.height,
  });
  const settle: Recorder['settle'] = async (station, job, settlement, startedAt) => {
    const { frame, ref } = job;
    let judged: FrameVerdict | null = null;
    let mask: VerdictRecord['mask'] = null;
    const resultId = ulid();
    if (settlement.kind === 'verdict') {
      const inf = settlement.inference;
      judged = judgeFrame(sanitize(inf.score), inf.map, inf.size, frame, { threshold: ref.threshold });
      const wantMask = station.entry.keepMasks === 'all' || (judged.verdict === 'fail' && judged.defects.count > 0);
      if (wantMask) {
        const png = await maskPng(judged);
        mask = { png, width: frame.width, height: frame.height, sha256: createHash('sha256').update(png).digest('hex'), uri: `${deps.publicUrl()}/results/${resultId}/mask.png` };
      }
    }
    const decidedAt = Date.now();
    const outcome = judged ? (judged.verdict === 'fail' ? OUTCOME.fail : OUTCOME.pass) : OUTCOME.noVerdict;
    const record = toVerdictRecord(deps.store.recordResult({
      resultId,
      stationId: station.id,
      cameraId: station.cameraId,
      frameSeq: frame.seq,
      partId: job.partId,
      triggerSeq: job.triggerSeq,
      productId: ref.productId,
      recipeId: ref.recipeId,
      recipeName: ref.recipeName,
      referenceVersion: ref.version,
      packId: deps.packId(),
      outcome,
      reason: settlement.kind === 'no_verdict' ? settlement.reason : null,
      verdictCode: verdictCodeOf(outcome),
      mode: settlement.kind === 'verdict' ? settlement.inference.mode : 'none',
      shots: ref.shots,
      score: judged?.score ?? 0,
      threshold: ref.threshold,
      defects: judged ? { count: judged.defects.count, areaPx: judged.defects.areaPx, areaPct: judged.defects.areaPct, bbox: judged.defects.bbox, boxes: judged.defects.boxes } : NO_DEFECTS,
      mask,
      capturedAt: frame.capturedAt,
      decidedAt,
      queueMs: Math.max(0, startedAt - job.enqueuedAt),
      inferenceMs: settlement.kind === 'verdict' ? settlement.inferenceMs : null,
      totalMs: decidedAt - frame.capturedAt,
      width: frame.width,
      height: frame.height,
      keepMask: station.entry.keepMasks !== 'none',
      ...(job.inFlightId === undefined ? {} : { inFlightId: job.inFlightId }),
    }));
    deps.northbound.verdict(record);
    if (frame.rgb.length) station.live = { frame, verdict: record, judged };
    const m = deps.metrics;
    m.outcomes.inc({ camera: station.cameraId, outcome: record.outcome, reason: record.noVerdictReason ?? '' });
    m.latency.observe({ camera: station.cameraId }, record.timing.processingMs / 1000);
    return record;
  };
  return { admit, settle };
}

function sanitize(score: number): number {
  return Number.isFinite(score) ? score : 0;
}
