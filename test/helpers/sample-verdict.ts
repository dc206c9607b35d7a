// Realistic VerdictRecords for tests, benchmarks and the producer process: a real PNG mask (sharp), a ULID.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { ulid } from 'ulid';
import type { VerdictRecord } from '../../adapters/types.ts';

/** A 0/255 8-bit PNG mask with one defect rectangle, the way the runtime encodes it. */
export async function makeMaskPng(width: number, height: number, box: [number, number, number, number]): Promise<Buffer> {
  const px = Buffer.alloc(width * height);
  const [x, y, w, h] = box;
  for (let r = y; r < y + h; r++) px.fill(255, r * width + x, r * width + x + w);
  return sharp(px, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

export interface SampleOptions {
  stationId: string;
  resultSeq: number;
  nok: boolean;
  maskPng?: Buffer; // required for NOK
  partId?: string;
  triggerSeq?: number;
  recipeId?: number;
  resultId?: string;
}

export function sampleVerdict(o: SampleOptions): VerdictRecord {
  const resultId = o.resultId ?? ulid();
  const now = new Date();
  const bbox: [number, number, number, number] = o.nok ? [10, 8, 12, 6] : [0, 0, 0, 0];
  return {
    resultId,
    resultSeq: o.resultSeq,
    stationId: o.stationId,
    cameraId: 'cam1',
    partId: o.partId ?? `P-${o.resultSeq}`,
    triggerSeq: o.triggerSeq ?? 0,
    recipeId: o.recipeId ?? 12,
    recipeName: `A-${o.recipeId ?? 12}`,
    modelVersion: 'adaptclip-vitl14@0123abcd',
    referenceVersion: 3,
    outcome: o.nok ? 'FAIL' : 'PASS',
    verdictCode: o.nok ? 2 : 1,
    mode: 'few-shot',
    shots: 2,
    anomalyScore: o.nok ? 0.83 : 0.12,
    threshold: 0.5,
    defects: o.nok ? { count: 1, areaPx: 72, areaPct: 2.34, bbox, boxes: [bbox] } : { count: 0, areaPx: 0, areaPct: 0, bbox, boxes: [] },
    mask:
      o.nok && o.maskPng
        ? { png: o.maskPng, width: 64, height: 48, sha256: createHash('sha256').update(o.maskPng).digest('hex'), uri: `http://127.0.0.1/results/${resultId}/mask.png` }
        : null,
    timing: { acquiredAt: new Date(now.getTime() - 40).toISOString(), decidedAt: now.toISOString(), processingMs: 40 },
  };
}
