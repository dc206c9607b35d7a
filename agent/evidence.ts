// Evidence behind every verdict (the HTTP EvidencePort): the stored frame, an overlay drawn again from the stored frame
// and anomaly map, one result's detail, the recent rejects of a station, and the results as CSV rows.
import type { InspectionRegion } from '../models/regions.ts';
import sharp from 'sharp';
import { judgeFrame, overlayPng } from '../models/verdict.ts';
import type { EvidencePort, ImageAnswer, RejectItem, ResultDetail } from './http/api.ts';
import type { ResultExportRow, ResultFilter, Store } from './store/store.ts';

export type EvidenceStore = Pick<Store, 'getResult' | 'resultImage' | 'resultEvidence' | 'resultDetail' | 'rejects' | 'exportResults'>;

export interface EvidenceDeps {
  store: EvidenceStore;
  /** Configured station ids (a gallery for an unknown one is a 404). */
  stationIds(): string[];
}

const gone = (id: string): ImageAnswer => ({ missing: `result ${id} does not exist (or was removed by retention)`, status: 404 });

export function createEvidence(deps: EvidenceDeps): EvidencePort {
  const { store } = deps;

  const frameMissing = (id: string, state: 'none' | 'pruned'): ImageAnswer => ({
    status: 404,
    missing: state === 'pruned'
      ? `result ${id}: its frame was removed by retention (store.imageRetentionDays or the free-space watermark)`
      : `result ${id}: no frame was kept for it (cameras[].keepImages keeps fail by default; NO_VERDICTs only with all)`,
  });

  return {
    frame: (id) => {
      const jpeg = store.resultImage(id);
      if (jpeg === undefined) return gone(id);
      if (jpeg) return { bytes: jpeg };
      return frameMissing(id, store.resultEvidence(id)?.info.frame === 'pruned' ? 'pruned' : 'none');
    },

    overlay: async (id) => {
      const row = store.getResult(id);
      if (!row) return gone(id);
      const ev = store.resultEvidence(id);
      if (!ev?.frame) return frameMissing(id, ev?.info.frame === 'pruned' ? 'pruned' : 'none');
      if (!ev.map) return { status: 404, missing: `result ${id} has no anomaly map (${row.outcome === 'NO_VERDICT' ? 'a NO_VERDICT was never inspected' : 'removed by retention'}); its frame is at /api/results/${id}/frame.jpg` };
      const region = (ev.region ?? null) as InspectionRegion | null;
      // A region is in the camera frame's pixels: the stored (possibly scaled-down) frame is brought back to that size.
      const size = region ? { width: row.width, height: row.height } : null;
      const decoded = sharp(ev.frame.jpeg).removeAlpha();
      const frame = await (size ? decoded.resize(size.width, size.height, { fit: 'fill' }) : decoded).raw().toBuffer({ resolveWithObject: true });
      const grey = await sharp(ev.map.png).extractChannel(0).raw().toBuffer();
      const map = new Float32Array(grey.length);
      for (let i = 0; i < grey.length; i++) map[i] = grey[i]! / 255;
      // Judged again at the picture's size, so the outlines match it; the map covers the region it was made with, and
      // ignore areas and the minimum area apply as they did live (same score and threshold as stored).
      const judged = judgeFrame(row.score, map, ev.map.size, { width: frame.info.width, height: frame.info.height }, { threshold: row.threshold, ...(region ? { region } : {}) });
      return { bytes: await overlayPng({ data: frame.data, width: frame.info.width, height: frame.info.height }, judged, region ? { region } : {}) };
    },

    detail: (id) => {
      const d = store.resultDetail(id);
      if (!d) return undefined;
      const { productName, thresholdSource, branches, regions, images, ...result } = d;
      const frameUrl = images.frame === 'kept' ? `/api/results/${id}/frame.jpg` : null;
      const detail: ResultDetail = {
        result,
        productName,
        threshold: { value: d.threshold, source: thresholdSource },
        branches,
        defects: {
          count: d.defectCount, areaPx: d.defectAreaPx, areaPct: d.width * d.height ? (100 * d.defectAreaPx) / (d.width * d.height) : 0, bbox: d.bbox,
          regions: regions ? regions.map((r) => ({ ...r, areaPct: d.width * d.height ? (100 * r.areaPx) / (d.width * d.height) : 0 })) : null,
        },
        timings: { capturedAt: d.capturedAt, decidedAt: d.decidedAt, queueMs: d.queueMs, inferenceMs: d.inferenceMs, totalMs: d.totalMs },
        images: {
          frame: { state: images.frame, url: frameUrl, width: images.frameWidth, height: images.frameHeight },
          overlay: { url: frameUrl && images.map === 'kept' ? `/api/results/${id}/overlay.png` : null },
          mask: { url: d.hasMask ? `/api/results/${id}/mask.png` : null },
          map: { state: images.map, size: images.mapSize },
          bytes: images.bytes,
        },
      };
      return detail;
    },

    rejects: (stationId, limit) => {
      if (!deps.stationIds().includes(stationId)) return undefined;
      return store.rejects(stationId, limit).map((r): RejectItem => {
        const row = store.getResult(r.resultId)!;
        return {
          resultId: r.resultId, resultSeq: row.resultSeq, partId: row.partId, decidedAt: r.decidedAt, score: row.score, threshold: row.threshold,
          defectCount: row.defectCount, frameUrl: `/api/results/${r.resultId}/frame.jpg`, detailUrl: `/api/results/${r.resultId}/detail`,
        };
      });
    },

    csv: (filter) => csvLines(store.exportResults(filter)),
  };
}

/** Columns of the History table plus ids, in this order. */
export const CSV_COLUMNS: readonly (readonly [string, (r: ResultExportRow) => string | number | null])[] = [
  ['resultId', (r) => r.resultId], ['stationId', (r) => r.stationId], ['resultSeq', (r) => r.resultSeq], ['cameraId', (r) => r.cameraId],
  ['frameSeq', (r) => r.frameSeq], ['partId', (r) => r.partId], ['triggerSeq', (r) => r.triggerSeq],
  ['decidedAt', (r) => new Date(r.decidedAt).toISOString()], ['capturedAt', (r) => new Date(r.capturedAt).toISOString()],
  ['outcome', (r) => r.outcome], ['reason', (r) => r.reason], ['verdictCode', (r) => r.verdictCode], ['score', (r) => r.score],
  ['threshold', (r) => r.threshold], ['thresholdSource', (r) => r.thresholdSource], ['productId', (r) => r.productId],
  ['productName', (r) => r.productName], ['recipeId', (r) => r.recipeId], ['referenceVersion', (r) => r.referenceVersion],
  ['packId', (r) => r.packId], ['mode', (r) => r.mode], ['shots', (r) => r.shots], ['defectCount', (r) => r.defectCount],
  ['defectAreaPx', (r) => r.defectAreaPx], ['queueMs', (r) => r.queueMs], ['inferenceMs', (r) => r.inferenceMs], ['totalMs', (r) => r.totalMs],
  ['hasMask', (r) => (r.hasMask ? 'yes' : 'no')], ['width', (r) => r.width], ['height', (r) => r.height],
];

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. Text that a spreadsheet would run as
 *  a formula (=, +, -, @ first) gets a leading apostrophe: part ids come from the line, not from us. */
export function csvField(v: string | number | null, text: boolean): string {
  if (v === null) return '';
  let s = String(v);
  if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const TEXT_COLUMNS = new Set(['stationId', 'cameraId', 'partId', 'reason', 'productName', 'packId', 'mode', 'thresholdSource']);

function* csvLines(rows: Iterable<ResultExportRow>): Generator<string> {
  yield `${CSV_COLUMNS.map(([name]) => name).join(',')}\r\n`;
  for (const r of rows) yield `${CSV_COLUMNS.map(([name, get]) => csvField(get(r), TEXT_COLUMNS.has(name))).join(',')}\r\n`;
}
