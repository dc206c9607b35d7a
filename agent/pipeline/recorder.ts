// Settles a frame: judge it (threshold of the reference it was captured with), store it with its resultSeq and
// outbox entry in one transaction, then publish. Masks are made only where they are kept or published; the frame
// (JPEG) and the fused map (8-bit PNG) only where keepImages keeps them, encoded alongside the mask.
import { OUTCOME, verdictCodeOf } from '../../adapters/protocol.ts';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { ulid } from 'ulid';
import { judgeFrame, maskPng, type FrameVerdict } from '../../models/verdict.ts';
import type { Metrics } from '../metrics.ts';
import { toVerdictRecord } from '../northbound/verdict-record.ts';
import type { ResultEvidence, Store } from '../store/store.ts';
import type { Frame, Inference, Reference, VerdictRecord } from './ports.ts';
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
  deps.metrics.watchImages(() => deps.store.imageStats());
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
    let evidence: Promise<ResultEvidence | null> = Promise.resolve(null);
    if (settlement.kind === 'verdict') {
      const inf = settlement.inference;
      // The map covers the region's roi; ignore areas and the minimum area decide what is a defect (README).
      judged = judgeFrame(sanitize(inf.score), inf.map, inf.size, frame, {
        threshold: ref.threshold,
        ...(ref.region ? { region: ref.region, ...(inf.branches ? { fusion: { mode: inf.mode, branches: inf.branches } } : {}) } : {}),
      });
      const keep = station.entry.keepImages ?? 'fail';
      if (keep === 'all' || (keep === 'fail' && judged.verdict === 'fail')) evidence = encodeEvidence(frame, inf, station.entry, ref.region ?? null);
      const wantMask = station.entry.keepMasks === 'all' || (judged.verdict === 'fail' && judged.defects.count > 0);
      if (wantMask) {
        const png = await maskPng(judged);
        mask = { png, width: frame.width, height: frame.height, sha256: createHash('sha256').update(png).digest('hex'), uri: `${deps.publicUrl()}/results/${resultId}/mask.png` };
      }
    } else if (station.entry.keepImages === 'all' && frame.rgb.length) {
      evidence = encodeEvidence(frame, null, station.entry);
    }
    const kept = await evidence.catch((err: Error) => {
      // Evidence is a help for people, never a reason to lose the verdict.
      deps.log.warn({ err: err.message, station: station.id }, 'could not encode the frame to keep; the result is stored without it');
      return null;
    });
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
      thresholdSource: ref.thresholdSource,
      branches: settlement.kind === 'verdict' ? branchScores(settlement.inference.branches) : null,
      evidence: kept,
      ...(judged ? { regions: judged.defects.regions.map((r) => ({ box: r.box, areaPx: r.areaPx, peak: r.peak })) } : {}),
      ...(job.inFlightId === undefined ? {} : { inFlightId: job.inFlightId }),
    }));
    deps.northbound.verdict(record);
    if (frame.rgb.length) station.live = { frame, verdict: record, judged, region: ref.region ?? null };
    const m = deps.metrics;
    m.outcomes.inc({ camera: station.cameraId, outcome: record.outcome, reason: record.noVerdictReason ?? '' });
    m.latency.observe({ camera: station.cameraId }, record.timing.processingMs / 1000);
    if (kept) m.imagesKept.inc({ camera: station.cameraId }, (kept.frame?.jpeg.length ?? 0) + (kept.map?.png.length ?? 0));
    return record;
  };
  return { admit, settle };
}

function sanitize(score: number): number {
  return Number.isFinite(score) ? score : 0;
}

interface ImagePolicy {
  keepImages?: 'fail' | 'all' | 'none';
  imageQuality?: number;
  imageMaxSide?: number;
}

/** The frame as JPEG (scaled down to imageMaxSide, aspect kept) and the fused map as 8-bit grey PNG at its own size. */
async function encodeEvidence(frame: Frame, inf: Pick<Inference, 'map' | 'size'> | null, policy: ImagePolicy, region: Reference['region'] | null = null): Promise<ResultEvidence | null> {
  const [frameOut, mapOut] = await Promise.all([
    frame.rgb.length ? frameJpeg(frame, policy.imageMaxSide ?? 1280, policy.imageQuality ?? 85) : null,
    inf ? mapPng(inf.map, inf.size) : null,
  ]);
  return frameOut || mapOut ? { frame: frameOut, map: mapOut, ...(region && mapOut ? { region } : {}) } : null;
}

async function frameJpeg(frame: Frame, maxSide: number, quality: number): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const scale = Math.min(1, maxSide / Math.max(frame.width, frame.height));
  const width = Math.max(1, Math.round(frame.width * scale));
  const height = Math.max(1, Math.round(frame.height * scale));
  let img = sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } });
  if (scale < 1) img = img.resize(width, height, { fit: 'fill' });
  return { jpeg: await img.jpeg({ quality }).toBuffer(), width, height };
}

/** Map values are on the score's 0..1 scale; 8 bits keep them to 1/255, enough to draw the heat map again. */
async function mapPng(map: Float32Array, size: number): Promise<{ png: Buffer; size: number }> {
  const grey = Buffer.alloc(size * size);
  for (let i = 0; i < grey.length; i++) {
    const v = map[i]!;
    grey[i] = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * 255) : 0;
  }
  const png = await sharp(grey, { raw: { width: size, height: size, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 9 }).toBuffer();
  return { png, size };
}

function branchScores(b: Inference['branches'] | undefined): Record<string, number> | null {
  if (!b) return null;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}
