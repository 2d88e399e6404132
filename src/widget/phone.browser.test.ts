// The embedded widget on a phone: full screen while open, a close button a thumb can hit, the
// host page held still behind it, the composer above the on-screen keyboard; a card on desktop.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { browserFor, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createOrg } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');

/** A long shop page (it can scroll), phone-ready: viewport-fit=cover for the safe-area insets. */
function hostPage(appUrl: string, token: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
</head><body><h1>Shop</h1>${'<p>A product of the shop, with a long description.</p>'.repeat(150)}
<script src="${appUrl}/chat-widget/embed.js" data-embed-token="${token}"></script>
</body></html>`;
}

function startHost(html: () => string, chatOrigin: string): Promise<Server> {
  const server = createServer((_req, res) => {
    // A strict CSP: no inline styles may be added by the widget's script.
    res
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': `style-src 'self'; frame-src ${chatOrigin}`,
      })
      .end(html());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function widgetFrame(page: Page): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))));
  await frame!.waitForLoadState('load');
  await frame!.locator('#cw-input').waitFor({ state: 'attached' });
  return frame!;
}

const frameBox = async (frame: Frame) => (await frame.frameElement()).boundingBox();
const overflow = (page: Page) =>
  page.evaluate(() => [
    getComputedStyle(document.documentElement).overflow,
    getComputedStyle(document.body).overflow,
  ]);

test('the embedded widget on a phone and on a desktop', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  let html = '';
  const host = await startHost(() => html, app.url);
  const { browser, contexts } = await browserFor(t, async () => {
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const { org } = await createOrg(app.services);
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const { token } = await app.services.channels.createEmbedToken({
    organizationId: org.id,
    name: 'Web chat',
    allowedOrigins: [hostUrl],
  });
  html = hostPage(app.url, token);
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];

  await t.test('at 390×844 the open widget is the whole screen; closing gives the page back', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true });
    contexts.push(context);
    const page = await context.newPage();
    watch(page, problems, 'phone');
    await page.goto(hostUrl);
    const frame = await widgetFrame(page);
    await page.evaluate(() => window.scrollTo(0, 600));
    assert.equal(await page.evaluate(() => window.scrollY), 600);

    // The launcher sits at the bottom right (in a closed shadow root): tap where it is drawn.
    await page.mouse.click(390 - 20 - 28, 844 - 20 - 28);
    await eventually(async () => (await frameBox(frame))?.width === 390);
    const box = await frameBox(frame);
    assert.deepEqual(
      [box!.x, box!.y, box!.width, box!.height].map(Math.round),
      [0, 0, 390, 844],
      'the open widget covers the viewport',
    );
    assert.deepEqual(await overflow(page), ['hidden', 'hidden'], 'the host page is locked');
    await page.mouse.wheel(0, 800);
    assert.equal(await page.evaluate(() => window.scrollY), 600, 'the page behind does not scroll');
    await page.screenshot({ path: path.join(artifacts, 'widget-phone-open.png') });

    const close = frame.getByRole('button', { name: 'Close chat' });
    const closeBox = await close.boundingBox();
    assert.ok(
      closeBox!.width >= 44 && closeBox!.height >= 44,
      `close is ${closeBox!.width}×${closeBox!.height}`,
    );
    await close.click();
    await eventually(async () => !(await (await frame.frameElement()).isVisible()));
    assert.deepEqual(await overflow(page), ['visible', 'visible'], 'the lock is released');
    assert.equal(await page.evaluate(() => window.scrollY), 600, 'where the visitor was');
    await page.mouse.wheel(0, 300);
    await eventually(async () => (await page.evaluate(() => window.scrollY)) > 600);

    // The on-screen keyboard: the visual viewport shrinks; the composer stays in view.
    await page.mouse.click(390 - 20 - 28, 844 - 20 - 28);
    await eventually(async () => (await frameBox(frame))?.height === 844);
    await frame.locator('#cw-input').focus();
    await page.setViewportSize({ width: 390, height: 400 });
    await eventually(async () => {
      const input = await frame.locator('#cw-input').boundingBox();
      return !!input && input.y >= 0 && input.y + input.height <= 400;
    });
    const shrunk = await frameBox(frame);
    assert.ok(shrunk!.height <= 400, `the widget follows the viewport (${shrunk!.height})`);
    await frame.locator('#cw-input').fill('typing with the keyboard up');
    const send = await frame.getByRole('button', { name: 'Send', exact: true }).boundingBox();
    assert.ok(send && send.y + send.height <= 400, 'the send button is above the keyboard');
  });

  await t.test('at 1280×800 it is the card it always was, the page scrolls freely', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    watch(page, problems, 'desktop');
    await page.goto(hostUrl);
    const frame = await widgetFrame(page);
    await page.mouse.click(1280 - 20 - 28, 800 - 20 - 28);
    await eventually(async () => (await frame.frameElement()).isVisible());
    const box = await frameBox(frame);
    assert.deepEqual([box!.width, box!.height].map(Math.round), [380, 560]);
    assert.ok(box!.x > 800 && box!.y > 100, 'a card at the bottom right');
    assert.deepEqual(await overflow(page), ['visible', 'visible'], 'no lock on a desktop');
    await page.screenshot({ path: path.join(artifacts, 'widget-desktop-open.png') });
  });

  assert.deepEqual(problems, []);
});
