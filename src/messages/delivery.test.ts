// Delivery state, both ways and on both gateways: receipts (`message_delivered` on Socket.IO,
// `delivered` frames on the relay WebSocket) reach the sender's side as `messages_delivered` /
// `delivered`; reads (`mark_read`, `read` frames) as `messages_read` / `read`. Joins and the relay
// welcome carry the state for a reload; other conversations' ids are refused; a flood of receipts
// costs a bounded number of writes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { createTenant, createVisitorSession } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, nextEvent, record } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';

type Delivery = {
  agent_delivered_seq: number;
  visitor_delivered_seq: number;
  agent_read_seq: number;
  agent_read_at: string | null;
  visitor_read_seq: number;
  visitor_read_at: string | null;
};

for (const mode of dbModes) {
  const withRedis = mode.name === 'postgres';
  describe(`delivery state on ${mode.name}${withRedis ? ' + Redis' : ''}`, () => {
    let app: TestApp;
    const sockets: Socket[] = [];
    const wss: WsClient[] = [];
    before(async () => {
      app = await startApp(await mode.open(), {
        redis: withRedis,
        env: { REALTIME_REDIS_PREFIX: `sb:dl:${randomUUID().slice(0, 8)}`, SOCKET_EVENT_LIMIT: '1000' },
      });
    });
    afterEach(() => {
      for (const c of wss.splice(0)) c.close();
    });
    after(async () => {
      for (const s of sockets) s.disconnect();
      await app.stop();
      await app.database.close();
    });

    async function open(cookie?: string) {
      const s = await connectSocket(app.url, cookie ? { cookie } : {});
      sockets.push(s);
      return s;
    }
    async function agentOf(orgId: string) {
      const a = await createAgent(app.services, orgId);
      const { cookie } = await loginAgent(app.url, a.user.email, a.password);
      return { ...a, socket: await open(cookie) };
    }

    /** An organization, an agent and a visitor (Socket.IO) both in the conversation. */
    async function world() {
      const { org, channelId } = await createOrg(app.services);
      const agent = await agentOf(org.id);
      const conv = await createConversation(app.services, { organizationId: org.id, channelId });
      const convId = conv.conversation.id;
      const visitor = await open();
      const joined = await emitAck(visitor, 'join_conversation', {
        conversation_id: convId,
        external_id: conv.externalId,
      });
      assert.equal(joined.ok, true);
      return { org, channelId, agent, conv, convId, visitor };
    }

    test('Socket.IO: delivered and read both ways, live, and after a rejoin', async () => {
      const w = await world();
      const sent = await emitAck(w.visitor, 'send_message', {
        conversation_id: w.convId,
        sender_type: 'end_user',
        external_id: w.conv.externalId,
        content: 'Hello?',
      });
      assert.equal(sent.ok, true);
      const vSeq = (sent.message as { seq: number }).seq;
      const agentJoin = await emitAck(w.agent.socket, 'join_conversation', { conversation_id: w.convId });
      assert.equal((agentJoin.delivery as Delivery).agent_delivered_seq, 0);

      // The inbox received it: the visitor's message is delivered.
      const delivered = nextEvent(w.visitor, 'messages_delivered', (e) => e.recipient_type === 'agent');
      const r = await emitAck(w.agent.socket, 'message_delivered', { conversation_id: w.convId, seq: vSeq });
      assert.deepEqual(r, { ok: true, conversation_id: w.convId, seq: vSeq });
      const d = await delivered;
      assert.equal(d.conversation_id, w.convId);
      assert.equal(d.seq, vSeq);

      // The agent opens it: read.
      const read = nextEvent(w.visitor, 'messages_read', (e) => e.reader_type === 'agent');
      const msgId = (sent.message as { id: string }).id;
      assert.equal(
        (await emitAck(w.agent.socket, 'mark_read', { conversation_id: w.convId, message_ids: [msgId] })).ok,
        true,
      );
      assert.deepEqual((await read).message_ids, [msgId]);

      // The other way: the agent answers, the visitor's client receives it, then reads it.
      const reply = await emitAck(w.agent.socket, 'send_message', {
        conversation_id: w.convId,
        sender_type: 'agent',
        content: 'Hi, how can I help?',
      });
      const aMsg = reply.message as { id: string; seq: number };
      const toAgent = nextEvent(w.agent.socket, 'messages_delivered', (e) => e.recipient_type === 'end_user');
      assert.equal(
        (await emitAck(w.visitor, 'message_delivered', { conversation_id: w.convId, seq: aMsg.seq })).ok,
        true,
      );
      assert.equal((await toAgent).seq, aMsg.seq);
      const readByVisitor = nextEvent(w.agent.socket, 'messages_read', (e) => e.reader_type === 'end_user');
      assert.equal(
        (await emitAck(w.visitor, 'mark_read', { conversation_id: w.convId, message_ids: [aMsg.id] })).ok,
        true,
      );
      const rv = await readByVisitor;
      assert.deepEqual(rv.message_ids, [aMsg.id]);

      // A reload: the join answers where both sides stand.
      const again = await emitAck(w.agent.socket, 'join_conversation', { conversation_id: w.convId });
      const state = again.delivery as Delivery;
      assert.equal(state.agent_delivered_seq, vSeq);
      assert.equal(state.visitor_delivered_seq, aMsg.seq);
      assert.equal(state.agent_read_seq, vSeq);
      assert.equal(typeof state.agent_read_at, 'string');
      assert.equal(state.visitor_read_seq, aMsg.seq);
      assert.equal(state.visitor_read_at, rv.read_at);
    });

    test("another tenant's or conversation's ids are refused", async () => {
      const a = await world();
      const b = await world();
      const other = await emitAck(b.agent.socket, 'message_delivered', {
        conversation_id: a.convId,
        seq: 1,
      });
      assert.equal(other.ok, false);
      // A visitor of one conversation cannot acknowledge another's.
      const wrong = await emitAck(a.visitor, 'message_delivered', {
        conversation_id: b.convId,
        seq: 1,
        external_id: a.conv.externalId,
      });
      assert.equal(wrong.ok, false);
      // Ids of another conversation are not marked read through this one.
      const sent = await emitAck(b.visitor, 'send_message', {
        conversation_id: b.convId,
        sender_type: 'end_user',
        external_id: b.conv.externalId,
        content: 'mine',
      });
      const bId = (sent.message as { id: string }).id;
      const readA = await emitAck(a.agent.socket, 'mark_read', {
        conversation_id: a.convId,
        message_ids: [bId],
      });
      assert.deepEqual(readA.message_ids, []);
      const row = await app.database.prisma.message.findUniqueOrThrow({ where: { id: bId } });
      assert.deepEqual(row.readBy, {});
      const conv = await app.database.prisma.conversation.findUniqueOrThrow({ where: { id: a.convId } });
      assert.equal(conv.agentDeliveredSeq, 0);
    });

    test('a flood of receipts is bounded: few writes, few broadcasts, capped at last_seq', async () => {
      const w = await world();
      for (let i = 0; i < 3; i++) {
        await emitAck(w.visitor, 'send_message', {
          conversation_id: w.convId,
          sender_type: 'end_user',
          external_id: w.conv.externalId,
          content: `m${i}`,
        });
      }
      await emitAck(w.agent.socket, 'join_conversation', { conversation_id: w.convId });
      const seen = record<{ seq: number; recipient_type: string }>(w.visitor, 'messages_delivered');
      const before = { ...app.services.messages.deliveryStats };
      const acks = [];
      for (let i = 1; i <= 200; i++) {
        acks.push(
          emitAck(w.agent.socket, 'message_delivered', { conversation_id: w.convId, seq: (i % 3) + 1 }),
        );
      }
      // A claim beyond the conversation's last message is capped at it.
      acks.push(emitAck(w.agent.socket, 'message_delivered', { conversation_id: w.convId, seq: 99_999 }));
      assert.ok((await Promise.all(acks)).every((a) => a.ok));
      const last = await nextEvent<{ seq: number }>(w.visitor, 'messages_delivered', (e) => e.seq === 3);
      assert.equal(last.seq, 3);
      await app.services.messages.flushDelivery();
      const writes = app.services.messages.deliveryStats.writes - before.writes;
      assert.equal(app.services.messages.deliveryStats.acks - before.acks, 201);
      assert.ok(writes <= 4, `201 receipts cost ${writes} writes`);
      assert.ok(seen.length <= writes, `${seen.length} broadcasts`);
      const conv = await app.database.prisma.conversation.findUniqueOrThrow({ where: { id: w.convId } });
      assert.equal(conv.agentDeliveredSeq, 3);
    });

    test('relay WebSocket: delivered and read frames both ways, and the welcome after a reload', async () => {
      const tn = await createTenant(app.services);
      const s = await createVisitorSession(app.url, tn, { locale: 'en' });
      const url = widgetWsUrl(app.url, { token: s.visitor_token });
      const v = await connectWs(url);
      wss.push(v);
      const first = await v.next('welcome');
      const agent = await agentOf(tn.id);
      v.send({ type: 'msg', client_msg_id: 'd1', content: 'Where is my order?' });
      const ack = await v.next('ack');
      assert.equal(
        (await emitAck(agent.socket, 'claim_conversation', { conversation_id: s.conversation_id })).ok,
        true,
      );

      // Agent side received, then read: the visitor hears both.
      await emitAck(agent.socket, 'message_delivered', {
        conversation_id: s.conversation_id,
        seq: ack.seq,
      });
      const df = await v.next('delivered');
      assert.equal(df.role, 'agent');
      assert.equal(df.seq, ack.seq);
      await emitAck(agent.socket, 'mark_read', {
        conversation_id: s.conversation_id,
        message_ids: [ack.id],
      });
      const rf = await v.next('read');
      assert.deepEqual(rf.message_ids, [ack.id]);

      // The agent answers; the visitor's client acknowledges and reads it with frames.
      const reply = await emitAck(agent.socket, 'send_message', {
        conversation_id: s.conversation_id,
        sender_type: 'agent',
        content: 'On its way',
      });
      const aMsg = reply.message as { id: string; seq: number };
      await v.next('msg', (f) => f.id === aMsg.id);
      const toAgent = nextEvent(agent.socket, 'messages_delivered', (e) => e.recipient_type === 'end_user');
      v.send({ type: 'delivered', seq: aMsg.seq });
      assert.equal((await toAgent).seq, aMsg.seq);
      const readEvt = nextEvent(agent.socket, 'messages_read', (e) => e.reader_type === 'end_user');
      v.send({ type: 'read', message_ids: [aMsg.id] });
      assert.deepEqual((await readEvt).message_ids, [aMsg.id]);

      // Another conversation's message cannot be read through this socket.
      const otherConv = await createVisitorSession(app.url, tn, { locale: 'en' });
      const v2 = await connectWs(widgetWsUrl(app.url, { token: otherConv.visitor_token }));
      wss.push(v2);
      await v2.next('welcome');
      v2.send({ type: 'read', message_ids: [aMsg.id] });
      v2.send({ type: 'ping' });
      await v2.next('pong');
      const stored = await app.database.prisma.message.findUniqueOrThrow({ where: { id: aMsg.id } });
      assert.deepEqual(Object.keys(stored.readBy as object), [first.visitor_id]);

      // A reload: the welcome says where both sides stand.
      v.close();
      const again = await connectWs(url);
      wss.push(again);
      const welcome = await again.next('welcome');
      const state = welcome.delivery as Delivery;
      assert.equal(state.agent_delivered_seq, ack.seq);
      assert.equal(state.agent_read_seq, ack.seq);
      assert.equal(state.visitor_delivered_seq, aMsg.seq);
      assert.equal(state.visitor_read_seq, aMsg.seq);
    });
  });
}
