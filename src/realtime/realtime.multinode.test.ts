import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import { createDocumentSchema } from '../knowledge/knowledge.schemas.js';
import { openPostgres, type Database } from '../shared/db.js';
import type { Services } from '../services.js';
import { loginAgent } from '../../test/helpers/app.js';
import { freshPostgresDatabase } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { startServer, type RunningServer } from '../../test/helpers/process.js';
import {
  createTenant,
  createVisitorSession,
  OPENING_HOURS,
  sendAsRelayVisitor,
} from '../../test/helpers/relay.js';
import { servicesFor } from '../../test/helpers/services.js';
import { connectSocket, emitAck, eventually, nextEvent, record } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';

type Status = { agent_id: string; status: string };
type Msg = { id: string; content: string; sender_type: string };

/** The visitor of `conv` sends `content`, and it is stored. */
async function visitorSays(
  visitor: Socket,
  conv: { conversation: { id: string }; externalId: string },
  content: string,
) {
  const sent = await emitAck(visitor, 'send_message', {
    conversation_id: conv.conversation.id,
    content,
    sender_type: 'end_user',
    external_id: conv.externalId,
  });
  assert.equal(sent.ok, true);
}

// Two real server processes on one PostgreSQL database and one Redis, as behind a load balancer.
describe('realtime across two nodes (Redis adapter)', () => {
  let dropDb: () => Promise<void>;
  let database: Database;
  let services: Services;
  let nodeA: RunningServer;
  let nodeB: RunningServer;
  let env: Record<string, string>;
  const sockets: Socket[] = [];

  before(async () => {
    const fresh = await freshPostgresDatabase();
    dropDb = fresh.drop;
    env = {
      DATABASE_URL: fresh.url,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      SESSION_SECRET: 'multi-node-session-secret-multi-node',
      ENCRYPTION_KEY: '22'.repeat(32),
      PRESENCE_HEARTBEAT_S: '1',
      // The bot answers what a killed node left once past this grace (20 s by default).
      BOT_RECOVERY_GRACE_S: '2',
      END_USER_RATE_LIMIT: '100', // the latency probe below sends a burst
      // Our own adapter channel and presence keys: other test runs on this Redis stay apart.
      REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}`,
    };
    // Migrated and not empty before the nodes start together: on an empty database both would
    // race to create the demo organization of the first run (bootstrap/first-run.ts).
    database = await openPostgres(fresh.url, { poolSize: 3 });
    await database.migrate();
    services = servicesFor(database).services;
    await createOrg(services);
    const started = await Promise.allSettled([startServer(env), startServer(env)]);
    [nodeA, nodeB] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as [
      RunningServer,
      RunningServer,
    ];
    for (const r of started) if (r.status === 'rejected') throw r.reason;
  });

  after(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await database?.close();
    await dropDb?.();
  });

  const open = async (url: string, cookie?: string, auth?: Record<string, unknown>) => {
    const s = await connectSocket(url, { ...(cookie ? { cookie } : {}), ...(auth ? { auth } : {}) });
    sockets.push(s);
    return s;
  };

  /**
   * A queue watched from `agentsOn`: Dana there takes its activity in batches (as the inbox does),
   * Eve is signed in (sessions are in PostgreSQL: valid on every node), and a visitor on node A
   * says something (`say`) and waits for the batch that names it, which comes 100 ms after what
   * the message published at once.
   */
  async function queueScene(agentsOn: string) {
    const { org, channelId } = await createOrg(services);
    const [dana, eve] = await Promise.all([1, 2].map(() => createAgent(services, org.id)));
    const danaLogin = await loginAgent(nodeA.url, dana!.user.email, dana!.password);
    const eveLogin = await loginAgent(nodeA.url, eve!.user.email, eve!.password);
    const danaSocket = await open(agentsOn, danaLogin.cookie, { activity: 'batch' });
    assert.equal((await emitAck(danaSocket, 'join_queue')).ok, true);
    const batches = record<{ items: { last_message: { content: string } }[] }>(
      danaSocket,
      'conversation_activity_batch',
    );
    const conv = await createConversation(services, { organizationId: org.id, channelId });
    const visitor = await open(nodeA.url);
    await emitAck(visitor, 'join_conversation', {
      conversation_id: conv.conversation.id,
      external_id: conv.externalId,
    });
    const say = async (content: string) => {
      await visitorSays(visitor, conv, content);
      await eventually(() => batches.some((b) => b.items.some((i) => i.last_message.content === content)));
    };
    return { org, channelId, eveLogin, say };
  }

  test('per-message queue activity crosses nodes only to rooms someone listens to, from the first message after join_queue', async () => {
    // What the nodes publish to the live activity rooms (the adapter's channel of one room).
    const watcher = new Redis(env.REDIS_URL!);
    const published: string[] = [];
    watcher.on('pmessage', (_pattern, channel: string) => published.push(channel));
    await watcher.psubscribe(`${env.REALTIME_REDIS_PREFIX}:sio#/#live:*`);
    let nodeC: RunningServer | undefined;
    try {
      const { org, channelId, eveLogin, say } = await queueScene(nodeB.url);
      for (const text of ['one', 'two', 'three']) await say(text);
      assert.deepEqual(published, [], 'no live room has a socket: nothing published to one');

      // Eve (node B) takes it per message: the very next message after her join reaches her.
      const eveB = await open(nodeB.url, eveLogin.cookie);
      const eveSees = record<{ conversation_id: string; last_message: { content: string } }>(
        eveB,
        'conversation_activity',
      );
      assert.equal((await emitAck(eveB, 'join_queue')).ok, true);
      await say('four');
      await eventually(() => eveSees.some((a) => a.last_message.content === 'four'));
      assert.ok(published.length >= 1);

      // A node started now asks the others for their rooms: its messages reach Eve too.
      nodeC = await startServer(env);
      const visitorC = await open(nodeC.url);
      const convC = await createConversation(services, { organizationId: org.id, channelId });
      await emitAck(visitorC, 'join_conversation', {
        conversation_id: convC.conversation.id,
        external_id: convC.externalId,
      });
      for (const content of ['from C', 'again from C']) {
        await visitorSays(visitorC, convC, content);
        await eventually(() => eveSees.some((a) => a.last_message.content === content));
      }

      // Eve leaves: the other nodes stop publishing to her room.
      eveB.disconnect();
      await eventually(async () => {
        const before = published.length;
        await say(`after Eve ${before}`);
        await new Promise((r) => setTimeout(r, 50));
        return published.length === before;
      });
    } finally {
      await nodeC?.stop();
      await watcher.quit();
    }
  });

  test('a node cut off from Redis tells the others its live rooms when it is back: the next message’s activity reaches a socket that joined meanwhile', async () => {
    // Node C reaches Redis through a proxy that can cut it off; node A does not notice anything.
    const target = new URL(env.REDIS_URL!);
    const links = new Set<net.Socket>();
    let passing = true;
    const proxy = net.createServer((client) => {
      if (!passing) return void client.destroy();
      const upstream = net.connect(Number(target.port || 6379), target.hostname);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        links.add(a);
        a.on('error', () => {});
        a.on('close', () => {
          links.delete(a);
          b.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const proxyUrl = `redis://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const nodeC = await startServer({ ...env, REDIS_URL: proxyUrl });
    try {
      const { eveLogin, say } = await queueScene(nodeC.url);

      // C loses Redis; Eve joins the queue on C meanwhile, taking activity per message.
      passing = false;
      for (const l of links) l.destroy();
      await eventually(async () => (await fetch(`${nodeC.url}/readyz`)).status === 503);
      const eveC = await open(nodeC.url, eveLogin.cookie);
      const eveSees = record<{ last_message: { content: string } }>(eveC, 'conversation_activity');
      const resynced = nextEvent(eveC, 'resync', undefined, 30_000);
      assert.equal((await emitAck(eveC, 'join_queue')).ok, true);

      // Redis is back for C: once its sockets are told to resync, A knows Eve's room.
      passing = true;
      await resynced;
      await say('after the cut');
      assert.deepEqual(
        eveSees.map((a) => a.last_message.content),
        ['after the cut'],
      );
    } finally {
      await nodeC.stop();
      for (const l of links) l.destroy();
      proxy.close();
    }
  });

  test('a node killed between storing and publishing: sockets older than its death catch up (resync node_lost); a graceful stop, and sockets opened since, get none', async (t) => {
    const [nodeC, nodeD] = await Promise.all([startServer(env), startServer(env)]);
    const tn = await createTenant(services);
    const ann = await createAgent(services, tn.id);
    const annLogin = await loginAgent(nodeA.url, ann.user.email, ann.password);
    const annA = await open(nodeA.url, annLogin.cookie);
    assert.equal((await emitAck(annA, 'join_queue')).ok, true);
    const annResyncs = record<{ reason: string }>(annA, 'resync');
    // A relay visitor on node A whose first message the queue has seen.
    const s = await createVisitorSession(nodeA.url, tn);
    const v = await connectWs(widgetWsUrl(nodeA.url, { token: s.visitor_token }));
    let late: WsClient | undefined;
    try {
      await v.next('welcome');
      v.send({ type: 'msg', client_msg_id: 'v1', content: 'Anyone there?' });
      const seen = (await v.next('ack')).seq as number;

      // Node D restarts gracefully: it takes itself off the list; nobody is told to resync.
      await nodeD.stop('SIGTERM');
      // Node C claims the conversation for Ann and stores her reply, and dies before publishing
      // either (the test's own services publish nowhere: the same database, no socket).
      await services.conversations.assign(ann.actor, s.conversation_id);
      await services.messages.send(
        ann.actor,
        message({
          conversation_id: s.conversation_id,
          content: 'Stored by C, never sent',
          sender_type: 'agent',
        }),
      );
      const killed = Date.now();
      await nodeC.stop('SIGKILL');
      // A tab and a WebSocket opened 1.5 s after the death: half a beat past the last beat plus one
      // (the bound), half a beat before the earliest reaping (three beats after the last).
      await new Promise((r) => setTimeout(r, 1500));
      const annLate = await open(nodeA.url, annLogin.cookie);
      const lateResyncs = record(annLate, 'resync');
      const vLate = await connectWs(widgetWsUrl(nodeA.url, { token: s.visitor_token, last_seq: seen }));
      late = vLate;
      await vLate.next('welcome');

      // Reaped after three silent heartbeats (1 s here): the sockets on A that were there catch up.
      assert.equal((await v.next('resync', () => true, 30_000)).reason, 'node_lost');
      await eventually(() => annResyncs.length > 0, 30_000);
      t.diagnostic(`resync after a node was killed: ${Date.now() - killed} ms (heartbeat 1 s)`);
      assert.deepEqual(annResyncs, [{ reason: 'node_lost' }]);
      v.send({ type: 'resume', last_seq: seen });
      assert.equal((await v.next('msg', (m) => m.role === 'agent')).content, 'Stored by C, never sent');
      // Ann's inbox reads its list on resync: the conversation is hers.
      const mine = await fetch(`${nodeA.url}/api/conversations/?filter=mine`, {
        headers: { cookie: annLogin.cookie },
      });
      assert.deepEqual(
        ((await mine.json()) as { id: string }[]).map((c) => c.id),
        [s.conversation_id],
      );
      // The tab and the WebSocket opened since the death read what they show then, so they are not
      // told (one slice, 250 ms, later they would have been).
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(lateResyncs, []);
      assert.deepEqual(
        vLate.frames.filter((f) => f.type === 'resync'),
        [],
      );
      assert.deepEqual(annResyncs, [{ reason: 'node_lost' }]);
    } finally {
      v.close();
      late?.close();
      await Promise.all([nodeC.stop(), nodeD.stop()]);
    }
  });

  test('a question stored by a node killed before its bot answered is answered by the node that finds it dead', async () => {
    const nodeE = await startServer(env);
    const tn = await createTenant(services);
    await services.knowledge.create(tn.id, createDocumentSchema.parse(OPENING_HOURS));
    // A relay visitor (bot mode) on node A.
    const s = await createVisitorSession(nodeA.url, tn);
    const v = await connectWs(widgetWsUrl(nodeA.url, { token: s.visitor_token }));
    try {
      await v.next('welcome');
      // Node E stores the visitor's question and dies before its bot sees it (the test's own
      // services publish nowhere: the same database, no bot listening).
      await sendAsRelayVisitor(services, database, tn.id, s, 'When does the Paris store open?');
      await nodeE.stop('SIGKILL');
      // Reaped after three silent beats: the bot of the node that reaped it answers, live.
      const answer = await v.next('msg', (m) => m.role === 'bot', 30_000);
      assert.match(String(answer.content), /9:00 to 20:00/);
      const bots = await database.prisma.message.count({
        where: { conversationId: s.conversation_id, senderType: 'bot' },
      });
      assert.equal(bots, 1);
    } finally {
      v.close();
      await nodeE.stop();
    }
  });

  test('messages, queue, presence and claims agree across nodes; a dead node’s agents go offline', async (t) => {
    const { org, channelId } = await createOrg(services);
    const [ann, bob, carl] = await Promise.all([1, 2, 3].map(() => createAgent(services, org.id)));
    // Sessions live in Redis: a login on one node is valid on the other.
    const annLogin = await loginAgent(nodeA.url, ann!.user.email, ann!.password);
    const bobLogin = await loginAgent(nodeB.url, bob!.user.email, bob!.password);
    const carlLogin = await loginAgent(nodeA.url, carl!.user.email, carl!.password);

    const annA = await open(nodeA.url, annLogin.cookie);
    const annStatus = record<Status>(annA, 'agent_status_changed');
    await emitAck(annA, 'join_org_presence');
    const bobB = await open(nodeB.url, bobLogin.cookie);
    const bobA = await open(nodeA.url, bobLogin.cookie); // a second tab, on the other node
    const carlB = await open(nodeB.url, carlLogin.cookie);
    for (const s of [annA, bobB]) assert.equal((await emitAck(s, 'join_queue')).ok, true);

    // Presence agrees on both nodes.
    const everyone = [ann!.user.id, bob!.user.id, carl!.user.id].sort();
    for (const node of [annA, bobB]) {
      await eventually(async () => {
        const a = await emitAck(node, 'join_org_presence');
        return JSON.stringify((a.online as string[]).sort()) === JSON.stringify(everyone);
      });
    }
    await eventually(() =>
      [bob!.user.id, carl!.user.id].every((id) =>
        annStatus.some((s) => s.agent_id === id && s.status === 'online'),
      ),
    );

    // Visitor on node A, agent on node B.
    const conv = await createConversation(services, { organizationId: org.id, channelId });
    const convId = conv.conversation.id;
    const visitor = await open(nodeA.url);
    const visitorGot = record<Msg>(visitor, 'message_received');
    await emitAck(visitor, 'join_conversation', { conversation_id: convId, external_id: conv.externalId });
    const queuedOnB = nextEvent(bobB, 'conversation_updated');
    const hello = await emitAck(visitor, 'send_message', {
      conversation_id: convId,
      content: 'Hello from node A',
      sender_type: 'end_user',
      external_id: conv.externalId,
    });
    assert.equal(hello.ok, true);
    assert.equal((await queuedOnB).content, 'Hello from node A');

    const bobGot = record<Msg>(bobB, 'message_received');
    assert.equal((await emitAck(bobB, 'join_conversation', { conversation_id: convId })).ok, true);
    await emitAck(bobB, 'send_message', {
      conversation_id: convId,
      content: 'Hello from node B',
      sender_type: 'agent',
    });
    await emitAck(visitor, 'send_message', {
      conversation_id: convId,
      content: 'Thanks!',
      sender_type: 'end_user',
      external_id: conv.externalId,
    });
    await eventually(() => visitorGot.length === 3 && bobGot.length === 2);
    assert.deepEqual(
      visitorGot.map((m) => m.content),
      ['Hello from node A', 'Hello from node B', 'Thanks!'],
    );
    assert.deepEqual(
      bobGot.map((m) => m.content),
      ['Hello from node B', 'Thanks!'],
    );

    // Latency of a message from a visitor on A to an agent on B (figures only, no target).
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const arrived = nextEvent<Msg>(bobB, 'message_received', (m) => m.content === `ping ${i}`);
      const t0 = performance.now();
      visitor.emit('send_message', {
        conversation_id: convId,
        content: `ping ${i}`,
        sender_type: 'end_user',
        external_id: conv.externalId,
      });
      await arrived;
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    t.diagnostic(
      `visitor on A → agent on B: median ${latencies[10]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
    );

    // Two agents on different nodes claim at the same moment: exactly one wins.
    const annErrors = record(annA, 'error');
    const bobErrors = record(bobB, 'error');
    const assignedOnA = nextEvent(annA, 'conversation_assigned');
    const assignedOnB = nextEvent(bobB, 'conversation_assigned');
    const claims = await Promise.all([
      emitAck(annA, 'claim_conversation', { conversation_id: convId }),
      emitAck(bobB, 'claim_conversation', { conversation_id: convId }),
    ]);
    assert.deepEqual(claims.map((c) => c.ok).sort(), [false, true]);
    const winner = claims[0]!.ok ? ann!.user.id : bob!.user.id;
    const loser = claims.find((c) => !c.ok)!;
    assert.equal(loser.error, 'conversation/already_assigned');
    await eventually(() => annErrors.length + bobErrors.length === 1);
    assert.equal((claims[0]!.ok ? bobErrors : annErrors).length, 1);
    const won = claims.find((c) => c.ok)!;
    for (const e of [await assignedOnA, await assignedOnB]) {
      assert.deepEqual(e, {
        conversation_id: convId,
        assigned_to: winner,
        session_id: won.session_id,
        routing_key: null,
        previous_agent_id: null,
      });
    }

    // Node B dies without a word: Carl (only on B) goes offline; Bob still has a tab on A.
    const died = Date.now();
    const carlOffline = nextEvent<Status>(
      annA,
      'agent_status_changed',
      (s) => s.agent_id === carl!.user.id && s.status === 'offline',
      30_000,
    );
    await nodeB.stop('SIGKILL');
    await carlOffline;
    const offlineAfterMs = Date.now() - died;
    t.diagnostic(`agent on a killed node offline after ${offlineAfterMs} ms (heartbeat 1 s)`);
    assert.ok(offlineAfterMs < 30_000);
    const check = await emitAck(annA, 'join_org_presence');
    assert.deepEqual((check.online as string[]).sort(), [ann!.user.id, bob!.user.id].sort());
    assert.equal(
      annStatus.some((s) => s.agent_id === bob!.user.id && s.status === 'offline'),
      false,
    );
    assert.equal(bobA.connected, true);
    void carlB;
  });
});
