// End to end in Debian's Chromium: the threshold workbench on the Products page. A software-triggered camera makes a
// fixed set of results; the page's flip counts at the slider's value are checked against what the store's rows say;
// Set changes the product's threshold (audited), and the way back restores the calibrated one. Screenshots of each
// step (1366×768) and the live overlay go to test-artifacts/.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { type Page } from 'playwright-core';
import { enterToken, launchChromium } from './helpers/browser.ts';
import { startHarness, waitFor } from './helpers/harness.ts';

const ARTIFACTS = 'test-artifacts/e2e-threshold';
const PARTS = 14;

test('threshold workbench: flip counts at the slider match the store, Set is audited and used, back to calibrated', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const h = await startHarness({
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 10, width: 320, height: 240, seed: 9, defectRate: 0.5, trigger: 'software' } }],
  });
  t.teardown(() => h.stop());
  const product = (await h.api<{ id: number; name: string }>('POST', '/api/products', { name: 'Bench-Bracket', recipeId: 12 })).body;
  for (let i = 0; i < 2; i++) t.is((await h.api('POST', `/api/products/${product.id}/shots/capture`, { station: 'ST1' })).status, 201);
  await h.daemon.changeover.activate('ST1', product.id, 'test');
  // A fixed set of judged parts: the camera delivers a frame only when triggered, so the store stops changing.
  const judged = () => h.daemon.store.queryResults({ productId: product.id, limit: 1000 }).filter((r) => r.outcome !== 'NO_VERDICT');
  for (let i = 0; i < PARTS; i++) {
    const before = h.daemon.store.queryResults({ productId: product.id, limit: 1000 }).length;
    const res = await h.api('POST', '/api/stations/ST1/trigger', { partId: `part-${i}` });
    t.is(res.status, 200, JSON.stringify(res.body));
    await waitFor(() => h.daemon.store.queryResults({ productId: product.id, limit: 1000 }).length > before, 15_000, `result of part-${i}`);
  }
  const rows = judged().slice(0, 200);
  t.true(rows.length >= PARTS - 2, `${rows.length} judged parts`);
  // The live overlay as every place shows it, for people to look at.
  const overlay = await h.api<Buffer>('GET', '/api/stations/ST1/overlay.png');
  t.is(overlay.status, 200);
  writeFileSync('test-artifacts/overlay-live.png', overlay.body);

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${h.url}/#/products`);
  await enterToken(page);
  const card = page.locator('.card.product', { hasText: 'Bench-Bracket' });
  const bench = card.locator('.threshold-workbench');
  await bench.locator('[data-tw=slider]').waitFor();
  await bench.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${ARTIFACTS}/1-workbench.png` });
  const calibrated = h.daemon.changeover.current('ST1').threshold;
  t.is(Number(await bench.locator('[data-tw=current]').textContent()), Number(calibrated.toFixed(3)));

  /** What the store's rows say flips at v: judged PASS with score ≥ v, judged FAIL with score < v. */
  const expected = (v: number) => ({ toFail: rows.filter((r) => r.outcome === 'PASS' && r.score >= v).length, toPass: rows.filter((r) => r.outcome === 'FAIL' && r.score < v).length });
  const shown = async (p: Page) => ({ toFail: Number(await p.locator('.threshold-workbench [data-tw=to-fail]').textContent()), toPass: Number(await p.locator('.threshold-workbench [data-tw=to-pass]').textContent()) });
  const scores = rows.map((r) => r.score).sort((a, b) => a - b);
  // Values the rows make interesting: below every score (all pass parts flip), in the middle, above every score.
  const tries = [Math.floor(scores[0]! * 1000) / 1000, Math.floor(scores[Math.floor(scores.length / 2)]! * 1000) / 1000, Math.min(1, Math.ceil(scores.at(-1)! * 1000) / 1000 + 0.001)];
  let flipped = 0;
  for (const [k, v] of tries.entries()) {
    await bench.locator('[data-tw=value]').fill(v.toFixed(3));
    await bench.locator('[data-tw=at]', { hasText: v.toFixed(3) }).waitFor();
    const want = expected(v);
    t.deepEqual(await shown(page), want, `flips at ${v}`);
    flipped += want.toFail + want.toPass;
    if (k === 1) await page.screenshot({ path: `${ARTIFACTS}/2-slider-${v.toFixed(3)}.png` });
  }
  t.true(flipped > 0, 'some tried value flips something (the check can fail)');
  // The slider itself drives the same count.
  const mid = tries[1]!;
  await bench.locator('[data-tw=slider]').evaluate((el: HTMLInputElement, v) => { el.value = String(v); el.dispatchEvent(new Event('input', { bubbles: true })); }, mid);
  await bench.locator('[data-tw=value]').evaluate((el: HTMLInputElement, v) => el.value === v.toFixed(3) || Promise.reject(new Error(`box shows ${el.value}`)), mid);
  t.deepEqual(await shown(page), expected(mid));

  // Set: the product's threshold becomes the slider's value, audited, and the station judges with it.
  const t0 = Date.now();
  await bench.locator('[data-tw=set]').click();
  await page.locator('#toast', { hasText: `set to ${mid.toFixed(3)}` }).waitFor();
  t.is(h.daemon.store.requireProduct(product.id).threshold, mid);
  const update = h.daemon.store.auditLog(20).find((e) => e.action === 'product.update');
  t.like(update, { detail: { id: product.id, threshold: mid } });
  t.true(update!.at >= t0 && update!.actor.startsWith('api:'));
  await waitFor(() => h.daemon.changeover.current('ST1').threshold === mid, 10_000, 'the station judging with the new threshold');
  await card.locator('.threshold-workbench [data-tw=current]', { hasText: mid.toFixed(3) }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/3-set.png` });

  // Back to the calibrated threshold.
  await card.locator('.threshold-workbench [data-tw=calibrated]').click();
  await page.locator('#toast', { hasText: 'calibrated threshold again' }).waitFor();
  t.is(h.daemon.store.requireProduct(product.id).threshold, null);
  t.like(h.daemon.store.auditLog(20).find((e) => e.action === 'product.update'), { detail: { id: product.id, threshold: null } });
  await waitFor(() => h.daemon.changeover.current('ST1').threshold === calibrated, 10_000, 'the calibrated threshold back');
  await card.locator('.threshold-workbench [data-tw=calibrated][disabled]').waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/4-calibrated.png` });
  t.deepEqual(errors, []);
});
