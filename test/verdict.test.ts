import test from 'ava';
import sharp from 'sharp';
import { calibrateThreshold, connectedRegions, judgeFrame, maskPng, overlayPng, resizeMap, CALIBRATION_MIN_MARGIN } from '../models/verdict.ts';
import { python } from './fixtures/runtime/images.ts';

test('resizeMap matches torch interpolate(bilinear, align_corners=False), up and down', (t) => {
  const map = Float32Array.from({ length: 6 * 6 }, (_, i) => Math.sin(i * 0.7) * 0.5 + 0.5);
  const sizes: [number, number][] = [[13, 9], [4, 3], [6, 6]];
  const ref = JSON.parse(
    python(
      `import sys, json, torch
m = torch.tensor(json.loads(sys.argv[1]), dtype=torch.float32).reshape(1, 1, 6, 6)
out = [torch.nn.functional.interpolate(m, size=(h, w), mode='bilinear', align_corners=False).flatten().tolist() for w, h in json.loads(sys.argv[2])]
print(json.dumps(out))`,
      [JSON.stringify([...map]), JSON.stringify(sizes)],
    ),
  ) as number[][];
  sizes.forEach(([w, h], k) => {
    const ours = resizeMap(map, 6, 6, w, h);
    t.is(ours.length, w * h);
    const maxDiff = Math.max(...ref[k]!.map((v, i) => Math.abs(v - ours[i]!)));
    t.true(maxDiff < 1e-6, `${w}×${h}: ${maxDiff}`);
  });
});

test('connected regions are 8-connected, with areas and boxes', (t) => {
  // Two diagonal pixels touch (8-connectivity); a separate 2×3 block; a single pixel at the corner.
  const w = 8, h = 6;
  const mask = new Uint8Array(w * h);
  const on = (x: number, y: number) => { mask[y * w + x] = 255; };
  on(0, 0); on(1, 1);
  for (let y = 2; y < 5; y++) for (let x = 4; x < 6; x++) on(x, y);
  on(7, 5);
  const { regions, labels } = connectedRegions(mask, w, h);
  t.deepEqual(regions.map((r) => [r.areaPx, r.box]), [[2, [0, 0, 2, 2]], [6, [4, 2, 2, 3]], [1, [7, 5, 1, 1]]]);
  t.is(labels[1 * w + 1], 1);
  t.is(labels[5 * w + 7], 3);
});

test('judgeFrame: map at frame resolution, verdict by score, defects from the mask', (t) => {
  // 4×4 map with a hot 2×2 corner, judged on an 8×6 frame.
  const map = new Float32Array(16).fill(0.1);
  map[10] = map[11] = map[14] = map[15] = 0.9;
  const v = judgeFrame(0.7, map, 4, { width: 8, height: 6 }, { threshold: 0.5 });
  t.is(v.verdict, 'fail');
  t.is(v.mask.length, 48);
  t.is(v.defects.count, 1);
  const [x, y, bw, bh] = v.defects.bbox;
  t.true(x >= 3 && x <= 4 && y >= 2 && y <= 3 && x + bw === 8 && y + bh === 6, JSON.stringify(v.defects.bbox));
  t.is(v.defects.areaPx, v.mask.reduce((s, m) => s + (m ? 1 : 0), 0));
  t.is(v.defects.areaPct, (100 * v.defects.areaPx) / 48);
  const pass = judgeFrame(0.2, new Float32Array(16).fill(0.1), 4, { width: 8, height: 6 }, { threshold: 0.5 });
  t.is(pass.verdict, 'pass');
  t.deepEqual(pass.defects, { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0], boxes: [], regions: [] });
  t.is(judgeFrame(0.5, map, 4, { width: 4, height: 4 }, { threshold: 0.5 }).verdict, 'fail', 'score at the threshold fails');
});

test('minRegionPx drops specks from both the defects and the mask', (t) => {
  const map = new Float32Array(10 * 10).fill(0);
  map[0] = 1; // a 1-pixel speck
  for (let y = 5; y < 8; y++) for (let x = 5; x < 8; x++) map[y * 10 + x] = 1;
  const v = judgeFrame(1, map, 10, { width: 10, height: 10 }, { threshold: 0.5, minRegionPx: 2 });
  t.is(v.defects.count, 1);
  t.is(v.defects.areaPx, 9);
  t.is(v.mask[0], 0);
  t.is(v.mask.reduce((s, m) => s + (m ? 1 : 0), 0), 9);
});

test('mask PNG is 8-bit grey 0/255 at frame resolution; overlay is RGB at frame resolution', async (t) => {
  const map = new Float32Array(16).fill(0);
  map[5] = 1;
  const v = judgeFrame(0.9, map, 4, { width: 12, height: 12 }, { threshold: 0.5 });
  const png = await maskPng(v);
  const meta = await sharp(png).metadata();
  t.deepEqual([meta.width, meta.height, meta.channels, meta.depth], [12, 12, 1, 'uchar']);
  const { data } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([...new Set(data)].sort(), [0, 255]);
  t.true(Buffer.from(v.mask).equals(data));
  const frame = { data: Buffer.alloc(12 * 12 * 3, 128), width: 12, height: 12 };
  const overlay = await sharp(await overlayPng(frame, v)).raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([overlay.info.width, overlay.info.height, overlay.info.channels], [12, 12, 3]);
  t.notDeepEqual(overlay.data.subarray(0, 3), overlay.data.subarray(5 * 36 + 15, 5 * 36 + 18), 'hot pixel coloured differently');
});

test('calibrateThreshold: override wins, K ≥ 2 uses leave-one-out scores plus margin, else pack default', (t) => {
  t.deepEqual(calibrateThreshold([0.2, 0.3], 0.5, 0.42), { threshold: 0.42, source: 'override' });
  t.deepEqual(calibrateThreshold([0.2], 0.5), { threshold: 0.5, source: 'pack-default' });
  t.deepEqual(calibrateThreshold([], 0.5), { threshold: 0.5, source: 'pack-default' });
  const close = calibrateThreshold([0.30, 0.31], 0.5);
  t.is(close.source, 'shots');
  t.true(Math.abs(close.threshold - (0.31 + CALIBRATION_MIN_MARGIN)) < 1e-12);
  const spread = calibrateThreshold([0.1, 0.3, 0.5], 0.5); // std 0.163 → margin 2σ
  const std = Math.sqrt(((0.2 ** 2) * 2) / 3);
  t.true(Math.abs(spread.threshold - (0.5 + 2 * std)) < 1e-12);
  t.is(calibrateThreshold([0.97, 0.98], 0.5).threshold, 0.99, 'capped so a part can still fail');
  t.throws(() => calibrateThreshold([0.1, 0.2], 0.5, 1.5), { message: /outside 0\.\.1/ });
});
