import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp, ISO_8601 } from '../../test/helpers/http.js';
import { connectSocket, emitAck, eventually, nextEvent, record } from '../../test/helpers/sockets.js';
import type { UserRole } from '../../src/generated/prisma/client.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

let app: TestApp;
const sockets: Socket[] = [];
before(async () => {
  app = await startApp(await postgres.open());
});
after(async () => {
  for (const s of sockets) s.disconnect();
  await app.stop();
  await app.database.close();
});

type Spec = { role?: UserRole; routingKeys?: string[] };

/** An organization with agents signed in through the real login, and a way to open conversations. */
async function seed(specs: Spec[]) {
  const { org, channelId } = await createOrg(app.services);
  const agents = await Promise.all(
    specs.map(async (spec) => {
      const a = await createAgent(app.services, org.id, spec);
      const session = await loginAgent(app.url, a.user.email, a.password);
      return { ...a, session, http: agentHttp(app.url, session) };
    }),
  );
  /** A conversation with an open session (the end user wrote), claimed by `holder` if given. */
  const conversation = async (o: { routingKey?: string; holder?: (typeof agents)[number] } = {}) => {
    const c = await createConversation(app.services, {
      organizationId: org.id,
      channelId,
      ...(o.routingKey ? { routingKey: o.routingKey } : {}),
    });
    await app.services.messages.send(
      c.actor,
      message({ conversation_id: c.conversation.id, content: 'Hello', sender_type: 'end_user' }),
    );
    if (o.holder) await app.services.conversations.assign(o.holder.actor, c.conversation.id);
    return c.conversation.id;
  };
  return { org, agents, conversation };
}

const assigneeOf = async (conversationId: string) =>
  (
    await app.database.prisma.conversationSession.findFirst({
      where: { conversationId, status: 'open' },
    })
  )?.assignedAgentId;

/** An agent's socket in the queue rooms. */
async function queueSocket(cookie: string) {
  const s = await connectSocket(app.url, { cookie });
  sockets.push(s);
  assert.equal((await emitAck(s, 'join_queue')).ok, true);
  return s;
}

test('release by the holder: back in the queue, unassigned list, queue event to a teammate', async () => {
  const { agents, conversation } = await seed([{}, {}]);
  const [ann, bob] = agents;
  const id = await conversation({ holder: ann });
  const bobSocket = await queueSocket(bob!.session.cookie);
  const released = nextEvent(bobSocket, 'conversation_released', (e) => e.conversation_id === id);

  const res = await ann!.http.post(`/api/conversations/${id}/release`);
  assert.equal(res.status, 200);
  assert.equal(res.body.id, id);
  assert.equal(res.body.assigned_agent_id, null);
  assert.equal(res.body.released_from, ann!.user.id);
  assert.match(res.body.released_at, ISO_8601);
  const event = await released;
  // Who held it and its queue: every inbox moves its counts without reading them again.
  assert.deepEqual(event, {
    conversation_id: id,
    session_id: res.body.session_id,
    released_by: ann!.user.id,
    previous_agent_id: ann!.user.id,
    routing_key: null,
  });
  assert.equal(await assigneeOf(id), null);

  const unassigned = await bob!.http.get('/api/conversations/?filter=unassigned');
  assert.ok(unassigned.body.some((c: { id: string }) => c.id === id));
  // Released, it can be claimed again.
  assert.equal((await bob!.http.post(`/api/conversations/${id}/assign`)).status, 200);
});

test('release: refused when unassigned, for a plain agent who does not hold it; an admin may', async () => {
  const { agents, conversation } = await seed([{}, {}, { role: 'admin' }]);
  const [ann, bob, admin] = agents;
  const waiting = await conversation();
  const r1 = await ann!.http.post(`/api/conversations/${waiting}/release`);
  assert.equal(r1.status, 409);
  assert.equal(r1.body.error, 'conversation/not_assigned');

  const held = await conversation({ holder: ann });
  const r2 = await bob!.http.post(`/api/conversations/${held}/release`);
  assert.equal(r2.status, 409);
  assert.equal(r2.body.error, 'conversation/not_assigned');
  assert.equal(await assigneeOf(held), ann!.user.id);

  const annSocket = await queueSocket(ann!.session.cookie);
  const notice = nextEvent(annSocket, 'conversation_released', (e) => e.conversation_id === held);
  const r3 = await admin!.http.post(`/api/conversations/${held}/release`);
  assert.equal(r3.status, 200);
  assert.equal((await notice).released_by, admin!.user.id);
  assert.equal(await assigneeOf(held), null);
});

test('release over the socket: ack, and a refusal is an ack with the code', async () => {
  const { agents, conversation } = await seed([{}, {}]);
  const [ann, bob] = agents;
  const id = await conversation({ holder: ann });
  const annSocket = await queueSocket(ann!.session.cookie);
  const bobSocket = await queueSocket(bob!.session.cookie);

  const refused = await emitAck(bobSocket, 'release_conversation', { conversation_id: id });
  assert.equal(refused.ok, false);
  assert.equal(refused.error, 'conversation/not_assigned');

  const seen = nextEvent(bobSocket, 'conversation_released', (e) => e.conversation_id === id);
  const ack = await emitAck(annSocket, 'release_conversation', { conversation_id: id });
  assert.equal(ack.ok, true);
  assert.equal(ack.conversation_id, id);
  assert.equal(ack.assigned_agent_id, null);
  assert.equal((await seen).released_by, ann!.user.id);
});

test('transfer: the new holder, conversation_assigned to the queue and the previous holder', async () => {
  const { agents, conversation } = await seed([{}, {}, {}]);
  const [ann, bob, cat] = agents;
  const id = await conversation({ holder: ann });
  const annSocket = await queueSocket(ann!.session.cookie);
  const catSocket = await queueSocket(cat!.session.cookie);
  // Bob's tab is not in the queue: the transfer still moves it into the conversation's room.
  const bobSocket = await connectSocket(app.url, { cookie: bob!.session.cookie });
  sockets.push(bobSocket);
  const toAnn = nextEvent(annSocket, 'conversation_assigned', (e) => e.conversation_id === id);
  const toCat = nextEvent(catSocket, 'conversation_assigned', (e) => e.conversation_id === id);

  const res = await ann!.http.post(`/api/conversations/${id}/transfer`, { agent_id: bob!.user.id });
  assert.equal(res.status, 200);
  assert.equal(res.body.assigned_agent_id, bob!.user.id);
  assert.equal(res.body.transferred_from, ann!.user.id);
  assert.match(res.body.assigned_at, ISO_8601);
  const transferred = {
    conversation_id: id,
    assigned_to: bob!.user.id,
    session_id: res.body.session_id,
    routing_key: null,
    previous_agent_id: ann!.user.id,
  };
  assert.deepEqual(await toAnn, transferred);
  assert.deepEqual(await toCat, transferred);
  assert.equal(await assigneeOf(id), bob!.user.id);

  // Bob's socket was joined to conv:{id}: the visitor's next message reaches it.
  const received = record(bobSocket, 'message_received');
  const conv = await app.database.prisma.conversation.findUniqueOrThrow({
    where: { id },
    include: { endUser: true },
  });
  await app.services.messages.send(
    {
      kind: 'end_user',
      organizationId: conv.organizationId,
      endUserId: conv.endUserId,
      externalId: conv.endUser.externalId,
    },
    message({ conversation_id: id, content: 'Still there?', sender_type: 'end_user' }),
  );
  await eventually(() => received.length === 1);

  // Ann no longer holds it: she can neither release nor transfer it.
  assert.equal((await ann!.http.post(`/api/conversations/${id}/release`)).status, 409);
  const again = await ann!.http.post(`/api/conversations/${id}/transfer`, { agent_id: cat!.user.id });
  assert.equal(again.status, 409);
});

test('transfer: bad targets are 400 (unknown, other tenant, deactivated, wrong queue, the holder)', async () => {
  const { agents, conversation } = await seed([{}, {}, { routingKeys: ['billing'] }, { role: 'admin' }]);
  const [ann, gone, billing] = agents;
  const other = await seed([{}]);
  await app.database.prisma.user.update({ where: { id: gone!.user.id }, data: { status: 'deactivated' } });
  const id = await conversation({ holder: ann, routingKey: 'sales' });

  for (const agentId of [
    randomUUID(),
    other.agents[0]!.user.id,
    gone!.user.id,
    billing!.user.id,
    ann!.user.id,
  ]) {
    const res = await ann!.http.post(`/api/conversations/${id}/transfer`, { agent_id: agentId });
    assert.equal(res.status, 400, agentId);
    assert.equal(await assigneeOf(id), ann!.user.id);
  }
  const invalid = await ann!.http.post(`/api/conversations/${id}/transfer`, { agent_id: 'nope' });
  assert.equal(invalid.status, 400);

  // A routing key that is theirs: allowed. And one with no routing key excludes keyed agents.
  const billed = await conversation({ holder: ann, routingKey: 'billing' });
  const ok = await ann!.http.post(`/api/conversations/${billed}/transfer`, { agent_id: billing!.user.id });
  assert.equal(ok.status, 200);
  const plain = await conversation({ holder: ann });
  const refused = await ann!.http.post(`/api/conversations/${plain}/transfer`, {
    agent_id: billing!.user.id,
  });
  assert.equal(refused.status, 400);
});

test('transfer: unassigned or not held is 409; another tenant\u2019s conversation is 404; admins may', async () => {
  const { agents, conversation } = await seed([{}, {}, { role: 'admin' }]);
  const [ann, bob, admin] = agents;
  const waiting = await conversation();
  const r1 = await ann!.http.post(`/api/conversations/${waiting}/transfer`, { agent_id: bob!.user.id });
  assert.equal(r1.status, 409);
  const held = await conversation({ holder: ann });
  const r2 = await bob!.http.post(`/api/conversations/${held}/transfer`, { agent_id: bob!.user.id });
  assert.equal(r2.status, 409);

  const other = await seed([{ role: 'admin' }]);
  const foreign = other.agents[0]!;
  const r3 = await foreign.http.post(`/api/conversations/${held}/transfer`, { agent_id: foreign.user.id });
  assert.equal(r3.status, 404);
  const r4 = await foreign.http.post(`/api/conversations/${held}/release`);
  assert.equal(r4.status, 404);
  const s = await queueSocket(foreign.session.cookie);
  const ack = await emitAck(s, 'transfer_conversation', { conversation_id: held, agent_id: foreign.user.id });
  assert.equal(ack.error, 'conversation/not_found');

  const r5 = await admin!.http.post(`/api/conversations/${held}/transfer`, { agent_id: bob!.user.id });
  assert.equal(r5.status, 200);
  assert.equal(await assigneeOf(held), bob!.user.id);
});

test('transfer race: of two transfers at once exactly one wins, over REST and the socket', async () => {
  const { agents, conversation } = await seed([{}, {}, {}]);
  const [ann, bob, cat] = agents;
  const annSocket = await queueSocket(ann!.session.cookie);
  for (let round = 0; round < 5; round++) {
    const id = await conversation({ holder: ann });
    // Once one has moved it, Ann no longer holds it; if both read her as the holder, the
    // compare-and-set on the assignee lets only one write.
    const results = await Promise.all([
      ann!.http.post(`/api/conversations/${id}/transfer`, { agent_id: bob!.user.id }).then((r) => r.status),
      emitAck(annSocket, 'transfer_conversation', { conversation_id: id, agent_id: cat!.user.id }).then(
        (a) => (a.ok ? 200 : a.error),
      ),
    ]);
    assert.equal(results.filter((s) => s === 200).length, 1, String(results));
    assert.ok(results.includes(409) || results.includes('conversation/not_assigned'), String(results));
    assert.equal(await assigneeOf(id), results[0] === 200 ? bob!.user.id : cat!.user.id);
  }
});

test('domain events carry everything the webhooks need', async () => {
  const { org, agents, conversation } = await seed([{}, {}]);
  const [ann, bob] = agents;
  const id = await conversation({ holder: ann, routingKey: 'vip' });
  const events: unknown[] = [];
  const offs = [
    app.bus.subscribe('conversation.transferred', (e) => void events.push(e)),
    app.bus.subscribe('conversation.released', (e) => void events.push(e)),
  ];
  try {
    await app.services.handover.transfer(ann!.actor, id, { agent_id: bob!.user.id });
    await app.services.handover.release(bob!.actor, id);
  } finally {
    offs.forEach((off) => off());
  }
  const [transferred, released] = events as Record<string, unknown>[];
  const sessionId = (await app.database.prisma.conversationSession.findFirst({
    where: { conversationId: id },
  }))!.id;
  assert.deepEqual(
    { ...transferred, transferredAt: undefined },
    {
      organizationId: org.id,
      conversationId: id,
      routingKey: 'vip',
      sessionId,
      fromAgentId: ann!.user.id,
      toAgentId: bob!.user.id,
      transferredBy: ann!.user.id,
      transferredAt: undefined,
    },
  );
  assert.ok(transferred!.transferredAt instanceof Date);
  assert.deepEqual(
    { ...released, releasedAt: undefined },
    {
      organizationId: org.id,
      conversationId: id,
      routingKey: 'vip',
      sessionId,
      agentId: bob!.user.id,
      releasedBy: bob!.user.id,
      releasedAt: undefined,
    },
  );
});

test('queue events respect routing keys: a keyed agent hears only of their queues', async () => {
  const { agents, conversation } = await seed([{ role: 'admin' }, { routingKeys: ['sales'] }]);
  const [admin, sales] = agents;
  const salesSocket = await queueSocket(sales!.session.cookie);
  const released = record<{ conversation_id: string }>(salesSocket, 'conversation_released');
  const assigned = record<{ conversation_id: string }>(salesSocket, 'conversation_assigned');
  const billing = await conversation({ holder: admin, routingKey: 'billing' });
  const ours = await conversation({ holder: admin, routingKey: 'sales' });

  assert.equal((await admin!.http.post(`/api/conversations/${billing}/release`)).status, 200);
  assert.equal((await admin!.http.post(`/api/conversations/${ours}/release`)).status, 200);
  await eventually(() => released.length === 1);
  assert.equal(released[0]!.conversation_id, ours);

  await app.services.conversations.assign(admin!.actor, billing);
  await app.services.conversations.assign(admin!.actor, ours);
  await admin!.http.post(`/api/conversations/${ours}/transfer`, { agent_id: sales!.user.id });
  await eventually(() => assigned.some((e) => e.conversation_id === ours));
  // The sales agent cannot even see the billing one.
  const hidden = await sales!.http.post(`/api/conversations/${billing}/release`);
  assert.equal(hidden.status, 404);
  assert.ok(!assigned.some((e) => e.conversation_id === billing));
  assert.equal(released.length, 1);
});
