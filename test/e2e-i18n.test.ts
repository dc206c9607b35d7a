// The UI's languages in Debian's Chromium on a touch screen: German and Chinese chosen in the header show translated
// words (and not the English ones) on the overview and other pages, the choice survives a reload, a status word's
// explanation appears on tap and is its title on hover, the German overview at 800×600 shows the verdict without
// scrolling, and a browser without a choice starts in its own language. Screenshots go to test-artifacts/e2e-i18n/.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.ts';
import { startHarness } from './helpers/harness.ts';

const ARTIFACTS = 'test-artifacts/e2e-i18n';

// A string, not a function: the test runner's transform would name inner helpers with a __name the page lacks.
type Badge = { x: number; y: number; w: number; h: number; fits: boolean; text: string };
const badge = (page: Page, station: string): Promise<Badge> => page.evaluate(`(() => {
  const el = document.querySelector('.ov-tile[data-station=${station}] [data-verdict]');
  const r = el.getBoundingClientRect();
  return { x: r.x, y: r.y, w: r.width, h: r.height, fits: el.scrollWidth <= el.clientWidth, text: el.textContent };
})()`);
const visibleText = (page: Page) => page.evaluate(() => document.body.innerText);

test('German and Chinese: translated pages, kept over a reload, explanations on tap and hover, the German overview at 800×600', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const h = await startHarness({
    cameras: [
      // ST1 waits for a trigger that never comes: NO VERDICT, the longest badge.
      { station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 320, height: 240, seed: 21, defectRate: 0.5 } },
      { station: 'ST2', source: { type: 'synthetic', id: 'cam2', fps: 2, width: 320, height: 240, seed: 22, defectRate: 0.5 } },
    ],
  });
  t.teardown(() => h.stop());
  const browser = await launchChromium(t);
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, hasTouch: true, locale: 'en-US' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${h.url}/`);
  await page.locator('.ov-tile[data-station=ST1] .ov-why', { hasText: 'no part inspected yet' }).waitFor({ timeout: 10_000 });
  t.is(await page.getAttribute('html', 'lang'), 'en', 'an en-US browser starts in English');

  // German from the header: the overview redrawn in German, no reload.
  await page.selectOption('#lang', 'de');
  await page.locator('.ov-tile[data-station=ST1] .ov-why', { hasText: 'noch kein Teil geprüft' }).waitFor();
  t.is(await page.getAttribute('html', 'lang'), 'de');
  t.is(await page.locator('nav a[data-page=overview]').textContent(), 'Übersicht');
  t.is(await page.locator('.ov-tile[data-station=ST1] [data-verdict]').textContent(), 'KEIN ERGEBNIS');
  await page.locator('.ov-tile[data-station=ST2][data-verdict=OK], .ov-tile[data-station=ST2][data-verdict=NG]').waitFor({ timeout: 10_000 });
  t.regex((await page.locator('.ov-tile[data-station=ST2] [data-verdict]').textContent()) ?? '', /^n?\.?i\.O\.$/);
  const de = await visibleText(page);
  for (const word of ['Neue Schicht / Zähler zurücksetzen', 'Nicht geprüft', 'Gutanteil', 'Kamera', 'verbunden']) t.true(de.includes(word), `German overview shows "${word}"`);
  for (const word of ['New shift', 'Not inspected', 'Yield', 'Camera', 'online', 'Overview']) t.false(de.includes(word), `German overview has no "${word}"`);

  // The explanation of a status: its title on hover, a popover on tap.
  const nv = page.locator('.ov-tile[data-station=ST1] [data-verdict]');
  await nv.hover();
  t.regex((await nv.getAttribute('title')) ?? '', /^Für das letzte Teil gibt es kein Ergebnis/);
  await nv.tap();
  const pop = page.locator('#term-pop');
  await pop.waitFor();
  t.regex((await pop.textContent()) ?? '', /KEIN ERGEBNIS.*die Zeile darunter sagt, warum/);
  await page.screenshot({ path: `${ARTIFACTS}/1-overview-de-tap-1366x768.png` });
  const camera = page.locator('.ov-tile[data-station=ST2] .ov-camera [data-term]');
  await camera.tap();
  await page.locator('#term-pop', { hasText: 'Die Kamera liefert Bilder.' }).waitFor();
  await page.tap('.ov-tile[data-station=ST2] .ov-head'); // a tap elsewhere closes it
  await pop.waitFor({ state: 'hidden' });

  // German at 800×600: the longest badge fits and is on screen, nothing scrolls sideways.
  await page.setViewportSize({ width: 800, height: 600 });
  await page.waitForTimeout(300);
  for (const st of ['ST1', 'ST2']) {
    const b = await badge(page, st);
    t.true(b.fits && b.x >= 0 && b.y >= 0 && b.x + b.w <= 800 && b.y + b.h <= 600, `800x600 de: ${st} "${b.text}" fits and is on screen: ${JSON.stringify(b)}`);
  }
  t.true(await page.evaluate(() => document.scrollingElement!.scrollWidth <= innerWidth), '800x600 de: no sideways scrolling');
  await page.screenshot({ path: `${ARTIFACTS}/2-overview-de-800x600.png` });

  // The choice survives a reload; another page is German too.
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.goto(`${h.url}/#/live`);
  await page.reload();
  t.is(await page.getAttribute('html', 'lang'), 'de');
  const liveCard = page.locator('.station[data-station=ST2]');
  await liveCard.locator('dd[data-k=camera]', { hasText: 'verbunden' }).waitFor({ timeout: 10_000 });
  await liveCard.locator('dd[data-k=camera]', { hasText: 'fortlaufend' }).waitFor();
  const live = await visibleText(page);
  for (const word of ['Anomaliewert', 'Schwellwert', 'Warteschlange', 'Referenzsatz', 'Originalbild']) t.true(live.includes(word), `German Live page shows "${word}"`);
  for (const word of ['Score', 'Threshold', 'Queue', 'ref v', 'raw frame', 'drop-oldest', 'pack-default']) t.false(live.includes(word), `German Live page has no "${word}"`);
  await page.screenshot({ path: `${ARTIFACTS}/3-live-de.png` });

  // The Glossary page in German: the terms with their explanations.
  await page.click('nav a[data-page=glossary]');
  await page.locator('.glossary [data-glossary=reason] dt', { hasText: 'Nicht geprüft: Warteschlange voll' }).waitFor();
  t.regex((await page.locator('.glossary [data-glossary=thresholdSource]').textContent()) ?? '', /Standard-Schwellwert/);
  await page.screenshot({ path: `${ARTIFACTS}/4-glossary-de.png`, fullPage: true });

  // Products in German: the card's words and a confirmation dialog (Cancel changes nothing).
  t.is((await h.api('POST', '/api/products', { name: 'Halter-4' })).status, 201);
  await page.click('nav a[data-page=products]');
  const card = page.locator('.card.product', { hasText: 'Halter-4' });
  await card.locator('.capture h3', { hasText: 'Gutbilder hinzufügen' }).waitFor();
  // The region section is drawn after its own request.
  await card.getByText('Prüfbereich: was geprüft wird').waitFor();
  const products = await visibleText(page);
  for (const word of ['Neues Produkt', 'Rezeptnummer (SPS)', 'Einfrieren', 'Prüfbereich: was geprüft wird', 'Produkt löschen']) t.true(products.includes(word), `German Products page shows "${word}"`);
  for (const word of ['New product', 'Add good shots', 'Freeze', 'Delete product']) t.false(products.includes(word), `German Products page has no "${word}"`);
  await card.locator('[data-act=delete]').click();
  const dialog = page.locator('.dialog', { hasText: 'Produkt Halter-4 und seine 0 Gutbilder löschen?' });
  await dialog.waitFor();
  t.regex((await dialog.textContent()) ?? '', /Das kann nicht rückgängig gemacht werden\.\s*Abbrechen/);
  await page.screenshot({ path: `${ARTIFACTS}/4b-products-de-confirm.png` });
  await dialog.locator('[data-dialog=cancel]').click();
  await dialog.waitFor({ state: 'detached' });
  t.truthy(h.daemon.store.listProducts().find((p) => p.name === 'Halter-4'), 'Cancel deleted nothing');

  // History in German: the columns, the outcome filter's labels (the values stay the API's), rows in plain words.
  await page.click('nav a[data-page=history]');
  await page.locator('#rows tr').first().waitFor({ timeout: 10_000 });
  t.deepEqual(await page.locator('#filters select[name=outcome] option').allTextContents(), ['alle', 'i.O.', 'n.i.O.', 'Kein Ergebnis']);
  t.deepEqual(await page.locator('#filters select[name=outcome] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['', 'PASS', 'FAIL', 'NO_VERDICT']);
  t.true((await page.locator('.history-list thead').textContent())!.includes('Datum und Uhrzeit'));
  const outcomes = await page.locator('#rows tr td:nth-child(4)').allTextContents();
  t.true(outcomes.length > 0 && outcomes.every((o) => ['i.O.', 'n.i.O.'].includes(o.trim()) || o.startsWith('Nicht geprüft') || o.startsWith('Kein Ergebnis')), outcomes.join(' | '));
  await page.screenshot({ path: `${ARTIFACTS}/4c-history-de.png` });

  // Chinese: overview and Health page, a state explained on tap. The overview's data is held back 800 ms so the
  // switch comes while the page loads (a slow line PC): the replaced page must draw nothing and keep no timer.
  // A request still held when the route is removed or the page closes is not ours to finish any more.
  const slow = async (route: import('playwright-core').Route) => { await new Promise((r) => setTimeout(r, 800)); await route.continue().catch(() => undefined); };
  await page.route('**/api/overview', slow);
  await page.click('nav a[data-page=overview]');
  await page.waitForTimeout(100);
  await page.selectOption('#lang', 'zh-Hans');
  await page.locator('.ov-tile[data-station=ST1] [data-verdict]', { hasText: '无结果' }).first().waitFor();
  // The switch came while the overview was still loading: the replaced page draws nothing and keeps no timer.
  await page.waitForTimeout(2500);
  t.is(await page.locator('.ov-tile[data-station=ST1]').count(), 1, 'one tile per station after a switch during the load');
  await page.unroute('**/api/overview', slow);
  // …and the page on screen still refreshes (the replaced page did not take its timer).
  const before = await page.locator('.ov-tile[data-station=ST2] .ov-counts').textContent();
  await page.waitForFunction((n) => document.querySelector('.ov-tile[data-station=ST2] .ov-counts')?.textContent !== n, before, { timeout: 10_000 });
  t.is(await page.getAttribute('html', 'lang'), 'zh-Hans');
  t.is(await page.locator('nav a[data-page=overview]').textContent(), '总览');
  const zh = await visibleText(page);
  for (const word of ['尚未检测任何零件', '未检测', '合格率', '新班次']) t.true(zh.includes(word), `Chinese overview shows "${word}"`);
  for (const word of ['Kamera', 'Camera', 'New shift', 'Neue Schicht']) t.false(zh.includes(word), `Chinese overview has no "${word}"`);
  await page.screenshot({ path: `${ARTIFACTS}/5-overview-zh-1366x768.png` });
  await page.click('nav a[data-page=health]');
  const inference = page.locator('#health tr[data-component=inference] [data-term]');
  await inference.waitFor({ timeout: 10_000 });
  t.is(await inference.textContent(), '正常');
  t.is(await page.locator('.card h2').first().textContent(), '系统状态');
  await inference.tap();
  await page.locator('#term-pop', { hasText: '系统的这一部分工作正常。' }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/6-health-zh-tap.png` });
  await page.reload();
  await page.locator('#health tr[data-component=inference] [data-term]', { hasText: '正常' }).waitFor({ timeout: 10_000 });
  t.deepEqual(errors, []);
  await context.close();

  // A browser without a choice starts in its own language: German for de-*, Chinese for zh-*.
  for (const [locale, lang, word] of [['de-AT', 'de', 'Übersicht'], ['zh-CN', 'zh-Hans', '总览']] as const) {
    const c = await browser.newContext({ locale });
    const p = await c.newPage();
    await p.goto(`${h.url}/`);
    await p.locator('.ov-tile').first().waitFor({ timeout: 10_000 });
    t.is(await p.getAttribute('html', 'lang'), lang, locale);
    t.is(await p.locator('nav a[data-page=overview]').textContent(), word, locale);
    await c.close();
  }
});
