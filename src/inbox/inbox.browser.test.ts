// The inbox and the dashboard as people use them, in real headless Chromium: an admin sets up a
// web-chat embed in the dashboard, its snippet goes on a customer page on another origin, a
// visitor writes through the widget, and two agents in two browser contexts play the spec's
// Assignment Flow. Screenshots land in test/artifacts/.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { browserFor, launchBrowser, signedIn, watch } from '../../test/helpers/browser.js';
import { loseNext } from '../../test/helpers/faults.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import type { RealtimeSocket } from '../realtime/realtime.types.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const T = 10_000;

function startHost(pages: Record<string, string>): Promise<Server> {
  const server = createServer((req, res) => {
    const html = pages[req.url ?? '/'];
    if (html === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const shot = (page: Page | Frame, name: string) =>
  'screenshot' in page ? page.screenshot({ path: path.join(artifacts, name) }) : Promise.resolve();

test('dashboard → embed snippet on a page → the Assignment Flow between two agents and a visitor', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, channelId } = await createOrg(app.services, 'Browser Org');
  const admin = await createAgent(app.services, org.id, { role: 'admin' });
  const agentA = await createAgent(app.services, org.id, { role: 'agent' });
  const agentB = await createAgent(app.services, org.id, { role: 'agent' });
  await database.prisma.user.update({ where: { id: agentA.user.id }, data: { displayName: 'Ann' } });
  await database.prisma.user.update({ where: { id: agentB.user.id }, data: { displayName: 'Bob' } });

  const pages: Record<string, string> = {};
  const host = await startHost(pages);
  // Another origin than the chat server's (127.0.0.1): the embed is cross-origin, as on a real site.
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;

  // Cleanup is registered before anything can fail (Chromium missing, say): all opened is closed.
  const launching = launchBrowser();
  t.after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await (await launching.catch(() => undefined))?.close();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const contexts: BrowserContext[] = [];
  const browser = await launching;
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  const figures: Record<string, number> = {};

  let snippet = '';

  await t.test(
    'an admin creates a bot and an embed token in the dashboard; the snippet is shown once',
    async () => {
      const { context, page } = await signedIn(browser, app, admin.user.email, admin.password);
      contexts.push(context);
      watch(page, problems, 'admin');
      await page.goto(`${app.url}/dashboard#bots`);
      const createBot = page.getByRole('form', { name: 'Create a bot' });
      await createBot.getByLabel('Name').fill('Sales bot');
      await createBot.getByRole('button', { name: 'Create' }).click();
      const rename = page.getByLabel('New name for Sales bot');
      await rename.fill('Sales');
      await rename.locator('xpath=..').getByRole('button', { name: 'Rename' }).click();
      await page.getByRole('cell', { name: 'Sales', exact: true }).waitFor({ timeout: T });

      await page.goto(`${app.url}/dashboard#web-chat`);
      const createToken = page.getByRole('form', { name: 'Create an embed token' });
      await createToken.getByLabel('Bot').selectOption({ label: 'Sales' });
      await createToken.getByLabel('Name').fill('Shop site');
      await createToken.getByLabel(/Allowed origins/).fill(`${hostUrl}\nhttps://www.example.com`);
      await createToken.getByRole('button', { name: 'Create' }).click();
      const secret = page.locator('.secret-value');
      await secret.nth(1).waitFor({ timeout: T });
      const token = (await secret.nth(0).textContent())!;
      snippet = (await secret.nth(1).textContent())!;
      assert.match(token, /^ew_/);
      assert.equal(
        snippet,
        `<script src="${app.url}/chat-widget/embed.js" data-embed-token="${token}"></script>`,
      );
      const row = page.getByRole('row', { name: /Shop site/ });
      assert.match((await row.textContent())!, new RegExp(`${token.slice(0, 7)}…`));
      assert.match((await row.textContent())!, /Sales/);
      await shot(page, 'dashboard-web-chat-created.png');
      // Shown once: after a reload only the prefix remains.
      await page.reload();
      await page.getByRole('row', { name: /Shop site/ }).waitFor({ timeout: T });
      assert.equal(await page.locator('.secret-value').count(), 0);
      assert.ok(!(await page.content()).includes(token));
      const stored = await database.prisma.embedToken.findFirstOrThrow({ where: { name: 'Shop site' } });
      assert.deepEqual(stored.allowedOrigins, [hostUrl, 'https://www.example.com']);
    },
  );

  await t.test('the snippet works on a page of another origin: a visitor starts a conversation', async () => {
    assert.ok(snippet);
    pages['/'] =
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body><h1>Shop</h1>${snippet}</body></html>`;
    // Both agents are in the inbox before the visitor writes.
    const a = await signedIn(browser, app, agentA.user.email, agentA.password);
    const b = await signedIn(browser, app, agentB.user.email, agentB.password);
    const v = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(a.context, b.context, v);
    watch(a.page, problems, 'agent A');
    watch(b.page, problems, 'agent B');
    for (const p of [a.page, b.page]) {
      await p.goto(`${app.url}/inbox`);
      await p.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
      // A marker that a reload would erase: every later check proves "without reload".
      await p.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    }
    assert.equal(await a.page.locator('.conv').count(), 0);
    await a.page.locator('#team-list li.online', { hasText: 'Bob' }).waitFor({ timeout: T });

    const visitor = await v.newPage();
    await visitor.goto(`${hostUrl}/`);
    let frame: Frame | undefined;
    await eventually(() => !!(frame = visitor.frames().find((f) => f.url().includes('/chat-widget?'))), T);
    await frame!.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
    await visitor.evaluate(() =>
      (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
    );
    await frame!.locator('#cw-input').waitFor({ state: 'visible', timeout: T });

    // Step 1–2: the visitor's first message; every agent's unassigned list shows it, live.
    await frame!.locator('#cw-input').fill('Hello, I need help');
    const sentAt = Date.now();
    await frame!.locator('#cw-input').press('Enter');
    const conv = await eventually(
      async () => (await database.prisma.conversation.count({ where: { organizationId: org.id } })) === 1,
      T,
    ).then(() => database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } }));
    const item = (p: Page) => p.locator(`.conv[data-id="${conv.id}"]`);
    await Promise.all([item(a.page).waitFor({ timeout: T }), item(b.page).waitFor({ timeout: T })]);
    figures.new_conversation_visible_ms = Date.now() - sentAt;
    await item(b.page).locator('.badge', { hasText: '1' }).waitFor({ timeout: T });
    await eventually(async () => (await b.page.title()) === '(1) Inbox · Switchboard', T);
    await b.page.locator('[data-count="unassigned"]', { hasText: '1' }).waitFor({ timeout: T });
    await shot(b.page, 'inbox-b-new-conversation.png');

    // Step 3: A opens it and claims it.
    await item(a.page).click();
    await a.page.locator('#message-list .msg', { hasText: 'Hello, I need help' }).waitFor({ timeout: T });
    assert.equal(await a.page.title(), 'Inbox · Switchboard', 'reading it clears the unread count');
    const claimedAt = Date.now();
    await a.page.getByRole('button', { name: 'Claim' }).click();

    // Step 4: it leaves B's unassigned list at once, without a reload; A's header says so.
    await item(b.page).waitFor({ state: 'detached', timeout: T });
    figures.claim_to_gone_from_other_agent_ms = Date.now() - claimedAt;
    await a.page.locator('#thread-meta', { hasText: 'assigned to you' }).waitFor({ timeout: T });
    assert.equal(await b.page.title(), 'Inbox · Switchboard');
    await b.page.locator('[data-count="unassigned"]:empty').waitFor({ state: 'attached', timeout: T });
    await a.page.locator('[data-count="mine"]', { hasText: '1' }).waitFor({ timeout: T });
    await b.page.locator('#list-empty').waitFor({ state: 'visible', timeout: T });
    await shot(b.page, 'inbox-b-after-claim.png');
    const session = await database.prisma.conversationSession.findFirstOrThrow({
      where: { conversationId: conv.id },
    });
    assert.equal(session.assignedAgentId, agentA.user.id);
    // B sees it in "All", with A on it.
    await b.page.getByRole('tab', { name: /All/ }).click();
    await item(b.page).locator('.conv-meta', { hasText: 'Open · Ann' }).waitFor({ timeout: T });
    // A sees it in "Mine".
    await a.page.getByRole('tab', { name: /Mine/ }).click();
    await item(a.page).waitFor({ timeout: T });

    // Step 5: typing and messages both ways.
    await a.page.locator('#composer-text').pressSequentially('Hi! How can', { delay: 10 });
    await frame!.locator('#cw-typing', { hasText: /typing/ }).waitFor({ timeout: T });
    await a.page.locator('#composer-text').pressSequentially(' I help you today?');
    const replyAt = Date.now();
    await a.page.locator('#composer-text').press('Enter');
    await frame!.locator('.cw-msg', { hasText: 'Hi! How can I help you today?' }).waitFor({ timeout: T });
    figures.agent_reply_visible_to_visitor_ms = Date.now() - replyAt;
    assert.equal(await a.page.locator('#composer-text').inputValue(), '');

    await frame!.locator('#cw-input').pressSequentially('My invoice', { delay: 10 });
    await a.page.locator('#typing', { hasText: 'is typing' }).waitFor({ timeout: T });
    await frame!.locator('#cw-input').pressSequentially(' is wrong');
    await frame!.locator('#cw-input').press('Enter');
    await a.page
      .locator('#message-list .msg-end_user', { hasText: 'My invoice is wrong' })
      .waitFor({ timeout: T });
    await a.page.locator('#typing:empty').waitFor({ state: 'attached', timeout: T });

    // Rich media from the composer: an image by URL and quick buttons.
    await a.page.getByRole('radio', { name: 'Image', exact: true }).check();
    await a.page.getByLabel('URL', { exact: true }).fill('https://example.com/invoice.png');
    await a.page.locator('#composer-text').fill('Your invoice');
    await a.page.getByRole('button', { name: 'Send' }).click();
    await frame!.locator('img.cw-img').waitFor({ state: 'attached', timeout: T });
    await a.page.getByRole('radio', { name: 'Quick buttons', exact: true }).check();
    await a.page.getByLabel(/Buttons, one per line/).fill('Yes, refund=refund\nNo');
    await a.page.locator('#composer-text').fill('Shall we refund it?');
    await a.page.getByRole('button', { name: 'Send' }).click();
    await frame!.locator('.cw-btn', { hasText: 'Yes, refund' }).waitFor({ timeout: T });
    await a.page.getByRole('radio', { name: 'File', exact: true }).check();
    await a.page.getByLabel('URL', { exact: true }).fill('https://example.com/files/invoice-42.pdf');
    await a.page.getByLabel('File name').fill('invoice-42.pdf');
    await a.page.locator('#composer-text').fill('');
    await a.page.getByRole('button', { name: 'Send' }).click();
    await frame!.locator('.cw-file', { hasText: 'invoice-42.pdf' }).waitFor({ timeout: T });
    await a.page
      .locator('#message-list .msg-file a[href="https://example.com/files/invoice-42.pdf"]')
      .waitFor({ timeout: T });
    const rich = await database.prisma.message.findMany({
      where: { conversationId: conv.id, senderType: 'agent', contentType: { not: 'text' } },
      orderBy: { seq: 'asc' },
    });
    assert.deepEqual(
      rich.map((m) => [m.contentType, m.richMedia]),
      [
        ['image', { url: 'https://example.com/invoice.png', alt: 'Your invoice' }],
        [
          'quick_button',
          {
            buttons: [
              { label: 'Yes, refund', value: 'refund' },
              { label: 'No', value: 'No' },
            ],
          },
        ],
        ['file', { url: 'https://example.com/files/invoice-42.pdf', filename: 'invoice-42.pdf' }],
      ],
    );
    await a.page
      .locator('#message-list .msg-agent .choices li', { hasText: 'Yes, refund' })
      .waitFor({ timeout: T });
    // A bad URL is refused with the server's reason and nothing is stored.
    await a.page.getByRole('radio', { name: 'Image', exact: true }).check();
    await a.page.getByLabel('URL', { exact: true }).fill('javascript:alert(1)');
    await a.page.getByRole('button', { name: 'Send' }).click();
    await a.page.locator('#composer-error', { hasText: /rich_media.url/ }).waitFor({ timeout: T });
    assert.equal(
      await database.prisma.message.count({ where: { conversationId: conv.id, senderType: 'agent' } }),
      4,
    );
    await a.page.getByRole('radio', { name: 'Text', exact: true }).check();
    await shot(a.page, 'inbox-a-thread.png');
    // 1280×800: the page itself never scrolls; the list and the thread scroll inside.
    assert.equal(await a.page.evaluate(() => document.documentElement.scrollHeight <= innerHeight), true);
    await shot(visitor, 'widget-visitor.png');

    // Tags, then resolve with final tags.
    await a.page.getByLabel('Add a tag').fill('billing');
    await a.page.getByLabel('Add a tag').press('Enter');
    await a.page.locator('#tags .tag', { hasText: 'billing' }).waitFor({ timeout: T });
    await a.page.getByLabel('Add a tag').fill('urgent');
    await a.page.getByLabel('Add a tag').press('Enter');
    await a.page.getByRole('button', { name: 'Remove tag urgent' }).click();
    await a.page.locator('#tags .tag', { hasText: 'urgent' }).waitFor({ state: 'detached', timeout: T });
    await a.page.getByRole('button', { name: 'Resolve…' }).click();
    assert.equal(await a.page.getByLabel(/Final tags/).inputValue(), 'billing');
    await a.page.getByLabel(/Final tags/).fill('billing, refund');
    await a.page.getByRole('button', { name: 'Resolve', exact: true }).click();
    await a.page.locator('#thread-meta', { hasText: 'Resolved · billing, refund' }).waitFor({ timeout: T });
    await item(a.page).waitFor({ state: 'detached', timeout: T }); // gone from "Mine"
    const resolved = await database.prisma.conversationSession.findFirstOrThrow({
      where: { conversationId: conv.id },
    });
    assert.equal(resolved.status, 'resolved');
    assert.deepEqual(resolved.tags, ['billing', 'refund']);
    // B's "All" view follows without a reload.
    await item(b.page).locator('.conv-meta', { hasText: 'resolved' }).waitFor({ timeout: T });
    await shot(a.page, 'inbox-a-resolved.png');

    for (const p of [a.page, b.page]) {
      assert.equal(
        await p.evaluate(() => (window as unknown as { __same?: boolean }).__same),
        true,
        'no reload happened',
      );
    }
    // Presence: B leaves, A's team list shows B offline.
    await b.context.close();
    await a.page.locator('#team-list li.offline', { hasText: 'Bob' }).waitFor({ timeout: T });
  });

  await t.test('history scrolls back page by page; keyboard moves through the list', async () => {
    const { context, page } = await signedIn(browser, app, agentA.user.email, agentA.password);
    contexts.push(context);
    watch(page, problems, 'agent A (history)');
    const c = await createConversation(app.services, {
      organizationId: org.id,
      channelId,
      displayName: 'Long Talker',
    });
    for (let i = 1; i <= 75; i++) {
      await app.services.messages.send(
        c.actor,
        message({
          conversation_id: c.conversation.id,
          content: `message ${i}`,
          sender_type: 'end_user',
          external_id: c.externalId,
        }),
      );
    }
    await page.goto(`${app.url}/inbox`);
    await page.locator('.conv', { hasText: 'Long Talker' }).waitFor({ timeout: T });
    await page
      .locator('.conv', { hasText: 'Long Talker' })
      .locator('.badge', { hasText: '75' })
      .waitFor({ timeout: T });
    await page.keyboard.press('j');
    const msgs = page.locator('#message-list .msg');
    await msgs.filter({ hasText: 'message 75' }).waitFor({ timeout: T });
    assert.equal(await msgs.count(), 30);
    assert.equal(await msgs.first().locator('.msg-text').textContent(), 'message 46');
    await page.locator('#messages').evaluate((el) => (el.scrollTop = 0));
    await eventually(async () => (await msgs.count()) === 60, T);
    await page.locator('#messages').evaluate((el) => (el.scrollTop = 0));
    await eventually(async () => (await msgs.count()) === 75, T);
    await page
      .locator('#history-status', { hasText: 'Beginning of the conversation' })
      .waitFor({ timeout: T });
    assert.equal(await msgs.first().locator('.msg-text').textContent(), 'message 1');
    // Opening it marked everything read: the count is gone after a reload too.
    await eventually(async () => {
      const res = await page.evaluate(() => fetch('/api/inbox/unread').then((r) => r.json()));
      return !(res as Record<string, number>)[c.conversation.id];
    }, T);
    // Keyboard: c claims, r goes to the composer.
    await page.locator('body').press('c');
    await page.locator('#thread-meta', { hasText: 'assigned to you' }).waitFor({ timeout: T });
    await page.locator('body').press('r');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'composer-text');
    await shot(page, 'inbox-history.png');

    // User text is text: markup in a visitor's name and message is shown, never run.
    const evil = '<img src=x onerror="window.__pwned=1">';
    const x = await createConversation(app.services, {
      organizationId: org.id,
      channelId,
      displayName: evil,
    });
    await app.services.messages.send(
      x.actor,
      message({
        conversation_id: x.conversation.id,
        content: `<b>bold?</b> ${evil}`,
        sender_type: 'end_user',
        external_id: x.externalId,
      }),
    );
    await page.getByRole('tab', { name: /All/ }).click();
    await page.locator('.conv', { hasText: evil }).click();
    await page
      .locator('#message-list .msg-text', { hasText: `<b>bold?</b> ${evil}` })
      .waitFor({ timeout: T });
    assert.equal(await page.locator('#thread-title').textContent(), evil);
    assert.equal(await page.locator('#message-list img, #conversation-list img, #message-list b').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);

    // Tablet, portrait: the list above the thread, both usable.
    await page.setViewportSize({ width: 768, height: 1024 });
    const list = await page.locator('.list-pane').boundingBox();
    const thread = await page.locator('.thread-pane').boundingBox();
    assert.ok(list && thread && list.y + list.height <= thread.y + 1, 'stacked');
    assert.ok(thread.width >= 760);
    assert.ok(await page.locator('#composer-text').isVisible());
    await shot(page, 'inbox-tablet.png');
  });

  await t.test(
    'dashboard: API keys, Mobile SDK channel and push credentials, team; agents stay in the inbox',
    async () => {
      const { context, page } = await signedIn(browser, app, admin.user.email, admin.password);
      contexts.push(context);
      watch(page, problems, 'admin (dashboard)');

      // API keys: created, shown once, listed by prefix, revoked.
      await page.goto(`${app.url}/dashboard#api-keys`);
      await page.getByLabel('Name').fill('CRM sync');
      await page.getByRole('button', { name: 'Create' }).click();
      const key = (await page.locator('.secret-value').textContent({ timeout: T }))!;
      assert.match(key, /^sk_/);
      await page.getByRole('row', { name: /CRM sync/ }).waitFor({ timeout: T });
      await shot(page, 'dashboard-api-keys.png');
      await page.reload();
      await page.getByRole('row', { name: /CRM sync/ }).waitFor({ timeout: T });
      assert.ok(!(await page.content()).includes(key));
      const revoke = page.getByRole('row', { name: /CRM sync/ }).getByRole('button', { name: 'Revoke' });
      await revoke.click();
      await page.getByRole('button', { name: 'Confirm revoke' }).click();
      await page.getByText('No API keys yet.').waitFor({ timeout: T });
      assert.ok(
        (await database.prisma.apiKey.findFirstOrThrow({ where: { organizationId: org.id } })).revokedAt,
      );

      // Mobile SDK: one channel per bot, its Channel ID, FCM and APNs forms.
      await page.goto(`${app.url}/dashboard#mobile-sdk`);
      await page.getByLabel('Bot').selectOption({ label: 'Sales' });
      await page.getByRole('button', { name: 'Create Channel' }).click();
      const card = page.locator('.channel-card', { hasText: 'Sales' });
      const channelId = (await card.locator('.channel-id').textContent({ timeout: T }))!;
      const channel = await database.prisma.channel.findFirstOrThrow({
        where: { organizationId: org.id, type: 'mobile_sdk' },
      });
      assert.equal(channelId, channel.id);
      const apns = card.getByRole('form', { name: 'APNs credentials' });
      await apns.getByLabel('Team ID').fill('ABCDE12345');
      await apns.getByLabel('Bundle ID').fill('com.example.shop');
      await apns.getByLabel('Key ID').fill('KEY1234567');
      await apns.getByLabel(/Private Key/).fill('not a key');
      await apns.getByRole('button', { name: 'Save APNs' }).click();
      await apns
        .getByRole('alert')
        .filter({ hasText: /private_key/ })
        .waitFor({ timeout: T });
      assert.equal(await database.prisma.pushCredential.count({ where: { channelId: channel.id } }), 0);
      const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string;
      await apns.getByLabel(/Private Key/).fill(pem);
      await apns.getByLabel('Environment').selectOption('production');
      await apns.getByRole('button', { name: 'Save APNs' }).click();
      await page.locator('.channel-card dd', { hasText: 'ABCDE12345' }).waitFor({ timeout: T });
      const fcm = page
        .locator('.channel-card', { hasText: 'Sales' })
        .getByRole('form', { name: 'FCM credentials' });
      await fcm.getByLabel('Server Key').fill('AAAA-legacy-server-key-0123456789');
      await fcm.getByLabel('Sender ID').fill('123456789012');
      await fcm.getByRole('button', { name: 'Save FCM' }).click();
      await page.locator('.channel-card dd', { hasText: '123456789012' }).waitFor({ timeout: T });
      assert.ok(!(await page.content()).includes('AAAA-legacy-server-key'), 'secrets are never shown back');
      await shot(page, 'dashboard-mobile-sdk.png');

      // Team: add an agent, then deactivate them.
      await page.goto(`${app.url}/dashboard#team`);
      const add = page.getByRole('form', { name: 'Add a team member' });
      await add.getByLabel('Name').fill('Dee');
      await add.getByLabel('Email').fill(`dee-${Date.now()}@example.com`);
      await add.getByLabel(/Initial password/).fill('dee-password-1');
      await add.getByRole('button', { name: 'Add' }).click();
      const dee = page.getByRole('row', { name: /Dee/ });
      await dee.waitFor({ timeout: T });
      await dee.getByLabel('Role of Dee').selectOption('admin');
      // The select is disabled while the change is saved, enabled again once it is.
      await dee.locator('select:enabled').waitFor({ timeout: T });
      assert.equal(
        (await database.prisma.user.findFirstOrThrow({ where: { displayName: 'Dee' } })).role,
        'admin',
      );
      await dee.getByRole('button', { name: 'Deactivate' }).click();
      await dee.getByRole('button', { name: 'Confirm deactivate' }).click();
      await page.getByRole('row', { name: /Dee.*deactivated/ }).waitFor({ timeout: T });
      await shot(page, 'dashboard-team.png');
      await page.setViewportSize({ width: 768, height: 1024 });
      await shot(page, 'dashboard-tablet.png');

      // An agent who tries the dashboard lands in the inbox, with no dashboard link.
      const a = await signedIn(browser, app, agentB.user.email, agentB.password);
      contexts.push(a.context);
      await a.page.goto(`${app.url}/dashboard`);
      assert.equal(new URL(a.page.url()).pathname, '/inbox');
      assert.equal(await a.page.getByRole('link', { name: 'Dashboard' }).count(), 0);
    },
  );

  t.diagnostic(`figures ${JSON.stringify(figures)}`);
  assert.deepEqual(problems, [], 'no CSP violations and no page errors');
});

test('the thread on a bad day: lost messages, resync and a failed rejoin under live traffic leave no hole', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, channelId } = await createOrg(app.services);
  const agent = await createAgent(app.services, org.id, { role: 'agent' });
  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const { context, page } = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(context);
  const problems: string[] = [];
  watch(page, problems, 'agent');
  // The inbox page's sockets on the server (the only client here is Chromium).
  const inbox = (s: RealtimeSocket) => /Chrome/.test(String(s.handshake.headers['user-agent']));

  const c = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    displayName: 'Gap Visitor',
  });
  const visitorSays = (content: string, who: typeof c = c) =>
    app.services.messages.send(
      who.actor,
      message({
        conversation_id: who.conversation.id,
        content,
        sender_type: 'end_user',
        external_id: who.externalId,
      }),
    );
  const shown = () => page.locator('#message-list .msg:not(.msg-pending) .msg-text').allTextContents();
  const inOrder = async (texts: string[]) => (await shown()).filter((s) => texts.includes(s));
  const row = (text: string) => page.locator('#message-list .msg', { hasText: text });

  await visitorSays('First question');
  await page.goto(`${app.url}/inbox`);
  await page.locator('.conv', { hasText: 'Gap Visitor' }).click();
  await row('First question').waitFor({ timeout: T });

  await t.test('a message lost on its way is fetched when the next one shows the gap', async () => {
    loseNext(app, inbox, 'Lost on the way');
    await visitorSays('Lost on the way');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await shown()).includes('Lost on the way'), 'the broadcast was lost');
    await visitorSays('Shows the gap');
    await row('Lost on the way').waitFor({ timeout: T });
    await row('Shows the gap').waitFor({ timeout: T });
    const texts = ['First question', 'Lost on the way', 'Shows the gap'];
    assert.deepEqual(await inOrder(texts), texts);
  });

  await t.test('resync: the thread catches up and the list is read again', async () => {
    loseNext(app, inbox, 'Lost while Redis was away');
    const list = page.waitForRequest((r) => r.url().includes('/api/conversations/?filter='));
    await visitorSays('Lost while Redis was away');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await shown()).includes('Lost while Redis was away'));
    app.io.emit('resync', { reason: 'redis_reconnected' });
    await row('Lost while Redis was away').waitFor({ timeout: T });
    await list;
    assert.deepEqual(await inOrder(['Lost while Redis was away']), ['Lost while Redis was away']);
  });

  await t.test(
    'a rejoin that fails while messages flow both ways still fetches what was missed',
    async () => {
      await context.setOffline(true);
      for (const s of app.io.sockets.sockets.values()) if (inbox(s)) s.conn.close();
      await page.locator('#connection', { hasText: /Reconnecting|Cannot reach/ }).waitFor({ timeout: T });
      await visitorSays('Missed one');
      await visitorSays('Missed two');
      // The page's first join after the reconnect is held, then answered `unavailable`; meanwhile
      // the agent replies (which joins the room) and the visitor writes live.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let joins = 0;
      const hold = (s: RealtimeSocket) => {
        if (!inbox(s)) return;
        s.use((packet, next) => {
          if (packet[0] !== 'join_conversation' || joins++ > 0) return next();
          const ack = packet.at(-1) as (reply: unknown) => void;
          void held.then(() =>
            ack({ ok: false, error: 'unavailable', message: 'Try again shortly', retry_after: 1 }),
          );
        });
      };
      app.io.on('connection', hold);
      t.after(() => void app.io.off('connection', hold));
      await context.setOffline(false);
      await eventually(() => joins > 0, T);
      await page.locator('#composer-text').fill('Replied during the rejoin');
      await page.locator('#composer-text').press('Enter');
      await page
        .locator('#message-list .msg:not(.msg-pending)', { hasText: 'Replied during the rejoin' })
        .waitFor({ timeout: T });
      await visitorSays('Asked during the rejoin');
      await row('Asked during the rejoin').waitFor({ timeout: T });
      assert.ok(!(await shown()).includes('Missed one'), 'the rejoin has not been answered yet');
      release();
      await row('Missed one').waitFor({ timeout: T });
      await row('Missed two').waitFor({ timeout: T });
      const texts = ['Missed one', 'Missed two', 'Replied during the rejoin', 'Asked during the rejoin'];
      assert.deepEqual(await inOrder(texts), texts);
      assert.equal(await page.locator('#message-list .msg-pending').count(), 0);
      await shot(page, 'inbox-after-gaps.png');
    },
  );

  await t.test('after a reload the thread shows the same messages in the same order', async () => {
    const before = await shown();
    await page.reload();
    await page.locator('.conv', { hasText: 'Gap Visitor' }).click();
    await row('Asked during the rejoin').waitFor({ timeout: T });
    assert.deepEqual(await shown(), before);
    assert.deepEqual(problems, []);
  });

  await t.test(
    'another conversation opened while the first one’s history is slow shows its own',
    async () => {
      const other = await createConversation(app.services, {
        organizationId: org.id,
        channelId,
        displayName: 'Quick Visitor',
      });
      await visitorSays('Over here', other);
      // Gap Visitor's history answers after 3 s; Quick Visitor is opened meanwhile.
      let slowAsked!: () => void;
      const asked = new Promise<void>((r) => (slowAsked = r));
      await page.route(`**/api/conversations/${c.conversation.id}/messages?**`, async (route) => {
        slowAsked();
        await new Promise((r) => setTimeout(r, 3000));
        await route.continue().catch(() => undefined);
      });
      await page.reload();
      await page.locator('.conv', { hasText: 'Gap Visitor' }).click();
      await asked;
      await page.locator('.conv', { hasText: 'Quick Visitor' }).click();
      await row('Over here').waitFor({ timeout: T });
      await page.unroute(`**/api/conversations/${c.conversation.id}/messages?**`);
      assert.ok(!(await shown()).includes('First question'), 'the slow answer stays out of the thread');
      assert.deepEqual(problems, []);
    },
  );
});
