import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { legendSvg, OVERLAY_RAMP_START, outlineWidth } from '../models/overlay.ts';
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

// ---- the heat-map overlay ----

/** A textured grey test frame: stripes and a gradient, so "unchanged" means every byte of the frame. */
function texturedFrame(width: number, height: number) {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const x = i % width, y = Math.floor(i / width);
    data[i * 3] = (x * 7 + y) % 256;
    data[i * 3 + 1] = x % 24 < 12 ? 40 : 200;
    data[i * 3 + 2] = (y * 3) % 256;
  }
  return { data, width, height };
}

const rgbAt = (d: Buffer, width: number, x: number, y: number) => [...d.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];
const decode = async (png: Buffer) => sharp(png).raw().toBuffer({ resolveWithObject: true });
/** The Chebyshev distance of (x, y) to the nearest pixel of the box [x0, x1) × [y0, y1). */
const distToBox = (x: number, y: number, x0: number, y0: number, x1: number, y1: number) => Math.max(x0 - x, x - (x1 - 1), y0 - y, y - (y1 - 1), 0);

test('overlay: pixels far below the threshold are the frame\'s own; a region above it is coloured, hotter is brighter', async (t) => {
  const W = 320, H = 240, threshold = 0.5;
  const frame = texturedFrame(W, H);
  // The map at frame resolution: 0.1 everywhere, a hot box 0.6…0.95 (left to right).
  const frameMap = new Float32Array(W * H).fill(0.1);
  const box = { x0: 180, y0: 40, x1: 260, y1: 100 };
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) frameMap[y * W + x] = 0.6 + (0.35 * (x - box.x0)) / (box.x1 - box.x0 - 1);
  const mask = Uint8Array.from(frameMap, (v) => (v >= threshold ? 255 : 0));
  const { data, info } = await decode(await overlayPng(frame, { frameMap, width: W, height: H, threshold, mask }));
  t.deepEqual([info.width, info.height, info.channels], [W, H, 3], 'frame resolution');
  const legend = legendSvg(threshold, W, H);
  const ring = outlineWidth(W, H);
  let unchanged = 0, compared = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inLegend = x >= legend.left && x < legend.left + legend.width && y >= legend.top && y < legend.top + legend.height;
      if (inLegend || distToBox(x, y, box.x0, box.y0, box.x1, box.y1) <= ring) continue;
      compared++;
      if (rgbAt(data, W, x, y).every((v, k) => v === frame.data[(y * W + x) * 3 + k])) unchanged++;
    }
  }
  t.true(compared > W * H * 0.8);
  t.is(unchanged, compared, 'every pixel below 0.8 × threshold away from outline and legend is byte-identical to the frame');
  // Inside the region every pixel is coloured, and the colour brightens with the map value (inferno is monotone in lightness).
  const lum = ([r, g, b]: number[]) => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  const row = 70;
  let coloured = 0;
  for (let x = box.x0; x < box.x1; x++) if (rgbAt(data, W, x, row).some((v, k) => Math.abs(v - frame.data[(row * W + x) * 3 + k]!) > 8)) coloured++;
  t.true(coloured >= (box.x1 - box.x0) * 0.95, `${coloured} of ${box.x1 - box.x0} region pixels coloured`);
  // Same frame under a flat grey patch to compare colours without the texture: hotter → lighter.
  const flat = { data: Buffer.alloc(W * H * 3, 128), width: W, height: H };
  const plain = (await decode(await overlayPng(flat, { frameMap, width: W, height: H, threshold, mask }))).data;
  t.true(lum(rgbAt(plain, W, box.x1 - 3, row)) > lum(rgbAt(plain, W, box.x0 + 2, row)) + 40, 'the hottest pixels are the lightest');
});

test('overlay: the alpha ramp starts at 0.8 × threshold, reaches full colour at the threshold', async (t) => {
  const W = 200, H = 120, threshold = 0.6;
  const frame = { data: Buffer.alloc(W * H * 3, 100), width: W, height: H };
  // Columns 0…199 hold values from 0.4 to 0.7: below the ramp, inside it, above the threshold.
  const frameMap = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) frameMap[y * W + x] = 0.4 + (0.3 * x) / (W - 1);
  const none = new Uint8Array(W * H);
  const { data } = await decode(await overlayPng(frame, { frameMap, width: W, height: H, threshold, mask: none }, { legend: false }));
  const change = (x: number) => rgbAt(data, W, x, 10).reduce((s, v) => s + Math.abs(v - 100), 0);
  const columnOf = (v: number) => Math.round(((v - 0.4) / 0.3) * (W - 1));
  t.is(change(columnOf(OVERLAY_RAMP_START * threshold) - 2), 0, 'below 0.8 × threshold: the frame');
  const mid = change(columnOf(0.9 * threshold));
  const at = change(columnOf(threshold) + 1);
  t.true(mid > 0 && mid < at, `half-way up the ramp (${mid}) less than at the threshold (${at})`);
});

test('overlay: defect regions are outlined just outside their boundary, not inside; the mask defaults to map ≥ threshold', async (t) => {
  const W = 240, H = 160, threshold = 0.5;
  const frame = texturedFrame(W, H);
  const frameMap = new Float32Array(W * H).fill(0.05);
  const box = { x0: 60, y0: 30, x1: 110, y1: 70 };
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) frameMap[y * W + x] = 0.9;
  const ring = outlineWidth(W, H);
  t.is(ring, 2);
  // No mask given: it is map ≥ threshold, the same box.
  const { data } = await decode(await overlayPng(frame, { frameMap, width: W, height: H, threshold }));
  const BRIGHT = [0, 229, 255], DARK = [0, 0, 0];
  let bright = 0, dark = 0, ringPixels = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const d = distToBox(x, y, box.x0, box.y0, box.x1, box.y1);
      const px = rgbAt(data, W, x, y);
      if (d === 1) { ringPixels++; if (px.join() === BRIGHT.join()) bright++; }
      if (d === 2 && px.join() === DARK.join()) dark++;
      if (d === 0) t.not(px.join(), BRIGHT.join(), `inside pixel ${x},${y} is not outline`);
    }
  }
  t.is(bright, ringPixels, 'every pixel next to the boundary is the bright outline');
  t.true(dark >= ringPixels, 'the outermost ring is dark, so the outline reads on light parts too');
  t.notDeepEqual(rgbAt(data, W, box.x0 - 3, box.y0 + 5), DARK, 'nothing beyond the ring');
  // A mask from judgeFrame (two regions): every outline pixel sits within the ring of a region and outside the mask.
  const map = new Float32Array(16 * 16).fill(0.05);
  for (const [cx, cy] of [[3, 3], [11, 10]] as const) for (let y = cy - 1; y <= cy + 1; y++) for (let x = cx - 1; x <= cx + 1; x++) map[y * 16 + x] = 0.95;
  const v = judgeFrame(0.9, map, 16, { width: W, height: H }, { threshold });
  t.is(v.defects.count, 2);
  const judged = (await decode(await overlayPng(frame, v))).data;
  const legend = legendSvg(threshold, W, H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (rgbAt(judged, W, x, y).join() !== BRIGHT.join() || (y >= legend.top && x < legend.left + legend.width)) continue;
      t.is(v.mask[y * W + x], 0, `outline pixel ${x},${y} outside the region`);
      let near = false;
      for (let dy = -1; dy <= 1 && !near; dy++) for (let dx = -1; dx <= 1 && !near; dx++) near = v.mask[(y + dy) * W + x + dx] === 255;
      t.true(near, `outline pixel ${x},${y} touches the region`);
    }
  }
});

test('overlay: a legend with the threshold tick sits inside the picture and follows the threshold', async (t) => {
  const W = 320, H = 240;
  const frame = { data: Buffer.alloc(W * H * 3, 200), width: W, height: H };
  const frameMap = new Float32Array(W * H).fill(0);
  const render = async (threshold: number) => (await decode(await overlayPng(frame, { frameMap, width: W, height: H, threshold, mask: new Uint8Array(W * H) }))).data;
  for (const threshold of [0.3, 0.75]) {
    const data = await render(threshold);
    const legend = legendSvg(threshold, W, H);
    t.true(legend.top + legend.height <= H && legend.left + legend.width <= W, 'inside the frame');
    // The panel is dark over the light frame; the tick is a white column at x = threshold along the bar.
    const panel = rgbAt(data, W, legend.left + 2, legend.top + legend.height - 3);
    t.true(panel.every((c) => c < 120), `panel ${panel}`);
    const barRow = legend.top + 8;
    const white = [-1, 0, 1].filter((dx) => rgbAt(data, W, legend.tickX + dx, barRow).every((c) => c > 230));
    t.true(white.length >= 1, `white tick at ${legend.tickX}`);
    t.false(rgbAt(data, W, legend.tickX + 6, barRow).every((c) => c > 230), 'only there');
    // Text: light pixels in the label row (the threshold printed under the bar).
    let light = 0;
    for (let y = legend.top + 17; y < legend.top + legend.height - 2; y++) for (let x = legend.left + 20; x < legend.left + legend.width - 20; x++) if (rgbAt(data, W, x, y).every((c) => c > 200)) light++;
    t.true(light > 30, `label drawn (${light} light pixels)`);
    t.regex(legend.svg, new RegExp(`threshold ${threshold.toFixed(3)}`));
  }
  const low = await render(0.3), high = await render(0.75);
  t.false(low.equals(high), 'another threshold, another legend');
  // Outside the legend the all-zero map leaves the frame as it is.
  const legend = legendSvg(0.3, W, H);
  t.true(low.subarray(0, legend.top * W * 3).equals(frame.data.subarray(0, legend.top * W * 3)));
  // Frames too small to read a legend on get none (and still an overlay).
  const tiny = { data: Buffer.alloc(40 * 30 * 3, 200), width: 40, height: 30 };
  const small = (await decode(await overlayPng(tiny, { frameMap: new Float32Array(40 * 30), width: 40, height: 30, threshold: 0.5 }))).data;
  t.true(small.equals(tiny.data));
});

test('overlay of a synthetic part saved for people to look at (test-artifacts/overlay-example.png)', async (t) => {
  const W = 512, H = 384;
  // A grey machined plate with a darker bore, lit from the left.
  const frame = { data: Buffer.alloc(W * H * 3), width: W, height: H };
  for (let i = 0; i < W * H; i++) {
    const x = i % W, y = Math.floor(i / W);
    const bore = (x - 150) ** 2 + (y - 200) ** 2 < 60 ** 2;
    frame.data.fill(bore ? 50 : Math.round(150 + (60 * x) / W + 6 * Math.sin(y / 3)), i * 3, i * 3 + 3);
  }
  const map = new Float32Array(64 * 64);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) map[y * 64 + x] = 0.25 + 0.6 * Math.exp(-((x - 40) ** 2 + (y - 22) ** 2) / 30) + 0.1 * Math.sin(x / 5);
  const v = judgeFrame(0.8, map, 64, { width: W, height: H }, { threshold: 0.62 });
  const png = await overlayPng(frame, v);
  mkdirSync('test-artifacts', { recursive: true });
  writeFileSync('test-artifacts/overlay-example.png', png);
  t.is((await sharp(png).metadata()).width, W);
});
