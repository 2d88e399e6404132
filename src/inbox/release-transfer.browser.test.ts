// Release and transfer in the inbox, in real headless Chromium: Ann releases a conversation
// and Bob's Unassigned list shows it at once; Ann claims it again and transfers it to Bob with
// the keyboard, and it appears in Bob's Mine list without a reload.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../../test/helpers/browser.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';

const T = 10_000;

async function inbox(browser: Browser, app: TestApp, email: string, password: string) {
  const s = await loginAgent(app.url, email, password);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addCookies([{ name: 'session', value: s.cookie.slice('session='.length), url: app.url }]);
  const page = await context.newPage();
  await page.goto(`${app.url}/inbox`);
  return { context, page };
}

test('inbox: Release puts it back in every queue; Transfer… hands it to a teammate', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const contexts: BrowserContext[] = [];
  const launching = launchBrowser();
  t.after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await (await launching.catch(() => undefined))?.close();
    await app.stop();
    await database.close();
  });
  const { org, channelId } = await createOrg(app.services);
  const ann = await createAgent(app.services, org.id);
  const bob = await createAgent(app.services, org.id);
  await database.prisma.user.update({ where: { id: ann.user.id }, data: { displayName: 'Ann' } });
  await database.prisma.user.update({ where: { id: bob.user.id }, data: { displayName: 'Bob' } });
  const c = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    displayName: 'Handover Visitor',
  });
  const id = c.conversation.id;
  await app.services.messages.send(
    c.actor,
    message({ conversation_id: id, content: 'Anyone there?', sender_type: 'end_user' }),
  );
  await app.services.conversations.assign(ann.actor, id);
  const assignee = async () =>
    (await database.prisma.conversationSession.findFirstOrThrow({ where: { conversationId: id } }))
      .assignedAgentId;

  const browser = await launching;
  const a = await inbox(browser, app, ann.user.email, ann.password);
  const b = await inbox(browser, app, bob.user.email, bob.password);
  contexts.push(a.context, b.context);
  const problems: string[] = [];
  for (const [who, p] of [
    ['ann', a.page],
    ['bob', b.page],
  ] as const) {
    p.on('pageerror', (e) => problems.push(`${who}: ${e.message}`));
  }
  const item = (p: Page) => p.locator(`.conv[data-id="${id}"]`);

  // Ann opens it from Mine: hers, so Release and Transfer… are offered, Claim is not.
  await a.page.getByRole('tab', { name: /Mine/ }).click();
  await item(a.page).click();
  await a.page.locator('#thread-meta', { hasText: 'assigned to you' }).waitFor({ timeout: T });
  assert.equal(await a.page.getByRole('button', { name: 'Claim' }).isVisible(), false);
  await b.page.locator('#list-empty').waitFor({ state: 'visible', timeout: T });

  // Release: Bob's Unassigned list shows it at once; Ann's header offers Claim again.
  await a.page.getByRole('button', { name: 'Release' }).click();
  await item(b.page).waitFor({ timeout: T });
  await item(b.page).locator('.conv-meta', { hasText: 'unassigned' }).waitFor({ timeout: T });
  await a.page.locator('#thread-meta', { hasText: 'Open · unassigned' }).waitFor({ timeout: T });
  await a.page.getByRole('button', { name: 'Claim' }).waitFor({ timeout: T });
  assert.equal(await a.page.getByRole('button', { name: 'Release' }).isVisible(), false);
  assert.equal(await assignee(), null);

  // Claimed again (it leaves Bob's list), then transferred with the keyboard alone.
  await a.page.getByRole('button', { name: 'Claim' }).click();
  await item(b.page).waitFor({ state: 'detached', timeout: T });
  await b.page.getByRole('tab', { name: /Mine/ }).click();
  await b.page.locator('#list-empty').waitFor({ state: 'visible', timeout: T });
  const transfer = a.page.getByRole('button', { name: 'Transfer…' });
  await transfer.focus();
  await a.page.keyboard.press('Enter');
  assert.equal(await transfer.getAttribute('aria-expanded'), 'true');
  const picker = a.page.getByLabel('Transfer to');
  assert.equal(await a.page.evaluate(() => document.activeElement?.id), 'transfer-agent');
  // Only active teammates other than the holder; online ones without a mark.
  assert.deepEqual(await picker.locator('option').allTextContents(), ['Bob']);
  await picker.selectOption({ label: 'Bob' });
  await picker.press('Enter');

  // Bob's Mine list has it, live; Ann's header names Bob and offers her nothing more.
  await item(b.page).waitFor({ timeout: T });
  await a.page.locator('#thread-meta', { hasText: 'assigned to Bob' }).waitFor({ timeout: T });
  await eventually(async () => (await assignee()) === bob.user.id, T);
  await eventually(async () => !(await transfer.isVisible()), T);
  assert.equal(await a.page.getByRole('button', { name: 'Release' }).isVisible(), false);
  // Bob, the holder now, can hand it back.
  await item(b.page).click();
  await b.page.locator('#thread-meta', { hasText: 'assigned to you' }).waitFor({ timeout: T });
  await b.page.getByRole('button', { name: 'Release' }).waitFor({ timeout: T });
  assert.deepEqual(problems, []);
});
