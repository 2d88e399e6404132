// Desktop notifications and unread state driven by a real visitor: the visitor writes from the
// widget page in one Chromium context while two agents have the inbox open in their own contexts,
// desktop notifications on and their tabs in the background. Ann (every queue) is notified and
// her unread count survives a reload; Bob (only the store-2 queue) gets nothing for it, and is
// notified for a conversation of his own queue. The page's Notification is wrapped to record what
// is shown (headless Chromium shows nothing); the permission is asked through the real API.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import { userHash } from '../tenants/identity.js';

const T = 10_000;

type Recorded = { title: string; body: string };
type PageWindow = Window & { __notifications: Recorded[]; __setHidden: (hidden: boolean) => void };

/** Before the inbox's script on every load: Notification records, and the tab can be "hidden". */
const INSTRUMENT = `(() => {
  const Real = window.Notification;
  window.__notifications = [];
  let permission = sessionStorage.getItem('__permission') || 'default';
  const Recording = function (title, options) {
    this.title = title;
    this.body = (options && options.body) || '';
    this.onclick = null;
    window.__notifications.push(this);
  };
  Recording.prototype.close = function () {};
  Object.defineProperty(Recording, 'permission', { get: () => permission });
  Recording.requestPermission = async () => {
    permission = await Real.requestPermission();
    sessionStorage.setItem('__permission', permission);
    return permission;
  };
  Object.defineProperty(window, 'Notification', { configurable: true, writable: true, value: Recording });
  let hidden = sessionStorage.getItem('__hidden') === '1';
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true,
    get: () => (hidden ? 'hidden' : 'visible'),
  });
  window.__setHidden = (h) => {
    hidden = h;
    sessionStorage.setItem('__hidden', h ? '1' : '0');
    document.dispatchEvent(new Event('visibilitychange'));
  };
})();`;

const recorded = (page: Page) =>
  page.evaluate(() =>
    (window as unknown as PageWindow).__notifications.map((n) => ({ title: n.title, body: n.body })),
  );

test('a visitor writing from the widget notifies the agents of its queue only; unread survives a reload', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, channelId, embedToken, tenantSecret } = await createOrg(app.services, 'Notify Two-sided');
  const ann = await createAgent(app.services, org.id);
  const bob = await createAgent(app.services, org.id, { routingKeys: ['store-2'] });
  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];

  /** An agent's inbox with desktop notifications turned on (by a click) and the tab hidden. */
  async function inbox(who: string, email: string, password: string) {
    const { context, page } = await signedIn(browser, app, email, password);
    contexts.push(context);
    await context.grantPermissions(['notifications'], { origin: app.url });
    await page.addInitScript({ content: INSTRUMENT });
    watch(page, problems, who);
    await page.goto(`${app.url}/inbox`);
    await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Enable desktop notifications' }).click();
    await page.locator('#notify-state', { hasText: 'Desktop notifications on' }).waitFor({ timeout: T });
    await page.evaluate(() => (window as unknown as PageWindow).__setHidden(true));
    return page;
  }
  const annPage = await inbox('Ann', ann.user.email, ann.password);
  const bobPage = await inbox('Bob', bob.user.email, bob.password);

  // The visitor, in a context of their own, opens the widget page and writes.
  const visitorCtx = await browser.newContext({ viewport: { width: 420, height: 800 } });
  contexts.push(visitorCtx);
  const visitor = await visitorCtx.newPage();
  watch(visitor, problems, 'visitor');
  const sessionId = `customer-${randomUUID().slice(0, 8)}`;
  await visitor.goto(
    `${app.url}/chat-widget?embed_token=${encodeURIComponent(embedToken)}` +
      `&session_id=${sessionId}&user_hash=${userHash(tenantSecret, sessionId)}&customer_name=Vera`,
  );
  await visitor.locator('#cw-input').fill('Hello from the widget');
  await visitor.locator('#cw-send').click();
  await visitor
    .locator('.cw-msg--me:not(.cw-msg--pending)', { hasText: 'Hello from the widget' })
    .waitFor({ timeout: T });
  const conv = await database.prisma.conversation.findFirstOrThrow({
    where: { organizationId: org.id, routingKey: null },
  });

  await t.test('Ann (every queue) is notified of the new conversation; the tab counts it', async () => {
    await eventually(async () => (await recorded(annPage)).length >= 1, T);
    assert.deepEqual((await recorded(annPage))[0], {
      title: 'New conversation: Vera',
      body: 'Hello from the widget',
    });
    await eventually(async () => (await annPage.title()) === '(1) Inbox · Switchboard', T);
    await annPage.locator(`.conv[data-id="${conv.id}"] .badge`, { hasText: '1' }).waitFor({ timeout: T });
  });

  await t.test('the visitor writes again: two unread messages', async () => {
    await visitor.locator('#cw-input').fill('Are you there?');
    await visitor.locator('#cw-send').click();
    await annPage.locator(`.conv[data-id="${conv.id}"] .badge`, { hasText: '2' }).waitFor({ timeout: T });
    await eventually(async () => (await annPage.title()) === '(2) Inbox · Switchboard', T);
  });

  await t.test('after a reload Ann still sees it unread', async () => {
    await annPage.reload();
    await annPage.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
    await eventually(async () => (await annPage.title()) === '(2) Inbox · Switchboard', T);
    await annPage.locator(`.conv[data-id="${conv.id}"] .badge`, { hasText: '2' }).waitFor({ timeout: T });
    await annPage.locator('#notify-state', { hasText: 'Desktop notifications on' }).waitFor({ timeout: T });
  });

  await t.test('Bob (store-2 only) got nothing for it, and is notified for his own queue', async () => {
    assert.deepEqual(await recorded(bobPage), []);
    assert.equal(await bobPage.title(), 'Inbox · Switchboard');
    assert.equal(await bobPage.locator(`.conv[data-id="${conv.id}"]`).count(), 0);
    // A conversation in his queue does reach him: the silence above was the scoping.
    const mine = await createConversation(app.services, {
      organizationId: org.id,
      channelId,
      displayName: 'Sam Store-two',
      routingKey: 'store-2',
    });
    await app.services.messages.send(
      mine.actor,
      message({
        conversation_id: mine.conversation.id,
        content: 'Store 2 question',
        sender_type: 'end_user',
      }),
    );
    await eventually(async () => (await recorded(bobPage)).length === 1, T);
    assert.deepEqual(await recorded(bobPage), [
      { title: 'New conversation: Sam Store-two', body: 'Store 2 question' },
    ]);
    await eventually(async () => (await bobPage.title()) === '(1) Inbox · Switchboard', T);
  });

  assert.deepEqual(problems, []);
});
