// Routing keys end to end: an operator restricted to `store-12` never learns of a `store-7`
// conversation (REST, Socket.IO, unread counts), whoever set the keys (team API, signed API) and
// however the conversation got its queue (widget open, signed API); admins see every queue and
// can filter by one. Two nodes share Redis, so a change made on one reaches sockets on the other.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';
import { createTenant, signedCall } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, nextEvent, record } from '../../test/helpers/sockets.js';
import type { UserRole } from '../generated/prisma/client.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

describe('routing keys', () => {
  let a: TestApp;
  let b: TestApp;
  const sockets: Socket[] = [];
  before(async () => {
    const env = { REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}` };
    const database = await postgres.open();
    a = await startApp(database, { redis: true, env });
    b = await startApp(database, { redis: true, env });
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    await b.stop();
    await a.stop();
    await a.database.close();
  });

  /** A member signed in over HTTP (on node `on`), with a socket there if asked. */
  async function member(orgId: string, o: { role?: UserRole; keys?: string[]; on?: TestApp } = {}) {
    const node = o.on ?? a;
    const m = await createAgent(a.services, orgId, { role: o.role ?? 'agent', routingKeys: o.keys ?? [] });
    const session = await loginAgent(node.url, m.user.email, m.password);
    return {
      ...m,
      session,
      http: agentHttp(node.url, session),
      async socket() {
        const s = await connectSocket(node.url, { cookie: session.cookie });
        sockets.push(s);
        assert.equal((await emitAck(s, 'join_queue')).ok, true);
        return s;
      },
    };
  }

  /** An organization with a store-7 operator, a store-12 operator and an admin. */
  async function shop() {
    const { org, channelId } = await createOrg(a.services);
    const [op7, op12, admin] = await Promise.all([
      member(org.id, { keys: ['store-7'] }),
      member(org.id, { keys: ['store-12'] }),
      member(org.id, { role: 'admin' }),
    ]);
    /** A conversation in the queue; with `say`, its end user writes (a session opens). */
    const conversation = async (routingKey: string | undefined, say?: string) => {
      const c = await createConversation(a.services, {
        organizationId: org.id,
        channelId,
        ...(routingKey ? { routingKey } : {}),
      });
      if (say) {
        await a.services.messages.send(
          c.actor,
          message({ conversation_id: c.conversation.id, content: say, sender_type: 'end_user' }),
        );
      }
      return c;
    };
    return { org, channelId, op7, op12, admin, conversation };
  }

  const ids = (body: { id: string }[]) => body.map((c) => c.id).sort();

  test('REST: store-7 is not found for the store-12 operator (list, detail, messages, claim, read, unread)', async () => {
    const { op7, op12, conversation } = await shop();
    const c7 = (await conversation('store-7', 'where is my order?')).conversation.id;
    const c12 = (await conversation('store-12', 'do you open on Sunday?')).conversation.id;

    for (const filter of ['unassigned', 'all']) {
      const list = await op12.http.get(`/api/conversations/?filter=${filter}`);
      assert.equal(list.status, 200);
      assert.deepEqual(ids(list.body), [c12]);
      assert.equal(list.headers['x-total-count'], '1');
    }
    // Asking for the other queue by name does not widen what they see.
    assert.deepEqual((await op12.http.get('/api/conversations/?filter=all&routing_key=store-7')).body, []);

    const notFound = [
      await op12.http.get(`/api/conversations/${c7}`),
      await op12.http.get(`/api/conversations/${c7}/messages`),
      await op12.http.post(`/api/conversations/${c7}/assign`),
      await op12.http.post(`/api/conversations/${c7}/release`),
      await op12.http.post(`/api/conversations/${c7}/tags`, { add: ['x'] }),
      await op12.http.post(`/api/conversations/${c7}/resolve`, { tags: [] }),
      await op12.http.post(`/api/inbox/conversations/${c7}/read`),
    ];
    for (const [i, res] of notFound.entries()) {
      assert.equal(res.status, 404, `request ${i}`);
      assert.equal(res.body.error, 'conversation/not_found');
    }
    assert.deepEqual((await op12.http.get('/api/inbox/unread')).body, { [c12]: 1 });
    // The store-7 operator: the mirror image.
    assert.deepEqual(ids((await op7.http.get('/api/conversations/?filter=all')).body), [c7]);
    assert.deepEqual((await op7.http.get('/api/inbox/unread')).body, { [c7]: 1 });
    assert.equal((await op7.http.post(`/api/conversations/${c7}/assign`)).status, 200);
    assert.equal((await op7.http.get(`/api/conversations/${c12}`)).status, 404);
    // Restricted agents with one queue get no picker.
    assert.deepEqual((await op12.http.get('/api/conversations/queues')).body, { queues: [] });
  });

  test('admins see every queue and filter by one; the picker lists the tenant queues', async () => {
    const { org, admin, conversation } = await shop();
    const c7 = (await conversation('store-7', 'one')).conversation.id;
    const c7b = (await conversation('store-7', 'two')).conversation.id;
    const c12 = (await conversation('store-12', 'three')).conversation.id;
    const plain = (await conversation(undefined, 'no queue')).conversation.id;

    assert.deepEqual(
      ids((await admin.http.get('/api/conversations/?filter=all')).body),
      [c7, c7b, c12, plain].sort(),
    );
    const only7 = await admin.http.get('/api/conversations/?filter=unassigned&routing_key=store-7&limit=1');
    assert.equal(only7.status, 200);
    assert.equal(only7.headers['x-total-count'], '2');
    assert.equal(only7.body.length, 1);
    assert.equal(only7.body[0].routing_key, 'store-7');
    // The next page keeps the queue.
    assert.match(only7.headers.link!, /routing_key=store-7/);
    const next = /<([^>]+)>/.exec(only7.headers.link!)![1]!;
    const page2 = await admin.http.get(`/api/conversations${next.slice('/api/conversations'.length)}`);
    assert.deepEqual(ids([...only7.body, ...page2.body]), [c7, c7b].sort());
    assert.deepEqual(
      ids((await admin.http.get('/api/conversations/?filter=all&routing_key=store-12')).body),
      [c12],
    );
    // Blank: every queue.
    assert.equal((await admin.http.get('/api/conversations/?filter=all&routing_key=')).body.length, 4);
    const bad = await admin.http.get(`/api/conversations/?routing_key=${'k'.repeat(101)}`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /routing_key/);
    assert.deepEqual((await admin.http.get('/api/conversations/queues')).body, {
      queues: ['store-12', 'store-7'],
    });
    // An agent with several queues picks among theirs; one who sees all among the tenant's.
    const both = await member(org.id, { keys: ['store-7', 'store-12'] });
    assert.deepEqual((await both.http.get('/api/conversations/queues')).body, {
      queues: ['store-12', 'store-7'],
    });
    assert.deepEqual(
      ids((await both.http.get('/api/conversations/?filter=all')).body),
      [c7, c7b, c12].sort(),
    );
    // A tenant without queues: no picker.
    const lone = await createOrg(a.services);
    const solo = await member(lone.org.id, { role: 'admin' });
    assert.deepEqual((await solo.http.get('/api/conversations/queues')).body, { queues: [] });
  });

  test('Socket.IO: no store-7 event reaches the store-12 operator while the store-7 operator and the admin get them', async () => {
    const { op7, op12, admin, conversation } = await shop();
    const [s7, s12, sAdmin] = await Promise.all([op7.socket(), op12.socket(), admin.socket()]);
    const heard12: [string, unknown][] = [];
    s12.onAny((event: string, payload: unknown) => heard12.push([event, payload]));
    const updated7 = record<{ conversation_id: string }>(s7, 'conversation_updated');
    const updatedAdmin = record<{ conversation_id: string }>(sAdmin, 'conversation_updated');

    const c7 = await conversation('store-7');
    const visitor = await connectSocket(a.url);
    sockets.push(visitor);
    const sent = await emitAck(visitor, 'send_message', {
      conversation_id: c7.conversation.id,
      content: 'is my parcel lost?',
      sender_type: 'end_user',
      external_id: c7.externalId,
      user_hash: c7.userHash,
    });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    await eventually(() => updated7.length === 1 && updatedAdmin.length === 1);
    assert.equal(updated7[0]!.conversation_id, c7.conversation.id);

    // Claim, a reply, tags and resolve: every one of them goes to the store-7 rooms only.
    const claimed = nextEvent(sAdmin, 'conversation_assigned');
    assert.equal((await emitAck(s7, 'claim_conversation', { conversation_id: c7.conversation.id })).ok, true);
    await claimed;
    const reply = await emitAck(s7, 'send_message', {
      conversation_id: c7.conversation.id,
      content: 'Let me look',
      sender_type: 'agent',
    });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    assert.equal(
      (await op7.http.post(`/api/conversations/${c7.conversation.id}/tags`, { add: ['parcel'] })).status,
      200,
    );
    const joined = await emitAck(s12, 'join_conversation', { conversation_id: c7.conversation.id });
    assert.equal(joined.error, 'conversation/not_found');
    const claim = await emitAck(s12, 'claim_conversation', { conversation_id: c7.conversation.id });
    assert.equal(claim.error, 'conversation/not_found');

    // A store-12 conversation reaches them: once it has, every store-7 event would have too.
    const c12 = await conversation('store-12');
    const heard = nextEvent<{ conversation_id: string }>(s12, 'conversation_updated');
    await emitAck(visitor, 'send_message', {
      conversation_id: c12.conversation.id,
      content: 'hello 12',
      sender_type: 'end_user',
      external_id: c12.externalId,
      user_hash: c12.userHash,
    });
    assert.equal((await heard).conversation_id, c12.conversation.id);
    await a.services.conversations.resolve(op7.actor, c7.conversation.id, { tags: [] });
    await eventually(() => heard12.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    const leaked = heard12.filter(([, p]) => JSON.stringify(p).includes(c7.conversation.id));
    // Only the acknowledgement-less `error` events of its own refused requests mention it.
    assert.deepEqual(
      leaked.filter(([e]) => e !== 'error'),
      [],
    );
    assert.ok(updatedAdmin.some((u) => u.conversation_id === c12.conversation.id));
    assert.ok(!updated7.some((u) => u.conversation_id === c12.conversation.id));
  });

  test('team API: routing_keys are set, validated and returned; a change reaches live sockets on another node', async () => {
    const { org, op12, admin, conversation } = await shop();
    const email = `store.${randomUUID()}@example.com`;
    const added = await admin.http.post('/api/team', {
      email,
      password: 'pa55word!',
      display_name: 'Sam',
      routing_keys: ['store-7', ' store-7 ', 'store-12'],
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.deepEqual(added.body.routing_keys, ['store-7', 'store-12']);
    for (const routing_keys of [
      ['k'.repeat(101)],
      [''],
      'store-7',
      Array.from({ length: 101 }, (_, i) => `s${i}`),
    ]) {
      const res = await admin.http.post('/api/team', {
        email: `x.${randomUUID()}@example.com`,
        password: 'pa55word!',
        routing_keys,
      });
      assert.equal(res.status, 400, JSON.stringify(routing_keys).slice(0, 40));
      assert.match(res.body.message, /routing_keys/);
    }
    const team = await admin.http.get('/api/team');
    assert.deepEqual(team.body.find((m: { email?: string }) => m.email === email).routing_keys, [
      'store-7',
      'store-12',
    ]);
    // Agents cannot change anyone's queues; another tenant's member is not found.
    assert.equal(
      (await op12.http.get('/api/team')).body.find((m: { id: string }) => m.id === op12.user.id)
        .routing_keys[0],
      'store-12',
    );
    const patchAs = (who: typeof admin, id: string, body: object) =>
      request(a.url)
        .patch(`/api/team/${id}`)
        .set('Cookie', who.session.cookie)
        .set('X-CSRFToken', who.session.csrf)
        .send(body);
    assert.equal((await patchAs(op12, admin.user.id, { routing_keys: [] })).status, 403);
    const other = await createOrg(a.services);
    const stranger = await createAgent(a.services, other.org.id);
    assert.equal((await patchAs(admin, stranger.user.id, { routing_keys: ['x'] })).status, 404);
    assert.equal((await patchAs(admin, op12.user.id, { routing_keys: 'x' })).status, 400);

    // Live: an operator who sees everything, signed in on node B, is restricted from node A.
    const ann = await member(org.id, { on: b });
    const s = await ann.socket();
    const c7 = await conversation('store-7');
    assert.equal((await emitAck(s, 'join_conversation', { conversation_id: c7.conversation.id })).ok, true);
    const updates = record<{ conversation_id: string }>(s, 'conversation_updated');
    const messages = record<{ conversation_id: string }>(s, 'message_received');
    // This socket takes the queue's activity per message: its room follows the queues too.
    const activity = record<{ conversation_id: string }>(s, 'conversation_activity');
    const resync = nextEvent<{ reason: string }>(s, 'resync');
    const changed = await patchAs(admin, ann.user.id, { routing_keys: ['store-12'] });
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.body.routing_keys, ['store-12']);
    assert.deepEqual(await resync, { reason: 'access_changed' });
    // At once, not at the next periodic re-check: the store-7 conversation is gone for them.
    assert.equal(
      (await emitAck(s, 'join_conversation', { conversation_id: c7.conversation.id })).error,
      'conversation/not_found',
    );
    assert.equal((await ann.http.get(`/api/conversations/${c7.conversation.id}`)).status, 404);
    await a.services.messages.send(
      c7.actor,
      message({ conversation_id: c7.conversation.id, content: 'store 7 again', sender_type: 'end_user' }),
    );
    const c12 = await conversation('store-12', 'store 12 here');
    await eventually(() => updates.some((u) => u.conversation_id === c12.conversation.id));
    await eventually(() => activity.some((u) => u.conversation_id === c12.conversation.id));
    assert.deepEqual(
      [...updates, ...messages, ...activity].filter((u) => u.conversation_id === c7.conversation.id),
      [],
    );

    // And back: no keys again, every queue again, still without a new sign-in.
    const again = nextEvent(s, 'resync');
    assert.equal((await patchAs(admin, ann.user.id, { routing_keys: [] })).status, 200);
    await again;
    const c7b = await conversation('store-7', 'store 7 once more');
    await eventually(() => updates.some((u) => u.conversation_id === c7b.conversation.id));
    await eventually(() => activity.some((u) => u.conversation_id === c7b.conversation.id));
  });

  test('signed API: operators get routing_keys (live too); a conversation opened with routing_key lands in that queue', async () => {
    const tn = await createTenant(a.services);
    const call = (method: string, path: string, body?: unknown) => signedCall(a.url, tn, method, path, body);
    const unknown = await call('POST', '/api/v1/relay/conversations', {
      visitor_user_id: 'u-1',
      routing_key: 'store-7',
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error, 'routing_key/unknown');
    assert.equal(await a.database.prisma.endUser.count({ where: { organizationId: tn.id } }), 0);

    for (const [external_id, routing_keys] of [
      ['op-7', ['store-7']],
      ['op-12', ['store-12']],
    ] as const) {
      const op = await call('POST', '/api/v1/relay/operators', { external_id, routing_keys });
      assert.equal(op.status, 201, JSON.stringify(op.body));
    }
    const opened = await call('POST', '/api/v1/relay/conversations', {
      visitor_user_id: 'u-1',
      routing_key: 'store-7',
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    assert.equal(opened.body.data!.routing_key, 'store-7');
    const id = opened.body.data!.id as string;
    // Given again with another queue, it moves there; without one, it stays.
    const moved = await call('POST', '/api/v1/relay/conversations', {
      visitor_user_id: 'u-1',
      routing_key: 'store-12',
    });
    assert.equal(moved.status, 200);
    assert.equal(moved.body.data!.routing_key, 'store-12');
    const kept = await call('POST', '/api/v1/relay/conversations', { visitor_user_id: 'u-1' });
    assert.equal(kept.body.data!.routing_key, 'store-12');
    const row = await a.database.prisma.conversation.findUniqueOrThrow({ where: { id } });
    assert.equal(row.routingKey, 'store-12');
    const bad = await call('POST', '/api/v1/relay/conversations', {
      visitor_user_id: 'u-2',
      routing_key: '',
    });
    assert.equal(bad.status, 400);

    // An operator signed into the inbox follows a change of their keys through the signed API.
    const op7 = await a.database.prisma.user.findFirstOrThrow({
      where: { organizationId: tn.id, externalId: 'op-7' },
    });
    const visible = await a.services.conversations.list((await a.services.agents.actorFor(op7.id))!, {
      filter: 'all',
      limit: 50,
      offset: 0,
    });
    assert.deepEqual(visible.items, []);
    const events: unknown[] = [];
    const off = a.bus.subscribe('agent.access_changed', (e) => void events.push(e));
    const patched = await call('PATCH', '/api/v1/relay/operators/op-7', {
      routing_keys: ['store-7', 'store-12'],
    });
    off();
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(events, [
      { organizationId: tn.id, userId: op7.id, role: op7.role, routingKeys: ['store-7', 'store-12'] },
    ]);
    const now = await a.services.conversations.list((await a.services.agents.actorFor(op7.id))!, {
      filter: 'all',
      limit: 50,
      offset: 0,
    });
    assert.deepEqual(
      now.items.map((c) => c.id),
      [id],
    );
  });
});
