// End to end in Debian's Chromium: History shows product names and full date-times, a FAIL's detail with frame,
// overlay and mask beside the list, ↓/↑ step through it, the rejects gallery opens a detail, and the CSV download
// matches the store. Screenshots (1366×768) go to test-artifacts/e2e-history/.
import test from 'ava';
import { mkdirSync, readFileSync } from 'node:fs';
import { launchChromium } from './helpers/browser.ts';
import { startHarness, waitFor } from './helpers/harness.ts';
import { parseCsv } from './helpers/csv.ts';

const ARTIFACTS = 'test-artifacts/e2e-history';

test('History: FAIL detail with frame, overlay and mask in view, keyboard next/previous, rejects gallery, CSV download', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const h = await startHarness({ cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 4, width: 320, height: 240, seed: 9, defectRate: 0.5 } }] });
  t.teardown(() => h.stop());
  // Threshold 0: every inspected part FAILs, with a mask (every map pixel is over it) and a kept frame.
  const product = (await h.api<{ id: number }>('POST', '/api/products', { name: 'E2E-Housing', threshold: 0 })).body;
  t.is((await h.api('POST', '/api/stations/ST1/activate', { productId: product.id })).status, 200);
  const store = h.daemon.store;
  await waitFor(() => store.queryResults({ stationId: 'ST1', outcome: 'FAIL', productId: product.id }).length >= 6, 20_000, 'six FAILs of the product');

  const browser = await launchChromium(t);
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${h.url}/#/history`);
  await page.fill('#filters input[name=limit]', '200');
  await page.click('#filters button.primary');
  const row = page.locator('#rows tr', { hasText: 'E2E-Housing' }).first();
  await row.waitFor();
  // Full date-time (the year is in it) and the product's name, not its recipe number.
  const cells = await row.locator('td').allTextContents();
  t.regex(cells[2]!, /20\d\d/);
  t.is(cells[6], 'E2E-Housing');
  await page.screenshot({ path: `${ARTIFACTS}/1-list.png` });

  // Scroll the list down, then open a FAIL: the detail must be in the viewport.
  await page.mouse.wheel(0, 1500);
  const failRow = page.locator('#rows tr', { hasText: 'E2E-Housing' }).nth(3);
  await failRow.click();
  const detail = page.locator('#detail');
  await detail.locator('img.frame').waitFor();
  const loaded = async (sel: string) => page.waitForFunction((s) => { const i = document.querySelector(s) as HTMLImageElement | null; return Boolean(i && i.complete && i.naturalWidth > 0); }, sel);
  for (const sel of ['#detail img.frame', '#detail img.overlay', '#detail img.mask']) await loaded(sel);
  const box = (await detail.boundingBox())!;
  t.true(box.y >= 0 && box.y < 768 && box.y + Math.min(box.height, 300) <= 768, `detail in view: ${JSON.stringify(box)}`);
  const firstId = await failRow.getAttribute('data-id');
  t.regex((await detail.textContent()) ?? '', new RegExp(firstId!));
  t.regex((await detail.locator('[data-k=product]').textContent()) ?? '', /E2E-Housing/);
  t.regex((await detail.textContent()) ?? '', /Set on the product/);
  await page.locator('#keep-as-shot').waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/2-fail-detail.png` });

  // Keyboard: ↓ opens the next row's result, ↑ goes back; j/k do the same.
  const shownId = async () => (await detail.locator('code').textContent())?.trim();
  const ids = await page.locator('#rows tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.id));
  const at = ids.indexOf(firstId!);
  await page.keyboard.press('ArrowDown');
  await waitFor(async () => (await shownId()) === ids[at + 1], 5000, 'the next result after ↓');
  t.is(await page.locator('#rows tr.selected').getAttribute('data-id'), ids[at + 1]!);
  await page.keyboard.press('ArrowUp');
  await waitFor(async () => (await shownId()) === firstId, 5000, 'the previous result after ↑');
  await page.keyboard.press('j');
  await waitFor(async () => (await shownId()) === ids[at + 1], 5000, 'the next result after j');
  await page.screenshot({ path: `${ARTIFACTS}/3-keyboard-next.png` });

  // Gallery: thumbnails of recent rejects; a click opens that result.
  await page.mouse.wheel(0, -3000);
  const thumb = page.locator('#gallery .thumb').first();
  await thumb.waitFor();
  await page.waitForFunction(() => { const i = document.querySelector('#gallery .thumb img') as HTMLImageElement | null; return Boolean(i && i.complete && i.naturalWidth > 0); });
  const thumbId = await thumb.getAttribute('data-id');
  t.is(store.getResult(thumbId!)!.outcome, 'FAIL');
  await thumb.click();
  await waitFor(async () => (await shownId()) === thumbId, 5000, 'the gallery result in the detail');
  await page.screenshot({ path: `${ARTIFACTS}/4-gallery.png` });

  // CSV of the current filter: every row it names is the store's, and it holds every result up to its newest row.
  await page.selectOption('#filters select[name=outcome]', 'FAIL');
  await page.click('#filters button.primary');
  await page.locator('#rows tr').first().waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
  const text = readFileSync((await download.path())!, 'utf8');
  const [header, ...rows] = parseCsv(text);
  const col = (name: string) => header!.indexOf(name);
  t.true(rows.length >= 6, `${rows.length} rows`);
  for (const r of rows) {
    const stored = store.getResult(r[col('resultId')]!)!;
    t.truthy(stored, r[col('resultId')]);
    t.is(r[col('outcome')], 'FAIL');
    t.is(Number(r[col('score')]), stored.score);
    t.is(r[col('decidedAt')], new Date(stored.decidedAt).toISOString());
  }
  const newest = Date.parse(rows[0]![col('decidedAt')]!);
  const expected = store.queryResults({ outcome: 'FAIL', until: newest, limit: 1000 }).map((r) => r.resultId);
  t.deepEqual(rows.map((r) => r[col('resultId')]), expected);
  t.true(rows.some((r) => r[col('productName')] === 'E2E-Housing'));
  await page.screenshot({ path: `${ARTIFACTS}/5-csv-filtered.png` });

  // A narrow screen: the detail covers the list instead of sitting beside it.
  await page.setViewportSize({ width: 700, height: 768 });
  await page.keyboard.press('Escape'); // closes the panel, which covers the list here
  await page.locator('#detail').waitFor({ state: 'hidden' });
  await page.locator('#rows tr').first().click();
  await page.locator('#detail').waitFor();
  const narrow = (await detail.boundingBox())!;
  t.true(narrow.width > 600 && narrow.y < 50, `detail over the list: ${JSON.stringify(narrow)}`);
  await page.screenshot({ path: `${ARTIFACTS}/6-narrow.png` });
  t.deepEqual(errors, []);
});
