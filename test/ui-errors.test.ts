// The UI tells the operator what went wrong, in one line: a write without the token, a file that is not an image.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enterToken, launchChromium } from './helpers/browser.ts';
import { startHarness } from './helpers/harness.ts';


test('writes without the token and a non-image upload show a clear message and change nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ui-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync('test-artifacts/ui-errors', { recursive: true });
  const h = await startHarness();
  t.teardown(() => h.stop());
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`${h.url}/#/products`);
  await page.fill('#create input[name=name]', 'NoToken');
  await page.click('#create button[type=submit]');
  await page.locator('#toast.error', { hasText: 'writes need the header "Authorization: Bearer <http.token>"' }).waitFor();
  await page.screenshot({ path: 'test-artifacts/ui-errors/1-no-token.png' });
  t.deepEqual(h.daemon.store.listProducts(), []);

  await enterToken(page);
  await page.click('#create button[type=submit]');
  const card = page.locator('.card.product', { hasText: 'NoToken' });
  await card.waitFor();
  const notImage = join(dir, 'notes.png');
  writeFileSync(notImage, 'this is text with a .png name');
  // Each chosen file is judged before it is kept: a refusal shows in place of that file, naming it and why.
  await card.locator('input[type=file]').setInputFiles(notImage);
  await card.locator('.candidate.refused', { hasText: /notes\.png: .*not a readable image/ }).waitFor();
  await page.screenshot({ path: 'test-artifacts/ui-errors/2-not-an-image.png' });
  const p = h.daemon.store.listProducts()[0]!;
  t.is(p.name, 'NoToken');
  t.is(p.shotCount, 0);
});
