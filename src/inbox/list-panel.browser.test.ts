// The inbox list and the visitor panel in real Chromium: after a reload rows show the visitor's
// name, their last message and the status once; a new visitor message updates the row live; 500
// conversations scroll with far fewer rows in the DOM; the panel shows the browser and OS of the
// visitor's own Chromium and the page they are on; a name edited there reaches the list, and the
// other agent's inbox, live.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { UAParser } from 'ua-parser-js';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const T = 15_000;
const SEEDED = 500;

test('inbox list and visitor panel', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, channelId, embedToken } = await createOrg(app.services, 'List Panel Org');
  const ann = await createAgent(app.services, org.id);
  const bob = await createAgent(app.services, org.id);
  await database.prisma.user.update({ where: { id: ann.user.id }, data: { displayName: 'Ann' } });
  await database.prisma.user.update({ where: { id: bob.user.id }, data: { displayName: 'Bob' } });

  // 500 older conversations, each with one visitor message, written in bulk.
  const prisma = database.prisma;
  const base = Date.now() - 3 * 86_400_000;
  const seeded = Array.from({ length: SEEDED }, (_, i) => ({
    endUserId: randomUUID(),
    conversationId: randomUUID(),
    sessionId: randomUUID(),
    at: new Date(base + i * 60_000),
    i,
  }));
  await prisma.endUser.createMany({
    data: seeded.map((s) => ({
      id: s.endUserId,
      organizationId: org.id,
      externalId: `v_seed${String(s.i).padStart(4, '0')}${'x'.repeat(20)}`,
      displayName: `Seeded ${s.i}`,
    })),
  });
  await prisma.conversation.createMany({
    data: seeded.map((s) => ({
      id: s.conversationId,
      organizationId: org.id,
      channelId,
      endUserId: s.endUserId,
      updatedAt: s.at,
      lastMessageAt: s.at,
      createdAt: s.at,
    })),
  });
  await prisma.conversationSession.createMany({
    data: seeded.map((s) => ({
      id: s.sessionId,
      conversationId: s.conversationId,
      organizationId: org.id,
      status: 'open' as const,
      firstMessageAt: s.at,
    })),
  });
  await prisma.message.createMany({
    data: seeded.map((s) => ({
      organizationId: org.id,
      conversationId: s.conversationId,
      sessionId: s.sessionId,
      senderType: 'end_user' as const,
      senderId: 'seed',
      content: `Seeded question ${s.i}`,
      createdAt: s.at,
    })),
  });
  const oldest = seeded[0]!;

  // The host page the visitor is on, on an origin of its own.
  const host = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body><h1>Shop</h1>` +
        `<script src="${app.url}/chat-widget/embed.js" data-embed-token="${embedToken}"></script></body></html>`,
    );
  });
  await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;

  const { browser, contexts } = await browserFor(t, async () => {
    host.close();
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];

  const a = await signedIn(browser, app, ann.user.email, ann.password);
  const b = await signedIn(browser, app, bob.user.email, bob.password);
  const v = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(a.context, b.context, v);
  watch(a.page, problems, 'Ann');
  watch(b.page, problems, 'Bob');
  const ready = async (p: Page) => {
    await p.goto(`${app.url}/inbox`);
    await p.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  };
  await ready(a.page);
  await ready(b.page);

  // The visitor writes from the shop's checkout page.
  const visitor = await v.newPage();
  watch(visitor, problems, 'visitor');
  await visitor.goto(`${hostUrl}/checkout?step=2`);
  let frame: Frame | undefined;
  await eventually(() => !!(frame = visitor.frames().find((f) => f.url().includes('/chat-widget?'))), T);
  await frame!.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
  await visitor.evaluate(() =>
    (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
  );
  const say = async (text: string) => {
    await frame!.locator('#cw-input').fill(text);
    await frame!.locator('#cw-input').press('Enter');
  };
  await say('Hello from the checkout');
  await eventually(
    async () => (await prisma.message.count({ where: { content: 'Hello from the checkout' } })) === 1,
    T,
  );
  const conv = await prisma.conversation.findFirstOrThrow({
    where: { organizationId: org.id, endUser: { externalId: { not: { startsWith: 'v_seed' } } } },
    include: { endUser: true },
  });
  const row = (p: Page) => p.locator(`.conv[data-id="${conv.id}"]`);

  await t.test('after a reload a row shows the name, the last message and the status once', async () => {
    await a.page.reload();
    await row(a.page).waitFor({ timeout: T });
    const name = (await row(a.page).locator('.conv-name').textContent())!;
    assert.match(name, /^[A-Z][a-z]+ [A-Z][a-z]+$/, `a friendly name, got ${name}`);
    assert.ok(!name.includes('v_'));
    const preview = (await row(a.page).locator('.conv-preview').textContent())!;
    assert.equal(preview, `${name}: Hello from the checkout`);
    const meta = (await row(a.page).locator('.conv-meta').textContent())!;
    assert.equal(meta, 'Open · Unassigned');
    // Unread, as the server counts it for this agent (not only what arrived live).
    await row(a.page).locator('.badge[aria-label="1 unread"]').waitFor({ timeout: T });
    const time = row(a.page).locator('time');
    assert.match((await time.getAttribute('datetime'))!, /^\d{4}-\d{2}-\d{2}T/);
    assert.ok(await time.getAttribute('title'));
    // A seeded row too: its own message, not the status.
    const seededRow = a.page.locator(`.conv[data-id="${seeded.at(-1)!.conversationId}"]`);
    assert.equal(
      await seededRow.locator('.conv-preview').textContent(),
      `Seeded ${SEEDED - 1}: Seeded question ${SEEDED - 1}`,
    );
    await a.page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
  });

  await t.test('a new visitor message updates the row live', async () => {
    await say('Is shipping free?');
    await row(a.page).locator('.conv-preview', { hasText: 'Is shipping free?' }).waitFor({ timeout: T });
    await row(b.page).locator('.conv-preview', { hasText: 'Is shipping free?' }).waitFor({ timeout: T });
    assert.equal(await a.page.evaluate(() => (window as unknown as { __same?: boolean }).__same), true);
    // The newest first.
    assert.equal(await a.page.locator('.conv').first().getAttribute('data-id'), conv.id);
  });

  await t.test(
    '500 conversations: far fewer rows in the DOM; scrolling to the end shows the last',
    async () => {
      const list = a.page.locator('#conversation-list');
      const inDom = await a.page.locator('#conversation-list .conv').count();
      assert.ok(inDom < 100, `${inDom} rows drawn`);
      const first = a.page.locator('#conversation-list > li').first();
      assert.equal(await first.getAttribute('aria-posinset'), '1');
      assert.equal(await first.getAttribute('aria-setsize'), String(SEEDED + 1));
      const last = a.page.locator(`.conv[data-id="${oldest.conversationId}"]`);
      let seen = '';
      await eventually(async () => {
        seen = JSON.stringify(
          await list.evaluate((el) => {
            el.scrollTop = el.scrollHeight;
            return [el.scrollTop, el.scrollHeight, el.clientHeight, el.style.paddingTop, el.children.length];
          }),
        );
        return (await last.count()) === 1 && (await last.isVisible());
      }, T).catch((e: Error) => assert.fail(`${e.message}: ${seen}`));
      assert.equal(await last.locator('..').getAttribute('aria-posinset'), String(SEEDED + 1));
      const after = await list.evaluate((el) => ({
        rows: el.querySelectorAll('.conv').length,
        client: el.clientHeight,
        scroll: el.scrollHeight,
        top: el.scrollTop,
        pt: el.style.paddingTop,
        pb: el.style.paddingBottom,
        first: el.querySelector('li')?.getAttribute('aria-posinset'),
        h: el.querySelector('li')?.getBoundingClientRect().height,
      }));
      assert.ok(after.rows < 100, JSON.stringify(after));
      // Keyboard: Home goes back to the first row, focused.
      await last.focus();
      await a.page.keyboard.press('Home');
      await eventually(
        async () =>
          (await a.page.evaluate(() => document.activeElement?.getAttribute('data-id'))) === conv.id,
        T,
      );
    },
  );

  await t.test(
    'the panel shows the visitor’s browser, OS and page; editing the name updates the list',
    async () => {
      await row(a.page).click();
      const panel = a.page.locator('#visitor-panel');
      await panel.waitFor({ timeout: T });
      const ua = await visitor.evaluate(() => navigator.userAgent);
      const parsed = new UAParser(ua).getResult();
      const facts = panel.locator('.visitor-facts');
      const fact = (label: string) => facts.locator(`dt:text-is("${label}") + dd`);
      await fact('Browser').filter({ hasText: parsed.browser.name! }).waitFor({ timeout: T });
      assert.match((await fact('OS').textContent())!, new RegExp(parsed.os.name!));
      assert.equal(await fact('Page').textContent(), `${hostUrl}/checkout?step=2`);
      assert.match((await fact('ID').textContent())!, /not verified/);
      await a.page.screenshot({ path: path.join(artifacts, 'inbox-list-panel-desktop.png') });

      await panel.getByRole('button', { name: 'Edit' }).click();
      await panel.getByLabel('Email').fill('not an email');
      await panel.getByRole('button', { name: 'Save' }).click();
      await panel.locator('.error-text', { hasText: /email/i }).waitFor({ timeout: T });
      assert.equal((await prisma.endUser.findUniqueOrThrow({ where: { id: conv.endUserId } })).email, null);
      await panel.getByLabel('Name').fill('Greta Gast');
      await panel.getByLabel('Email').fill('greta@example.com');
      await panel.getByRole('button', { name: 'Save' }).click();
      await row(a.page).locator('.conv-name', { hasText: 'Greta Gast' }).waitFor({ timeout: T });
      await row(b.page).locator('.conv-name', { hasText: 'Greta Gast' }).waitFor({ timeout: T });
      await panel.locator('h2', { hasText: 'Greta Gast' }).waitFor({ timeout: T });
    },
  );

  await t.test(
    'on a phone: the list, then the thread alone; the panel below it on request; back',
    async () => {
      const phone = await signedIn(browser, app, ann.user.email, ann.password, { width: 390, height: 844 });
      contexts.push(phone.context);
      watch(phone.page, problems, 'Ann (phone)');
      await ready(phone.page);
      assert.equal(await phone.page.locator('.thread-pane').isVisible(), false, 'the list has the screen');
      await row(phone.page).click();
      await phone.page.locator('#thread-title', { hasText: 'Greta Gast' }).waitFor({ timeout: T });
      assert.equal(await phone.page.locator('.list-pane').isVisible(), false, 'the thread has the screen');
      const panel = phone.page.locator('#visitor-panel');
      assert.equal(await panel.isVisible(), false, 'the panel waits for the Visitor button');
      await phone.page.getByRole('button', { name: 'Visitor', exact: true }).click();
      await panel.locator('h2', { hasText: 'Greta Gast' }).waitFor({ timeout: T });
      const thread = await phone.page.locator('.thread-pane').boundingBox();
      const box = await panel.boundingBox();
      assert.ok(thread && box && box.y >= thread.y + thread.height - 1, 'below the thread');
      await phone.page.screenshot({ path: path.join(artifacts, 'inbox-list-panel-phone.png') });
      // Back: the list again, the conversation's row focused.
      await phone.page.getByRole('button', { name: 'Back to the conversations' }).click();
      await row(phone.page).waitFor({ timeout: T });
      assert.equal(await phone.page.locator('.thread-pane').isVisible(), false);
      assert.equal(await phone.page.evaluate(() => document.activeElement?.getAttribute('data-id')), conv.id);
    },
  );

  assert.deepEqual(problems, []);
});
