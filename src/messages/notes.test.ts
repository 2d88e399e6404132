// Internal notes: an agent's message marked `internal`, seen by the conversation's agents and by no
// end-user path. Each gateway is asked as its client would: the widget's Socket.IO room, its
// history and catch-up, the relay WebSocket live and on welcome/resume, the signed API, push jobs,
// the bot and the webhook outbox. End users who try to write one are refused on every gateway.
// Absence is asserted after a later ordinary message has arrived, so it means something.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';
import { createTenant, createVisitorSession, signedCall } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, nextEvent, record } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';
import { createDocumentSchema } from '../knowledge/knowledge.schemas.js';

type Msg = { id: string; content: string; internal?: boolean; sender_type?: string; seq: number };

for (const mode of dbModes) {
  describe(`internal notes on ${mode.name}${mode.name === 'postgres' ? ' + Redis' : ''}`, () => {
    let t: TestApp;
    const sockets: Socket[] = [];
    const clients: WsClient[] = [];
    before(async () => {
      t = await startApp(await mode.open(), {
        redis: mode.name === 'postgres',
        env: { REALTIME_REDIS_PREFIX: `sb:notes:${randomUUID().slice(0, 8)}` },
      });
    });
    after(async () => {
      for (const s of sockets) s.disconnect();
      for (const c of clients) c.close();
      await t.stop();
      await t.database.close();
    });

    async function socket(cookie?: string) {
      const s = await connectSocket(t.url, cookie ? { cookie } : {});
      sockets.push(s);
      return s;
    }
    async function agent(organizationId: string) {
      const a = await createAgent(t.services, organizationId);
      const session = await loginAgent(t.url, a.user.email, a.password);
      return { ...a, session, http: agentHttp(t.url, session), socket: await socket(session.cookie) };
    }
    const send = (s: Socket, conversationId: string, content: string, extra: Record<string, unknown> = {}) =>
      emitAck(s, 'send_message', {
        conversation_id: conversationId,
        content,
        sender_type: 'agent',
        ...extra,
      });

    test('widget: agents see the note marked; the end user never does (room, history, catch-up, push, webhooks)', async () => {
      const { org, channelId, embedToken } = await createOrg(t.services);
      // Webhooks on: the trigger queues message-received rows (no worker runs here).
      await t.database.prisma.organization.update({
        where: { id: org.id },
        data: { webhookUrl: 'https://hooks.example.com' },
      });
      const ann = await agent(org.id);
      const bob = await agent(org.id);
      const c = await createConversation(t.services, { organizationId: org.id, channelId });
      const convId = c.conversation.id;

      const eu = await socket();
      assert.equal(
        (await emitAck(eu, 'join_conversation', { conversation_id: convId, external_id: c.externalId })).ok,
        true,
      );
      const euSeen = record<Msg>(eu, 'message_received');
      assert.equal(
        (
          await emitAck(eu, 'send_message', {
            conversation_id: convId,
            content: 'Hello',
            sender_type: 'end_user',
          })
        ).ok,
        true,
      );
      assert.equal((await emitAck(ann.socket, 'claim_conversation', { conversation_id: convId })).ok, true);
      assert.equal((await emitAck(bob.socket, 'join_conversation', { conversation_id: convId })).ok, true);

      const bobGetsNote = nextEvent<Msg>(
        bob.socket,
        'message_received',
        (m) => m.content === 'VIP: refund approved',
      );
      const noteAck = await send(ann.socket, convId, 'VIP: refund approved', { internal: true });
      assert.equal(noteAck.ok, true, JSON.stringify(noteAck));
      const note = (noteAck.message as Msg) ?? assert.fail('no message in the ack');
      assert.equal(note.internal, true);
      const atBob = await bobGetsNote;
      assert.equal(atBob.id, note.id);
      assert.equal(atBob.internal, true);

      // A later ordinary message reaches the end user: by then the note would have too.
      const euGetsReply = nextEvent<Msg>(
        eu,
        'message_received',
        (m) => m.content === 'Your refund is on its way',
      );
      assert.equal((await send(ann.socket, convId, 'Your refund is on its way')).ok, true);
      const reply = await euGetsReply;
      assert.equal(reply.internal, undefined);
      assert.deepEqual(
        euSeen.filter((m) => m.id === note.id || m.content.includes('VIP')),
        [],
        'the note reached the end user socket',
      );

      // Histories: the agents' has it, marked; the widget's does not.
      const agentHistory = await bob.http.get(`/api/conversations/${convId}/messages`);
      assert.equal(agentHistory.status, 200);
      const inHistory = (agentHistory.body as Msg[]).find((m) => m.id === note.id);
      assert.equal(inHistory?.internal, true);
      assert.equal((agentHistory.body as Msg[]).find((m) => m.id === reply.id)?.internal, undefined);
      const widgetHistory = await fetch(
        `${t.url}/chat-widget/history/${convId}?external_id=${encodeURIComponent(c.externalId)}`,
      );
      const widgetRows = (await widgetHistory.json()) as Msg[];
      assert.deepEqual(
        widgetRows.map((m) => m.content),
        ['Hello', 'Your refund is on its way'],
      );
      const opened = await t.services.widget.open({
        token: embedToken,
        externalId: c.externalId,
        host: { origin: null, framed: false, self: true },
      });
      assert.deepEqual(
        opened.history.map((m) => m.content),
        ['Hello', 'Your refund is on its way'],
      );

      // Catch-up after a reconnect: the end user's skips the note, the agent's replays it.
      const eu2 = await socket();
      const eu2Seen = record<Msg>(eu2, 'message_received');
      const euJoin = await emitAck(eu2, 'join_conversation', {
        conversation_id: convId,
        external_id: c.externalId,
        last_seq: 0,
      });
      assert.equal(euJoin.ok, true);
      assert.equal(euJoin.missed, 2);
      assert.equal(euJoin.last_seq, reply.seq);
      assert.deepEqual(
        eu2Seen.map((m) => m.content),
        ['Hello', 'Your refund is on its way'],
      );
      const bob2 = await socket(bob.session.cookie);
      const bob2Seen = record<Msg>(bob2, 'message_received');
      assert.equal(
        (await emitAck(bob2, 'join_conversation', { conversation_id: convId, last_seq: 0 })).missed,
        3,
      );
      assert.equal(bob2Seen.find((m) => m.id === note.id)?.internal, true);

      // The end user's unread badge: nothing of the note; its last message time unchanged by it.
      const conv = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: convId } });
      const stored = await t.database.prisma.message.findUniqueOrThrow({ where: { id: reply.id } });
      assert.equal(conv.lastMessageAt?.toISOString(), stored.createdAt.toISOString());

      // Webhooks: the reply is queued as message-received, the note is not.
      const hooks = await t.database.prisma.webhookEvent.findMany({
        where: { conversationId: convId, type: 'message-received' },
      });
      const hooked = hooks.map((h) => (h.data as { message: { id: string } }).message.id);
      assert.ok(hooked.includes(reply.id), 'the ordinary message is a webhook');
      assert.ok(!hooked.includes(note.id), 'the note is not a webhook');

      // End users cannot write one: refused, nothing stored.
      const before = await t.database.prisma.message.count({ where: { conversationId: convId } });
      const refused = await emitAck(eu, 'send_message', {
        conversation_id: convId,
        content: 'sneaky',
        sender_type: 'end_user',
        internal: true,
      });
      assert.equal(refused.ok, false);
      assert.equal(refused.error, 'request/invalid');
      assert.match(String(refused.message), /internal/);
      assert.equal(await t.database.prisma.message.count({ where: { conversationId: convId } }), before);
      // Nor through the service, whatever a gateway let through.
      await assert.rejects(
        t.services.messages.send(c.actor, {
          ...message({ conversation_id: convId, content: 'x', sender_type: 'end_user' }),
          internal: true,
        }),
        /only agents/,
      );
      // A malformed flag is a clear 400 too.
      const bad = await send(ann.socket, convId, 'x', { internal: 'yes' });
      assert.equal(bad.ok, false);
      assert.equal(bad.error, 'request/invalid');
    });

    test('push: an ordinary reply to an absent app user is queued, a note is not', async () => {
      const { org, channelId } = await createOrg(t.services);
      const ann = await agent(org.id);
      const c = await createConversation(t.services, { organizationId: org.id, channelId });
      const convId = c.conversation.id;
      await t.database.prisma.deviceToken.create({
        data: {
          organizationId: org.id,
          endUserId: c.endUser.id,
          platform: 'fcm',
          token: `tok_${randomUUID()}`,
        },
      });
      await t.services.messages.send(
        c.actor,
        message({ conversation_id: convId, content: 'Anyone?', sender_type: 'end_user' }),
      );
      const note = await send(ann.socket, convId, 'Called them already', { internal: true });
      assert.equal(note.ok, true);
      const reply = await send(ann.socket, convId, 'Yes, here!');
      const noteId = (note.message as Msg).id;
      const replyId = (reply.message as Msg).id;
      await eventually(
        async () => (await t.database.prisma.pushJob.count({ where: { messageId: replyId } })) > 0,
      );
      assert.equal(await t.database.prisma.pushJob.count({ where: { messageId: noteId } }), 0);
    });

    test('a note in a conversation without messages is refused with a clear error', async () => {
      const { org, channelId } = await createOrg(t.services);
      const ann = await agent(org.id);
      const c = await createConversation(t.services, { organizationId: org.id, channelId });
      const ack = await send(ann.socket, c.conversation.id, 'first!', { internal: true });
      assert.equal(ack.ok, false);
      assert.equal(ack.error, 'conversation/no_open_session');
      assert.equal(
        await t.database.prisma.message.count({ where: { conversationId: c.conversation.id } }),
        0,
      );
    });

    test('relay: the visitor WebSocket and the signed API; the bot does not answer notes', async () => {
      const tn = await createTenant(t.services);
      await t.services.knowledge.create(
        tn.id,
        createDocumentSchema.parse({
          title: 'Delivery times',
          body: 'Orders arrive in 2 to 4 working days. Express delivery arrives the next working day.',
        }),
      );
      const s = await createVisitorSession(t.url, tn);
      const v = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }));
      clients.push(v);
      await v.next('welcome');
      v.send({ type: 'msg', client_msg_id: 'c1', content: 'How long does delivery take?' });
      await v.next('ack');
      // The bot answers the visitor (so it is listening).
      await v.next('msg', (f) => f.role === 'bot');
      const botCount = () =>
        t.database.prisma.message.count({ where: { conversationId: s.conversation_id, senderType: 'bot' } });
      assert.equal(await botCount(), 1);

      const ann = await agent(tn.id);
      const noteAck = await send(
        ann.socket,
        s.conversation_id,
        'How long does delivery take? (checking stock)',
        {
          internal: true,
        },
      );
      assert.equal(noteAck.ok, true, JSON.stringify(noteAck));
      const note = noteAck.message as Msg;
      assert.equal((await send(ann.socket, s.conversation_id, 'An agent here too')).ok, true);
      await v.next('msg', (f) => f.content === 'An agent here too');
      assert.ok(!v.frames.some((f) => f.id === note.id || String(f.content).includes('checking stock')));
      await t.bot.idle();
      assert.equal(await botCount(), 1, 'the bot answered a note');

      // Reconnects: the welcome's history and a resume skip the note.
      const fresh = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }));
      clients.push(fresh);
      const welcome = await fresh.next('welcome');
      const history = welcome.history as Msg[];
      assert.ok(history.some((m) => m.content === 'An agent here too'));
      assert.ok(!history.some((m) => m.id === note.id));
      const resumed = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token, last_seq: 0 }));
      clients.push(resumed);
      const again = await resumed.next('welcome');
      const replayed = [
        ...((again.history as Msg[]) ?? []),
        ...resumed.frames.filter((f) => f.type === 'msg'),
      ];
      assert.ok(replayed.some((m) => (m as Msg).content === 'An agent here too'));
      assert.ok(!replayed.some((m) => (m as Msg).id === note.id));

      // The visitor cannot write one: an error frame, nothing stored.
      const count = await t.database.prisma.message.count({ where: { conversationId: s.conversation_id } });
      v.send({ type: 'msg', client_msg_id: 'c2', content: 'sneaky', internal: true });
      const err = await v.next('error');
      assert.equal(err.code, 'request/invalid');
      assert.match(String(err.message), /internal/);
      assert.equal(
        await t.database.prisma.message.count({ where: { conversationId: s.conversation_id } }),
        count,
      );

      // The signed API: no notes unless asked; asked, marked.
      const path = `/api/v1/relay/conversations/${s.conversation_id}/messages`;
      const plain = await signedCall(t.url, tn, 'GET', `${path}?limit=100`);
      assert.equal(plain.status, 200);
      const plainItems = (plain.body.data as { items: Msg[] }).items;
      assert.ok(plainItems.some((m) => m.content === 'An agent here too'));
      assert.ok(!plainItems.some((m) => m.id === note.id));
      const all = await signedCall(t.url, tn, 'GET', `${path}?limit=100&include_internal=true`);
      assert.equal((all.body.data as { items: Msg[] }).items.find((m) => m.id === note.id)?.internal, true);
      const badFlag = await signedCall(t.url, tn, 'GET', `${path}?include_internal=yes`);
      assert.equal(badFlag.status, 400);
      const asVisitor = await signedCall(t.url, tn, 'POST', path, {
        role: 'visitor',
        content: 'sneaky',
        internal: true,
      });
      assert.equal(asVisitor.status, 400);
      assert.match(asVisitor.body.message, /internal/);
      assert.equal(
        await t.database.prisma.message.count({ where: { conversationId: s.conversation_id } }),
        count,
      );

      // The backend's operator writes a note through the signed API: stored internal, listed
      // only when asked, and the visitor's socket gets the operator's next reply but never it.
      const op = await signedCall(t.url, tn, 'POST', '/api/v1/relay/operators', {
        external_id: 'backend-op-1',
        display_name: 'Backend Op',
      });
      assert.equal(op.status, 201, JSON.stringify(op.body));
      const byOperator = await signedCall(t.url, tn, 'POST', path, {
        role: 'agent',
        operator_external_id: 'backend-op-1',
        content: 'Signed-API note: refund approved',
        internal: true,
      });
      assert.equal(byOperator.status, 201, JSON.stringify(byOperator.body));
      const opNote = byOperator.body.data as Msg;
      assert.equal(opNote.internal, true);
      const reply = await signedCall(t.url, tn, 'POST', path, {
        role: 'agent',
        operator_external_id: 'backend-op-1',
        content: 'Your refund is on its way',
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      await v.next('msg', (f) => f.content === 'Your refund is on its way');
      assert.ok(!v.frames.some((f) => f.content === 'Signed-API note: refund approved'));
      const listed = (await signedCall(t.url, tn, 'GET', `${path}?limit=100`)).body.data as { items: Msg[] };
      assert.ok(!listed.items.some((m) => m.id === opNote.id));
    });
  });
}
