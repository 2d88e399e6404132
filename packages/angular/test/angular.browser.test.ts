// @switchboard/angular end to end: a small Angular app built against the library's dist/ (the
// Angular Package Format ng-packagr made), served on an allowed origin and driven in Chromium
// against the real server; an agent in the inbox (Socket.IO) answers the visitor.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { loginAgent, startApp, type TestApp } from '../../../test/helpers/app.js';
import { launchBrowser, watch } from '../../../test/helpers/browser.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { userHash } from '../../../src/tenants/identity.js';
import { createTenant, type Tenant } from '../../../test/helpers/relay.js';
import { connectSocket, emitAck, nextEvent } from '../../../test/helpers/sockets.js';
import { buildTestApp } from './app/build.js';

type Call = { kind: 'fetch' | 'ws'; url: string; rendered: boolean };
/** What the test page exposes: the calls it recorded (index.html) and the service (main.ts). */
type Shop = {
  SB_CALLS: Call[];
  sbChat: { unreadCount(): number; panelOpen(): boolean; connectionState(): string };
};

let t: TestApp;
let site: Server;
let origin: string;
let browser: Browser;
let tn: Tenant;
let agent: Socket;

before(async () => {
  t = await startApp(await dbModes[0]!.open());
  const [js, html] = await Promise.all([
    buildTestApp(),
    readFile(path.join(import.meta.dirname, 'app/index.html'), 'utf8'),
  ]);
  // The tenant's shop: the app on an origin of its own, listed in the tenant's allowed_origins.
  // The tenant's shop: the app on an origin of its own, listed in the tenant's allowed_origins.
  // `?user=<id>` plays the shop's backend for a signed-in user: it hands the page the user's
  // signature for visitorTokenProvider.
  site = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://shop');
    if (url.pathname === '/main.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    } else if (url.pathname === '/') {
      const user = url.searchParams.get('user');
      const config = {
        tenantId: tn.id,
        publicKey: tn.pk,
        baseUrl: t.url,
        ...(user ? { identity: `${user}:${userHash(tn.secret, user)}` } : {}),
      };
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(html.replace('__CONFIG__', JSON.stringify(config)));
    } else res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  tn = await createTenant(t.services, { origins: [origin] });
  const a = await createAgent(t.services, tn.id);
  const { cookie } = await loginAgent(t.url, a.user.email, a.password);
  agent = await connectSocket(t.url, { cookie });
  assert.equal((await emitAck(agent, 'join_queue')).ok, true);
  browser = await launchBrowser();
});

after(async () => {
  agent?.disconnect();
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await t?.stop();
  await t?.database.close();
});

/** The shop's page in one rendering mode, connected; its problems are collected. */
async function openShop(mode: 'docked' | 'launcher' | 'thread', user?: string) {
  const page = await browser.newPage();
  const problems: string[] = [];
  watch(page, problems, `shop ${mode}`);
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`shop ${mode} console: ${m.text()}`);
  });
  await page.goto(`${origin}/?mode=${mode}${user ? `&user=${user}` : ''}`);
  await page.waitForFunction(() => (globalThis as unknown as Shop).sbChat?.connectionState() === 'open');
  // Nothing reached the network before the first render (afterNextRender): the session, then
  // the socket, both once the chat was in the DOM.
  const calls = await page.evaluate(() => (globalThis as unknown as Shop).SB_CALLS);
  assert.deepEqual(
    calls.map((c) => [c.kind, new URL(c.url).pathname, c.rendered]),
    [
      ['fetch', '/api/v1/create/visitor-session', true],
      ...(user ? [['fetch', '/api/v1/identify/visitor', true]] : []),
      ['ws', '/api/v1/ws/widget', true],
    ],
  );
  const unread = () => page.evaluate(() => (globalThis as unknown as Shop).sbChat.unreadCount());
  const panelOpen = () => page.evaluate(() => (globalThis as unknown as Shop).sbChat.panelOpen());
  return { page, problems, unread, panelOpen };
}

/** The agent's side once the visitor has written `content`: its conversation, claimed. */
function agentHears(content: string) {
  return nextEvent(agent, 'conversation_updated', (u) => u.content === content).then(async (u) => {
    const id = u.conversation_id as string;
    assert.equal((await emitAck(agent, 'claim_conversation', { conversation_id: id })).ok, true);
    return {
      id,
      say: async (text: string) =>
        assert.equal(
          (await emitAck(agent, 'send_message', { conversation_id: id, content: text, sender_type: 'agent' }))
            .ok,
          true,
        ),
    };
  });
}

test('docked panel: the visitor sends, the agent answers, the reply shows; unread counts while closed', async () => {
  const { page, problems, unread, panelOpen } = await openShop('docked');
  const panel = page.locator('sb-chat-panel');
  await panel.getByRole('status').filter({ hasText: 'Online' }).waitFor();
  assert.equal(await panel.getByRole('heading', { level: 2 }).textContent(), tn.org.name);

  // The docked panel starts collapsed; the header's button opens it.
  await panel.getByRole('button', { name: 'Open chat' }).click();
  assert.equal(await panelOpen(), true);

  // The visitor writes from the panel (label → textarea, Enter sends).
  const heard = agentHears('Where is my order?');
  const input = panel.getByLabel('Message', { exact: true });
  await input.fill('Where is my order?');
  await input.press('Enter');
  const log = panel.getByRole('log');
  await log.getByText('Where is my order?').waitFor();
  const conversation = await heard;
  // Acked: no longer pending.
  await panel.locator('li[aria-busy]').waitFor({ state: 'detached' });
  assert.equal(await input.inputValue(), '');

  // The agent answers: the reply appears, nothing is unread (the panel is open).
  await conversation.say('It ships today');
  await log.locator('li.sb-msg--agent', { hasText: 'It ships today' }).waitFor();
  assert.equal(await unread(), 0);

  // Typing from the agent shows in the status line.
  await emitAck(agent, 'user_typing', { conversation_id: conversation.id, sender_type: 'agent' });
  await panel.getByText('Typing…').waitFor();

  // Closed (Escape), a new reply counts as unread, shown on the header's button.
  await input.press('Escape');
  assert.equal(await panelOpen(), false);
  await conversation.say('Anything else?');
  await page.locator('#unread', { hasText: '1' }).waitFor();
  assert.equal(await unread(), 1);
  assert.equal(await panel.getByText('Typing…').count(), 0, 'the reply ends the indicator');
  await panel.getByRole('button', { name: 'Open chat 1 unread' }).click();
  assert.equal(await unread(), 0);
  await log.locator('li', { hasText: 'Anything else?' }).waitFor();
  assert.deepEqual(await log.locator('li .sb-msg__text').allTextContents(), [
    'Where is my order?',
    'It ships today',
    'Anything else?',
  ]);

  assert.deepEqual(problems, []);
  await page.close();
});

test('launcher: keyboard only, the pop-up panel sends and receives; unread on the bubble', async () => {
  const { page, problems, unread, panelOpen } = await openShop('launcher');
  const bubble = page.locator('sb-chat-launcher button.sb-launcher');
  assert.equal(await bubble.getAttribute('aria-label'), 'Open chat');
  assert.equal(await bubble.getAttribute('aria-expanded'), 'false');

  // Tab to the bubble, Enter opens the panel and puts the focus in its composer.
  await page.keyboard.press('Tab');
  assert.equal(await bubble.evaluate((b) => b === document.activeElement), true);
  await page.keyboard.press('Enter');
  assert.equal(await panelOpen(), true);
  const panel = page.locator('sb-chat-launcher sb-chat-panel');
  await panel.getByRole('log').waitFor();
  await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA');

  const heard = agentHears('Do you ship abroad?');
  await page.keyboard.type('Do you ship abroad?');
  await page.keyboard.press('Enter');
  const conversation = await heard;
  await conversation.say('Yes, everywhere in the EU');
  await panel.getByRole('log').locator('li', { hasText: 'Yes, everywhere in the EU' }).waitFor();
  assert.equal(await unread(), 0);

  // Escape closes the pop-up and gives the focus back to the bubble.
  await page.keyboard.press('Escape');
  await panel.waitFor({ state: 'detached' });
  assert.equal(await bubble.evaluate((b) => b === document.activeElement), true);
  assert.equal(await bubble.getAttribute('aria-expanded'), 'false');

  await conversation.say('Anything else?');
  await page.waitForFunction(
    () => document.querySelector('.sb-launcher')?.getAttribute('aria-label') === 'Open chat (1 unread)',
  );
  assert.equal(await unread(), 1);
  assert.equal(await bubble.locator('.sb-badge').textContent(), '1');
  await page.keyboard.press('Enter');
  assert.equal(await unread(), 0);
  await panel.getByRole('log').locator('li', { hasText: 'Anything else?' }).waitFor();

  assert.deepEqual(problems, []);
  await page.close();
});

test('chromeless thread: messages and composer only; what it shows is never unread', async () => {
  const { page, problems, unread } = await openShop('thread');
  const thread = page.locator('sb-chat-thread');
  assert.equal(await page.locator('sb-chat-panel, sb-chat-launcher').count(), 0);
  const heard = agentHears('Hello from the help page');
  await thread.getByLabel('Message', { exact: true }).fill('Hello from the help page');
  await thread.getByRole('button', { name: 'Send' }).click();
  const conversation = await heard;
  await conversation.say('Hi! How can I help?');
  await thread.getByRole('log').locator('li.sb-msg--agent', { hasText: 'Hi! How can I help?' }).waitFor();
  assert.equal(await unread(), 0);
  assert.deepEqual(problems, []);
  await page.close();
});

test('visitorTokenProvider: a signed-in user finds their conversation on another device', async () => {
  const user = `user-${Date.now()}`;
  const first = await openShop('thread', user);
  const heard = agentHears('Written on my phone');
  await first.page
    .locator('sb-chat-thread')
    .getByLabel('Message', { exact: true })
    .fill('Written on my phone');
  await first.page.keyboard.press('Enter');
  const conversation = await heard;
  await conversation.say('Noted');
  await first.page.getByRole('log').locator('li', { hasText: 'Noted' }).waitFor();
  await first.page.close();

  // The same user elsewhere: identify points the new session at their conversation, whose
  // history arrives with the welcome (and is not unread).
  const second = await openShop('thread', user);
  const log = second.page.getByRole('log');
  await log.locator('li', { hasText: 'Noted' }).waitFor();
  assert.deepEqual(await log.locator('li .sb-msg__text').allTextContents(), ['Written on my phone', 'Noted']);
  assert.equal(await second.unread(), 0);
  assert.deepEqual([...first.problems, ...second.problems], []);
  await second.page.close();
});
