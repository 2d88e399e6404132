// <switchboard-chat mode="launcher"> on a phone: full screen while open, a labelled close button
// a thumb can hit, the host page held still behind it, the composer above the on-screen keyboard;
// on a desktop the floating panel it always was. And the answers to buttons and dropdowns: the
// label as the visitor's message, the value alongside (`rich_media.value`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserFor, watch } from '../../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant } from '../../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, nextEvent } from '../../../test/helpers/sockets.js';

const T = 10_000;
const bundle = path.join(import.meta.dirname, '..', 'dist', 'switchboard-chat.js');

function startHost(files: Record<string, { type: string; body: string }>, csp: string): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type, 'content-security-policy': csp }).end(f.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const page = (attrs: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<script src="/switchboard-chat.js" defer></script></head>
<body><h1>Shop</h1>${'<p>A product of the shop, with a long description.</p>'.repeat(150)}
<switchboard-chat ${attrs}></switchboard-chat>
</body></html>`;

const overflow = (p: Page) =>
  p.evaluate(() => [
    getComputedStyle(document.documentElement).overflow,
    getComputedStyle(document.body).overflow,
  ]);

test('<switchboard-chat> launcher on a phone and on a desktop; answers to buttons', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const files: Record<string, { type: string; body: string }> = {
    '/switchboard-chat.js': { type: 'text/javascript', body: readFileSync(bundle, 'utf8') },
  };
  const ws = app.url.replace(/^http/, 'ws');
  const host = await startHost(
    files,
    `default-src 'none'; script-src 'self'; style-src 'self'; connect-src ${app.url} ${ws}`,
  );
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const tn = await createTenant(app.services, { origins: [hostUrl] });
  files['/'] = {
    type: 'text/html',
    body: page(`tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}" locale="en"`),
  };
  const agentOf = await createAgent(app.services, tn.id);
  const { cookie } = await loginAgent(app.url, agentOf.user.email, agentOf.password);
  const agent = await connectSocket(app.url, { cookie });
  assert.equal((await emitAck(agent, 'join_queue')).ok, true);
  const { browser, contexts } = await browserFor(t, async () => {
    agent.disconnect();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];

  await t.test('at 390×844 the open panel is the whole screen; closing gives the page back', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true });
    contexts.push(context);
    const p = await context.newPage();
    watch(p, problems, 'phone');
    await p.goto(hostUrl);
    const open = p.getByRole('button', { name: 'Open chat' });
    await open.waitFor({ timeout: T });
    await p.evaluate(() => window.scrollTo(0, 600));
    await open.tap();
    const panel = p.locator('switchboard-chat .panel');
    await panel.waitFor({ state: 'visible', timeout: T });
    const box = await panel.boundingBox();
    assert.deepEqual([box!.x, box!.y, box!.width, box!.height].map(Math.round), [0, 0, 390, 844]);
    assert.deepEqual(await overflow(p), ['hidden', 'hidden'], 'the host page is locked');
    await p.mouse.wheel(0, 800);
    assert.equal(await p.evaluate(() => window.scrollY), 600, 'the page behind does not scroll');

    const close = p.getByRole('button', { name: 'Close chat' });
    assert.equal(await close.count(), 1, 'one close button: the launcher is under the panel');
    const closeBox = await close.boundingBox();
    assert.ok(
      closeBox!.width >= 44 && closeBox!.height >= 44,
      `close is ${closeBox!.width}×${closeBox!.height}`,
    );
    await close.tap();
    await panel.waitFor({ state: 'hidden', timeout: T });
    assert.deepEqual(await overflow(p), ['visible', 'visible'], 'the lock is released');
    assert.equal(await p.evaluate(() => window.scrollY), 600);

    // The on-screen keyboard: the viewport shrinks; the message field and Send stay in view.
    await open.tap();
    await panel.waitFor({ state: 'visible', timeout: T });
    await p.getByRole('textbox', { name: 'Message' }).focus();
    await p.setViewportSize({ width: 390, height: 400 });
    await eventually(async () => {
      const b = await p.getByRole('button', { name: 'Send', exact: true }).boundingBox();
      return !!b && b.y >= 0 && b.y + b.height <= 400;
    });
    const input = await p.getByRole('textbox', { name: 'Message' }).boundingBox();
    assert.ok(input!.y + input!.height <= 400, 'the message field is above the keyboard');
  });

  await t.test(
    'at 1280×800 it is the floating panel; a tapped button sends its label and value',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      contexts.push(context);
      const p = await context.newPage();
      watch(p, problems, 'desktop');
      await p.goto(hostUrl);
      await p.getByRole('button', { name: 'Open chat' }).click();
      const panel = p.locator('switchboard-chat .panel');
      await panel.waitFor({ state: 'visible', timeout: T });
      const box = await panel.boundingBox();
      assert.deepEqual([box!.width, box!.height].map(Math.round), [360, 520]);
      assert.deepEqual(await overflow(p), ['visible', 'visible'], 'no lock on a desktop');

      const queued = nextEvent(agent, 'conversation_updated');
      await p.getByRole('textbox', { name: 'Message' }).fill('Hello');
      await p.keyboard.press('Enter');
      const conversationId = (await queued).conversation_id as string;
      await emitAck(agent, 'claim_conversation', { conversation_id: conversationId });
      const say = (m: Record<string, unknown>) =>
        emitAck(agent, 'send_message', { conversation_id: conversationId, sender_type: 'agent', ...m });

      await say({
        content: 'Track it?',
        content_type: 'quick_button',
        rich_media: { buttons: [{ label: 'Yes please', value: 'yes-1e5570' }] },
      });
      const tapped = nextEvent(
        agent,
        'message_received',
        (m) => m.sender_type === 'end_user' && m.content === 'Yes please',
      );
      await p.getByRole('button', { name: 'Yes please' }).click();
      const reply = await tapped;
      assert.equal(reply.content_type, 'text');
      assert.deepEqual(reply.rich_media, { value: 'yes-1e5570' });
      await p.locator('.msg.visitor', { hasText: 'Yes please' }).waitFor({ timeout: T });
      assert.equal(await p.locator('.msg.visitor', { hasText: 'yes-1e5570' }).count(), 0);

      await say({
        content: 'Your region?',
        content_type: 'dropdown',
        rich_media: {
          options: [
            { label: 'Europe', value: 'eu' },
            { label: 'Asia Pacific', value: 'apac' },
          ],
        },
      });
      const chose = nextEvent(
        agent,
        'message_received',
        (m) => m.sender_type === 'end_user' && m.content === 'Europe',
      );
      await p.getByRole('combobox', { name: 'Your region?' }).selectOption({ label: 'Europe' });
      await p.locator('.msg form.choose').getByRole('button', { name: 'Send' }).click();
      assert.deepEqual((await chose).rich_media, { value: 'eu' });
      await p.locator('.msg.visitor', { hasText: 'Europe' }).waitFor({ timeout: T });
    },
  );

  assert.deepEqual(problems, []);
});
