// The overview page in Debian's Chromium at the line's screen sizes (1920×1080 from two metres, 1366×768, an 800×600
// panel): every station's verdict badge inside the viewport without scrolling, touch targets of at least 44 px, large
// type, and "New shift" with its confirmation setting the counts to 0. Screenshots to test-artifacts/e2e-overview/.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { type Page } from 'playwright-core';
import { enterToken, launchChromium } from './helpers/browser.ts';
import { startHarness, waitFor } from './helpers/harness.ts';

const ARTIFACTS = 'test-artifacts/e2e-overview';
// 1024×600: a 10" touch panel.
const VIEWPORTS = [{ width: 1920, height: 1080 }, { width: 1366, height: 768 }, { width: 1024, height: 600 }, { width: 800, height: 600 }];

/** Boxes of the verdict badges and the overview's buttons, and whether the page scrolls. */
// A string, not a function: the test runner's transform would name inner helpers with a __name the page lacks.
type Box = { x: number; y: number; w: number; h: number };
type Layout = { badges: (Box & { station: string; text: string; fontPx: number; fits: boolean })[]; buttons: (Box & { text: string })[]; bodyFontPx: number; scrollX: boolean; vw: number; vh: number };
const layout = (page: Page): Promise<Layout> => page.evaluate(`(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; };
  return {
    badges: [...document.querySelectorAll('.ov-tile')].map((t) => ({ station: t.dataset.station, text: t.querySelector('[data-verdict]').textContent, fontPx: parseFloat(getComputedStyle(t.querySelector('[data-verdict]')).fontSize), fits: t.querySelector('[data-verdict]').scrollWidth <= t.querySelector('[data-verdict]').clientWidth, ...box(t.querySelector('[data-verdict]')) })),
    buttons: [...document.querySelectorAll('#page button, .ov-dialog button')].map((b) => ({ text: b.textContent, ...box(b) })),
    bodyFontPx: parseFloat(getComputedStyle(document.querySelector('.ov-counts dd')).fontSize),
    scrollX: document.scrollingElement.scrollWidth > innerWidth,
    vw: innerWidth, vh: innerHeight,
  };
})()`);

test('overview: verdicts visible without scrolling at 1920×1080, 1366×768, 1024×600 and 800×600; 44 px targets; New shift resets the counts', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const h = await startHarness({
    cameras: [
      { station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 320, height: 240, seed: 21, defectRate: 0.5 }, keepImages: 'all' },
      { station: 'ST2', source: { type: 'synthetic', id: 'cam2', fps: 2, width: 320, height: 240, seed: 22, defectRate: 0.5 }, keepImages: 'all' },
    ],
  });
  t.teardown(() => h.stop());
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: VIEWPORTS[0] });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // The overview is the page an empty hash opens. ST1 has seen no part yet: NO VERDICT, and why.
  await page.goto(`${h.url}/`);
  await page.locator('.ov-tile[data-station=ST1] .ov-why', { hasText: 'no part inspected yet' }).waitFor({ timeout: 10_000 });
  t.is(await page.locator('.ov-tile[data-station=ST1] [data-verdict]').textContent(), 'NO VERDICT');
  const api = (await h.api<{ stations: { id: string; verdict: { show: string; why: string; cause: string | null } }[] }>('GET', '/api/overview')).body;
  t.deepEqual(api.stations.find((s) => s.id === 'ST1')!.verdict, { show: 'NO VERDICT', why: 'no part inspected yet', cause: 'no_part' }, 'the API names the cause the UI words');
  // The longest words on the smallest screen.
  await page.setViewportSize({ width: 800, height: 600 });
  const small = await layout(page);
  const nv = small.badges.find((b) => b.station === 'ST1')!;
  t.true(nv.fits && nv.y + nv.h <= small.vh, `800x600: NO VERDICT fits and is on screen: ${JSON.stringify(nv)}`);
  await page.screenshot({ path: `${ARTIFACTS}/no-verdict-800x600.png` });
  await page.setViewportSize(VIEWPORTS[0]!);
  await page.locator('.ov-tile[data-station=ST2][data-verdict=OK], .ov-tile[data-station=ST2][data-verdict=NG]').waitFor({ timeout: 10_000 });
  for (let i = 0; i < 3; i++) t.is((await h.api('POST', '/api/stations/ST1/trigger', { partId: `E2E-${i}` })).status, 200);
  await page.locator('.ov-tile[data-station=ST1] [data-count=ok]').waitFor();
  await page.waitForFunction(() => ['ok', 'ng', 'notInspected'].reduce((a, k) => a + Number(document.querySelector(`.ov-tile[data-station=ST1] [data-count=${k}]`)?.textContent), 0) === 3, undefined, { timeout: 10_000 });
  await page.locator('.ov-tile[data-station=ST1] .ov-image').evaluate((img: HTMLImageElement) => img.complete || new Promise((r) => (img.onload = r)));

  for (const vp of VIEWPORTS) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(300);
    const l = await layout(page);
    const name = `${vp.width}x${vp.height}`;
    t.is(l.badges.length, 2, name);
    for (const b of l.badges) {
      t.true(b.x >= 0 && b.y >= 0 && b.x + b.w <= l.vw && b.y + b.h <= l.vh, `${name}: the ${b.station} badge (${b.text}) is inside the viewport: ${JSON.stringify(b)}`);
      t.true(b.fontPx >= 40, `${name}: ${b.station} badge type ${b.fontPx} px`);
      t.true(b.fits, `${name}: ${b.station} "${b.text}" fits its badge`);
    }
    t.false(l.scrollX, `${name}: no sideways scrolling`);
    t.true(l.buttons.length >= 2, name);
    for (const b of l.buttons) t.true(b.w >= 44 && b.h >= 44, `${name}: button "${b.text}" is ${b.w}×${b.h} px`);
    t.true(l.bodyFontPx >= 22, `${name}: counts ${l.bodyFontPx} px`);
    t.log(`${name}: badge ${l.badges.map((b) => `${b.fontPx}px at y ${Math.round(b.y)}–${Math.round(b.y + b.h)}`).join(', ')}; counts ${l.bodyFontPx}px; buttons ≥ ${Math.min(...l.buttons.map((b) => Math.min(b.w, b.h)))}px`);
    await page.screenshot({ path: `${ARTIFACTS}/overview-${name}.png` });
  }

  // New shift on ST1 at 1366×768: the confirmation first (Cancel changes nothing), then the counts are 0.
  await page.setViewportSize({ width: 1366, height: 768 });
  await enterToken(page);
  const before = (await h.api<{ stations: { id: string; shift: { startedAt: number; total: number } }[] }>('GET', '/api/overview')).body.stations.find((s) => s.id === 'ST1')!.shift;
  t.is(before.total, 3);
  await page.click('.ov-tile[data-station=ST1] .ov-reset');
  await page.locator('.ov-dialog', { hasText: 'Start a new shift on ST1?' }).waitFor();
  const dialog = await layout(page);
  for (const b of dialog.buttons.filter((x) => /Cancel|New shift$/.test(x.text ?? ''))) t.true(b.w >= 44 && b.h >= 44, `dialog button "${b.text}" ${b.w}×${b.h}`);
  await page.screenshot({ path: `${ARTIFACTS}/reset-confirm-1366x768.png` });
  await page.click('.ov-dialog [data-dialog=cancel]');
  await page.waitForTimeout(300);
  t.is(h.daemon.store.currentShift('ST1').startedAt, before.startedAt, 'Cancel: no new shift');
  await page.click('.ov-tile[data-station=ST1] .ov-reset');
  await page.click('.ov-dialog [data-dialog=ok]');
  await page.locator('#toast', { hasText: 'New shift on ST1' }).waitFor();
  await page.waitForFunction(() => ['ok', 'ng', 'notInspected'].every((k) => document.querySelector(`.ov-tile[data-station=ST1] [data-count=${k}]`)?.textContent === '0'));
  t.is(await page.locator('.ov-tile[data-station=ST1] [data-count=yield]').textContent(), '–');
  const after = await waitFor(() => h.daemon.store.auditLog(20).find((a) => a.action === 'shift.reset'), 2000, 'the audited reset');
  t.like(after.detail as object, { stationId: 'ST1', cause: 'http' });
  t.like(h.daemon.store.shiftCounts('ST1', h.daemon.store.currentShift('ST1').startedAt), { pass: 0, fail: 0, noVerdict: 0 });
  await page.screenshot({ path: `${ARTIFACTS}/after-reset-1366x768.png` });
  t.deepEqual(errors, []);
});
