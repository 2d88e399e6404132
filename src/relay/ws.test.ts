// The relay's visitor WebSocket (`/api/v1/ws/widget?token=`) with a plain `ws` client: every
// frame, every close code, resume, token refresh, and an agent in the inbox (Socket.IO) on the
// other side of the conversation. Runs on PostgreSQL + Redis and on PGlite without Redis.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent } from '../../test/helpers/factories.js';
import {
  createTenant,
  createVisitorSession,
  refreshVisitorToken,
  SHOP,
  type Tenant,
} from '../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, nextEvent } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type Frame, type WsClient } from '../../test/helpers/ws.js';

const HOUR_MS = 3_600_000;

for (const mode of dbModes) {
  describe(`relay visitor WebSocket on ${mode.name}${mode.name === 'postgres' ? ' + Redis' : ''}`, () => {
    let t: TestApp;
    let offsetMs = 0;
    const open: { close(): void }[] = [];
    const sockets: Socket[] = [];

    before(async () => {
      t = await startApp(await mode.open(), {
        redis: mode.name === 'postgres',
        now: () => Date.now() + offsetMs,
        env: {
          REALTIME_REDIS_PREFIX: `sb:ws:${randomUUID().slice(0, 8)}`,
          END_USER_RATE_LIMIT: '6',
          SOCKET_EVENT_LIMIT: '40',
          WS_MAX_PAYLOAD_BYTES: '16384',
          TYPING_RELAY_INTERVAL_MS: '0',
        },
      });
    });
    after(async () => {
      for (const s of sockets) s.disconnect();
      await t.stop();
      await t.database.close();
    });
    afterEach(() => {
      offsetMs = 0;
      for (const c of open.splice(0)) c.close();
    });

    async function visitor(token: string, query: Record<string, string | number> = {}, origin?: string) {
      const c = await connectWs(widgetWsUrl(t.url, { token, ...query }), origin ? { origin } : {});
      open.push(c);
      return c;
    }

    async function agentIn(tn: Tenant) {
      const a = await createAgent(t.services, tn.id);
      const { cookie } = await loginAgent(t.url, a.user.email, a.password);
      const s = await connectSocket(t.url, { cookie });
      sockets.push(s);
      assert.equal((await emitAck(s, 'join_queue')).ok, true);
      return s;
    }

    /** A tenant, a visitor session, and the visitor connected (its welcome read). */
    async function connected(o: { rateLimitPerMin?: number } = {}) {
      const tn = await createTenant(t.services, o);
      const s = await createVisitorSession(t.url, tn, { locale: 'en' });
      const v = await visitor(s.visitor_token);
      const welcome = await v.next('welcome');
      return { tn, s, v, welcome };
    }

    test('welcome, msg → ack, the agent hears it and answers; typing both ways; ping → pong', async () => {
      const { tn, s, v, welcome } = await connected();
      assert.equal(v.frames[0]!.type, 'welcome', 'welcome is the first frame');
      assert.equal(welcome.session_id, s.session_id);
      assert.equal(welcome.conversation_id, s.conversation_id);
      assert.equal(welcome.mode, 'bot');
      assert.equal(welcome.locale, 'en');
      assert.deepEqual(welcome.history, []);
      assert.equal(welcome.last_seq, 0);
      assert.equal((welcome.widget_config as Record<string, unknown>).tenant_id, tn.id);
      assert.equal(typeof welcome.heartbeat_s, 'number');

      const agent = await agentIn(tn);
      const queued = nextEvent(agent, 'conversation_updated');
      // The document's example, unchanged.
      v.send({ type: 'msg', client_msg_id: 'c1', content: 'Where is my order?' });
      const ack = await v.next('ack');
      assert.equal(ack.client_msg_id, 'c1');
      assert.equal(ack.duplicate, false);
      assert.equal(ack.seq, 1);
      const stored = await t.database.prisma.message.findUniqueOrThrow({ where: { id: ack.id as string } });
      assert.equal(stored.content, 'Where is my order?');
      assert.equal(stored.senderType, 'end_user');
      assert.equal(ack.created_at, stored.createdAt.toISOString());
      const update = await queued;
      assert.equal(update.conversation_id, s.conversation_id);
      assert.equal(update.content, 'Where is my order?');

      // The agent claims it (joins conv:{id}) and sees the next message as message_received.
      assert.equal(
        (await emitAck(agent, 'claim_conversation', { conversation_id: s.conversation_id })).ok,
        true,
      );
      const received = nextEvent(agent, 'message_received');
      v.send({
        type: 'msg',
        client_msg_id: 'c2',
        content: 'A photo',
        content_type: 'image',
        rich_media: { url: 'https://cdn.example.com/p.png', alt: 'parcel' },
      });
      assert.equal((await v.next('ack', (f) => f.client_msg_id === 'c2')).duplicate, false);
      const m = await received;
      assert.equal(m.content_type, 'image');
      assert.deepEqual(m.rich_media, { url: 'https://cdn.example.com/p.png', alt: 'parcel' });

      // The same client_msg_id again (a resend after a reconnect): stored once.
      v.send({
        type: 'msg',
        client_msg_id: 'c2',
        content: 'A photo',
        content_type: 'image',
        rich_media: { url: 'https://cdn.example.com/p.png', alt: 'parcel' },
      });
      const dup = await v.next('ack', (f) => f.client_msg_id === 'c2');
      assert.equal(dup.duplicate, true);
      assert.equal(
        await t.database.prisma.message.count({ where: { conversationId: s.conversation_id } }),
        2,
      );

      // Typing: the visitor's reaches the agent; the agent's reaches the visitor.
      const indicator = nextEvent(agent, 'typing_indicator');
      v.send({ type: 'typing', state: 'start' });
      assert.deepEqual(await indicator, { conversation_id: s.conversation_id, sender_type: 'end_user' });
      const cleared = nextEvent(agent, 'typing_cleared');
      v.send({ type: 'typing', state: 'stop' });
      await cleared;
      await emitAck(agent, 'user_typing', { conversation_id: s.conversation_id, sender_type: 'agent' });
      assert.deepEqual(await v.next('typing'), { type: 'typing', role: 'agent', state: 'start' });

      // The agent's reply: a msg frame with its role, id, content and time.
      const reply = await emitAck(agent, 'send_message', {
        conversation_id: s.conversation_id,
        content: 'It ships today',
        sender_type: 'agent',
      });
      assert.equal(reply.ok, true);
      const msg = await v.next('msg');
      assert.equal(msg.role, 'agent');
      assert.equal(msg.content, 'It ships today');
      assert.equal(msg.id, (reply.message as { id: string }).id);
      assert.equal(msg.seq, 3);
      assert.equal(typeof msg.created_at, 'string');
      assert.equal(msg.rich_media, null);
      // The agent's message ends its indicator.
      assert.deepEqual(await v.next('typing'), { type: 'typing', role: 'agent', state: 'stop' });

      v.send({ type: 'ping' });
      assert.equal((await v.next('pong')).type, 'pong');
      // The visitor's own messages never came back to it as msg frames: acks say it all.
      assert.equal(v.frames.filter((f) => f.type === 'msg').length, 1);
    });

    test('two tabs of one visitor: the other tab gets the message as role visitor, the sender only its ack', async () => {
      const { s, v } = await connected();
      const tab2 = await visitor(s.visitor_token);
      await tab2.next('welcome');
      v.send({ type: 'msg', client_msg_id: 'tab1', content: 'from tab 1' });
      const ack = await v.next('ack');
      const echo = await tab2.next('msg');
      assert.equal(echo.role, 'visitor');
      assert.equal(echo.id, ack.id);
      assert.equal(echo.client_msg_id, 'tab1');
      v.send({ type: 'ping' });
      await v.next('pong');
      assert.equal(v.frames.filter((f) => f.type === 'msg').length, 0);
    });

    test('a bad frame gets an error frame and the connection stays open', async () => {
      const { s, v } = await connected();
      const bad: [unknown, string][] = [
        ['not json', 'request/invalid'],
        [{ type: 'dance' }, 'request/invalid'],
        [{ type: 'msg', content: 'no id' }, 'request/invalid'],
        [{ type: 'msg', client_msg_id: 'e1', content: '   ' }, 'request/invalid'],
        [
          {
            type: 'msg',
            client_msg_id: 'e2',
            content: 'x',
            content_type: 'image',
            rich_media: { url: 'javascript:alert(1)' },
          },
          'request/invalid',
        ],
        [{ type: 'typing', state: 'maybe' }, 'request/invalid'],
        [{ type: 'resume' }, 'request/invalid'],
      ];
      for (const [frame] of bad) v.send(frame);
      for (const [, code] of bad) assert.equal((await v.next('error')).code, code);
      const withId = v.frames.filter((f) => f.type === 'error' && f.client_msg_id === 'e2');
      assert.equal(withId.length, 1, 'the error names the message it refuses');
      v.ws.send(Buffer.from([1, 2, 3]));
      assert.equal((await v.next('error')).code, 'request/invalid');
      v.send({ type: 'msg', client_msg_id: 'ok', content: 'still here' });
      assert.equal((await v.next('ack')).client_msg_id, 'ok');
      assert.equal(
        await t.database.prisma.message.count({ where: { conversationId: s.conversation_id } }),
        1,
      );
    });

    test('close codes: 4401 bad, missing or expired token; 4404 expired session; 4403 origin and suspension', async () => {
      const tn = await createTenant(t.services);
      const s = await createVisitorSession(t.url, tn);
      const codeOf = async (url: string, origin?: string) => {
        const c = await connectWs(url, origin ? { origin } : {});
        return (await c.closed).code;
      };
      assert.equal(await codeOf(widgetWsUrl(t.url, { token: 'garbage' })), 4401);
      assert.equal(await codeOf(widgetWsUrl(t.url, {})), 4401);
      const [h, p, sig] = s.visitor_token.split('.');
      const forged = `${h}.${p}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
      assert.equal(await codeOf(widgetWsUrl(t.url, { token: forged })), 4401);
      offsetMs = 2 * HOUR_MS;
      assert.equal(await codeOf(widgetWsUrl(t.url, { token: s.visitor_token })), 4401);
      offsetMs = 0;
      // Both paths of the document.
      const both = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }, '/ws/widget'));
      open.push(both);
      assert.equal((await both.next('welcome')).session_id, s.session_id);
      assert.equal(await codeOf(widgetWsUrl(t.url, { token: s.visitor_token, last_seq: 'x' })), 4400);

      // A browser on another site; the session's own origin is fine.
      assert.equal(
        await codeOf(widgetWsUrl(t.url, { token: s.visitor_token }), 'https://evil.example'),
        4403,
      );
      const fromShop = await visitor(s.visitor_token, {}, SHOP);
      await fromShop.next('welcome');

      // The session expired server-side.
      const s2 = await createVisitorSession(t.url, tn);
      await t.database.prisma.visitorSession.update({
        where: { id: s2.session_id },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      assert.equal(await codeOf(widgetWsUrl(t.url, { token: s2.visitor_token })), 4404);
      // A rotated widget key ends the sessions made with the old one.
      const tn3 = await createTenant(t.services);
      const s3 = await createVisitorSession(t.url, tn3);
      await t.database.prisma.organization.update({
        where: { id: tn3.id },
        data: { widgetPublicKey: `pk_${randomUUID()}` },
      });
      assert.equal(await codeOf(widgetWsUrl(t.url, { token: s3.visitor_token })), 4404);

      // Suspension: the open connection is closed 4403, and a new one is refused 4403.
      const live = await visitor(s.visitor_token);
      await live.next('welcome');
      await t.services.tenants.suspend(tn.id);
      assert.equal((await live.closed).code, 4403);
      assert.equal(await codeOf(widgetWsUrl(t.url, { token: s.visitor_token })), 4403);
    });

    test('a revoked channel closes its visitors with 4403 and refuses them after', async () => {
      const { tn, s, v } = await connected();
      const admin = await createAgent(t.services, tn.id, { role: 'admin' });
      const conv = await t.database.prisma.conversation.findUniqueOrThrow({
        where: { id: s.conversation_id },
      });
      await t.services.channels.revokeChannel(admin.actor, conv.channelId);
      assert.equal((await v.closed).code, 4403);
      const again = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }));
      assert.equal((await again.closed).code, 4403);
    });

    test('limits: frame size 1009, frame flood 4429, message flood and tenant quota as error frames', async () => {
      const { v } = await connected({ rateLimitPerMin: 1000 });
      // The per-visitor flood limit (END_USER_RATE_LIMIT=6): the seventh is refused, not stored.
      for (let i = 0; i < 7; i++) v.send({ type: 'msg', client_msg_id: `f${i}`, content: `m${i}` });
      for (let i = 0; i < 6; i++) assert.equal((await v.next('ack')).client_msg_id, `f${i}`);
      const flood = await v.next('error');
      assert.equal(flood.code, 'rate_limited');
      assert.equal(flood.client_msg_id, 'f6');
      assert.equal(typeof flood.retry_after, 'number');

      // The tenant's quota (rate_limit_per_min=2).
      const q = await connected({ rateLimitPerMin: 2 });
      for (let i = 0; i < 3; i++) q.v.send({ type: 'msg', client_msg_id: `q${i}`, content: `m${i}` });
      await q.v.next('ack');
      await q.v.next('ack');
      const over = await q.v.next('error');
      assert.equal(over.code, 'rate_limited');
      assert.equal(over.client_msg_id, 'q2');

      // A frame above WS_MAX_PAYLOAD_BYTES (16 KiB).
      const big = await connected();
      big.v.send({ type: 'msg', client_msg_id: 'big', content: 'x'.repeat(20_000) });
      assert.equal((await big.v.closed).code, 1009);

      // More frames than SOCKET_EVENT_LIMIT (40) in the window.
      const noisy = await connected();
      for (let i = 0; i < 45; i++) noisy.v.send({ type: 'ping' });
      assert.equal((await noisy.v.closed).code, 4429);
    });

    test('resume: cut while the agent sends, reconnect with last_seq: everything, in order, once', async () => {
      const { tn, s, v } = await connected();
      const agent = await agentIn(tn);
      v.send({ type: 'msg', client_msg_id: 'hello', content: 'Hello?' });
      await v.next('ack');
      await emitAck(agent, 'claim_conversation', { conversation_id: s.conversation_id });
      const total = 12;
      const sending = (async () => {
        for (let i = 1; i <= total; i++) {
          const a = await emitAck(agent, 'send_message', {
            conversation_id: s.conversation_id,
            content: `answer ${i}`,
            sender_type: 'agent',
          });
          assert.equal(a.ok, true);
        }
      })();
      await v.next('msg', (f) => f.content === 'answer 3');
      v.ws.terminate();
      await v.closed;
      const seen = v.frames.filter((f) => f.type === 'msg');
      const lastSeq = Math.max(...seen.map((f) => f.seq as number));
      // Reconnect at once, while the agent still sends.
      const again = await visitor(s.visitor_token, { last_seq: lastSeq });
      const welcome = await again.next('welcome');
      assert.equal(welcome.resumed, true);
      await sending;
      const all = () => [
        ...seen,
        ...(welcome.history as Frame[]),
        ...again.frames.filter((f) => f.type === 'msg'),
      ];
      await eventually(() => all().filter((f) => f.role === 'agent').length >= total);
      const agentMsgs = all().filter((f) => f.role === 'agent');
      assert.deepEqual(
        agentMsgs.map((f) => f.content),
        Array.from({ length: total }, (_, i) => `answer ${i + 1}`),
      );
      assert.equal(new Set(agentMsgs.map((f) => f.id)).size, total, 'no duplicates');

      // The resume frame, and last_message_id: the same replay.
      again.send({ type: 'resume', last_seq: 0 });
      const resumed = await again.next('resumed');
      assert.equal(resumed.missed, total + 1);
      assert.equal(resumed.last_seq, total + 1);
      assert.equal(resumed.has_more, false);
      const third = agentMsgs[2]!;
      const byId = await visitor(s.visitor_token, { last_message_id: third.id as string });
      const w = await byId.next('welcome');
      assert.deepEqual(
        (w.history as Frame[]).map((f) => f.content),
        Array.from({ length: total - 3 }, (_, i) => `answer ${i + 4}`),
      );
      // Without a cursor: the recent history, own messages as role visitor.
      const fresh = await visitor(s.visitor_token);
      const fw = await fresh.next('welcome');
      assert.equal((fw.history as Frame[])[0]!.role, 'visitor');
      assert.equal((fw.history as Frame[]).length, total + 1);
    });

    test('token refreshed mid-conversation: reconnecting with the new token keeps the conversation', async () => {
      const { tn, s, v } = await connected();
      v.send({ type: 'msg', client_msg_id: 'before', content: 'before refresh' });
      await v.next('ack');
      offsetMs = 2 * HOUR_MS; // the token has expired
      const refreshed = await refreshVisitorToken(t.url, s.visitor_token);
      assert.notEqual(refreshed.visitor_token, s.visitor_token);
      v.close();
      const old = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }));
      assert.equal((await old.closed).code, 4401);
      const again = await visitor(refreshed.visitor_token);
      const welcome = await again.next('welcome');
      assert.equal(welcome.conversation_id, s.conversation_id);
      assert.deepEqual(
        (welcome.history as Frame[]).map((f) => f.content),
        ['before refresh'],
      );
      again.send({ type: 'msg', client_msg_id: 'after', content: 'after refresh' });
      await again.next('ack');
      const agent = await agentIn(tn);
      await emitAck(agent, 'claim_conversation', { conversation_id: s.conversation_id });
      const history = await t.database.prisma.message.findMany({
        where: { conversationId: s.conversation_id },
        orderBy: { seq: 'asc' },
      });
      assert.deepEqual(
        history.map((m) => m.content),
        ['before refresh', 'after refresh'],
      );
    });

    test('back-pressure: a client that does not read is cut off', async () => {
      const { s, v } = await connected();
      v.ws.pause();
      const big = 'y'.repeat(4000);
      // A flood of frames for this conversation (as many agents' messages would be).
      const fake = {
        id: randomUUID(),
        seq: 1,
        senderType: 'agent',
        senderId: randomUUID(),
        contentType: 'text',
        content: big,
        richMedia: null,
        clientMsgId: null,
        createdAt: new Date(),
      };
      const conversation = {
        id: s.conversation_id,
        organizationId: '',
        channelId: '',
        endUserId: '',
        endUserExternalId: '',
        routingKey: null,
        mode: 'human' as const,
      };
      for (let i = 0; i < 4000 && t.widgetSocket.connections() > 0; i++) {
        t.bus.publish('message.created', {
          message: { ...fake, id: randomUUID(), seq: i + 1 } as never,
          conversation,
          sessionOpened: false,
          redelivered: false,
        });
        if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await eventually(() => t.widgetSocket.connections() === 0);
      v.ws.resume();
      const { code } = await v.closed;
      assert.ok(code === 4408 || code === 1006, `closed with ${code}`);
    });

    test('an upgrade on another path is hung up; Socket.IO still upgrades', async () => {
      const sock = connect(Number(new URL(t.url).port), '127.0.0.1');
      sock.write(
        'GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      await new Promise((resolve) => sock.on('close', resolve));
      assert.equal(got, '');
      const s = await connectSocket(t.url);
      assert.equal(s.connected, true);
      s.disconnect();
    });
  });
}

describe('relay visitor WebSocket: heartbeat and shutdown', () => {
  test('a client that answers no ping is dropped within two beats; one that does stays', async () => {
    const t = await startApp(await dbModes[1]!.open(), { env: { WS_HEARTBEAT_S: '1' } });
    try {
      const tn = await createTenant(t.services);
      const s = await createVisitorSession(t.url, tn);
      const deaf = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }), { autoPong: false });
      const live = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }));
      await deaf.next('welcome');
      await live.next('welcome');
      const started = Date.now();
      await deaf.closed;
      assert.ok(Date.now() - started <= 2500, `dropped after ${Date.now() - started} ms`);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(live.ws.readyState, live.ws.OPEN);
      live.close();
    } finally {
      await t.stop();
      await t.database.close();
    }
  });

  test('with more connections than one turn of pings, a deaf client in a later turn is dropped and the others stay', async () => {
    const t = await startApp(await dbModes[1]!.open(), {
      env: { WS_HEARTBEAT_S: '1', SOCKETS_PER_IP: '1000', SOCKET_IP_EVENT_LIMIT: '100000' },
    });
    const live: WsClient[] = [];
    try {
      const tn = await createTenant(t.services);
      const s = await createVisitorSession(t.url, tn);
      const url = widgetWsUrl(t.url, { token: s.visitor_token });
      // 600 tabs of one visitor, then the deaf one: it is pinged after the first 500.
      for (let i = 0; i < 30; i++)
        live.push(...(await Promise.all(Array.from({ length: 20 }, () => connectWs(url)))));
      const deaf = await connectWs(url, { autoPong: false });
      await Promise.all([...live, deaf].map((c) => c.next('welcome')));
      await deaf.closed;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(live.filter((c) => c.ws.readyState !== c.ws.OPEN).length, 0);
    } finally {
      for (const c of live) c.close();
      await t.stop();
      await t.database.close();
    }
  });

  test('anonymous connections per IP (SOCKETS_PER_IP), counted with Socket.IO: over it, 4429', async () => {
    const t = await startApp(await dbModes[1]!.open(), { env: { SOCKETS_PER_IP: '2' } });
    try {
      const tn = await createTenant(t.services);
      const s = await createVisitorSession(t.url, tn);
      const url = widgetWsUrl(t.url, { token: s.visitor_token });
      const one = await connectWs(url);
      const sio = await connectSocket(t.url);
      await one.next('welcome');
      const third = await connectWs(url);
      assert.equal((await third.closed).code, 4429);
      sio.disconnect();
      await eventually(async () => {
        const c = await connectWs(url);
        const first = await Promise.race([
          c.next('welcome', undefined, 2000).then(
            () => 'welcome',
            () => 'timeout',
          ),
          c.closed.then(() => 'closed'),
        ]);
        c.close();
        return first === 'welcome';
      });
      one.close();
    } finally {
      await t.stop();
      await t.database.close();
    }
  });

  test('refused tokens count against the address: past the free ones each 4401 waits longer; a good token does not', async () => {
    const t = await startApp(await dbModes[1]!.open(), {
      env: { JOIN_FAILURES_FREE_PER_IP: '3', JOIN_FAILURE_MAX_DELAY_MS: '400' },
    });
    try {
      const tn = await createTenant(t.services);
      const s = await createVisitorSession(t.url, tn);
      const refusedIn = async (token: string) => {
        const t0 = performance.now();
        const c = await connectWs(widgetWsUrl(t.url, { token }));
        assert.equal((await c.closed).code, 4401);
        return performance.now() - t0;
      };
      // Three free refusals, then 100, 200, 400 and 400 ms (the cap) before each answer.
      for (let k = 0; k < 3; k++) await refusedIn(`guess-${k}`);
      const waited = [];
      for (let k = 0; k < 4; k++) waited.push(await refusedIn(`guess-${3 + k}`));
      assert.ok(waited[0]! >= 90, `4th refusal after ${waited[0]!.toFixed(0)} ms`);
      assert.ok(
        waited[2]! >= 390 && waited[3]! >= 390,
        `refusals after ${waited.map(Math.round).join(', ')} ms`,
      );
      // The visitor behind the same address, with a good token, is not slowed by the guesser: its
      // welcome comes before the refusal of a guess made at the same moment.
      const order: string[] = [];
      const guess = connectWs(widgetWsUrl(t.url, { token: 'guess-7' })).then(async (c) => {
        assert.equal((await c.closed).code, 4401);
        order.push('refused');
      });
      const good = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }));
      await good.next('welcome');
      order.push('welcome');
      await guess;
      assert.deepEqual(order, ['welcome', 'refused']);
      good.close();
    } finally {
      await t.stop();
      await t.database.close();
    }
  });

  test('close(): messages under way are acked, then 1012', async () => {
    const t = await startApp(await dbModes[1]!.open());
    const tn = await createTenant(t.services);
    const s = await createVisitorSession(t.url, tn);
    const v = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }));
    await v.next('welcome');
    for (let i = 0; i < 3; i++) v.send({ type: 'msg', client_msg_id: `s${i}`, content: `m${i}` });
    // Give the frames time to reach the server, then stop it while they are stored.
    await new Promise((r) => setTimeout(r, 20));
    await t.stop();
    const { code } = await v.closed;
    assert.equal(code, 1012);
    const acks = v.frames.filter((f) => f.type === 'ack');
    assert.deepEqual(
      acks.map((a) => a.client_msg_id),
      ['s0', 's1', 's2'],
      JSON.stringify(v.frames),
    );
    // The close frame came after the last ack.
    assert.equal(v.frames.at(-1)!.type, 'ack');
    for (const a of acks) {
      assert.ok(await t.database.prisma.message.findUnique({ where: { id: a.id as string } }));
    }
    await t.database.close();
  });
});
