import test from 'ava';
import { judgeFrame } from '../models/verdict.ts';
import { cropDecoded, cropRgb, fuseScore, pointInPolygon, polygonMask, polygonProblem, regionProblems, segmentsIntersect, type Polygon } from '../models/regions.ts';
import { overlayPng } from '../models/overlay.ts';
import { decodeImage } from '../models/image.ts';
import sharp from 'sharp';

const W = 64, H = 48, S = 16;
/** A few-shot detector's branches: the global part alone (0.9) fails; the fusion hinges on the map maximum. */
const fusion = { mode: 'few-shot' as const, branches: { va: 0.9, ta: 0.9, pq: 0.9 } };
const threshold = 0.6;

/** An S×S map that is 0.1 everywhere except `peak` over the given map cells (x0..x1, y0..y1 inclusive). */
function mapWith(cells: [number, number, number, number] | null, peak = 0.95): Float32Array {
  const m = new Float32Array(S * S).fill(0.1);
  if (cells) for (let y = cells[1]; y <= cells[3]; y++) for (let x = cells[0]; x <= cells[2]; x++) m[y * S + x] = peak;
  return m;
}
const maxOf = (m: Float32Array) => m.reduce((a, b) => Math.max(a, b), 0);
const judge = (map: Float32Array, region = {}, f: typeof zeroShot | typeof fusion = fusion) =>
  judgeFrame(fuseScore(f.mode, f.branches, maxOf(map)), map, S, { width: W, height: H }, { threshold, region, fusion: f });
/** Zero-shot with middling global scores: the map maximum decides (a speck's sub-threshold tail alone does not fail). */
const zeroShot = { mode: 'zero-shot' as const, branches: { va: 0.5, ta: 0.5 } };

// Map cells 10..12 × 4..6 cover frame pixels about x 40..52, y 12..21.
const defect: [number, number, number, number] = [10, 4, 12, 6];
const around: Polygon = [[36, 8], [58, 8], [58, 26], [36, 26]];

test('a defect only inside an ignore area passes; the same defect outside it fails', (t) => {
  const outside = judge(mapWith(defect));
  t.is(outside.verdict, 'fail');
  t.true(outside.defects.count >= 1);
  const ignored = judge(mapWith(defect), { ignore: [around] });
  t.is(ignored.verdict, 'pass', `score ${ignored.score}`);
  t.is(ignored.defects.count, 0);
  t.is(ignored.mask.reduce((a, b) => a + b, 0), 0);
  // An ignore area elsewhere changes nothing about it.
  const elsewhere = judge(mapWith(defect), { ignore: [[[0, 0], [10, 0], [10, 10]]] });
  t.is(elsewhere.verdict, 'fail');
  t.deepEqual(elsewhere.defects.boxes, outside.defects.boxes);
});

test('a defect smaller than the minimum area passes; at or above it, it fails', (t) => {
  const one = judge(mapWith([3, 3, 3, 3]), {}, zeroShot);
  t.is(one.verdict, 'fail', `score ${one.score}`);
  const area = one.defects.areaPx;
  t.true(area > 1);
  const small = judge(mapWith([3, 3, 3, 3]), { minAreaPx: area + 1 }, zeroShot);
  t.is(small.verdict, 'pass', `score ${small.score}`);
  t.is(small.defects.count, 0);
  t.true(small.score < one.score);
  t.is(judge(mapWith([3, 3, 3, 3]), { minAreaPx: area }, zeroShot).verdict, 'fail');
});

test('with a region the map covers only it: boxes come back in frame coordinates, nothing outside is a defect', (t) => {
  const roi = { x: 16, y: 8, width: 32, height: 32 };
  // The whole map hot: every defect pixel lies in the region.
  const hot = new Float32Array(S * S).fill(0.95);
  const v = judgeFrame(0.95, hot, S, { width: W, height: H }, { threshold, region: { roi } });
  t.deepEqual(v.defects.boxes, [[16, 8, 32, 32]]);
  t.is(v.frameMap.length, W * H);
  t.is(v.frameMap[0], 0);
  t.is(v.mask[8 * W + 16], 255);
  t.is(v.mask[8 * W + 15], 0);
  t.throws(() => judgeFrame(0.95, hot, S, { width: W, height: H }, { threshold, region: { roi: { x: 40, y: 0, width: 32, height: 8 } } }), { message: /outside the 64×48 frame/ });
});

test('a region crop is byte-exact the sub-image, for RGB and for a mode with its own samples', async (t) => {
  const rgb = Buffer.alloc(W * H * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7) % 251;
  const r = { x: 5, y: 3, width: 20, height: 10 };
  const crop = cropRgb({ data: rgb, width: W, height: H }, r);
  const expected = await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).extract({ left: 5, top: 3, width: 20, height: 10 }).raw().toBuffer();
  t.true(crop.data.equals(expected));
  const rgba = await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).ensureAlpha(0.5).png().toBuffer();
  const decoded = await decodeImage(rgba);
  t.is(decoded.mode, 'RGBA');
  const c = cropDecoded(decoded, r);
  const expectedRgba = await sharp(rgba).extract({ left: 5, top: 3, width: 20, height: 10 }).raw().toBuffer();
  t.true(Buffer.from((c.samples as { data: Uint8Array }).data).equals(expectedRgba));
  t.true(c.data.equals(expected));
  t.throws(() => cropRgb({ data: rgb, width: W, height: H }, { x: 60, y: 0, width: 10, height: 5 }), { message: /outside the 64×48 frame/ });
});

test('polygons: point in polygon, self-intersection, too few points, empty', (t) => {
  const square: Polygon = [[0, 0], [10, 0], [10, 10], [0, 10]];
  t.true(pointInPolygon(5, 5, square));
  t.false(pointInPolygon(11, 5, square));
  t.true(pointInPolygon(10, 5, square), 'on an edge counts as inside');
  const concave: Polygon = [[0, 0], [10, 0], [10, 10], [5, 3], [0, 10]];
  t.false(pointInPolygon(5, 8, concave));
  t.true(pointInPolygon(2, 2, concave));
  t.is(polygonProblem(square, 64, 48), null);
  t.is(polygonProblem(concave, 64, 48), null);
  t.regex(polygonProblem([[0, 0], [10, 10], [10, 0], [0, 10]], 64, 48)!, /intersects itself/);
  t.regex(polygonProblem([[0, 0], [10, 0]], 64, 48)!, /2 points; a polygon needs at least 3/);
  t.regex(polygonProblem([[0, 0], [5, 5], [10, 10]], 64, 48)!, /empty/);
  t.regex(polygonProblem([[0, 0], [70, 0], [0, 10]], 64, 48)!, /outside the 64×48 frame/);
  t.regex(polygonProblem([[0, 0], [1.5, 0], [0, 10]], 64, 48)!, /whole pixels/);
  t.true(segmentsIntersect([0, 0], [10, 10], [0, 10], [10, 0]));
  t.true(segmentsIntersect([0, 0], [10, 0], [5, 0], [15, 0]), 'collinear overlap');
  t.false(segmentsIntersect([0, 0], [10, 0], [0, 1], [10, 1]));
  t.deepEqual(regionProblems({ roi: { x: 0, y: 0, width: 65, height: 10 }, minAreaPx: -1 }, 64, 48), [
    'roi: x 0..65, y 0..10 is outside the 64×48 frame',
    'minAreaPx: -1 is not a whole number ≥ 0',
  ]);
});

test('the overlay dims ignore areas and outside the region, and outlines the region; without a region it is unchanged', async (t) => {
  const frame = { data: Buffer.alloc(W * H * 3, 200), width: W, height: H };
  const v = judge(mapWith(null));
  const plain = await sharp(await overlayPng(frame, v, { legend: false })).raw().toBuffer();
  const marked = await sharp(await overlayPng(frame, v, { legend: false, region: { roi: { x: 8, y: 8, width: 40, height: 30 }, ignore: [[[20, 15], [30, 15], [30, 25]]] } })).raw().toBuffer();
  const px = (b: Buffer, x: number, y: number) => [...b.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
  t.deepEqual(px(plain, 1, 2), [200, 200, 200]);
  t.deepEqual(px(marked, 1, 2), [90, 90, 90], 'outside the region: dimmed');
  t.deepEqual(px(marked, 8, 20), [255, 214, 0], 'region outline');
  t.deepEqual(px(marked, 29, 17), [90, 90, 90], 'ignore area: dimmed');
  t.deepEqual(px(marked, 15, 20), [200, 200, 200], 'inspected: as it was');
});

test('the ignore mask is the point-in-polygon test at every pixel centre', (t) => {
  const polys: Polygon[] = [[[3, 2], [40, 5], [25, 30], [30, 12], [5, 25]], [[50, 40], [63, 47], [44, 47]]];
  const mask = polygonMask(polys, W, H);
  let differ = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const inside = polys.some((p) => pointInPolygon(x + 0.5, y + 0.5, p));
    if (inside !== Boolean(mask[y * W + x])) differ++;
  }
  t.is(differ, 0);
});
