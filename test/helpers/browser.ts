// Debian's Chromium for the UI tests (playwright-core drives it): headless, nothing fetched from the network.
import type { ExecutionContext } from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TEST_TOKEN } from './harness.ts';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A browser closed when the test ends. */
export async function launchChromium(t: ExecutionContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
  t.teardown(() => browser.close());
  return browser;
}

/** Types the test token into the header's token box, as an operator without a login would. */
export async function enterToken(page: Page, token = TEST_TOKEN): Promise<void> {
  await page.fill('#token', token);
  await page.locator('#token').dispatchEvent('change');
}
