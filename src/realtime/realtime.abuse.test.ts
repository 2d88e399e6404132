// Issue 14, points 2 and 3, from the attacks as reported: anonymous sockets flooding joins with
// random ids (the node looked dead), failed joins not throttled, 1,000 sockets from one IP all
// accepted, a typing burst relayed whole to the agent.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { io as connectClient, type Socket } from 'socket.io-client';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { connectSocket, emitAck, eventually, record, type Ack } from '../../test/helpers/sockets.js';

/** A client address of this test's own (the app trusts X-Forwarded-For, as behind a proxy). */
const newIp = () => `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;

/** An anonymous socket from `ip`: resolves connected, or rejects with the `connect_error`. */
function connectFrom(url: string, ip: string): Promise<Socket> {
  const socket = connectClient(url, {
    transports: ['websocket'],
    extraHeaders: { 'x-forwarded-for': ip },
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

describe('abuse limits on the socket gateway (postgres + Redis)', () => {
  let app: TestApp;
  const sockets: Socket[] = [];
  before(async () => {
    app = await startApp(await dbModes[0]!.open(), {
      redis: true,
      env: {
        TRUST_PROXY: 'true',
        // Keys of this run only: other test files share the Redis.
        REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}`,
        SOCKETS_PER_IP: '25',
        JOIN_FAILURES_FREE_PER_IP: '5',
        JOIN_FAILURE_MAX_DELAY_MS: '400',
      },
    });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await app.stop();
    await app.database.close();
  });
  const keep = <T extends Socket>(s: T) => (sockets.push(s), s);

  test('20 sockets × 500 joins with random ids: /readyz stays 200, a real visitor joins fast, the flooders are refused and dropped', async (t) => {
    const { org, channelId } = await createOrg(app.services);
    const visitor = await createConversation(app.services, { organizationId: org.id, channelId });
    const floodIp = newIp();
    const flooders = await Promise.all(Array.from({ length: 20 }, () => connectFrom(app.url, floodIp)));
    flooders.forEach(keep);
    const answers = flooders.map(() => [] as Ack[]);
    const errors = flooders.map((s) => record(s, 'error'));
    flooders.forEach((s, i) => {
      for (let n = 0; n < 500; n++) {
        s.emit(
          'join_conversation',
          { conversation_id: randomUUID(), external_id: `guess-${n}` },
          (ack: Ack) => answers[i]!.push(ack),
        );
      }
    });

    // While the flood is under way.
    const ready = await fetch(`${app.url}/readyz`);
    const body = (await ready.json()) as { checks: Record<string, string> };
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.match(body.checks.database!, /^(ok|busy \(pool saturated, \d+ waiting\))$/);
    const real = keep(await connectFrom(app.url, newIp()));
    const tFlood = performance.now();
    const t0 = performance.now();
    const joined = await emitAck(real, 'join_conversation', {
      conversation_id: visitor.conversation.id,
      external_id: visitor.externalId,
    });
    const joinMs = performance.now() - t0;
    assert.equal(joined.ok, true, JSON.stringify(joined));
    // Loose on purpose: the target (< 100 ms p99) is the benchmark's; on a loaded CI machine a
    // single join still takes a few ms, while before the fix it waited behind the flood (1.3 s).
    assert.ok(joinMs < 500, `a real visitor's join took ${joinMs.toFixed(0)} ms during the flood`);

    // Every flooder is answered `rate_limited` beyond its socket's quota, and dropped after its
    // failed joins; nothing was joined.
    await eventually(() => flooders.every((s, i) => !s.connected || answers[i]!.length === 500), 20_000);
    const all = answers.flat();
    t.diagnostic(
      `real visitor's join ${joinMs.toFixed(0)} ms; flood answered in ${(performance.now() - tFlood).toFixed(0)} ms`,
    );
    // The IP's quota (1,000 events per 10 s) went to the first sockets' events: each of those
    // failed ten joins and was dropped; the others' events were all refused before any lookup.
    const dropped = flooders.filter((s) => !s.connected).length;
    assert.ok(dropped >= 5, `only ${dropped} guessing sockets were disconnected`);
    flooders.forEach((s, i) => {
      if (s.connected) assert.ok(answers[i]!.every((a) => a.error === 'rate_limited'));
    });
    assert.ok(all.filter((a) => a.error === 'rate_limited').length >= 20 * 350, 'the excess is refused');
    for (const a of all.filter((x) => x.error === 'rate_limited')) {
      assert.equal(typeof a.retry_after, 'number');
      assert.equal(typeof a.message, 'string');
    }
    assert.ok(all.every((a) => !a.ok));
    // A refused event also gets the `error` event.
    assert.ok(errors.every((e) => e.length > 0));
    // Database lookups: at most JOIN_FAILURES_PER_SOCKET (10) per flooder.
    assert.ok(all.filter((a) => a.error === 'auth/forbidden').length <= 20 * 10);

    const after = await fetch(`${app.url}/readyz`);
    assert.equal(after.status, 200);
    real.close();
  });

  test('500 wrong external_ids on one socket: slowed down per IP, the socket dropped after 10; a correct join from that IP is not slowed', async () => {
    const { org, channelId } = await createOrg(app.services);
    const conv = await createConversation(app.services, { organizationId: org.id, channelId });
    const ip = newIp();
    const guesser = keep(await connectFrom(app.url, ip));
    const answers: Ack[] = [];
    const t0 = performance.now();
    for (let n = 0; n < 500; n++) {
      guesser.emit(
        'join_conversation',
        { conversation_id: conv.conversation.id, external_id: `user-${1000 + n}` },
        (ack: Ack) => answers.push(ack),
      );
    }
    await eventually(() => !guesser.connected, 15_000);
    const tookMs = performance.now() - t0;
    const forbidden = answers.filter((a) => a.error === 'auth/forbidden');
    assert.equal(forbidden.length, 10, 'ten guesses were checked, then the socket was dropped');
    assert.match(String(forbidden.at(-1)!.message), /Too many failed attempts/);
    assert.equal(answers.filter((a) => a.error === 'rate_limited').length, 400);
    // Five free failures, then 100 + 200 + 400 + 400 + 400 ms.
    assert.ok(tookMs >= 1400, `ten failed joins took only ${tookMs.toFixed(0)} ms`);

    // The IP keeps its count: a new socket's first wrong guess waits the full delay...
    const again = keep(await connectFrom(app.url, ip));
    let t = performance.now();
    const wrong = await emitAck(again, 'join_conversation', {
      conversation_id: conv.conversation.id,
      external_id: 'user-1',
    });
    assert.equal(wrong.error, 'auth/forbidden');
    assert.ok(performance.now() - t >= 350);
    // ...while the visitor behind the same address is not slowed down.
    t = performance.now();
    const right = await emitAck(again, 'join_conversation', {
      conversation_id: conv.conversation.id,
      external_id: conv.externalId,
    });
    assert.equal(right.ok, true);
    assert.ok(performance.now() - t < 300);

    // History reads share the count: a wrong one is answered 403 after the delay.
    t = performance.now();
    const history = await fetch(`${app.url}/chat-widget/history/${conv.conversation.id}?external_id=user-2`, {
      headers: { 'x-forwarded-for': ip },
    });
    assert.equal(history.status, 403);
    assert.ok(performance.now() - t >= 350);
  });

  test('sockets per IP are capped (SOCKETS_PER_IP = 25 here); a slot is freed on disconnect; other IPs are not affected', async () => {
    const ip = newIp();
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => connectFrom(app.url, ip)));
    const open = results.flatMap((r) => (r.status === 'fulfilled' ? [keep(r.value)] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    assert.equal(open.length, 25);
    assert.equal(refused.length, 15);
    assert.ok(refused.every((e) => e.message === 'rate_limited'));

    await assert.rejects(connectFrom(app.url, ip), /rate_limited/);
    keep(await connectFrom(app.url, newIp()));
    open[0]!.close();
    await eventually(async () => {
      const s = await connectFrom(app.url, ip).catch(() => null);
      if (s) keep(s);
      return s !== null;
    }, 5000);
    // Counted in Redis, so every node sees the same number (a crashed node's slots expire).
    const slots = await app.redis!.zcard(`${app.config.realtime.redisPrefix}:conns:${ip}`);
    assert.equal(slots, 25);
    for (const s of open) s.close();
  });

  test('a connection that closes before it is connected gives its slot back', async () => {
    // A middleware after the node's holds the connection (as a slow one would) until it closes.
    app.io.use((socket, next) => {
      if (socket.handshake.headers['x-hold'] === 'yes') socket.conn.once('close', () => next());
      else next();
    });
    const ip = newIp();
    const slots = () => app.redis!.zcard(`${app.config.realtime.redisPrefix}:conns:${ip}`);
    const held = connectClient(app.url, {
      transports: ['websocket'],
      extraHeaders: { 'x-forwarded-for': ip, 'x-hold': 'yes' },
      reconnection: false,
      forceNew: true,
    });
    await eventually(async () => (await slots()) === 1, 5000);
    held.close();
    await eventually(async () => (await slots()) === 0, 5000);
    // All 25 of the address's slots are free again.
    const open = await Promise.all(Array.from({ length: 25 }, () => connectFrom(app.url, ip)));
    open.forEach(keep);
    await assert.rejects(connectFrom(app.url, ip), /rate_limited/);
    for (const s of open) s.close();
  });

  test('300 user_typing in a burst: one typing_indicator reaches the agent; the rest are acked and dropped or refused', async () => {
    const { org, channelId } = await createOrg(app.services);
    const agent = await createAgent(app.services, org.id);
    const login = await loginAgent(app.url, agent.user.email, agent.password);
    const agentSocket = keep(await connectSocket(app.url, { cookie: login.cookie }));
    const conv = await createConversation(app.services, { organizationId: org.id, channelId });
    assert.equal(
      (await emitAck(agentSocket, 'join_conversation', { conversation_id: conv.conversation.id })).ok,
      true,
    );
    const indicators = record(agentSocket, 'typing_indicator');
    const visitor = keep(await connectFrom(app.url, newIp()));
    const payload = {
      conversation_id: conv.conversation.id,
      sender_type: 'end_user',
      external_id: conv.externalId,
    };
    const acks = await Promise.all(
      Array.from({ length: 300 }, () => emitAck(visitor, 'user_typing', payload)),
    );
    assert.ok(acks.every((a) => a.ok || a.error === 'rate_limited'));
    assert.equal(acks.filter((a) => a.ok).length, 100, 'SOCKET_EVENT_LIMIT (100 per 10 s) admits 100');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(indicators.length, 1, 'coalesced: one indicator per typist per 2 s');
  });
});
