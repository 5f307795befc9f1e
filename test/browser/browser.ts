import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import type { TAP } from 'tap';
import type { Teardown } from '../helpers/server.js';

// Run in the page by page.evaluate: the browser's own, which the Node-side type check does not know.
declare const document: any;

/** Debian's Chromium (`apt-get install -y chromium`); never a browser download. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumMissing = !existsSync(chromiumPath);
export const skipReason = `no Chromium at ${chromiumPath}: install it with "apt-get install -y chromium" (or set CHROMIUM_PATH) to run the browser tests`;

/**
 * Runs a file's browser tests where Chromium is installed. Without it they are skipped with the
 * reason, unless REQUIRE_BROWSER_TESTS (CI) asks for them: then that is a failure.
 */
export function withChromium(t: Pick<TAP, 'plan' | 'fail' | 'setTimeout'>, tests: () => void): void {
  if (!chromiumMissing) {
    t.setTimeout(90_000);
    tests();
  } else if (process.env.REQUIRE_BROWSER_TESTS) {
    t.fail(`REQUIRE_BROWSER_TESTS is set but there is ${skipReason}`);
  } else {
    t.plan(0, skipReason);
  }
}

export const screenshotDir = fileURLToPath(new URL('../screenshots/', import.meta.url));

/**
 * Headless Chromium, closed when the test ends. `launch()` gives it a new, empty user-data dir of
 * its own; the flags keep it from reaching for Google's services on a closed network.
 */
export async function launch(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

export function ensureScreenshotDir(): string {
  mkdirSync(screenshotDir, { recursive: true });
  return screenshotDir;
}

/** Collects what the page reports as broken: uncaught errors and console errors. */
export function watchErrors(page: Page, into: string[], who: string): void {
  page.on('pageerror', (err) => into.push(`${who}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') into.push(`${who} console: ${msg.text()}`);
  });
}

/** Opens the client and logs in by username; resolves once its socket is identified. */
export async function logIn(page: Page, url: string, username: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#me-name', { hasText: username }).waitFor();
  await online(page);
}

/** Waits until the page's socket is identified (the status says Online). */
export function online(page: Page): Promise<void> {
  return page.locator('#conn-status[data-state="online"]').waitFor();
}

/** The confirmed message (it has an id) with exactly this text. */
export function message(page: Page, text: string) {
  return page.locator('#message-list li.msg[data-id]').filter({ has: page.getByText(text, { exact: true }) });
}

/**
 * Waits until the elements `locator` finds have exactly these texts, in order: for a list that an
 * earlier answer may fill first (the page's CSP rules out waitForFunction's evaluated strings).
 */
export async function waitForTexts(locator: Locator, expected: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let actual: string[] = [];
  while (Date.now() < deadline) {
    actual = await locator.allTextContents();
    if (JSON.stringify(actual) === JSON.stringify(expected)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`expected ${JSON.stringify(expected)}, still ${JSON.stringify(actual)}`);
}

/**
 * A page in a browser context of its own (desktop-sized unless `context` says otherwise), logged in
 * as `name`, its errors collected into `errors`; with `chatWith`, that person's chat open.
 */
export async function openPage(
  browser: Browser,
  url: string,
  name: string,
  errors: string[],
  { chatWith, context: contextOptions = {} }: { chatWith?: string; context?: BrowserContextOptions } = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ...contextOptions });
  // Generous: these machines are shared and busy.
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  watchErrors(page, errors, name);
  await logIn(page, url, name);
  if (chatWith) {
    await page.locator('.chat-item', { hasText: chatWith }).click();
    await page.locator('#chat-title', { hasText: chatWith }).waitFor();
  }
  return page;
}

/** Makes the page believe it was hidden or shown again, as switching tabs does. */
export async function setVisibility(page: Page, visibility: 'visible' | 'hidden') {
  await page.evaluate((v) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => v });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => v === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, visibility);
}
