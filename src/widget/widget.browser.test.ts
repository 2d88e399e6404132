// The widget as a visitor meets it: a customer page on another origin embeds the script tag, in
// real headless Chromium; an agent answers over a real Socket.IO client.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { launchBrowser } from '../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { connectSocket, emitAck, eventually, record } from '../../test/helpers/sockets.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * Run in the widget frame: controls without an accessible name, and text under WCAG AA contrast
 * (4.5:1) against its effective background. A string, so the test runner's transform stays out.
 */
const A11Y_PROBLEMS = `(() => {
  const found = [];
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  for (const c of document.querySelectorAll('button, a[href], select, textarea, [tabindex]')) {
    const labelled = c.labels && c.labels[0] && c.labels[0].textContent;
    const name = c.getAttribute('aria-label') || labelled || c.textContent.trim() || c.title;
    if (!name) found.push('no accessible name: ' + c.outerHTML.slice(0, 80));
  }
  for (const e of document.querySelectorAll('body *')) {
    const text = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text || e.closest('.cw-sr, option, script, [hidden], :disabled') || !e.getClientRects().length) continue;
    let bg;
    for (let a = e; a && !bg; a = a.parentElement) {
      const c = rgb(getComputedStyle(a).backgroundColor);
      if (c.length === 3 || c[3] > 0) bg = c;
    }
    const [l1, l2] = [lum(rgb(getComputedStyle(e).color)), lum(bg || [255, 255, 255])].sort((x, y) => y - x);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    if (ratio < 4.5) found.push('contrast ' + ratio.toFixed(2) + ': ' + (e.className || e.tagName) + ' ' + e.textContent);
  }
  return found;
})()`;

type Received = { conversation_id: string; sender_type: string; content: string; content_type: string };

/** The customer's site: a page with the snippet (and CSS that would wreck a widget it reached). */
function hostPage(appUrl: string, token: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<style>button, iframe { display: none !important; } * { font-size: 40px !important; }</style>
<script>
  window.__events = [];
  addEventListener('message', (e) => {
    if (e.origin === location.origin && e.data && String(e.data.type).startsWith('switchboard:')) __events.push(e.data);
  });
  window.__before = Object.getOwnPropertyNames(window);
</script></head>
<body><h1>Shop</h1><a id="first" href="#top">A link on the shop page</a>
<script src="${appUrl}/chat-widget/embed.js" data-embed-token="${token}"></script>
<script>window.__hostOk = true;</script>
</body></html>`;
}

function startHost(pages: Record<string, string>, chatOrigin: string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/pixel.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(PIXEL);
    const html = pages[url];
    if (html === undefined) return void res.writeHead(404).end();
    const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' };
    // A site with a strict CSP: no inline styles; only the chat server may be framed.
    if (url === '/strict') headers['content-security-policy'] = `style-src 'self'; frame-src ${chatOrigin}`;
    res.writeHead(200, headers).end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The widget's iframe (it lives in a closed shadow root, so it is found among the page's frames). */
async function widgetFrame(page: Page): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))));
  await frame!.waitForLoadState('load');
  await frame!.locator('#cw-input').waitFor({ state: 'attached' });
  return frame!;
}

async function frameVisible(frame: Frame): Promise<boolean> {
  return (await frame.frameElement()).isVisible();
}

test('a visitor chats with an agent through the embedded widget in Chromium', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org } = await createOrg(app.services);
  const { user, password } = await createAgent(app.services, org.id, { role: 'admin' });
  const session = await loginAgent(app.url, user.email, password);
  const agent: Socket = await connectSocket(app.url, { cookie: session.cookie });

  // The host page server; its origin is `localhost`, the chat server's is 127.0.0.1.
  const pages: Record<string, string> = {};
  const host = await startHost(pages, app.url);
  const hostPort = (host.address() as AddressInfo).port;
  const hostUrl = `http://localhost:${hostPort}`;
  const { token } = await app.services.channels.createEmbedToken({
    organizationId: org.id,
    name: 'Web chat',
    allowedOrigins: [hostUrl],
  });
  pages['/'] = hostPage(app.url, token);
  pages['/down'] = hostPage('http://127.0.0.1:9', token);
  pages['/strict'] = hostPage(app.url, token).replace(/<style>.*?<\/style>/s, '');

  // Cleanup is registered before anything can fail (Chromium missing, say): all opened is closed.
  const launching = launchBrowser();
  t.after(async () => {
    await (await launching.catch(() => undefined))?.close();
    agent.close();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const browser = await launching;
  mkdirSync(artifacts, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  const dialogs: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });

  await page.goto(`${hostUrl}/`);
  let frame = await widgetFrame(page);
  const conversation = await database.prisma.conversation.findFirstOrThrow({
    where: { organizationId: org.id },
  });
  const conversationId = conversation.id;
  const toAgent = record<Received>(agent, 'message_received');
  const typingSeen = record<{ sender_type: string }>(agent, 'typing_indicator');
  assert.equal((await emitAck(agent, 'join_conversation', { conversation_id: conversationId })).ok, true);
  const agentSays = async (m: Record<string, unknown>) => {
    const ack = await emitAck(agent, 'send_message', {
      conversation_id: conversationId,
      sender_type: 'agent',
      content: '',
      ...m,
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  };
  const fromVisitor = (content: string) =>
    toAgent.filter((m) => m.sender_type === 'end_user' && m.content === content);

  await t.test(
    'embed.js adds one global, a launcher and a hidden iframe, and leaves the page alone',
    async () => {
      assert.equal(await page.evaluate(() => (window as unknown as { __hostOk: boolean }).__hostOk), true);
      const added = await page.evaluate(() => {
        const w = window as unknown as { __before: string[] };
        return Object.getOwnPropertyNames(window).filter((n) => !w.__before.includes(n) && n !== '__before');
      });
      assert.deepEqual(
        added.filter((n) => n !== '__hostOk'),
        ['SwitchboardChat'],
      );
      assert.equal(await frameVisible(frame), false, 'closed until the visitor opens it');
      const sid = await page.evaluate((tk) => localStorage.getItem(`cw_sid_${tk}`), token);
      assert.ok(sid, 'the session id is kept in localStorage');
      assert.ok(frame.url().includes(`session_id=${sid}`));
    },
  );

  await t.test(
    'the launcher opens the widget from the keyboard, 380×560, focus in the message box',
    async () => {
      await page.locator('#first').focus();
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await eventually(() => frameVisible(frame));
      const box = await (await frame.frameElement()).boundingBox();
      assert.equal(Math.round(box!.width), 380);
      assert.equal(Math.round(box!.height), 560);
      assert.ok(box!.x + box!.width <= 1280 && box!.x + box!.width > 1200, 'at the right edge');
      await eventually(async () => (await frame.evaluate(() => document.activeElement?.id)) === 'cw-input');
      assert.ok(
        await page.evaluate(() =>
          (window as unknown as { __events: { type: string }[] }).__events.some(
            (e) => e.type === 'switchboard:opened',
          ),
        ),
      );
    },
  );

  await t.test('the visitor writes, the agent sees typing and the message', async () => {
    await page.keyboard.type('Hello from the visitor');
    await page.keyboard.press('Enter');
    await eventually(() => fromVisitor('Hello from the visitor').length === 1);
    assert.ok(
      typingSeen.some((e) => e.sender_type === 'end_user'),
      'the agent saw the visitor typing',
    );
    await frame.locator('.cw-msg--me', { hasText: 'Hello from the visitor' }).waitFor();
    assert.equal(await frame.locator('#cw-input').inputValue(), '');
  });

  await t.test(
    'the agent types and answers with quick buttons; a click sends the label, with the value',
    async () => {
      await emitAck(agent, 'user_typing', { conversation_id: conversationId, sender_type: 'agent' });
      await frame.getByText('An agent is typing…').waitFor();
      await agentSays({
        content: 'Did that help?',
        content_type: 'quick_button',
        rich_media: {
          buttons: [
            { label: 'Yes please', value: 'yes_please' },
            { label: 'No', value: 'no' },
          ],
        },
      });
      const yes = frame.getByRole('button', { name: 'Yes please' });
      await yes.click();
      await eventually(() => fromVisitor('Yes please').length === 1);
      assert.deepEqual((fromVisitor('Yes please')[0] as { rich_media?: unknown }).rich_media, {
        value: 'yes_please',
      });
      assert.equal(await yes.isDisabled(), true, 'a choice is made once');
    },
  );

  await t.test('every rich media type renders, and carousel and dropdown answer', async () => {
    await agentSays({
      content: 'Our shop',
      content_type: 'image',
      rich_media: { url: `${hostUrl}/pixel.png`, alt: 'A red pixel' },
    });
    await agentSays({
      content: 'invoice.pdf',
      content_type: 'file',
      rich_media: {
        url: `${hostUrl}/files/invoice.pdf`,
        filename: 'invoice.pdf',
        size: 204800,
        mime_type: 'application/pdf',
      },
    });
    await agentSays({
      content_type: 'carousel',
      rich_media: {
        cards: [
          {
            image_url: `${hostUrl}/pixel.png`,
            title: 'Product A',
            subtitle: 'Short description',
            buttons: [{ label: 'Buy now', value: 'buy_A' }],
          },
          { title: 'Product B', buttons: [{ label: 'Buy B', value: 'buy_B' }] },
        ],
      },
    });
    await agentSays({
      content: 'Select your region:',
      content_type: 'dropdown',
      rich_media: {
        placeholder: '-- pick one --',
        options: [
          { label: 'Asia Pacific', value: 'apac' },
          { label: 'Europe', value: 'eu' },
        ],
      },
    });
    const img = frame.getByRole('img', { name: 'A red pixel' });
    await img.waitFor();
    assert.equal(await img.getAttribute('src'), `${hostUrl}/pixel.png`);
    await eventually(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth === 1));
    const file = frame.getByRole('link', { name: 'Download invoice.pdf, 200 KB' });
    assert.equal(await file.getAttribute('href'), `${hostUrl}/files/invoice.pdf`);
    assert.equal(await frame.locator('.cw-card').count(), 2);
    await frame.getByText('Short description').waitFor();
    await frame.getByRole('button', { name: 'Buy now' }).click();
    await eventually(() => fromVisitor('Buy now').length === 1);
    await frame.getByLabel('Select your region:').selectOption('eu');
    await frame.locator('.cw-dropdown button').click();
    await eventually(() => fromVisitor('Europe').length === 1);
    assert.deepEqual((fromVisitor('Europe')[0] as { rich_media?: unknown }).rich_media, { value: 'eu' });
  });

  await t.test('accessible: every control is named, text contrast is WCAG AA, Tab reaches Send', async () => {
    const problems = (await frame.evaluate(A11Y_PROBLEMS)) as string[];
    assert.deepEqual(problems, []);
    await frame.locator('#cw-input').focus();
    await page.keyboard.press('Tab');
    assert.equal(await frame.evaluate(() => document.activeElement?.id), 'cw-send');
  });

  await t.test('message text is text: an XSS attempt shows literally and runs nothing', async () => {
    const xss = '<img src=x onerror=alert(1)>';
    await agentSays({ content: xss });
    await frame.getByText(xss, { exact: true }).waitFor();
    assert.equal(await frame.locator('img[src="x"]').count(), 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(dialogs, []);
    await page.screenshot({ path: path.join(artifacts, 'widget-open.png') });
  });

  await t.test('closed, it counts unread messages on the badge and tells the host page', async () => {
    await frame.locator('#cw-input').focus();
    await page.keyboard.press('Escape');
    await eventually(async () => !(await frameVisible(frame)));
    await agentSays({ content: 'Are you still there?' });
    await eventually(() =>
      page.evaluate(
        () => (window as unknown as { SwitchboardChat: { unread: number } }).SwitchboardChat.unread === 1,
      ),
    );
    const events = await page.evaluate(
      () => (window as unknown as { __events: { type: string; count?: number }[] }).__events,
    );
    assert.ok(events.some((e) => e.type === 'switchboard:closed'));
    assert.ok(events.some((e) => e.type === 'switchboard:unread' && e.count === 1));
    await page.screenshot({ path: path.join(artifacts, 'widget-closed-unread.png') });
  });

  await t.test('the host page opens it and names the visitor by postMessage', async () => {
    await page.evaluate(() => window.postMessage({ type: 'switchboard:open' }, location.origin));
    await eventually(() => frameVisible(frame));
    await eventually(() =>
      page.evaluate(
        () => (window as unknown as { SwitchboardChat: { unread: number } }).SwitchboardChat.unread === 0,
      ),
    );
    await page.evaluate(() =>
      window.postMessage({ type: 'switchboard:set_name', name: 'Dana' }, location.origin),
    );
    await eventually(async () => {
      const u = await database.prisma.endUser.findFirst({ where: { organizationId: org.id } });
      return u?.displayName === 'Dana';
    });
  });

  await t.test('offline, the widget says so, keeps the message, and sends it once on reconnect', async () => {
    await context.setOffline(true);
    for (const s of app.io.sockets.sockets.values()) if (!s.handshake.headers.cookie) s.conn.close();
    await frame.getByText(/Connection lost/).waitFor();
    await frame.locator('#cw-input').fill('Sent while offline');
    await frame.locator('#cw-input').press('Enter');
    await frame.locator('.cw-msg--pending', { hasText: 'Sent while offline' }).waitFor();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(fromVisitor('Sent while offline').length, 0);
    await context.setOffline(false);
    await eventually(() => fromVisitor('Sent while offline').length === 1, 20_000);
    await frame.locator('.cw-msg--pending').waitFor({ state: 'detached' });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fromVisitor('Sent while offline').length, 1);
    const stored = await database.prisma.message.count({
      where: { conversationId, content: 'Sent while offline' },
    });
    assert.equal(stored, 1);
  });

  await t.test('after a reload the same conversation and its history are there', async () => {
    await page.reload();
    frame = await widgetFrame(page);
    await page.evaluate(() =>
      (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
    );
    for (const text of [
      'Hello from the visitor',
      'Did that help?',
      'Sent while offline',
      '<img src=x onerror=alert(1)>',
    ]) {
      await frame.getByText(text, { exact: true }).first().waitFor();
    }
    assert.equal(await database.prisma.conversation.count({ where: { organizationId: org.id } }), 1);
    assert.equal(await database.prisma.endUser.count({ where: { organizationId: org.id } }), 1);
    await page.screenshot({ path: path.join(artifacts, 'widget-after-reload.png') });
    assert.deepEqual(pageErrors, []);
  });

  await t.test('a host page on an origin outside the allowed list gets 403', async () => {
    const other = await context.newPage();
    const refused = other.waitForResponse((r) => r.url().includes('/chat-widget?'));
    await other.goto(`http://127.0.0.1:${hostPort}/`);
    assert.equal((await refused).status(), 403);
    await other.close();
  });

  await t.test('on a page whose CSP forbids inline styles, the launcher is styled and works', async () => {
    const strict = await context.newPage();
    await strict.goto(`${hostUrl}/strict`);
    // Styled means fixed at the bottom right: that is where the launcher is hit.
    await eventually(() =>
      strict.evaluate(
        () => !!document.elementFromPoint(1280 - 48, 800 - 48)?.hasAttribute('data-switchboard-chat'),
      ),
    );
    await strict.mouse.click(1280 - 48, 800 - 48);
    const strictFrame = await widgetFrame(strict);
    await eventually(() => frameVisible(strictFrame));
    await strict.close();
  });

  await t.test('with the chat server down, the host page still works', async () => {
    const down = await context.newPage();
    const errors: string[] = [];
    down.on('pageerror', (err) => errors.push(err.message));
    await down.goto(`${hostUrl}/down`);
    assert.equal(await down.evaluate(() => (window as unknown as { __hostOk: boolean }).__hostOk), true);
    assert.deepEqual(errors, []);
    await down.close();
  });
});
