// End to end in Debian's Chromium: an operator creates a product, registers 2 shots from the live synthetic camera,
// activates it and sees few-shot verdicts with heat-map overlays. A screenshot of each page goes to test-artifacts/.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { enterToken, launchChromium } from './helpers/browser.ts';
import { startHarness, waitFor } from './helpers/harness.ts';

const ARTIFACTS = 'test-artifacts/e2e-ui';

test('operator flow: create product, 2 live shots, activate, few-shot verdicts with overlays, every page screenshotted', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const h = await startHarness({
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 3, width: 320, height: 240, seed: 11, defectRate: 0.5 } }],
  });
  t.teardown(() => h.stop());
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // Live view before any product: zero-shot, and the UI says so.
  await page.goto(`${h.url}/#/live`);
  await page.locator('.station .verdict').filter({ hasText: /^(OK|NG)$/ }).waitFor({ timeout: 10_000 });
  await page.locator('.station .zero-shot').waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/1-live-zero-shot.png` });

  // Products: token, create.
  await enterToken(page);
  await page.click('nav a[data-page=products]');
  await page.fill('#create input[name=name]', 'E2E-Bracket');
  await page.fill('#create input[name=recipeId]', '7');
  await page.click('#create button[type=submit]');
  const card = page.locator('.card.product', { hasText: 'E2E-Bracket' });
  await card.waitFor();
  await card.locator('.zero-shot').waitFor(); // no shots yet: zero-shot, said so
  // Two shots from the live camera, each frozen and looked at before it is kept; leave-one-out scores appear once
  // there are two.
  await card.locator('[data-cap=freeze]').click();
  await card.locator('.candidate [data-keep]').first().click();
  await card.locator('.shot').first().waitFor();
  await card.locator('[data-cap=freeze]').click();
  await card.locator('.candidate [data-keep]').first().click();
  await page.waitForFunction(() => document.querySelectorAll('.card.product .shot').length === 2);
  await page.waitForFunction(() => Array.from(document.querySelectorAll(".card.product .shot")).every((s) => /unusual 0\.\d{3}/.test(s.textContent ?? '')));
  await card.locator('[data-act=activate]').click();
  await page.locator('#toast', { hasText: /few-shot/ }).waitFor();
  await card.locator('.ok', { hasText: 'active on ST1' }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/2-products.png` });
  const product = (await h.api<{ id: number; name: string; shotCount: number }[]>('GET', '/api/products')).body.find((p) => p.name === 'E2E-Bracket')!;
  t.is(product.shotCount, 2);
  const shots = h.daemon.store.listShots(product.id);
  t.deepEqual(shots.map((s) => s.source), ['cam1', 'cam1']);

  // Live view: few-shot verdicts with an overlay image of that verdict.
  await page.click('nav a[data-page=live]');
  await page.locator('.station dd[data-k=mode]', { hasText: 'few-shot, 2 shots' }).waitFor({ timeout: 10_000 });
  const resultId = await waitFor(async () => {
    const id = await page.locator('.station img.live').getAttribute('data-result-id');
    const r = id ? h.daemon.store.getResult(id) : undefined;
    return r && r.mode === 'few-shot' && r.productId === product.id && r.outcome !== 'NO_VERDICT' ? id : null;
  }, 10_000, 'a few-shot verdict on screen');
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('.station img.live');
    return !!img && img.complete && img.naturalWidth === 320 && img.src.includes('overlay.png');
  });
  await page.locator('.station .zero-shot').waitFor({ state: 'detached' });
  await page.screenshot({ path: `${ARTIFACTS}/3-live-few-shot.png` });
  t.truthy(resultId);

  // History: filter FAIL, open one, its mask shows.
  await waitFor(() => h.daemon.store.queryResults({ outcome: 'FAIL', limit: 50 }).find((r) => r.hasMask), 20_000, 'a failed part with a mask');
  await page.click('nav a[data-page=history]');
  await page.selectOption('#filters select[name=outcome]', 'FAIL');
  await page.click('#filters button');
  await page.locator('#rows tr', { hasText: 'mask' }).first().click();
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('#detail img.mask');
    return !!img && img.complete && img.naturalWidth > 0;
  });
  await page.screenshot({ path: `${ARTIFACTS}/4-history.png` });

  // Health.
  await page.click('nav a[data-page=health]');
  await page.locator('#health tr[data-component=inference] .ok').waitFor();
  await page.locator('#counters tr', { hasText: 'ST1' }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/5-health.png` });
  t.deepEqual(errors, []);
});
