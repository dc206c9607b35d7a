// End to end in Debian's Chromium: on a product card, freeze a camera frame, drag the inspection region, click an
// ignore area (double-click closes it), set a minimum area and save; the saved region is what the API returns, and
// the live verdicts judged with it have no defect inside the ignore area and none outside the region.
// Screenshots at 1366×768 go to test-artifacts/e2e-region/.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { enterToken, launchChromium } from './helpers/browser.ts';
import sharp from 'sharp';
import { startHarness, waitFor } from './helpers/harness.ts';
import { pointInPolygon } from '../models/regions.ts';

const ARTIFACTS = 'test-artifacts/e2e-region';
const W = 320;
const H = 240;

interface RegionView { referenceSet: number; region: { roi: { x: number; y: number; width: number; height: number } | null; ignore: [number, number][][]; minAreaPx: number | null } | null }

test('draw a region and an ignore area on a frozen frame, save, and live verdicts use them', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const h = await startHarness({ cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 3, width: W, height: H, seed: 11, defectRate: 0 } }] });
  t.teardown(() => h.stop());
  await waitFor(() => h.daemon.stations.get('ST1')!.latestFrame, 10_000, 'a first frame');
  // Threshold 0: every inspected pixel is a defect pixel, so the mask shows exactly what the region lets through.
  const pid = (await h.api<{ id: number }>('POST', '/api/products', { name: 'E2E-Region', threshold: 0 })).body.id;
  for (let i = 0; i < 2; i++) t.is((await h.api('POST', `/api/products/${pid}/shots/capture`, { station: 'ST1' })).status, 201);

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${h.url}/#/products`);
  await enterToken(page);
  const card = page.locator('.card.product', { hasText: 'E2E-Region' });
  const editor = card.locator('details.region-editor');
  await editor.locator('summary').click();
  await editor.locator('[data-region-act=freeze]').click();
  const canvas = editor.locator('canvas');
  await page.waitForFunction(() => { const c = document.querySelector<HTMLCanvasElement>('.region-editor canvas'); return !!c && !c.hidden && c.width === 320; });
  await canvas.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${ARTIFACTS}/1-frozen-frame.png` });

  // Frame pixels → page coordinates of the scaled canvas.
  const box = (await canvas.boundingBox())!;
  const px = (x: number, y: number): [number, number] => [box.x + (x * box.width) / W, box.y + (y * box.height) / H];
  await page.mouse.move(...px(40, 30));
  await page.mouse.down();
  await page.mouse.move(...px(200, 120), { steps: 4 });
  await page.mouse.move(...px(280, 210), { steps: 4 });
  await page.mouse.up();
  await editor.locator('[data-region-act=poly]').click();
  for (const [x, y] of [[120, 60], [180, 60], [180, 180]] as const) await page.mouse.click(...px(x, y));
  await page.mouse.dblclick(...px(120, 180));
  await editor.locator('input[name=minArea]').fill('5');
  await page.screenshot({ path: `${ARTIFACTS}/2-region-drawn.png` });
  await editor.locator('[data-region-act=save]').click();
  await page.locator('#toast', { hasText: /region saved/ }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/3-region-saved.png` });

  const saved = (await h.api<RegionView>('GET', `/api/products/${pid}/region`)).body;
  const roi = saved.region!.roi!;
  // Pixels from the pointer: within a pixel or two of what was drawn (the canvas is scaled by CSS).
  t.true(Math.abs(roi.x - 40) <= 2 && Math.abs(roi.y - 30) <= 2 && Math.abs(roi.x + roi.width - 280) <= 2 && Math.abs(roi.y + roi.height - 210) <= 2, JSON.stringify(roi));
  t.is(saved.region!.ignore.length, 1);
  const poly = saved.region!.ignore[0]!;
  t.is(poly.length, 4, JSON.stringify(poly));
  t.is(saved.region!.minAreaPx, 5);
  t.deepEqual(h.daemon.store.currentReferenceSet(pid)!.region, saved.region);

  // Activate and wait for a live verdict judged with the region.
  await h.api('POST', '/api/stations/ST1/activate', { productId: pid, acknowledgeFlaggedShots: true });
  const version = h.daemon.changeover.current('ST1').version;
  const row = await waitFor(() => h.daemon.store.queryResults({ stationId: 'ST1', limit: 5 }).find((r) => r.referenceVersion >= version && r.outcome === 'FAIL'), 15_000, 'a verdict with the region');
  const detail = h.daemon.store.resultDetail(row.resultId)!;
  for (const { box: [x, y, w, hh] } of detail.regions ?? []) {
    t.true(x >= roi.x && y >= roi.y && x + w <= roi.x + roi.width && y + hh <= roi.y + roi.height, 'each defect inside the region');
  }
  const { data, info } = await sharp(h.daemon.store.resultMask(row.resultId)!).raw().toBuffer({ resolveWithObject: true });
  let inIgnore = 0, outside = 0, inspected = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const on = data[(y * info.width + x) * info.channels]! > 0;
    const inRoi = x >= roi.x && x < roi.x + roi.width && y >= roi.y && y < roi.y + roi.height;
    if (!on) continue;
    if (!inRoi) outside++;
    else if (pointInPolygon(x + 0.5, y + 0.5, poly)) inIgnore++;
    else inspected++;
  }
  t.is(inIgnore, 0, 'no defect pixel inside the ignore area');
  t.is(outside, 0, 'no defect pixel outside the region');
  t.true(inspected > 0);
  // The Live page shows the verdict; its overlay is the frame with the heat map.
  await page.goto(`${h.url}/#/live`);
  await page.waitForTimeout(800);
  await page.screenshot({ path: `${ARTIFACTS}/4-live-verdict.png` });
  t.deepEqual(errors, []);
});
