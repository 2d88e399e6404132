// The client core against the real server, in this process: the document's four steps, a
// dropped connection, an expired token (4401), an ended session (4404) and a server restart.
// It uses the package as built (dist), as a tenant would install it.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import {
  ChatApiError,
  ChatClient,
  WSClient,
  type ConnectionState,
  type MsgFrame,
  type TypingFrame,
  type WelcomeFrame,
} from '@switchboard/client-core';
import { createApp, type App } from '../../../src/app.js';
import { createLogger } from '../../../src/shared/logger.js';
import type { Database } from '../../../src/shared/db.js';
import { loginAgent, startApp, type TestApp } from '../../../test/helpers/app.js';
import { testConfig } from '../../../test/helpers/config.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant, SHOP, type Tenant } from '../../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, nextEvent } from '../../../test/helpers/sockets.js';
import { startTcpProxy } from '../../../test/helpers/tcp-proxy.js';

const HOUR_MS = 3_600_000;

/** A WSClient that records what it gets, with a fast back-off for tests. */
function recorder() {
  const got = {
    welcomes: [] as WelcomeFrame[],
    messages: [] as MsgFrame[],
    typing: [] as TypingFrame[],
    errors: [] as { code: string }[],
    states: [] as ConnectionState[],
    closes: [] as number[],
  };
  const handlers = {
    onWelcome: (f: WelcomeFrame) => got.welcomes.push(f),
    onMessage: (f: MsgFrame) => got.messages.push(f),
    onTyping: (f: TypingFrame) => got.typing.push(f),
    onError: (f: { code: string }) => got.errors.push(f),
    onStateChange: (s: ConnectionState) => got.states.push(s),
    onClose: (code: number) => got.closes.push(code),
  };
  return { got, handlers };
}

const fast = { WebSocket, minDelayMs: 50, maxDelayMs: 400 } as const;

describe('client core against the server', () => {
  let t: TestApp;
  let offsetMs = 0;
  const sockets: Socket[] = [];
  const clients: WSClient[] = [];

  before(async () => {
    t = await startApp(await dbModes[0]!.open(), { now: () => Date.now() + offsetMs });
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const s of sockets) s.disconnect();
    await t.stop();
    await t.database.close();
  });

  async function agentIn(tn: Tenant) {
    const a = await createAgent(t.services, tn.id);
    const { cookie } = await loginAgent(t.url, a.user.email, a.password);
    const s = await connectSocket(t.url, { cookie });
    sockets.push(s);
    assert.equal((await emitAck(s, 'join_queue')).ok, true);
    return s;
  }

  const reply = async (agent: Socket, conversationId: string, content: string) => {
    const a = await emitAck(agent, 'send_message', {
      conversation_id: conversationId,
      content,
      sender_type: 'agent',
    });
    assert.equal(a.ok, true, JSON.stringify(a));
  };

  test("the document's four steps: config → session → connect → send, and the agent's reply", async () => {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });

    // 1. Bootstrap (config only, no session).
    const cfg = await client.fetchWidgetConfig({ locale: 'en' });
    assert.equal(cfg.tenant_id, tn.id);
    assert.equal(cfg.locale, 'en');
    assert.equal(cfg.is_online, false);
    assert.equal(typeof cfg.tenant_name, 'string');

    // 2. A visitor session.
    const sess = await client.createVisitorSession({ tenantId: cfg.tenant_id, locale: 'en' });
    assert.match(sess.session_id, /^vs_/);
    assert.equal(sess.widget_config.tenant_id, tn.id);
    assert.equal(sess.locale, 'en');

    // 3. The WebSocket, with the document's two-argument form.
    const { got, handlers } = recorder();
    const ws = new WSClient({ baseUrl: t.url, visitorToken: sess.visitor_token, WebSocket }, handlers);
    clients.push(ws);
    assert.equal(ws.state, 'closed');
    ws.connect();
    assert.equal(ws.state, 'connecting');
    await eventually(() => got.welcomes.length === 1);
    assert.equal(ws.state, 'open');
    assert.equal(got.welcomes[0]!.conversation_id, sess.conversation_id);
    assert.deepEqual(got.states, ['connecting', 'open']);

    // 4. Send a message (the document's frame, unchanged); an agent hears it and answers.
    const agent = await agentIn(tn);
    const queued = nextEvent(agent, 'conversation_updated');
    const acks: string[] = [];
    ws.on({ onAck: (f) => acks.push(f.client_msg_id) });
    ws.send({ type: 'msg', client_msg_id: 'c1', content: 'Where is my order?' });
    assert.equal((await queued).content, 'Where is my order?');
    await eventually(() => acks.includes('c1'));
    assert.deepEqual(ws.pending(), []);
    assert.equal(ws.lastSeq, 1);

    await emitAck(agent, 'claim_conversation', { conversation_id: sess.conversation_id });
    await emitAck(agent, 'user_typing', { conversation_id: sess.conversation_id, sender_type: 'agent' });
    await eventually(() => got.typing.some((f) => f.role === 'agent' && f.state === 'start'));
    const heard = nextEvent(agent, 'typing_indicator');
    assert.equal(ws.sendTyping('start'), true);
    await heard;
    const received = nextEvent(agent, 'message_received');
    const id = ws.sendMessage('A second question');
    assert.equal((await received).content, 'A second question');
    await eventually(() => acks.includes(id));
    await reply(agent, sess.conversation_id, 'It ships today');
    await eventually(() => got.messages.length === 1);
    assert.equal(got.messages[0]!.role, 'agent');
    assert.equal(got.messages[0]!.content, 'It ships today');
    assert.equal(ws.lastSeq, 3);

    // Identify: the signature the tenant's backend computes.
    const userId = 'user-42';
    const signature = createHmac('sha256', tn.secret).update(userId).digest('hex');
    const who = await client.identifyVisitor(sess.visitor_token, { userId, userSignature: signature });
    assert.equal(who.user_id, userId);
    assert.equal(who.session_id, sess.session_id);
    const refreshed = await client.refreshVisitorToken(who.visitor_token);
    assert.equal(refreshed.conversation_id, who.conversation_id);

    ws.close();
    assert.equal(ws.state, 'closed');
    assert.equal(got.states.at(-1), 'closed');
  });

  test('typed errors: status_code and the server’s code', async () => {
    const tn = await createTenant(t.services);
    const client = new ChatClient({
      baseUrl: t.url,
      tenantId: tn.id,
      widgetPublicKey: 'pk_wrong',
      origin: SHOP,
    });
    const notFound = await client.fetchWidgetConfig().catch((e: unknown) => e);
    assert.ok(notFound instanceof ChatApiError);
    assert.equal(notFound.status_code, 404);
    assert.equal(notFound.code, 'tenant/not_found');
    const forbidden = await client
      .createVisitorSession({ widgetPublicKey: tn.pk, origin: 'https://evil.example' })
      .catch((e: unknown) => e);
    assert.ok(forbidden instanceof ChatApiError);
    assert.equal(forbidden.status_code, 403);
    assert.equal(forbidden.code, 'origin/forbidden');
    const badToken = await client.refreshVisitorToken('garbage').catch((e: unknown) => e);
    assert.ok(badToken instanceof ChatApiError);
    assert.deepEqual([badToken.status_code, badToken.code], [401, 'token/invalid']);
    const sess = await client.createVisitorSession({ widgetPublicKey: tn.pk });
    const wrongSig = await client
      .identifyVisitor(sess.visitor_token, { visitorTokenProvider: `u1:${'ab'.repeat(32)}` })
      .catch((e: unknown) => e);
    assert.ok(wrongSig instanceof ChatApiError);
    assert.deepEqual([wrongSig.status_code, wrongSig.code], [403, 'identity/forbidden']);
    const offline = new ChatClient({
      baseUrl: 'http://127.0.0.1:9',
      tenantId: tn.id,
      widgetPublicKey: tn.pk,
      origin: SHOP,
    });
    const net = await offline.fetchWidgetConfig().catch((e: unknown) => e);
    assert.ok(net instanceof ChatApiError);
    assert.deepEqual([net.status_code, net.code], [0, 'network/failed']);
  });

  test('a dropped connection: the agent’s messages arrive once, the queued sends are delivered once', async () => {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const sess = await client.createVisitorSession();
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(t.url).port) });
    try {
      const { got, handlers } = recorder();
      const ws = new WSClient({ ...fast, ...handlers, baseUrl: proxy.url(t.url), token: sess.visitor_token });
      clients.push(ws);
      ws.connect();
      await eventually(() => ws.state === 'open');
      const agent = await agentIn(tn);
      const first = nextEvent(agent, 'conversation_updated');
      ws.sendMessage({ content: 'hello', client_msg_id: 'm0' });
      await first;
      await emitAck(agent, 'claim_conversation', { conversation_id: sess.conversation_id });
      await reply(agent, sess.conversation_id, 'answer 1');
      await eventually(() => got.messages.length === 1);

      // The network goes away: the connection is reset and new ones are refused.
      proxy.set('refuse');
      await eventually(() => ws.state === 'reconnecting');
      for (let i = 2; i <= 4; i++) await reply(agent, sess.conversation_id, `answer ${i}`);
      ws.sendMessage({ content: 'offline 1', client_msg_id: 'q1' });
      ws.sendMessage('offline 2');
      assert.equal(ws.pending().length, 2);
      // A few failed attempts, then the network comes back.
      await new Promise((r) => setTimeout(r, 300));
      proxy.set('pass');
      await eventually(() => ws.state === 'open' && ws.pending().length === 0);
      await eventually(() => got.messages.length === 4);
      assert.deepEqual(
        got.messages.map((m) => m.content),
        ['answer 1', 'answer 2', 'answer 3', 'answer 4'],
      );
      assert.equal(new Set(got.messages.map((m) => m.id)).size, 4, 'no duplicates');
      assert.equal(got.welcomes.at(-1)!.resumed, true);
      const stored = await t.database.prisma.message.findMany({
        where: { conversationId: sess.conversation_id },
        orderBy: { seq: 'asc' },
      });
      assert.deepEqual(
        stored.map((m) => m.content),
        ['hello', 'answer 1', 'answer 2', 'answer 3', 'answer 4', 'offline 1', 'offline 2'],
      );
      assert.equal(ws.lastSeq, 7);

      // Cut again after sending (the ack may be lost): the resend is stored once.
      ws.sendMessage({ content: 'racing the cut', client_msg_id: 'race' });
      proxy.cut();
      await eventually(() => ws.state === 'open' && ws.pending().length === 0);
      await reply(agent, sess.conversation_id, 'answer 5');
      await eventually(() => got.messages.length === 5);
      assert.equal(
        await t.database.prisma.message.count({
          where: { conversationId: sess.conversation_id, clientMsgId: 'race' },
        }),
        1,
      );
      assert.ok(got.states.includes('reconnecting'));
      ws.close();
    } finally {
      await proxy.close();
    }
  });

  test('a silent (partitioned) link is detected by the heartbeat and the client reconnects', async () => {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const sess = await client.createVisitorSession();
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(t.url).port) });
    try {
      const { got, handlers } = recorder();
      const ws = new WSClient({
        ...fast,
        ...handlers,
        pingIntervalMs: 150,
        baseUrl: proxy.url(t.url),
        token: sess.visitor_token,
      });
      clients.push(ws);
      ws.connect();
      await eventually(() => ws.state === 'open');
      proxy.set('blackhole');
      await eventually(() => ws.state === 'reconnecting', 3000);
      assert.ok(got.closes.includes(1006));
      proxy.set('refuse');
      proxy.set('pass');
      await eventually(() => got.welcomes.length >= 2);
      assert.equal(ws.state, 'open');
      ws.close();
    } finally {
      await proxy.close();
    }
  });

  test('an expired token: 4401 calls refreshToken, and the conversation goes on', async () => {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const sess = await client.createVisitorSession();
    offsetMs = 2 * HOUR_MS; // the token has expired
    try {
      const refreshed: string[] = [];
      const { got, handlers } = recorder();
      const ws = new WSClient({
        ...fast,
        ...handlers,
        baseUrl: t.url,
        token: sess.visitor_token,
        refreshToken: async (old) => {
          refreshed.push(old);
          return (await client.refreshVisitorToken(old)).visitor_token;
        },
      });
      clients.push(ws);
      ws.connect();
      await eventually(() => ws.state === 'open');
      assert.deepEqual(refreshed, [sess.visitor_token]);
      assert.deepEqual(got.closes, [4401]);
      assert.notEqual(ws.visitorToken, sess.visitor_token);
      assert.equal(got.welcomes[0]!.conversation_id, sess.conversation_id);
      const acked = new Promise<void>((resolve) => {
        ws.on({ onAck: () => resolve() });
      });
      ws.sendMessage('after refresh');
      await acked;
      ws.close();
    } finally {
      offsetMs = 0;
    }
  });

  test('an ended session: 4404 calls recreateSession; the queued message goes to the new conversation', async () => {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const old = await client.createVisitorSession();
    await t.database.prisma.visitorSession.update({
      where: { id: old.session_id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    let fresh: Awaited<ReturnType<ChatClient['createVisitorSession']>> | undefined;
    const { got, handlers } = recorder();
    const ws = new WSClient({
      ...fast,
      ...handlers,
      baseUrl: t.url,
      token: old.visitor_token,
      refreshToken: () => {
        throw new Error('refreshToken must not be called on 4404');
      },
      recreateSession: async () => {
        fresh = await client.createVisitorSession();
        return fresh.visitor_token;
      },
    });
    clients.push(ws);
    ws.sendMessage({ content: 'queued before connecting', client_msg_id: 'early' });
    ws.connect();
    await eventually(() => ws.state === 'open' && ws.pending().length === 0);
    assert.deepEqual(got.closes, [4404]);
    assert.ok(fresh);
    assert.equal(got.welcomes[0]!.conversation_id, fresh.conversation_id);
    const stored = await t.database.prisma.message.findMany({ where: { clientMsgId: 'early' } });
    assert.deepEqual(
      stored.map((m) => [m.conversationId, m.content]),
      [[fresh.conversation_id, 'queued before connecting']],
    );
    ws.close();
  });

  test('4403 (refused origin / suspended tenant) stops: state closed, no retry', async () => {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const sess = await client.createVisitorSession();
    await t.services.tenants.suspend(tn.id);
    const { got, handlers } = recorder();
    const ws = new WSClient({ ...fast, ...handlers, baseUrl: t.url, token: sess.visitor_token });
    clients.push(ws);
    ws.connect();
    await eventually(() => ws.state === 'closed');
    assert.deepEqual(got.closes, [4403]);
    assert.equal(got.errors.at(-1)!.code, 'client/closed_4403');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(got.closes, [4403], 'no retry');
  });
});

/** The app on a given port (0: any), as startApp makes it, so a restart can take the same port. */
async function listenApp(database: Database, port: number): Promise<App & { port: number }> {
  const app = await createApp({ config: testConfig(), logger: createLogger('silent'), database });
  await new Promise<void>((resolve) => app.server.listen(port, '127.0.0.1', resolve));
  return { ...app, port: (app.server.address() as AddressInfo).port };
}

test('a server restart (1012): the client reconnects to the new server, resumes and sends what waited', async () => {
  const database = await dbModes[0]!.open();
  let app = await listenApp(database, 0);
  const url = `http://127.0.0.1:${app.port}`;
  const sockets: Socket[] = [];
  try {
    const tn = await createTenant(app.services);
    const a = await createAgent(app.services, tn.id);
    const client = new ChatClient({ baseUrl: url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const sess = await client.createVisitorSession();
    const { got, handlers } = recorder();
    const ws = new WSClient({ ...fast, ...handlers, baseUrl: url, token: sess.visitor_token });
    ws.connect();
    await eventually(() => ws.state === 'open');
    ws.sendMessage('before the restart');
    await eventually(() => ws.pending().length === 0);

    const agentOn = async () => {
      const { cookie } = await loginAgent(url, a.user.email, a.password);
      const s = await connectSocket(url, { cookie });
      sockets.push(s);
      await emitAck(s, 'claim_conversation', { conversation_id: sess.conversation_id });
      return s;
    };
    let agent = await agentOn();
    await emitAck(agent, 'send_message', {
      conversation_id: sess.conversation_id,
      content: 'one',
      sender_type: 'agent',
    });
    await eventually(() => got.messages.length === 1);

    await app.close();
    await eventually(() => got.closes.includes(1012));
    assert.equal(ws.state, 'reconnecting');
    ws.sendMessage('while it was down');
    // Another server process on the same database and port.
    app = await listenApp(database, app.port);
    await eventually(() => ws.state === 'open' && ws.pending().length === 0);
    agent = await agentOn();
    await emitAck(agent, 'send_message', {
      conversation_id: sess.conversation_id,
      content: 'two',
      sender_type: 'agent',
    });
    await eventually(() => got.messages.length === 2);
    assert.deepEqual(
      got.messages.map((m) => m.content),
      ['one', 'two'],
    );
    const stored = await database.prisma.message.findMany({
      where: { conversationId: sess.conversation_id },
      orderBy: { seq: 'asc' },
    });
    assert.deepEqual(
      stored.map((m) => m.content),
      ['before the restart', 'one', 'while it was down', 'two'],
    );
    assert.equal(ws.lastSeq, 4);
    ws.close();
  } finally {
    for (const s of sockets) s.disconnect();
    await app.close();
    await database.close();
  }
});
