// Logins in Debian's Chromium at 1366×768 and 800×600: an operator logs in (no token box), changes over with a
// confirmation dialog, is refused a threshold change with the server's plain words on screen (nothing changed), and
// finds the changeover under their name on the Audit page. Screenshots go to test-artifacts/e2e-login/.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.ts';
import { hashPassword } from '../adapters/passwords.ts';
import { startHarness } from './helpers/harness.ts';

const ARTIFACTS = 'test-artifacts/e2e-login';
const OTTO_PASSWORD = 'otto-line-2';

const noSideScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

test('operator login, changeover confirmed, a threshold change refused in plain words, the audit row names the operator', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const h = await startHarness({
    http: { users: [{ name: 'otto', passwordHash: hashPassword(OTTO_PASSWORD), role: 'operator' }, { name: 'erin', passwordHash: hashPassword('erin-eng-3'), role: 'engineer' }] },
  });
  t.teardown(() => h.stop());
  const bracket = (await h.api<{ id: number }>('POST', '/api/products', { name: 'Bracket-7', threshold: 0.5 })).body;
  const widget = (await h.api<{ id: number }>('POST', '/api/products', { name: 'Widget-3' })).body;
  t.is((await h.api('POST', '/api/stations/ST1/activate', { productId: widget.id })).status, 200);

  const browser = await launchChromium(t);

  const sizes = [{ width: 1366, height: 768 }, { width: 800, height: 600 }];
  for (const [i, viewport] of sizes.entries()) {
    const tag = `${viewport.width}x${viewport.height}`;
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // The login form comes up by itself; the token box is gone.
    await page.goto(`${h.url}/#/products`);
    const login = page.locator('#login');
    await login.waitFor();
    t.false(await page.locator('#token').isVisible(), `${tag}: no token box when logins are configured`);
    await page.fill('#login input[name=name]', 'otto');
    await page.fill('#login input[name=password]', 'wrong-one');
    await page.click('#login button[type=submit]');
    await page.locator('#login [data-login-error]', { hasText: 'wrong user name or password' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/${tag}-1-login-refused.png` });
    t.is(await page.inputValue('#login input[name=password]'), '', 'the password field is cleared after a failure');
    await page.fill('#login input[name=password]', OTTO_PASSWORD);
    await page.click('#login button[type=submit]');
    await login.waitFor({ state: 'detached' });
    await page.locator('#who [data-user]', { hasText: 'otto' }).waitFor();
    t.is(await page.locator('#who [data-role]').textContent(), 'operator');
    const cookies = await context.cookies();
    const sessionCookie = cookies.find((c) => c.name === 'adaptclip_session');
    t.truthy(sessionCookie);
    t.true(sessionCookie!.httpOnly);
    t.is(sessionCookie!.sameSite, 'Strict');
    t.is(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');

    // Changeover: the station runs another product, so the UI asks first, naming both.
    const [from, to] = i === 0 ? [{ id: widget.id, name: 'Widget-3' }, { id: bracket.id, name: 'Bracket-7' }] : [{ id: bracket.id, name: 'Bracket-7' }, { id: widget.id, name: 'Widget-3' }];
    const card = page.locator('.card.product', { hasText: to.name });
    await card.locator('[data-act=activate]').click();
    const dialog = page.locator('.dialog', { hasText: `Activate ${to.name} on ST1?` });
    await dialog.waitFor();
    t.regex((await dialog.textContent()) ?? '', new RegExp(`ST1 now runs ${from.name}`));
    await page.screenshot({ path: `${ARTIFACTS}/${tag}-2-confirm-activate.png` });
    await dialog.locator('[data-dialog=ok]').click();
    await card.locator('.ok', { hasText: 'active on ST1' }).waitFor();
    t.is((await h.api<{ reference: { productId: number } }[]>('GET', '/api/stations')).body[0]!.reference.productId, to.id);

    // A threshold change is the engineer's: marked in the UI, refused by the server in plain words, nothing changed.
    const bracketCard = page.locator('.card.product', { hasText: 'Bracket-7' });
    const setButton = bracketCard.locator('[data-act=threshold]');
    t.is(await setButton.getAttribute('aria-disabled'), 'true');
    t.regex((await setButton.getAttribute('title')) ?? '', /needs the engineer role \(you are operator\)/);
    await bracketCard.locator('input[name=threshold]').fill('0.9');
    await setButton.click({ force: true }); // aria-disabled only marks it: a click still reaches the server
    await page.locator('#toast.error', { hasText: 'your role operator may not change thresholds or rename products; ask an engineer' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/${tag}-3-threshold-refused.png` });
    t.is((await h.api<{ threshold: number }>('GET', `/api/products/${bracket.id}`)).body.threshold, 0.5, 'the refused change changed nothing');

    // The Audit page shows the changeover under otto's name; the filter narrows to it.
    await page.click('nav a[data-page=audit]');
    await page.fill('#audit-filter input[name=user]', 'otto');
    await page.fill('#audit-filter input[name=action]', 'station.activate');
    await page.click('#audit-filter button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('#audit-rows tr[data-audit]').length === n, i + 1);
    const users = await page.locator('#audit-rows tr[data-audit] [data-user]').allTextContents();
    t.deepEqual(users, Array(i + 1).fill('otto'));
    t.true(await noSideScroll(page), `${tag}: the Audit page fits the width`);
    await page.screenshot({ path: `${ARTIFACTS}/${tag}-4-audit.png` });

    // Log out: the login form again.
    await page.click('#who [data-logout]');
    await page.locator('#login').waitFor();
    t.deepEqual(errors, []);
    await context.close();
  }
});
