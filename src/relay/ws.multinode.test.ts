// The visitor WebSocket across two server processes sharing PostgreSQL and Redis: the visitor on
// node A, the agent (Socket.IO) on node B; then node A's SIGTERM.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import { openPostgres, type Database } from '../shared/db.js';
import type { Services } from '../services.js';
import { loginAgent } from '../../test/helpers/app.js';
import { freshPostgresDatabase } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { startServer, type RunningServer } from '../../test/helpers/process.js';
import { createTenant, createVisitorSession } from '../../test/helpers/relay.js';
import { servicesFor } from '../../test/helpers/services.js';
import { connectSocket, emitAck, nextEvent } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';

describe('relay visitor WebSocket across two nodes', () => {
  let dropDb: () => Promise<void>;
  let database: Database;
  let services: Services;
  let nodeA: RunningServer;
  let nodeB: RunningServer;
  const sockets: Socket[] = [];
  const clients: WsClient[] = [];
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `sb:test:${randomUUID()}`;
  const redis = new Redis(redisUrl);

  before(async () => {
    const fresh = await freshPostgresDatabase();
    dropDb = fresh.drop;
    const env = {
      DATABASE_URL: fresh.url,
      REDIS_URL: redisUrl,
      SESSION_SECRET: 'multi-node-session-secret-multi-node',
      ENCRYPTION_KEY: '22'.repeat(32),
      REALTIME_REDIS_PREFIX: prefix,
      TYPING_RELAY_INTERVAL_MS: '0',
    };
    database = await openPostgres(fresh.url, { poolSize: 3 });
    await database.migrate();
    services = servicesFor(database).services;
    await createOrg(services); // not empty: the nodes do not race on the first run's demo
    const started = await Promise.allSettled([startServer(env), startServer(env)]);
    [nodeA, nodeB] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as [
      RunningServer,
      RunningServer,
    ];
    for (const r of started) if (r.status === 'rejected') throw r.reason;
  });

  after(async () => {
    for (const s of sockets) s.disconnect();
    for (const c of clients) c.close();
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await database?.close();
    await dropDb?.();
    redis.disconnect();
  });

  test("a conversation's frames reach only the nodes holding its visitors; two tabs share one subscription", async () => {
    const tn = await createTenant(services);
    const a = await createAgent(services, tn.id);
    const { cookie } = await loginAgent(nodeB.url, a.user.email, a.password);
    const agent = await connectSocket(nodeB.url, { cookie });
    sockets.push(agent);
    const s = await createVisitorSession(nodeA.url, tn);
    const tabs = [];
    for (let i = 0; i < 2; i++) {
      const tab = await connectWs(widgetWsUrl(nodeA.url, { token: s.visitor_token }));
      clients.push(tab);
      await tab.next('welcome');
      tabs.push(tab);
    }
    const [first, second] = tabs as [WsClient, WsClient];
    // Node A listens once for both tabs; node B, with no visitor of it, not at all.
    const listeners = async () =>
      Number(((await redis.pubsub('NUMSUB', `${prefix}:ws:${s.conversation_id}`)) as [string, number])[1]);
    assert.equal(await listeners(), 1);

    first.send({ type: 'msg', client_msg_id: 't1', content: 'Opens the chat' });
    await first.next('ack');
    assert.equal(
      (await emitAck(agent, 'claim_conversation', { conversation_id: s.conversation_id })).ok,
      true,
    );
    const say = async (content: string) =>
      assert.equal(
        (
          await emitAck(agent, 'send_message', {
            conversation_id: s.conversation_id,
            content,
            sender_type: 'agent',
          })
        ).ok,
        true,
      );
    await say('To both tabs');
    for (const tab of tabs)
      assert.equal((await tab.next('msg', (m) => m.role === 'agent')).content, 'To both tabs');

    // The first tab closes: the other still hears the conversation.
    first.close();
    await first.closed;
    await say('To the tab left');
    assert.equal((await second.next('msg', (m) => m.role === 'agent')).content, 'To the tab left');

    // The last one closes: node A stops listening.
    second.close();
    await second.closed;
    for (let i = 0; i < 50 && (await listeners()) !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await listeners(), 0);
  });

  test('visitor on A, agent on B: messages and typing both ways; SIGTERM on A closes with 1012', async () => {
    const tn = await createTenant(services);
    const a = await createAgent(services, tn.id);
    const { cookie } = await loginAgent(nodeB.url, a.user.email, a.password);
    const agent = await connectSocket(nodeB.url, { cookie });
    sockets.push(agent);
    assert.equal((await emitAck(agent, 'join_queue')).ok, true);

    const s = await createVisitorSession(nodeA.url, tn);
    const v = await connectWs(widgetWsUrl(nodeA.url, { token: s.visitor_token }));
    clients.push(v);
    await v.next('welcome');

    const queued = nextEvent(agent, 'conversation_updated');
    v.send({ type: 'msg', client_msg_id: 'a1', content: 'Hello from node A' });
    assert.equal((await v.next('ack')).client_msg_id, 'a1');
    assert.equal((await queued).content, 'Hello from node A');

    assert.equal(
      (await emitAck(agent, 'claim_conversation', { conversation_id: s.conversation_id })).ok,
      true,
    );
    const typingOnB = nextEvent(agent, 'typing_indicator');
    v.send({ type: 'typing', state: 'start' });
    assert.equal((await typingOnB).sender_type, 'end_user');
    await emitAck(agent, 'user_typing', { conversation_id: s.conversation_id, sender_type: 'agent' });
    assert.equal((await v.next('typing')).role, 'agent');

    const received = nextEvent(agent, 'message_received', (m) => m.content === 'Second from A');
    v.send({ type: 'msg', client_msg_id: 'a2', content: 'Second from A' });
    await received;

    const reply = await emitAck(agent, 'send_message', {
      conversation_id: s.conversation_id,
      content: 'Hello from node B',
      sender_type: 'agent',
    });
    assert.equal(reply.ok, true);
    const msg = await v.next('msg');
    assert.equal(msg.role, 'agent');
    assert.equal(msg.content, 'Hello from node B');

    // A restarting node tells its visitors to reconnect; they do, to the other node.
    await nodeA.stop('SIGTERM');
    assert.equal((await v.closed).code, 1012);
    const onB = await connectWs(
      widgetWsUrl(nodeB.url, { token: s.visitor_token, last_seq: msg.seq as number }),
    );
    clients.push(onB);
    const welcome = await onB.next('welcome');
    assert.equal(welcome.conversation_id, s.conversation_id);
    assert.deepEqual(welcome.history, []);
  });
});
