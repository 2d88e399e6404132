import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loginAgent } from './http.js';

/** Debian's Chromium, headless, with nothing reaching out to the network on its own. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Every CSP violation and uncaught error of a page, to assert there were none. */
export function watch(page: Page, problems: string[], who: string) {
  page.on('pageerror', (e) => problems.push(`${who}: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`${who}: ${m.text()}`);
  });
}

/** A browser context signed in as this agent (the session cookie of a real login), and its page. */
export async function signedIn(
  browser: Browser,
  app: { url: string },
  email: string,
  password: string,
  viewport = { width: 1280, height: 800 },
) {
  const session = await loginAgent(app.url, email, password);
  const context = await browser.newContext({ viewport });
  await context.addCookies([
    { name: 'session', value: session.cookie.slice('session='.length), url: app.url },
  ]);
  return { context, page: await context.newPage(), session };
}

/**
 * A browser for one test, with the contexts the test opens (push them): when the test ends they
 * are closed, then the browser, then `cleanup` runs (stop the app, close the database).
 */
export async function browserFor(t: TestContext, cleanup: () => Promise<void>) {
  const launching = launchBrowser();
  const contexts: BrowserContext[] = [];
  t.after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await (await launching.catch(() => undefined))?.close();
    await cleanup();
  });
  return { browser: await launching, contexts };
}
