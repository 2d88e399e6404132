import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

let app: TestApp;
before(async () => {
  app = await startApp(await postgres.open());
});
after(async () => {
  await app.stop();
  await app.database.close();
});

/** Everything organization B owns that the API could touch, to prove nothing changed. */
async function snapshot(organizationId: string) {
  const db = app.database.prisma;
  const where = { organizationId };
  const [conversations, sessions, messages, endUsers, apiKeys] = await Promise.all([
    db.conversation.findMany({ where, orderBy: { id: 'asc' } }),
    db.conversationSession.findMany({ where, orderBy: { id: 'asc' } }),
    db.message.findMany({ where, orderBy: [{ seq: 'asc' }, { id: 'asc' }] }),
    db.endUser.findMany({ where, orderBy: { id: 'asc' } }),
    db.apiKey.findMany({ where, orderBy: { id: 'asc' } }),
  ]);
  return { conversations, sessions, messages, endUsers, apiKeys };
}

test("an agent of organization A gets 404 for every endpoint on B's conversations, and B is unchanged", async () => {
  // Organization B: an open, tagged conversation with history, a resolved one, an API key.
  const b = await createOrg(app.services);
  const bAgent = await createAgent(app.services, b.org.id, { role: 'owner' });
  const open = await createConversation(app.services, { organizationId: b.org.id, channelId: b.channelId });
  const closed = await createConversation(app.services, { organizationId: b.org.id, channelId: b.channelId });
  for (const c of [open, closed]) {
    await app.services.messages.send(
      c.actor,
      message({
        conversation_id: c.conversation.id,
        content: 'private to B',
        sender_type: 'end_user',
      }),
    );
  }
  await app.services.conversations.updateTags(bAgent.actor, open.conversation.id, {
    add: ['b-only'],
    remove: [],
  });
  await app.services.conversations.resolve(bAgent.actor, closed.conversation.id, { tags: [] });
  const bKey = await app.services.apiKeys.create(bAgent.actor, { name: 'B integration' });
  const before = await snapshot(b.org.id);

  // Organization A: one agent per role, and a conversation of its own as a control.
  const a = await createOrg(app.services);
  const mineA = await createConversation(app.services, { organizationId: a.org.id, channelId: a.channelId });
  await app.services.messages.send(
    mineA.actor,
    message({
      conversation_id: mineA.conversation.id,
      content: 'A here',
      sender_type: 'end_user',
    }),
  );

  // The least and the most privileged role (admins see what owners see).
  for (const role of ['agent', 'owner'] as const) {
    const agentA = await createAgent(app.services, a.org.id, { role });
    const http = agentHttp(app.url, await loginAgent(app.url, agentA.user.email, agentA.password));

    const endpoints = (id: string) => [
      { name: 'get', call: () => http.get(`/api/conversations/${id}`) },
      { name: 'messages', call: () => http.get(`/api/conversations/${id}/messages?limit=10&offset=0`) },
      { name: 'assign', call: () => http.post(`/api/conversations/${id}/assign`) },
      { name: 'resolve', call: () => http.post(`/api/conversations/${id}/resolve`, { tags: ['x'] }) },
      {
        name: 'tags',
        call: () => http.post(`/api/conversations/${id}/tags`, { add: ['x'], remove: ['b-only'] }),
      },
    ];
    const unknown = endpoints(randomUUID());
    const reference = [];
    for (const e of unknown) reference.push((await e.call()).body);
    for (const target of [open, closed]) {
      const foreign = endpoints(target.conversation.id);
      for (let i = 0; i < foreign.length; i++) {
        const res = await foreign[i]!.call();
        const label = `${role} ${foreign[i]!.name} on B's ${target === open ? 'open' : 'resolved'} conversation`;
        assert.equal(res.status, 404, label);
        // Indistinguishable from a conversation that does not exist.
        assert.deepEqual(res.body, reference[i], label);
        assert.deepEqual(res.body, { error: 'conversation/not_found', message: 'Conversation not found' });
      }
    }

    for (const filter of ['unassigned', 'mine', 'all']) {
      const list = await http.get(`/api/conversations/?filter=${filter}`);
      assert.equal(list.status, 200);
      const ids = list.body.map((c: { id: string }) => c.id);
      assert.ok(!ids.includes(open.conversation.id) && !ids.includes(closed.conversation.id), filter);
    }
    const all = await http.get('/api/conversations/?filter=all');
    assert.equal(all.headers['x-total-count'], '1');
    assert.equal(all.body[0].id, mineA.conversation.id);
    // The control: the same calls work on A's own conversation.
    assert.equal((await http.get(`/api/conversations/${mineA.conversation.id}`)).status, 200);

    // B's API key: revoking it is "not found" for A's admins; agents may not touch keys at all.
    const revoke = await http.delete(`/api/api-keys/${bKey.id}`);
    if (role === 'agent') {
      assert.equal(revoke.status, 403);
    } else {
      assert.equal(revoke.status, 404);
      assert.deepEqual(revoke.body, (await http.delete(`/api/api-keys/${randomUUID()}`)).body);
      const keys = await http.get('/api/api-keys');
      assert.deepEqual(keys.body, []);
    }
  }

  // The public widget history: A's end user cannot read B's conversation.
  const peek = await request(app.url).get(
    `/chat-widget/history/${open.conversation.id}?external_id=${encodeURIComponent(mineA.externalId)}`,
  );
  assert.equal(peek.status, 403);
  assert.equal(peek.body.error, 'auth/forbidden');

  assert.deepEqual(await snapshot(b.org.id), before);
});
