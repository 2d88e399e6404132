// The inbox list of a queue that is never quiet, in real Chromium: visitors keep writing (queue
// activity every 100 ms, each batch asking for a list refresh) and a new conversation still shows
// up within seconds, while the traffic goes on. A refresh that every batch put off again never came.
// Messages into conversations the list holds move their rows and count their unread messages at
// once, and read nothing again (the unread counts within 10 s). New conversations come with their
// rows and claims say who held them, so the list and the "Unassigned" count follow a spike without
// reading anything; a conversation the list does not hold (a release under "Unassigned") is read
// with the list, one refresh at a time.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import type { Socket } from 'socket.io-client';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { servicesFor } from '../../test/helpers/services.js';
import { connectSocket, emitAck, eventually } from '../../test/helpers/sockets.js';

const T = 15_000;

/**
 * A tenant whose queue takes 100,000 visitor messages a minute (the tests send 20 a second for as
 * long as a slow machine takes, past the default 60), and its agent Ann signed in, before she opens
 * the inbox: the test watches her page's requests first.
 */
async function annAndHerQueue(t: TestContext, orgName: string) {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, { env: { END_USER_RATE_LIMIT: '10000' } });
  const sockets: Socket[] = [];
  const { browser, contexts } = await browserFor(t, async () => {
    for (const s of sockets) s.disconnect();
    await app.stop();
    await database.close();
  });
  const { org, channelId } = await createOrg(app.services, orgName, { rateLimitPerMin: 100_000 });
  const ann = await createAgent(app.services, org.id);
  const problems: string[] = [];
  const a = await signedIn(browser, app, ann.user.email, ann.password);
  contexts.push(a.context);
  watch(a.page, problems, 'Ann');
  return { app, org, channelId, sockets, ann, page: a.page, problems };
}

type Queue = Awaited<ReturnType<typeof annAndHerQueue>>;

/**
 * `n` new visitors, each writing their first message `gapMs` after the one before: a new
 * conversation each time. Answers them with when the first message went.
 */
async function newVisitors({ app, org, channelId, sockets }: Queue, n: number, gapMs: number) {
  const fresh = [];
  for (let i = 0; i < n; i++) {
    const c = await createConversation(app.services, { organizationId: org.id, channelId });
    const socket = await connectSocket(app.url);
    sockets.push(socket);
    fresh.push({ c, socket });
  }
  const start = Date.now();
  for (const [i, { c, socket }] of fresh.entries()) {
    const ack = await emitAck(socket, 'send_message', {
      conversation_id: c.conversation.id,
      content: `Question ${i}`,
      content_type: 'text',
      sender_type: 'end_user',
      external_id: c.externalId,
    });
    assert.equal(ack.ok, true);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return { fresh, start };
}

/** When the page read a page of its list (`offset`) or a filter's count (`limit=1`). */
function listReads(page: Queue['page']) {
  const reads: number[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (
      u.pathname === '/api/conversations/' &&
      (u.searchParams.has('offset') || u.searchParams.get('limit') === '1')
    )
      reads.push(Date.now());
  });
  return reads;
}

/** The activity batches the page receives that left activity out. */
function leftOutBatches(page: Queue['page']) {
  const leftOut: { omitted?: number; omitted_unassigned?: number; omitted_held?: number }[] = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      const text = String(payload);
      if (!text.includes('"conversation_activity_batch"') || !text.includes('"omitted"')) return;
      leftOut.push((JSON.parse(text.slice(text.indexOf('['))) as [string, object])[1]);
    }),
  );
  return leftOut;
}

test('a busy queue: a new conversation shows in the list while the traffic goes on', async (t) => {
  const { app, org, channelId, sockets, page, problems } = await annAndHerQueue(t, 'Busy Queue Org');
  // The list requests the page makes: a page of the list or a filter's count (`limit=1`), and the
  // unread counts.
  const lists: URLSearchParams[] = [];
  let unreads = 0;
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/conversations/') lists.push(u.searchParams);
    if (u.pathname === '/api/inbox/unread') unreads++;
  });
  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  const unassignedCount = page.locator('[data-count="unassigned"]');

  // Eight visitors who keep writing: a message every 50 ms in all, for as long as the test runs.
  type Talker = { c: Awaited<ReturnType<typeof createConversation>>; socket: Socket };
  const talkers: Talker[] = [];
  for (let i = 0; i < 8; i++) {
    const c = await createConversation(app.services, { organizationId: org.id, channelId });
    const socket = await connectSocket(app.url);
    sockets.push(socket);
    talkers.push({ c, socket });
  }
  let n = 0;
  const send = (who: Talker, content: string) =>
    emitAck(who.socket, 'send_message', {
      conversation_id: who.c.conversation.id,
      content,
      content_type: 'text',
      sender_type: 'end_user',
      external_id: who.c.externalId,
    });
  const acks: Promise<{ ok: boolean }>[] = [];
  const traffic = setInterval(() => {
    const who = talkers[n % talkers.length]!;
    acks.push(send(who, `busy ${n++}`));
  }, 50);
  t.after(() => clearInterval(traffic));
  try {
    // The list shows the busy conversations (each moved while the page was open).
    await page.locator(`.conv[data-id="${talkers[0]!.c.conversation.id}"]`).waitFor({ timeout: T });
    // …and the queue has been busy for a while (30 messages, a second and a half at the least).
    while (n < 30) await new Promise((r) => setTimeout(r, 50));
    // Every talker's conversation waits in the queue, counted.
    await eventually(async () => (await unassignedCount.textContent()) === '8', T);

    // While only messages come: a row's unread count grows at once, and nothing is read again.
    const before = lists.length;
    const unreadBefore = unreads;
    const badge = page.locator(`.conv[data-id="${talkers[0]!.c.conversation.id}"] .badge`);
    const shown = async () => Number((await badge.textContent()) ?? '0');
    const first = await shown();
    await eventually(async () => (await shown()) >= first + 2, T);
    assert.deepEqual(lists.slice(before).map(String), [], 'messages alone read no list or count');
    assert.equal(unreads - unreadBefore, 0, 'nor the unread counts, within 10 s');

    // A new visitor writes in the middle of it.
    const fresh = await createConversation(app.services, { organizationId: org.id, channelId });
    const socket = await connectSocket(app.url);
    sockets.push(socket);
    const sentAt = Date.now();
    const ack = await send({ c: fresh, socket }, 'A brand new question');
    assert.equal(ack.ok, true);
    const row = page.locator(`.conv[data-id="${fresh.conversation.id}"]`);
    await row.waitFor({ timeout: 5000 });
    assert.match((await row.locator('.conv-preview').textContent())!, /A brand new question/);
    // A new conversation in the queue: counted from the row its event carries.
    await eventually(async () => (await unassignedCount.textContent()) === '9', 5000);
    // …while the queue was still busy: the traffic went on the whole time.
    const during = n;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(n > during, 'traffic was still flowing');
    assert.ok(Date.now() - sentAt < 6000);
  } finally {
    clearInterval(traffic);
  }
  const settled = await Promise.all(acks);
  assert.ok(settled.length > 30, `${settled.length} messages sent`);
  assert.deepEqual(
    settled.filter((x) => !x.ok),
    [],
    'every busy message was stored',
  );
  assert.deepEqual(problems, []);
});

test('a spike of new conversations and claims: each shows and leaves with its count, and nothing is read again', async (t) => {
  const queue = await annAndHerQueue(t, 'Spike Org');
  const { app, org, page, problems } = queue;
  const reads = listReads(page);
  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  const loaded = reads.at(-1)!;

  // Twelve visitors write their first message, one every 100 ms: a new conversation each time.
  const { fresh, start } = await newVisitors(queue, 12, 100);
  for (const { c } of fresh) {
    await page.locator(`.conv[data-id="${c.conversation.id}"]`).waitFor({ timeout: T });
  }
  const unassigned = page.locator('[data-count="unassigned"]');
  await eventually(async () => (await unassigned.textContent()) === '12', T);
  // All from their events: nothing was read meanwhile (a reading would come 15 s after the last).
  const shownAt = Date.now();
  assert.deepEqual(
    reads.filter((at) => at >= start).map((at) => at - loaded),
    [],
    `the rows took ${shownAt - loaded} ms after the list loaded`,
  );
  // Bob claims four of them: they leave Ann's Unassigned list, and its count follows.
  const bob = await createAgent(app.services, org.id);
  for (const { c } of fresh.slice(0, 4))
    await app.services.conversations.assign(bob.actor, c.conversation.id);
  for (const { c } of fresh.slice(0, 4)) {
    await page.locator(`.conv[data-id="${c.conversation.id}"]`).waitFor({ state: 'detached', timeout: T });
  }
  await eventually(async () => (await unassigned.textContent()) === '8', T);
  // Each event brought what the list needed: no read came sooner than the reconciling one, 15 s
  // after the list was last read (before, every event asked for one within a second).
  for (const at of reads.filter((x) => x >= start)) {
    assert.ok(at - loaded >= 14_500, `the list was read ${at - loaded} ms after it loaded`);
  }

  // A new conversation whose row the server could not read (its database away for that moment)
  // goes out without it: the inbox reads its list, and shows it and its count all the same.
  const rowOf = app.services.conversations.row;
  app.services.conversations.row = () => Promise.reject(new Error('the database is away'));
  t.after(() => (app.services.conversations.row = rowOf));
  const readsBefore = reads.length;
  const { fresh: late } = await newVisitors(queue, 1, 0);
  await page.locator(`.conv[data-id="${late[0]!.c.conversation.id}"]`).waitFor({ timeout: T });
  await eventually(async () => (await unassigned.textContent()) === '9', T);
  assert.ok(reads.length > readsBefore, 'the list was read for it');
  assert.deepEqual(problems, []);
});

test("a visitor's retry after a lost answer: the new conversation shows, counted once however often it is told", async (t) => {
  const queue = await annAndHerQueue(t, 'Lost Answer Org');
  const { app, org, channelId, sockets, page, problems } = queue;
  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  const unassigned = page.locator('[data-count="unassigned"]');
  // Every value the Unassigned count shows.
  await page.evaluate(() => {
    const el = document.querySelector('[data-count="unassigned"]')!;
    const seen = [el.textContent ?? ''];
    (window as unknown as { __counts: string[] }).__counts = seen;
    new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  // A node stores the visitor's first message and dies before it tells anyone: no event came.
  const c = await createConversation(app.services, { organizationId: org.id, channelId });
  const first = {
    conversation_id: c.conversation.id,
    content: 'Is anyone there?',
    content_type: 'text',
    sender_type: 'end_user',
    external_id: c.externalId,
    client_msg_id: randomUUID(),
  };
  await servicesFor(app.database).services.messages.send(c.actor, message(first));
  // The visitor, without an answer, sends it again, and once more.
  const socket = await connectSocket(app.url);
  sockets.push(socket);
  assert.equal((await emitAck(socket, 'send_message', first)).duplicate, true);
  await page.locator(`.conv[data-id="${c.conversation.id}"]`).waitFor({ timeout: T });
  const counted = page.waitForResponse(
    (r) => {
      const u = new URL(r.url());
      return (
        u.pathname === '/api/conversations/' &&
        u.searchParams.get('filter') === 'unassigned' &&
        u.searchParams.get('limit') === '1'
      );
    },
    { timeout: T },
  );
  assert.equal((await emitAck(socket, 'send_message', first)).duplicate, true);
  // Told twice, maybe counted before: the inbox reads the counts instead of adding one each time.
  await counted;
  await eventually(async () => (await unassigned.textContent()) === '1', T);
  const counts = await page.evaluate(() => (window as unknown as { __counts: string[] }).__counts);
  assert.ok(!counts.includes('2'), `the count showed ${counts.join(', ')}`);
  assert.equal(await page.locator('.conv').count(), 1);
  assert.deepEqual(problems, []);
});

test('a slow server: the inbox reads its list one refresh at a time, the next twice as long after as the last took', async (t) => {
  const queue = await annAndHerQueue(t, 'Slow Server Org');
  const { app, page, problems } = queue;
  // Once the inbox is up, every list request takes 1.2 s more (a server a hundred inboxes keep busy).
  let slow = false;
  await page.route(
    (u) => u.pathname === '/api/conversations/',
    async (route) => {
      if (slow) await new Promise((r) => setTimeout(r, 1200));
      await route.continue();
    },
  );
  // The list's first page (not a filter's count, `limit=1`, nor the notifications' list of the
  // agent's conversations, which has no offset): one per refresh.
  const pages: { start: number; end?: number }[] = [];
  const byRequest = new Map<object, { start: number; end?: number }>();
  const isPage = (url: string) => {
    const u = new URL(url);
    return u.pathname === '/api/conversations/' && u.searchParams.get('offset') === '0';
  };
  page.on('request', (r) => {
    if (!slow || !isPage(r.url())) return;
    const p = { start: Date.now() };
    pages.push(p);
    byRequest.set(r, p);
  });
  page.on('requestfinished', (r) => {
    const p = byRequest.get(r);
    if (p) p.end = Date.now();
  });
  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  slow = true;

  // Eight conversations Bob held go back to the queue, one every 250 ms: "Unassigned" does not
  // hold their rows, so each asks for a refresh.
  const { fresh } = await newVisitors(queue, 8, 0);
  const bob = await createAgent(app.services, queue.org.id);
  for (const { c } of fresh) await app.services.conversations.assign(bob.actor, c.conversation.id);
  for (const { c } of fresh) {
    await page
      .locator(`.conv[data-id="${c.conversation.id}"]`)
      .waitFor({ state: 'detached', timeout: 4 * T });
  }
  for (const { c } of fresh) {
    await app.services.handover.release(bob.actor, c.conversation.id);
    await new Promise((r) => setTimeout(r, 250));
  }
  // Every one shows all the same, slow as the server is.
  for (const { c } of fresh) {
    await page.locator(`.conv[data-id="${c.conversation.id}"]`).waitFor({ timeout: 4 * T });
  }
  // The events came faster than the refreshes: at least two of them, one after the other.
  const finished = () => pages.filter((p) => p.end !== undefined) as { start: number; end: number }[];
  await eventually(async () => finished().length >= 2, 2 * T);
  const done = finished();
  for (let i = 1; i < done.length; i++) {
    const [prev, next] = [done[i - 1]!, done[i]!];
    // (Times are the test's, as Chromium's events reach it: 200 ms allowed for that.)
    assert.ok(next.start >= prev.end - 200, `refresh ${i} began before refresh ${i - 1} ended`);
    const took = prev.end - prev.start;
    assert.ok(
      next.start - prev.start >= 2 * took - 200,
      `refresh ${i} came ${next.start - prev.start} ms after the one before, which took ${took} ms`,
    );
  }
  assert.deepEqual(problems, []);
});

test('activity a busy queue left out of its batch reads the Unassigned list only when it can be in it', async (t) => {
  const queue = await annAndHerQueue(t, 'Left Out Org');
  const { app, org, page, problems } = queue;
  const reads = listReads(page);
  const leftOut = leftOutBatches(page);
  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });

  // A real message's event is the pattern for sixty conversations moving within one batch.
  const created: Parameters<Parameters<typeof app.bus.subscribe<'message.created'>>[1]>[0][] = [];
  const off = app.bus.subscribe('message.created', (e) => void created.push(e));
  await newVisitors(queue, 1, 0);
  await eventually(() => created.length === 1, T);
  off();
  const e = created[0]!;
  const bob = await createAgent(app.services, org.id);
  const burst = (holderId: string | null) => {
    for (let i = 0; i < 60; i++) {
      const id = crypto.randomUUID();
      app.bus.publish('message.created', {
        ...e,
        sessionOpened: false,
        conversation: { ...e.conversation, id, holderId },
        message: { ...e.message, id: crypto.randomUUID(), conversationId: id, content: `moved ${i}` },
      });
    }
  };
  await new Promise((r) => setTimeout(r, 1500));
  const before = reads.length;

  // Sixty conversations Bob holds move: ten are left out, none of them in Ann's Unassigned list.
  burst(bob.user.id);
  await eventually(() => leftOut.length === 1, T);
  assert.deepEqual(
    {
      omitted: leftOut[0]!.omitted,
      unassigned: leftOut[0]!.omitted_unassigned,
      held: leftOut[0]!.omitted_held,
    },
    { omitted: 10, unassigned: 0, held: 10 },
  );
  // (A reload it asked for would start 300 ms after the batch at the earliest.)
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(reads.length, before, 'held activity left out read nothing');

  // Sixty waiting in the queue: those left out may be in the list, which is read.
  burst(null);
  await eventually(() => leftOut.length === 2, T);
  assert.equal(leftOut[1]!.omitted_unassigned, 10);
  await eventually(() => reads.length > before, T);
  assert.deepEqual(problems, []);
});

test('a click on a row holds while the busy list redraws under it', async (t) => {
  const queue = await annAndHerQueue(t, 'Redraw Org');
  const { app, page, problems } = queue;
  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  // A quiet visitor, then a busy one: the busy row stays on top, redrawn with every batch.
  const { fresh } = await newVisitors(queue, 2, 0);
  const [quiet, busy] = fresh as [(typeof fresh)[0], (typeof fresh)[0]];
  const quietRow = page.locator(`.conv[data-id="${quiet.c.conversation.id}"]`);
  await quietRow.waitFor({ timeout: T });
  let n = 0;
  const traffic = setInterval(() => {
    void emitAck(busy.socket, 'send_message', {
      conversation_id: busy.c.conversation.id,
      content: `busy ${n++}`,
      content_type: 'text',
      sender_type: 'end_user',
      external_id: busy.c.externalId,
    });
  }, 50);
  t.after(() => clearInterval(traffic));
  const busyPreview = page.locator(`.conv[data-id="${busy.c.conversation.id}"] .conv-preview`);
  await eventually(async () => /busy \d/.test((await busyPreview.textContent()) ?? ''), T);

  // The mouse goes down on the quiet row, the list redraws (the busy row's new messages), it comes up.
  const box = (await quietRow.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  const shown = (await busyPreview.textContent()) ?? '';
  await eventually(async () => (await busyPreview.textContent()) !== shown, T);
  await page.mouse.up();
  clearInterval(traffic);
  // The quiet conversation opened (its row is the current one).
  await eventually(async () => (await quietRow.getAttribute('aria-current')) === 'true', T);
  assert.deepEqual(problems, []);
});

test("Mine: the agent's conversations move with their messages, count each unread once, and left-out activity reads nothing", async (t) => {
  const queue = await annAndHerQueue(t, 'Mine Org');
  const { app, org, page, problems, ann } = queue;
  // Three visitors write; Ann holds their conversations.
  const firsts: Parameters<Parameters<typeof app.bus.subscribe<'message.created'>>[1]>[0][] = [];
  const off = app.bus.subscribe('message.created', (e) => void firsts.push(e));
  const { fresh } = await newVisitors(queue, 3, 0);
  await eventually(() => firsts.length === 3, T);
  off();
  for (const { c } of fresh) await app.services.conversations.assign(ann.actor, c.conversation.id);
  const [h0, h1] = fresh.map(({ c }) => c.conversation.id) as [string, string];
  const reads = listReads(page);
  const leftOut = leftOutBatches(page);
  await page.goto(`${app.url}/inbox`);
  await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  await page.locator('[data-filter="mine"]').click();
  for (const id of [h0, h1]) await page.locator(`.conv[data-id="${id}"]`).waitFor({ timeout: T });
  // Her tab is back in the rooms of her conversations (the notifications' reading on connecting).
  for (const id of [h0, h1]) {
    await eventually(
      async () => (await app.io.in(`conv:${id}`).fetchSockets()).some((x) => x.data.userId === ann.user.id),
      T,
    );
  }
  // Every unread count a row of hers shows, as it shows it.
  await page.evaluate(
    (ids) => {
      const seen: string[] = [];
      (window as unknown as { __badges: string[] }).__badges = seen;
      new MutationObserver(() => {
        for (const id of ids) {
          const b = document.querySelector(`.conv[data-id="${id}"] .badge`);
          if (b) seen.push(`${id}:${b.textContent}`);
        }
      }).observe(document.body, { childList: true, characterData: true, subtree: true });
    },
    [h0, h1],
  );
  const preview = (id: string) => page.locator(`.conv[data-id="${id}"] .conv-preview`);
  const badge = (id: string) => page.locator(`.conv[data-id="${id}"] .badge`);
  const topRow = () => page.locator('.conv').first().getAttribute('data-id');
  await new Promise((r) => setTimeout(r, 1000));
  const before = reads.length;
  const lastRead = reads.at(-1)!;
  // Their unread counts as read on loading (each visitor's first message).
  const shown = async (id: string) => ((await badge(id).count()) ? Number(await badge(id).textContent()) : 0);
  const base = { [h0]: await shown(h0), [h1]: await shown(h1) };

  // A message in one of hers, then sixty in conversations Bob holds, in one batch: hers is the
  // oldest of the batch, left out with ten of Bob's. Her row moves all the same, from the message
  // itself, and nothing is read.
  const bob = await createAgent(app.services, org.id);
  const e = firsts.find((x) => x.conversation.id === h0)!;
  const moved = (conversationId: string, holderId: string, content: string) =>
    app.bus.publish('message.created', {
      ...e,
      sessionOpened: false,
      conversation: { ...e.conversation, id: conversationId, holderId },
      message: { ...e.message, id: crypto.randomUUID(), conversationId, content, createdAt: new Date() },
    });
  moved(h0, ann.user.id, 'News for Ann');
  for (let i = 0; i < 60; i++) moved(crypto.randomUUID(), bob.user.id, `moved ${i}`);
  await eventually(() => leftOut.length === 1, T);
  assert.deepEqual(
    { omitted: leftOut[0]!.omitted, held: leftOut[0]!.omitted_held },
    { omitted: 11, held: 11 },
  );
  await eventually(async () => /News for Ann$/.test((await preview(h0).textContent()) ?? ''), T);
  assert.equal(await topRow(), h0);
  assert.equal(await shown(h0), base[h0]! + 1);
  // (A reload it asked for would start 300 ms after the batch at the earliest.)
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(reads.length, before, 'her left-out activity read nothing');

  // A visitor's message in another of hers: one unread, counted once.
  const v1 = fresh[1]!;
  const ack = await emitAck(v1.socket, 'send_message', {
    conversation_id: h1,
    content: 'One more question',
    content_type: 'text',
    sender_type: 'end_user',
    external_id: v1.c.externalId,
  });
  assert.equal(ack.ok, true);
  await eventually(async () => /One more question$/.test((await preview(h1).textContent()) ?? ''), T);
  assert.equal(await topRow(), h1);
  await eventually(async () => (await shown(h1)) === base[h1]! + 1, T);
  // Counted as it came: nothing is read again for it (before, the list and the unread counts
  // were, 10 s after they last were).
  await new Promise((r) => setTimeout(r, Math.max(1000, lastRead + 11_000 - Date.now())));
  assert.equal(reads.length, before, "her visitors' messages read nothing");
  const badges = await page.evaluate(() => (window as unknown as { __badges: string[] }).__badges);
  assert.deepEqual(
    badges.filter((b) => {
      const [id, n] = b.split(':') as [string, string];
      return Number(n) > base[id]! + 1;
    }),
    [],
    'each unread counted once',
  );
  assert.deepEqual(problems, []);
});
