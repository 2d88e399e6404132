// The inbox list of a queue that is never quiet, in real Chromium: visitors keep writing (queue
// activity every 100 ms, each batch asking for a list refresh) and a new conversation still shows
// up within seconds, while the traffic goes on. A refresh that every batch put off again never came.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { connectSocket, emitAck } from '../../test/helpers/sockets.js';

const T = 15_000;

test('a busy queue: a new conversation shows in the list while the traffic goes on', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, { env: { END_USER_RATE_LIMIT: '10000' } });
  const sockets: Socket[] = [];
  const { browser, contexts } = await browserFor(t, async () => {
    for (const s of sockets) s.disconnect();
    await app.stop();
    await database.close();
  });
  // 20 messages a second for as long as a slow machine takes: past the default 60 a minute.
  const { org, channelId } = await createOrg(app.services, 'Busy Queue Org', { rateLimitPerMin: 100_000 });
  const ann = await createAgent(app.services, org.id);
  const problems: string[] = [];
  const a = await signedIn(browser, app, ann.user.email, ann.password);
  contexts.push(a.context);
  watch(a.page, problems, 'Ann');
  await a.page.goto(`${app.url}/inbox`);
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });

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
    await a.page.locator(`.conv[data-id="${talkers[0]!.c.conversation.id}"]`).waitFor({ timeout: T });
    // …and the queue has been busy for a while (30 messages, a second and a half at the least).
    while (n < 30) await new Promise((r) => setTimeout(r, 50));

    // A new visitor writes in the middle of it.
    const fresh = await createConversation(app.services, { organizationId: org.id, channelId });
    const socket = await connectSocket(app.url);
    sockets.push(socket);
    const sentAt = Date.now();
    const ack = await send({ c: fresh, socket }, 'A brand new question');
    assert.equal(ack.ok, true);
    const row = a.page.locator(`.conv[data-id="${fresh.conversation.id}"]`);
    await row.waitFor({ timeout: 5000 });
    assert.match((await row.locator('.conv-preview').textContent())!, /A brand new question/);
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
