// The bot as visitors and agents see it, in real Chromium: a visitor asks in <switchboard-chat>
// and in the embedded widget, reads an answer visibly named as the bot's with its source and
// follow-up suggestions, taps one, then presses "Talk to a person". The agent's inbox (another
// browser context, signed in) lists the escalated conversation with the bot's last words as its
// preview, and its thread names each of the bot's messages "Bot".
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { createTenant } from '../../test/helpers/relay.js';
import { eventually } from '../../test/helpers/sockets.js';
import { createDocumentSchema } from '../knowledge/knowledge.schemas.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const T = 10_000;

const DOCS = [
  {
    title: 'Delivery times and costs',
    url: 'https://help.shop.example/delivery',
    body: 'Orders to Germany, France and Belgium arrive in 2 to 4 working days. Standard delivery costs 4.90 euros and is free from 60 euros.',
  },
  {
    title: 'Returning an item',
    url: 'https://help.shop.example/returns',
    body: 'You can return any item within 30 days of delivery. Print the prepaid label from your account and drop the parcel at any parcel point.',
  },
];
const QUESTION = 'Can I return an item after delivery?';
const COMING = 'I am passing you to a person from our team: they will answer here shortly.';
const OFFLINE = 'Our team is offline right now. A person will answer here as soon as they are back.';

/** The shop's site, on another origin than the chat server's. */
function startHost(pages: Record<string, string>): Promise<Server> {
  const server = createServer((req, res) => {
    const html = pages[(req.url ?? '/').split('?')[0]!];
    if (html === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function setUp(t: TestContext) {
  mkdirSync(artifacts, { recursive: true });
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const pages: Record<string, string> = {};
  const host = await startHost(pages);
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const { browser, contexts } = await browserFor(t, async () => {
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  return { app, database, pages, hostUrl, browser, contexts, problems: [] as string[] };
}

/** The agent's inbox: the escalated conversation listed with the bot's preview, the thread's "Bot"s. */
async function inboxShows(inbox: Page, app: TestApp, conversationId: string, lastBotWords: string) {
  if (!inbox.url().includes('/inbox')) await inbox.goto(`${app.url}/inbox`);
  const row = inbox.locator(`.conv[data-id="${conversationId}"]`);
  await row.waitFor({ timeout: T });
  await eventually(
    async () => ((await row.locator('.conv-preview').textContent()) ?? '').startsWith('Bot: '),
    T,
  );
  assert.equal(await row.locator('.conv-sender').textContent(), 'Bot: ');
  assert.match((await row.locator('.conv-preview').textContent())!, new RegExp(lastBotWords.slice(0, 30)));
  await row.click();
  const bots = inbox.locator('.msg.msg-bot');
  await eventually(async () => (await bots.count()) === 3, T);
  assert.deepEqual(await bots.locator('.who').allTextContents(), ['Bot', 'Bot', 'Bot']);
  assert.match((await bots.nth(0).textContent())!, /within 30 days/);
  assert.match((await bots.nth(1).textContent())!, /2 to 4 working days/);
  assert.match((await bots.nth(2).textContent())!, new RegExp(lastBotWords.slice(0, 30)));
  const visitor = inbox.locator('.msg.msg-end_user');
  assert.equal(await visitor.count(), 3);
  assert.match((await visitor.nth(2).textContent())!, /Talk to a person/);
}

test('<switchboard-chat>: the bot answers as the bot, a suggestion is tapped, the visitor escalates; the inbox shows it', async (t) => {
  const { app, database, pages, hostUrl, browser, contexts, problems } = await setUp(t);
  const tn = await createTenant(app.services, { origins: [hostUrl] });
  for (const d of DOCS) await app.services.knowledge.create(tn.id, createDocumentSchema.parse(d));
  const agent = await createAgent(app.services, tn.id);
  pages['/'] = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="${app.url}/sdk/switchboard-chat.js" defer></script></head>
<body><h1>Shop</h1><switchboard-chat tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}" locale="en" mode="panel"></switchboard-chat></body></html>`;

  // The agent is in the inbox already (online), so the visitor will be told a person is coming.
  const a = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(a.context);
  watch(a.page, problems, 'inbox');
  await a.page.goto(`${app.url}/inbox`);
  await eventually(async () => (await app.realtime.onlineAgents(tn.id)).includes(agent.user.id), T);

  const v = await browser.newContext();
  contexts.push(v);
  const page = await v.newPage();
  watch(page, problems, 'shop');
  await page.goto(`${hostUrl}/`);
  const chat = page.locator('switchboard-chat');
  await page.getByRole('textbox', { name: 'Message' }).fill(QUESTION);
  await page.keyboard.press('Enter');

  const answers = chat.locator('.msg.bot:not(.greeting)');
  await answers.first().waitFor({ timeout: T });
  const first = answers.first();
  const name = first.locator('.who');
  assert.equal(await name.isVisible(), true, 'the bot is named on screen');
  assert.equal(await name.textContent(), 'Assistant');
  assert.match((await first.textContent())!, /within 30 days/);
  assert.match(
    (await first.textContent())!,
    /Source: Returning an item — https:\/\/help\.shop\.example\/returns/,
  );
  assert.deepEqual(await first.locator('.buttons button').allTextContents(), [
    'Talk to a person',
    'Delivery times and costs',
  ]);
  const conversationId = (
    await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: tn.id } })
  ).id;
  assert.equal(
    await a.page.locator(`.conv[data-id="${conversationId}"]`).count(),
    0,
    'while the bot has it, the inbox lists nothing',
  );

  // The suggestion asks for the other document.
  await first.getByRole('button', { name: 'Delivery times and costs' }).click();
  await answers.nth(1).waitFor({ timeout: T });
  assert.match((await answers.nth(1).textContent())!, /2 to 4 working days/);
  assert.equal(await answers.nth(1).locator('.who').isVisible(), true);

  await answers.nth(1).getByRole('button', { name: 'Talk to a person' }).click();
  await answers.nth(2).waitFor({ timeout: T });
  assert.equal(await answers.nth(2).locator('.who').textContent(), 'Assistant');
  assert.match((await answers.nth(2).textContent())!, new RegExp(COMING.slice(0, 30)));
  await page.screenshot({ path: path.join(artifacts, 'bot-chat-element.png') });

  const conv = await database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
  assert.equal(conv.mode, 'human');
  await inboxShows(a.page, app, conversationId, COMING);
  await a.page.screenshot({ path: path.join(artifacts, 'bot-inbox-chat-element.png') });
  assert.deepEqual(problems, []);
});

test('the embedded widget: the bot named on screen, a suggestion, "Talk to a person" with nobody online; the inbox shows it', async (t) => {
  const { app, database, pages, hostUrl, browser, contexts, problems } = await setUp(t);
  const { org } = await createOrg(app.services);
  for (const d of DOCS) await app.services.knowledge.create(org.id, createDocumentSchema.parse(d));
  const agent = await createAgent(app.services, org.id);
  const { token } = await app.services.channels.createEmbedToken({
    organizationId: org.id,
    name: 'Web chat',
    allowedOrigins: [hostUrl],
  });
  pages['/'] = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop</h1><script src="${app.url}/chat-widget/embed.js" data-embed-token="${token}"></script></body></html>`;

  const v = await browser.newContext();
  contexts.push(v);
  const page = await v.newPage();
  watch(page, problems, 'shop');
  await page.goto(`${hostUrl}/`);
  let frame: Frame | undefined;
  await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))), T);
  const w = frame!;
  await w.waitForLoadState('load');
  await w.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
  // The widget page opened the visitor's conversation, in the tenant's default mode: the bot's.
  const opened = await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } });
  assert.equal(opened.mode, 'bot');
  const conversationId = opened.id;
  await page.evaluate('window.SwitchboardChat.open()');
  await w.locator('#cw-input').fill(QUESTION);
  await w.locator('#cw-input').press('Enter');

  const answers = w.locator('.cw-msg--bot');
  await answers.first().waitFor({ timeout: T });
  const first = answers.first();
  const name = first.locator('.cw-who');
  assert.equal(await name.isVisible(), true, 'the bot is named on screen, not only for screen readers');
  assert.equal(await name.textContent(), 'Bot');
  assert.equal(await first.locator('.cw-sr').textContent(), 'Bot: ');
  assert.match((await first.locator('.cw-text').textContent())!, /within 30 days/);
  assert.match(
    (await first.locator('.cw-text').textContent())!,
    /Source: Returning an item — https:\/\/help\.shop\.example\/returns/,
  );
  assert.equal(await w.locator('.cw-msg--them:not(.cw-msg--bot) .cw-who').count(), 0);

  await first.getByRole('button', { name: 'Delivery times and costs' }).click();
  await answers.nth(1).waitFor({ timeout: T });
  assert.match((await answers.nth(1).locator('.cw-text').textContent())!, /2 to 4 working days/);

  // Nobody is online and the tenant has no history: told so, with no figure.
  assert.deepEqual(await app.realtime.onlineAgents(org.id), []);
  await answers.nth(1).getByRole('button', { name: 'Talk to a person' }).click();
  await answers.nth(2).waitFor({ timeout: T });
  assert.equal(await answers.nth(2).locator('.cw-text').textContent(), OFFLINE);
  assert.equal(await answers.nth(2).locator('.cw-who').isVisible(), true);
  await page.screenshot({ path: path.join(artifacts, 'bot-widget.png') });
  const conv = await database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
  assert.equal(conv.mode, 'human');
  assert.equal(conv.escalationReason, 'visitor_request');

  const a = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(a.context);
  watch(a.page, problems, 'inbox');
  await inboxShows(a.page, app, conversationId, OFFLINE);
  assert.deepEqual(problems, []);
});
