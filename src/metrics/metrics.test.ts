// Issue 24, point 1: /metrics in Prometheus text, behind a token; a sent message moves the counters.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { nodeDiesNow } from '../../test/helpers/faults.js';
import { createTenant, createVisitorSession } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, record } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';
import { pathLabel } from './metrics.js';

const TOKEN = `metrics-${randomUUID()}`;

type Sample = { name: string; labels: Record<string, string>; value: number };

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? ([-+]?(?:[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|[Nn][Aa][Nn]|[Ii]nf))(?: -?[0-9]+)?$`,
);
const HELP = new RegExp(`^# HELP ${NAME} .*$`);
const TYPE = new RegExp(`^# TYPE ${NAME} (counter|gauge|histogram|summary|untyped)$`);

/** Parses the exposition format (version 0.0.4), failing on any line that is not in it. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      assert.ok(HELP.test(line) || TYPE.test(line), `not a HELP or TYPE line: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    samples.push({
      name: m[1]!,
      labels,
      value: Number(m[3]!.replace(/^\+?inf$/i, 'Infinity').replace(/^nan$/i, 'NaN')),
    });
  }
  return samples;
}

/** The value of the sample named so whose labels include these (0 when absent). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hit = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hit?.value ?? 0;
}

describe('/metrics (postgres + Redis)', () => {
  let app: TestApp;
  const sockets: Socket[] = [];
  const clients: WsClient[] = [];
  const prefix = `sb:test:${randomUUID()}`;
  before(async () => {
    app = await startApp(await dbModes[0]!.open(), {
      redis: true,
      env: {
        METRICS_TOKEN: TOKEN,
        // The webhook test's receiver is on loopback.
        WEBHOOK_ALLOW_PRIVATE: 'true',
        END_USER_RATE_LIMIT: '3',
        // Refused history reads are not slowed down here (the 429 test makes a few).
        JOIN_FAILURE_MAX_DELAY_MS: '0',
        // Keys of this run only: other test files share the Redis.
        REALTIME_REDIS_PREFIX: prefix,
        // A dead node is found after three silent beats.
        PRESENCE_HEARTBEAT_S: '1',
      },
    });
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    for (const c of clients) c.close();
    await app.stop();
    await app.database.close();
  });

  /** A visitor of a new relay tenant on the WebSocket, welcomed. */
  async function relayVisitor(): Promise<WsClient> {
    const tn = await createTenant(app.services);
    const session = await createVisitorSession(app.url, tn);
    const ws = await connectWs(widgetWsUrl(app.url, { token: session.visitor_token }), {
      origin: 'https://app.acme.com',
    });
    clients.push(ws);
    await ws.next('welcome');
    return ws;
  }

  async function scrape(): Promise<Sample[]> {
    const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  }

  test('without the token (or with a wrong one): 401 in JSON', async () => {
    const variants: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: TOKEN },
    ];
    for (const headers of variants) {
      const res = await fetch(`${app.url}/metrics`, { headers });
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), {
        error: 'auth/unauthenticated',
        message: 'A metrics token is required',
      });
    }
  });

  test('the scrape is Prometheus text with the process, pool, Redis and outbox metrics', async () => {
    const samples = await scrape();
    for (const name of [
      'switchboard_process_cpu_user_seconds_total',
      'switchboard_nodejs_eventloop_lag_seconds',
      'switchboard_db_pool_connections',
      'switchboard_redis_roundtrip_seconds',
      'switchboard_outbox_depth',
      'switchboard_connected_sockets',
    ])
      assert.ok(
        samples.some((s) => s.name === name),
        `${name} missing`,
      );
    assert.ok(value(samples, 'switchboard_redis_roundtrip_seconds') >= 0);
    assert.ok(value(samples, 'switchboard_db_pool_connections', { state: 'max' }) > 0);
  });

  test('a sent message moves the counters; sockets are counted by kind; a flood drop is counted', async () => {
    const { org, channelId } = await createOrg(app.services);
    const a = await createAgent(app.services, org.id);
    const login = await loginAgent(app.url, a.user.email, a.password);
    const agent = await connectSocket(app.url, { cookie: login.cookie });
    const visitor = await connectSocket(app.url);
    sockets.push(agent, visitor);
    const conv = await createConversation(app.services, { organizationId: org.id, channelId });
    const convId = conv.conversation.id;
    // A relay visitor, connected: counted as a websocket.
    await relayVisitor();
    assert.equal((await emitAck(agent, 'join_conversation', { conversation_id: convId })).ok, true);
    const joined = await emitAck(visitor, 'join_conversation', {
      conversation_id: convId,
      external_id: conv.externalId,
    });
    assert.equal(joined.ok, true);
    const send = (content: string) =>
      emitAck(visitor, 'send_message', {
        conversation_id: convId,
        content,
        content_type: 'text',
        sender_type: 'end_user',
        external_id: conv.externalId,
      });
    // The first message opens the session; what follows goes through the batch writer.
    assert.equal((await send('hello')).ok, true);

    const before = await scrape();
    assert.ok(value(before, 'switchboard_connected_sockets', { kind: 'agent' }) >= 1);
    assert.ok(value(before, 'switchboard_connected_sockets', { kind: 'visitor' }) >= 1);
    assert.ok(value(before, 'switchboard_connected_sockets', { kind: 'websocket' }) >= 1);

    const agentSees = record(agent, 'message_received');
    assert.equal((await send('one more')).ok, true);
    await eventually(() => agentSees.length === 1);
    const after1 = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) =>
      value(after1, name, labels) - value(before, name, labels);
    assert.equal(moved('switchboard_messages_stored_total', { sender: 'end_user' }), 1);
    assert.equal(moved('switchboard_messages_delivered_total', { transport: 'socketio' }), 1);
    assert.equal(moved('switchboard_messages_delivered_total', { transport: 'websocket' }), 1);
    assert.equal(moved('switchboard_message_latency_seconds_count', { stage: 'commit' }), 1);
    assert.equal(moved('switchboard_message_latency_seconds_count', { stage: 'broadcast' }), 1);
    assert.equal(moved('switchboard_message_batch_size_count'), 1);
    assert.equal(moved('switchboard_message_batch_size_sum'), 1);
    assert.equal(moved('switchboard_flood_drops_total', { transport: 'socketio' }), 0);

    // Three per window: the third is taken, the fourth is dropped.
    assert.equal((await send('three')).ok, true);
    const dropped = await send('four');
    assert.equal(dropped.ok, false);
    assert.equal(dropped.error, 'rate_limited');
    const after2 = await scrape();
    assert.equal(
      value(after2, 'switchboard_flood_drops_total', { transport: 'socketio' }) -
        value(after1, 'switchboard_flood_drops_total', { transport: 'socketio' }),
      1,
    );
  });

  test("a webhook delivery counts one attempt under its receiver's status", async () => {
    const { createServer } = await import('node:http');
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const { port } = receiver.address() as { port: number };
      const { org } = await createOrg(app.services);
      await app.services.webhooks.setConfig(org.id, { callback_base_url: `http://127.0.0.1:${port}/hooks` });
      app.webhooks.start();
      const before = await scrape();
      const sent = await app.services.webhooks.sendTest(org.id, 'conversation-started');
      await eventually(async () => {
        const d = await app.database.prisma.webhookEvent.findUniqueOrThrow({ where: { id: sent.id } });
        return d.status === 'delivered';
      }, 10_000);
      const after1 = await scrape();
      const labels = { status: '204' };
      assert.equal(
        value(after1, 'switchboard_webhook_attempts_total', labels) -
          value(before, 'switchboard_webhook_attempts_total', labels),
        1,
      );
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  test('a node found dead is counted, and so are the clients told to resync, by gateway', async () => {
    const { org } = await createOrg(app.services);
    const a = await createAgent(app.services, org.id);
    const login = await loginAgent(app.url, a.user.email, a.password);
    const agent = await connectSocket(app.url, { cookie: login.cookie });
    sockets.push(agent);
    const ws = await relayVisitor();
    const before = await scrape();
    const told = record(agent, 'resync');
    // Another node of this cluster beat in Redis for the last time just now, and never again.
    await nodeDiesNow(prefix);
    assert.equal((await ws.next('resync', () => true, 15_000)).reason, 'node_lost');
    await eventually(() => told.length === 1, 15_000);
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) =>
      value(after, name, labels) - value(before, name, labels);
    assert.equal(moved('switchboard_nodes_lost_total'), 1);
    // Clients of the tests before, still connected, were told too.
    assert.ok(moved('switchboard_resyncs_total', { transport: 'socketio', reason: 'node_lost' }) >= 1);
    assert.ok(moved('switchboard_resyncs_total', { transport: 'websocket', reason: 'node_lost' }) >= 1);
  });

  test('HTTP 429s are counted by path, ids folded', async () => {
    assert.equal(
      pathLabel(`/api/conversations/${randomUUID()}/messages?x=1`),
      '/api/conversations/:id/messages',
    );
    const before = await scrape();
    // The public history endpoint, past its per-target limit (30 a minute by default).
    const target = `${app.url}/chat-widget/history/${randomUUID()}?external_id=x`;
    let refused = 0;
    for (let i = 0; i < 40 && !refused; i++) {
      const res = await fetch(target);
      if (res.status === 429) refused += 1;
      await res.body?.cancel();
    }
    assert.equal(refused, 1);
    const after1 = await scrape();
    const labels = { transport: 'http', path: '/chat-widget/history/:id' };
    assert.equal(
      value(after1, 'switchboard_rate_limit_refusals_total', labels) -
        value(before, 'switchboard_rate_limit_refusals_total', labels),
      1,
    );
  });
});

describe('/metrics without METRICS_TOKEN', () => {
  test('is not there (404)', async () => {
    const app = await startApp(await dbModes[0]!.open());
    try {
      const res = await fetch(`${app.url}/metrics`);
      assert.equal(res.status, 404);
      await res.body?.cancel();
    } finally {
      await app.stop();
      await app.database.close();
    }
  });
});
