/**
 * Shared pieces of the dashboard browser tests: Debian's chromium driven by playwright-core
 * with this machine's launch flags, console errors collected, screenshots under
 * test-output/dashboard/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const SHOTS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../test-output/dashboard',
);

export interface BrowserSession {
  browser: Browser;
  page: Page;
  /** Console errors and page errors seen so far (network errors only while `expectNetErrors`). */
  errors: string[];
  /** Set while the test takes the server away on purpose: failed loads are expected then. */
  expectNetErrors: boolean;
  shot(name: string, fullPage?: boolean): Promise<void>;
}

export async function openBrowser(): Promise<BrowserSession> {
  mkdirSync(SHOTS, { recursive: true });
  // chromium.launch starts from a fresh temporary profile (user-data dir) every time.
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(15_000);
  const session: BrowserSession = {
    browser,
    page,
    errors: [],
    expectNetErrors: false,
    async shot(name, fullPage = true) {
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
    },
  };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (session.expectNetErrors && /net::ERR_/.test(msg.text())) return;
    session.errors.push(msg.text());
  });
  page.on('pageerror', (err) => session.errors.push(`pageerror: ${err.message}`));
  return session;
}

/** The refused actions log their 401/409 answers; anything else is a bug (CSP reports too). */
export function unexpectedErrors(errors: string[]): string[] {
  return errors.filter((e) => !/status of (401|409)/.test(e));
}

/** Marks the page's JS context; `stayed` tells later whether it is still the same one (no reload). */
export async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as unknown as { mmimStayed: boolean }).mmimStayed = true;
  });
}

export async function stayed(page: Page): Promise<boolean> {
  return page.evaluate(
    () => (globalThis as unknown as { mmimStayed?: boolean }).mmimStayed === true,
  );
}

/** Polls until `probe` gives a value that is not null; the error says what was awaited. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until `locator` matches exactly `n` elements. */
export async function waitForCount(locator: Locator, n: number): Promise<void> {
  await waitFor(`${n} x ${locator.toString()}`, async () =>
    (await locator.count()) === n ? true : null,
  );
}
