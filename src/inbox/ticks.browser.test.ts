// Delivery ticks in real Chromium, an agent (inbox) and a visitor (embedded widget) in separate
// browser contexts: the agent's message goes sent → delivered (the visitor's widget received it,
// panel closed) → read (the visitor opens the panel); the visitor's message goes sent → read when
// the agent opens the conversation; both survive a reload. Each tick has an accessible text.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';

const T = 10_000;

function startHost(html: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function widgetFrame(page: Page): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))), T);
  await frame!.waitForLoadState('load');
  await frame!.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
  return frame!;
}

const setPanel = (page: Page, open: boolean) =>
  page.evaluate((o) => {
    const chat = (window as unknown as { SwitchboardChat: { open(): void; close(): void } }).SwitchboardChat;
    if (o) chat.open();
    else chat.close();
  }, open);

test('ticks: sent → delivered → read both ways, live, and after a reload', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org } = await createOrg(app.services);
  const agent = await createAgent(app.services, org.id, { role: 'admin' });
  let token = '';
  const host = await startHost(
    () => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop</h1><script src="${app.url}/chat-widget/embed.js" data-embed-token="${token}"></script></body></html>`,
  );
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  token = (
    await app.services.channels.createEmbedToken({
      organizationId: org.id,
      name: 'Web chat',
      allowedOrigins: [hostUrl],
    })
  ).token;
  const { browser, contexts } = await browserFor(t, async () => {
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];

  // The visitor writes first.
  const v = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(v);
  const visitor = await v.newPage();
  watch(visitor, problems, 'visitor');
  await visitor.goto(`${hostUrl}/`);
  let frame = await widgetFrame(visitor);
  await setPanel(visitor, true);
  await frame.locator('#cw-input').waitFor({ state: 'visible', timeout: T });
  await frame.locator('#cw-input').fill('Is my order shipped?');
  await frame.locator('#cw-input').press('Enter');
  const vRow = () => frame.locator('.cw-msg--me', { hasText: 'Is my order shipped?' }).first();
  await vRow().locator('.cw-ticks[data-state="sent"]').waitFor({ timeout: T });
  assert.equal(await vRow().locator('.cw-ticks .cw-sr').textContent(), 'Sent');
  await setPanel(visitor, false);

  // The agent opens it: the visitor's message is read, live.
  const a = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(a.context);
  watch(a.page, problems, 'agent');
  await a.page.goto(`${app.url}/inbox`);
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  const conv = await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } });
  await a.page.getByRole('tab', { name: /All/ }).click();
  await a.page.locator(`.conv[data-id="${conv.id}"]`).click();
  await a.page.locator('#message-list .msg', { hasText: 'Is my order shipped?' }).waitFor({ timeout: T });
  // (The panel is closed: the row is in the page, not on screen.)
  await vRow().locator('.cw-ticks[data-state="read"]').waitFor({ state: 'attached', timeout: T });
  assert.match((await vRow().locator('.cw-ticks .cw-sr').textContent()) ?? '', /^Read \d{1,2}:\d{2}/);
  // The inbox acknowledged receipt too (stored, throttled).
  await eventually(
    async () =>
      (await database.prisma.conversation.findUniqueOrThrow({ where: { id: conv.id } })).agentDeliveredSeq >=
      1,
    T,
  );

  // The agent answers while the visitor's panel is closed: sent → delivered, not read.
  await a.page.locator('#composer-text').fill('Yes, it left this morning.');
  await a.page.locator('#composer-text').press('Enter');
  const aRow = () => a.page.locator('#message-list .msg', { hasText: 'Yes, it left this morning.' }).first();
  await aRow().locator('.ticks[data-state="delivered"]').waitFor({ timeout: T });
  assert.equal(await aRow().locator('.ticks .sr-only').textContent(), 'Delivered');
  assert.equal(await aRow().locator('.ticks [aria-hidden="true"]').textContent(), '✓✓');
  const color = (state: string) =>
    aRow()
      .locator(`.ticks[data-state="${state}"]`)
      .evaluate((e) => getComputedStyle(e).color);
  const grey = await color('delivered');

  // The visitor opens the panel and sees it: read, in colour.
  await setPanel(visitor, true);
  await aRow().locator('.ticks[data-state="read"]').waitFor({ timeout: T });
  assert.match((await aRow().locator('.ticks .sr-only').textContent()) ?? '', /^Read \d{1,2}:\d{2}/);
  assert.notEqual(await color('read'), grey);

  // Reloads: both sides draw the same state from the server.
  await visitor.reload();
  frame = await widgetFrame(visitor);
  await vRow().locator('.cw-ticks[data-state="read"]').waitFor({ state: 'attached', timeout: T });
  await a.page.reload();
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  await a.page.getByRole('tab', { name: /All/ }).click();
  await a.page.locator(`.conv[data-id="${conv.id}"]`).click();
  await aRow().locator('.ticks[data-state="read"]').waitFor({ timeout: T });
  assert.deepEqual(problems, []);
});
