// The inbox's search and desktop notifications in real Chromium. Search: `/` focuses the box,
// typing shows the hits with their marked snippet in place of the list, arrows and Enter open one,
// Escape brings the list back, "Load more" pages, no match says so. Notifications: asked for on a
// click, then a new conversation and a new message in the agent's own conversation notify while
// the tab is hidden or another conversation is open (the page's Notification is wrapped to record
// them; the server is the real one); clicking one opens the conversation; the unread count and
// the title survive a reload, and so do the notifications. A claim the tab hears while the server
// answers its `follow_mine` with an older reading still notifies. No CSP violation or page error.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Socket } from 'socket.io-client';
import { startApp } from '../../test/helpers/app.js';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { dbModes, testDatabaseUrl } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { connectSocket, emitAck, eventually } from '../../test/helpers/sockets.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import type { Services } from '../services.js';
import { openPostgres, type Database } from '../shared/db.js';

const T = 10_000;

type Recorded = { title: string; body: string; onclick: (() => void) | null };
type PageWindow = Window & {
  __notifications: Recorded[];
  __setHidden: (hidden: boolean) => void;
  __oscillators: number;
};

/**
 * Runs before the inbox's script on every load: Notification records what is shown (permission
 * asked through the real API, which the context grants), the page can be "hidden" (kept across
 * reloads), and the chime's oscillators are counted. Plain JavaScript: it goes to the page as is.
 */
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
  window.__oscillators = 0;
  const createOscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.__oscillators++;
    return createOscillator.call(this);
  };
})();`;

test('inbox search and desktop notifications', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, channelId } = await createOrg(app.services, 'Search Notify Org');
  const ann = await createAgent(app.services, org.id, { role: 'agent' });
  const sockets: Socket[] = [];

  /** A visitor's conversation where they wrote `says`, already read by Ann (a quiet inbox). */
  async function seeded(name: string, says: string) {
    const c = await createConversation(app.services, {
      organizationId: org.id,
      channelId,
      displayName: name,
    });
    await app.services.messages.send(
      c.actor,
      message({ conversation_id: c.conversation.id, content: says, sender_type: 'end_user' }),
    );
    await app.services.messages.markAllRead(ann.actor, c.conversation.id);
    return c.conversation.id;
  }
  const ralph = await seeded('Refurbished Ralph', 'hello there');
  const rita = await seeded('Rita Ortega', 'I need a refund for order 1001');
  await seeded('Pete Jones', 'my parcel is late');
  for (let i = 1; i <= 22; i++) await seeded(`Customer ${i}`, `A warranty question, number ${i}`);

  const { browser, contexts } = await browserFor(t, async () => {
    for (const s of sockets) s.disconnect();
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];
  const { context, page } = await signedIn(browser, app, ann.user.email, ann.password);
  contexts.push(context);
  await context.grantPermissions(['notifications'], { origin: app.url });
  await page.addInitScript({ content: INSTRUMENT });
  watch(page, problems, 'Ann');
  const hits = page.locator('#search-results .search-hit');
  const hitIds = () => hits.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id));

  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });

  await t.test('`/` searches; arrows and Enter open a hit; Escape brings the list back', async () => {
    assert.equal(await page.locator('#conversation-list').isVisible(), true);
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'search-input');
    await page.keyboard.type('refu');
    await eventually(async () => (await hits.count()) === 2, T);
    assert.equal(await page.locator('#conversation-list').isVisible(), false, 'the hits replace the list');
    // The name match first, then the message that says it, its match marked.
    assert.deepEqual(await hitIds(), [ralph, rita]);
    assert.equal(
      await hits.nth(1).locator('.search-snippet').textContent(),
      'I need a refund for order 1001',
    );
    assert.equal(await hits.nth(1).locator('mark').textContent(), 'refund');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowDown');
    assert.equal(await hits.nth(1).getAttribute('aria-selected'), 'true');
    assert.equal(await hits.nth(0).getAttribute('aria-selected'), 'false');
    await page.keyboard.press('Enter');
    await page
      .locator('#message-list .msg', { hasText: 'I need a refund for order 1001' })
      .waitFor({ timeout: T });
    await page.locator('#thread-title', { hasText: 'Rita Ortega' }).waitFor({ timeout: T });
    // Escape: the box is cleared and the list is back.
    await page.locator('#search-input').focus();
    await page.keyboard.press('Escape');
    await page.locator('#search-view').waitFor({ state: 'hidden', timeout: T });
    assert.equal(await page.locator('#search-input').inputValue(), '');
    assert.equal(await page.locator('#conversation-list').isVisible(), true);
    assert.notEqual(await page.evaluate(() => document.activeElement?.id), 'search-input');
  });

  await t.test('"Load more" pages without duplicates; no match says so', async () => {
    await page.keyboard.press('/');
    await page.keyboard.type('warranty');
    await eventually(async () => (await hits.count()) === 20, T);
    await page.getByRole('button', { name: 'Load more' }).click();
    await eventually(async () => (await hits.count()) === 22, T);
    assert.equal(new Set(await hitIds()).size, 22);
    assert.equal(await page.getByRole('button', { name: 'Load more' }).isVisible(), false);
    await page.locator('#search-input').fill('zzqxj');
    await page
      .locator('#search-status', { hasText: 'No conversations match “zzqxj”.' })
      .waitFor({ timeout: T });
    assert.equal(await hits.count(), 0);
    await page.keyboard.press('Escape');
    await page.locator('#search-view').waitFor({ state: 'hidden', timeout: T });
  });

  await t.test(
    'notifications: asked on a click; new conversation and new message; click opens; reload keeps the count',
    async () => {
      const recorded = () =>
        page.evaluate(() =>
          (window as unknown as PageWindow).__notifications.map((n) => ({ title: n.title, body: n.body })),
        );
      // Nothing asked on load: a button asks.
      const enable = page.getByRole('button', { name: 'Enable desktop notifications' });
      assert.equal(await enable.isVisible(), true);
      assert.equal(await page.locator('#notify-sound').isChecked(), false, 'sound is off by default');
      await enable.click();
      await page.locator('#notify-state', { hasText: 'Desktop notifications on' }).waitFor({ timeout: T });
      assert.equal(await enable.isVisible(), false);
      await page.locator('#notify-sound').check();

      // The tab goes to the background; a visitor starts a conversation over Socket.IO.
      await page.evaluate(() => (window as unknown as PageWindow).__setHidden(true));
      const nina = await createConversation(app.services, {
        organizationId: org.id,
        channelId,
        displayName: 'Nina Notify',
      });
      const visitor = await connectSocket(app.url);
      sockets.push(visitor);
      const say = async (content: string) => {
        const ack = await emitAck(visitor, 'send_message', {
          conversation_id: nina.conversation.id,
          content,
          content_type: 'text',
          sender_type: 'end_user',
          external_id: nina.externalId,
        });
        assert.equal(ack.ok, true, JSON.stringify(ack));
      };
      await say('Hello, anyone there?');
      await eventually(async () => (await recorded()).length === 1, T);
      assert.deepEqual(await recorded(), [
        { title: 'New conversation: Nina Notify', body: 'Hello, anyone there?' },
      ]);
      await eventually(async () => (await page.title()) === '(1) Inbox · Switchboard', T);

      // Back in front: Ann takes it, then opens another conversation.
      await page.evaluate(() => (window as unknown as PageWindow).__setHidden(false));
      await page.locator(`.conv[data-id="${nina.conversation.id}"]`).click();
      await page.locator('#message-list .msg', { hasText: 'Hello, anyone there?' }).waitFor({ timeout: T });
      await page.keyboard.press('c');
      await page.locator('#thread-meta', { hasText: 'assigned to you' }).waitFor({ timeout: T });
      await eventually(async () => (await page.title()) === 'Inbox · Switchboard', T);
      await page.locator('[data-filter="all"]').click();
      await page.locator(`.conv[data-id="${rita}"]`).click();
      await page.locator('#message-list .msg', { hasText: 'I need a refund' }).waitFor({ timeout: T });
      /** Ann's tab is in Nina's conversation room (so its messages reach her). */
      const annFollows = async () =>
        (await app.io.in(`conv:${nina.conversation.id}`).fetchSockets()).some(
          (s) => s.data.userId === ann.user.id,
        );
      await eventually(annFollows, T);

      // Visible, but another conversation is open: her message notifies and counts as unread.
      await say('Are you still there?');
      await eventually(async () => (await recorded()).length === 2, T);
      assert.deepEqual((await recorded())[1], {
        title: 'New message from Nina Notify',
        body: 'Are you still there?',
      });
      await eventually(async () => (await page.title()) === '(1) Inbox · Switchboard', T);
      await page
        .locator(`.conv[data-id="${nina.conversation.id}"] .badge`, { hasText: '1' })
        .waitFor({ timeout: T });

      // Hidden and reloaded: the count and the title survive, the choices too, and her next message
      // still notifies (the reloaded tab is back in her conversation's room).
      await page.evaluate(() => (window as unknown as PageWindow).__setHidden(true));
      await page.reload();
      await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
      await eventually(async () => (await page.title()) === '(1) Inbox · Switchboard', T);
      assert.equal(await page.locator('#notify-sound').isChecked(), true, 'the sound choice is remembered');
      await page.locator('#notify-state', { hasText: 'Desktop notifications on' }).waitFor({ timeout: T });
      assert.equal(await enable.isVisible(), false);
      await eventually(annFollows, T);
      await say('Hello??');
      await eventually(async () => (await recorded()).length === 1, T);
      assert.deepEqual(await recorded(), [{ title: 'New message from Nina Notify', body: 'Hello??' }]);
      await eventually(async () => (await page.title()) === '(2) Inbox · Switchboard', T);
      assert.ok(
        await page.evaluate(() => (window as unknown as PageWindow).__oscillators > 0),
        'the chime played',
      );

      // Clicking the notification brings the tab forward and opens her conversation, read.
      await page.evaluate(() => {
        const pw = window as unknown as PageWindow;
        pw.__setHidden(false);
        pw.__notifications[0]!.onclick!();
      });
      await page.locator('#message-list .msg', { hasText: 'Hello??' }).waitFor({ timeout: T });
      await page.locator('#thread-title', { hasText: 'Nina Notify' }).waitFor({ timeout: T });
      await eventually(async () => (await page.title()) === 'Inbox · Switchboard', T);
      const unread = (await page.evaluate(() => fetch('/api/inbox/unread').then((r) => r.json()))) as Record<
        string,
        number
      >;
      assert.equal(unread[nina.conversation.id], undefined);
    },
  );

  assert.deepEqual(problems, []);
});

/**
 * Zoe, a visitor who wrote, and Ann, an agent of her organization, with the app's reading of an
 * agent's conversations for `follow_mine` (`heldIds`) replaced by `heldIds`, given the real one.
 * `open()` opens Ann's inbox with desktop notifications on; `notified` are the bodies shown.
 */
async function zoeAndAnn(
  t: TestContext,
  database: Database,
  heldIds: (real: Services['conversations']['heldIds']) => Services['conversations']['heldIds'],
  cleanup: () => Promise<void> = async () => {},
) {
  const app = await startApp(database);
  const { org, channelId } = await createOrg(app.services);
  const ann = await createAgent(app.services, org.id, { role: 'agent' });
  const sockets: Socket[] = [];
  const { browser, contexts } = await browserFor(t, async () => {
    for (const s of sockets) s.disconnect();
    await app.stop();
    await database.close();
    await cleanup();
  });
  const zoe = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    displayName: 'Zoe Race',
  });
  const visitor = await connectSocket(app.url);
  sockets.push(visitor);
  const say = async (content: string) => {
    const ack = await emitAck(visitor, 'send_message', {
      conversation_id: zoe.conversation.id,
      content,
      content_type: 'text',
      sender_type: 'end_user',
      external_id: zoe.externalId,
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  };
  await say('Is anyone there?');
  const conversations = app.services.conversations;
  conversations.heldIds = heldIds(conversations.heldIds.bind(conversations));

  const { context, page } = await signedIn(browser, app, ann.user.email, ann.password);
  contexts.push(context);
  await context.grantPermissions(['notifications'], { origin: app.url });
  await page.addInitScript({ content: INSTRUMENT });
  const open = async () => {
    await page.goto(`${app.url}/inbox`);
    await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Enable desktop notifications' }).click();
    await page.locator('#notify-state', { hasText: 'Desktop notifications on' }).waitFor({ timeout: T });
  };
  const notified = () =>
    page.evaluate(() =>
      (window as unknown as PageWindow).__notifications.map((n) => `${n.title}: ${n.body}`),
    );
  /** In the background, Zoe writes `content`: Ann's tab notifies it (the test fails otherwise). */
  const notifiesOf = async (content: string) => {
    await page.evaluate(() => (window as unknown as PageWindow).__setHidden(true));
    await say(content);
    await eventually(async () => (await notified()).some((n) => n.endsWith(content)), T);
    assert.deepEqual(
      (await notified()).filter((n) => n.endsWith(content)),
      [`New message from Zoe Race: ${content}`],
    );
  };
  return { app, ann, zoe, page, open, notifiesOf };
}

test("a claim heard while the tab asks for the agent's conversations still notifies their visitor's messages", async (t) => {
  // The server reads which conversations Ann holds for her tab (`follow_mine`: none yet), and is
  // slow to answer: she claims Zoe's meanwhile, so the answer is older than the claim her tab heard.
  let asked!: () => void;
  const read = new Promise<void>((r) => (asked = r));
  let answer!: () => void;
  const answered = new Promise<void>((r) => (answer = r));
  const s = await zoeAndAnn(t, await dbModes[0]!.open(), (real) => async (...args) => {
    const ids = await real(...args);
    asked();
    await answered;
    return ids;
  });
  const problems: string[] = [];
  watch(s.page, problems, 'Ann');
  await s.open();
  await read;
  await s.app.services.conversations.assign(s.ann.actor, s.zoe.conversation.id);
  await s.page.locator('[data-count="mine"]', { hasText: '1' }).waitFor({ timeout: T });
  answer();
  await s.notifiesOf('Still waiting');
  assert.deepEqual(problems, []);
});

test('a tab whose follow_mine the database refused asks again: her conversation notifies once it is back', async (t) => {
  // The app's database goes through a proxy the test cuts.
  const pg = new URL(testDatabaseUrl());
  const proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
  const database = openPostgres(proxy.url(testDatabaseUrl()), {
    poolSize: 5,
    timeouts: { connectMs: 2000, statementMs: 2000, queryMs: 3000 },
  });
  // Her tab's first `follow_mine`, once the page is up, meets the database away (cut then, back
  // half a second after the refusal); the next ones find it.
  let go!: () => void;
  const ready = new Promise<void>((r) => (go = r));
  const answers: ('refused' | 'answered')[] = [];
  const s = await zoeAndAnn(
    t,
    database,
    (real) =>
      async (...args) => {
        if (answers.length > 0) {
          const ids = await real(...args);
          answers.push('answered');
          return ids;
        }
        await ready;
        proxy.set('refuse');
        try {
          return await real(...args);
        } finally {
          answers.push('refused');
          setTimeout(() => proxy.set('pass'), 500);
        }
      },
    () => proxy.close(),
  );
  await s.app.services.conversations.assign(s.ann.actor, s.zoe.conversation.id);
  await s.open();
  go();
  // Asked again after 5 s, answered: the tab is back in Zoe's conversation.
  await eventually(() => answers.join() === 'refused,answered', 15_000);
  await s.notifiesOf('Hello again');
});
