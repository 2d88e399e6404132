// Escalation in a queue: a store-7 visitor talking to the bot asks for a person. The store-7
// operator and the admin hear of the conversation and of its ticket (filed in store-7); the
// store-12 operator hears of neither, and to them the ticket does not exist (list, get, update);
// nor can it be given to them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { startApp, loginAgent, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { createVisitorSession, provisionTenant, SHOP } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, nextEvent, record } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';
import { createDocumentSchema } from '../knowledge/knowledge.schemas.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

let t: TestApp;
const sockets: Socket[] = [];
const clients: WsClient[] = [];

before(async () => {
  t = await startApp(await dbModes[0]!.open(), { env: { ADMIN_KEY } });
});
after(async () => {
  for (const s of sockets) s.disconnect();
  for (const c of clients) c.close();
  await t.stop();
  await t.database.close();
});

/** An agent signed in, its socket in its queues, and its `/api` with session and CSRF. */
async function agentOf(organizationId: string, opts: { role?: 'admin'; routingKeys?: string[] }) {
  const a = await createAgent(t.services, organizationId, opts);
  const { cookie, csrf } = await loginAgent(t.url, a.user.email, a.password);
  const socket = await connectSocket(t.url, { cookie });
  sockets.push(socket);
  assert.equal((await emitAck(socket, 'join_queue')).ok, true);
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { cookie, 'x-csrftoken': csrf, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { user: a.user, socket, api };
}

test('a store-7 escalation: its queue and the admin hear of it and its ticket; store 12 never does', async () => {
  const tn = await provisionTenant(t.url, ADMIN_KEY, 'Stores', { allowed_origins: [SHOP] });
  const org = await t.database.prisma.organization.findUniqueOrThrow({ where: { id: tn.id } });
  await t.services.knowledge.create(
    tn.id,
    createDocumentSchema.parse({
      title: 'Store opening hours',
      body: 'Store 7 opens Monday to Saturday from 10:00 to 19:00. Store 12 opens every day from 9:00 to 20:00.',
    }),
  );
  const op7 = await agentOf(tn.id, { routingKeys: ['store-7'] });
  const op12 = await agentOf(tn.id, { routingKeys: ['store-12'] });
  const admin = await agentOf(tn.id, { role: 'admin' });

  // A store-7 visitor, with the bot (the tenant's default mode).
  const s = await createVisitorSession(
    t.url,
    { id: tn.id, pk: org.widgetPublicKey },
    { routing_key: 'store-7' },
  );
  const conversationId = s.conversation_id;
  const ws = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }), { origin: SHOP });
  clients.push(ws);
  assert.equal((await ws.next('welcome')).mode, 'bot');
  ws.send({ type: 'msg', client_msg_id: 'q1', content: 'When does store 7 open?' });
  assert.match(String((await ws.next('msg', (f) => f.role === 'bot')).content), /10:00 to 19:00/);

  const heardBy12 = {
    conversations: record<{ conversation_id: string }>(op12.socket, 'conversation_updated'),
    tickets: record<{ ticket_id: string }>(op12.socket, 'ticket_updated'),
  };
  const forConv = (e: Record<string, unknown>) => e.conversation_id === conversationId;
  const heard = [op7, admin].map((a) => ({
    conversation: nextEvent(a.socket, 'conversation_updated', forConv),
    ticket: nextEvent(a.socket, 'ticket_updated'),
  }));
  ws.send({ type: 'msg', client_msg_id: 'q2', content: 'Talk to a person' });

  const got = await Promise.all(heard.map(async (h) => [await h.conversation, await h.ticket] as const));
  const ticket = await t.database.prisma.ticket.findFirstOrThrow({ where: { conversationId } });
  assert.equal(ticket.routingKey, 'store-7');
  for (const [conversation, ticketEvent] of got) {
    assert.equal(conversation.content, 'Talk to a person');
    assert.deepEqual(ticketEvent, { ticket_id: ticket.id, kind: 'created', routing_key: 'store-7' });
  }
  await t.bot.idle();
  // The same events reached the two others on this node; a moment more for any stray one.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(heardBy12.conversations.filter(forConv), []);
  assert.deepEqual(heardBy12.tickets, []);

  // REST: to store 12 the ticket does not exist.
  const path = `/api/tickets/${ticket.id}`;
  const listed12 = await op12.api('GET', '/api/tickets');
  assert.equal(listed12.status, 200);
  assert.deepEqual(listed12.body.items, []);
  const filtered12 = await op12.api('GET', '/api/tickets?routing_key=store-7');
  assert.deepEqual(filtered12.body.items, []);
  const got12 = await op12.api('GET', path);
  assert.equal(got12.status, 404);
  assert.equal(got12.body.error, 'ticket/not_found');
  const patched12 = await op12.api('PATCH', path, { status: 'pending' });
  assert.equal(patched12.status, 404);
  assert.equal(patched12.body.error, 'ticket/not_found');

  // To store 7 and the admin it does.
  const listed7 = (await op7.api('GET', '/api/tickets')).body.items as { id: string; routing_key: string }[];
  assert.deepEqual(
    listed7.map((i) => [i.id, i.routing_key]),
    [[ticket.id, 'store-7']],
  );
  assert.equal((await admin.api('GET', path)).status, 200);

  // Nobody can hand it to the store-12 operator; the store-7 one takes it.
  const toStore12 = await admin.api('PATCH', path, { assignee_id: op12.user.id });
  assert.equal(toStore12.status, 400);
  assert.equal(toStore12.body.error, 'ticket/bad_assignee');
  const toStore7 = await admin.api('PATCH', path, { assignee_id: op7.user.id });
  assert.equal(toStore7.status, 200);
  assert.equal(toStore7.body.assignee_id, op7.user.id);
  const unchanged = await t.database.prisma.ticket.findUniqueOrThrow({ where: { id: ticket.id } });
  assert.equal(unchanged.status, 'open', "store 12's refused update changed nothing");
});
