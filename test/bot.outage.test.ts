// The bot across a database outage: a question whose handling the outage interrupted is answered
// once the database is back, and what a dead node left is caught up even when the database is
// away at the moment another node finds it dead (the node that reaped it asks again every 5 s).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createApp, type App } from '../src/app.js';
import type { Services } from '../src/services.js';
import { createDocumentSchema } from '../src/knowledge/knowledge.schemas.js';
import { closeRedis, connectRedis, type Redis } from '../src/shared/redis.js';
import { testConfig } from './helpers/config.js';
import { nodeDiesNow } from './helpers/faults.js';
import { proxiedTestDatabase, type ProxiedDatabase } from './helpers/proxied-db.js';
import { createTenant, createVisitorSession, OPENING_HOURS, sendAsRelayVisitor } from './helpers/relay.js';
import { createdEventOf, servicesFor } from './helpers/services.js';
import { eventually } from './helpers/sockets.js';
import { connectWs, widgetWsUrl } from './helpers/ws.js';

const prefix = `sb:test:${randomUUID()}`;
let db: ProxiedDatabase;
let redis: Redis;
let app: App;
let url: string;

before(async () => {
  db = await proxiedTestDatabase();
  redis = await connectRedis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const config = testConfig({
    REALTIME_REDIS_PREFIX: prefix,
    PRESENCE_HEARTBEAT_S: '1',
    BOT_RECOVERY_GRACE_S: '2',
  });
  app = await createApp({ config, logger: db.logger, database: db.proxied, redis });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

after(async () => {
  db.proxy.set('pass');
  await app.close();
  await new Promise<void>((resolve) => app.server.close(() => resolve()));
  await closeRedis(redis);
  await db.close();
});

const botAnswers = (conversationId: string) =>
  db.direct.prisma.message.count({ where: { conversationId, senderType: 'bot' } });

/** A bot tenant that knows the Paris store's hours, and a relay visitor of it on the node. */
async function parisVisitor(services: Services) {
  const tn = await createTenant(services);
  await services.knowledge.create(tn.id, createDocumentSchema.parse(OPENING_HOURS));
  const s = await createVisitorSession(url, tn);
  const v = await connectWs(widgetWsUrl(url, { token: s.visitor_token }));
  await v.next('welcome');
  const asks = () => sendAsRelayVisitor(services, db.direct, tn.id, s, 'When does the Paris store open?');
  return { s, v, asks };
}

test("a dead node's unanswered question is answered once the database is back, though it was away when the node was found dead", async () => {
  const { services } = servicesFor(db.direct);
  const { s, v, asks } = await parisVisitor(services);
  try {
    // Another node stores the visitor's question and dies before its bot sees it (these services
    // publish nowhere), right after its last heartbeat.
    await asks();
    let reaped = false;
    const off = app.realtime.onNodeReaped(() => (reaped = true));
    // This node's database goes away before it finds the dead one (three silent beats).
    db.proxy.set('refuse');
    await nodeDiesNow(prefix);
    await eventually(() => reaped, 15_000);
    off();
    // Its recovery ran into the outage, and said so once.
    await eventually(
      () =>
        db.logLines.some((l) =>
          /^bot: answering what a lost node left: the database is unavailable/.test(l.msg),
        ),
      10_000,
    );
    assert.equal(await botAnswers(s.conversation_id), 0);
    db.proxy.set('pass');
    // Asked again within 5 s: the visitor gets the answer, live.
    const answer = await v.next('msg', (m) => m.role === 'bot', 15_000);
    assert.match(String(answer.content), /9:00 to 20:00/);
    assert.equal(await botAnswers(s.conversation_id), 1);
    // The pushes such a node never queued are looked for the same way (push.test.ts: what they do).
    assert.ok(
      db.logLines.some((l) =>
        /^push: queueing what a lost node left: the database is unavailable/.test(l.msg),
      ),
    );
    assert.deepEqual(
      db.logLines.filter((l) => /what a lost node left failed/.test(l.msg)),
      [],
      'neither gave up',
    );
  } finally {
    v.close();
  }
});

test('a question stored just before the database went away is answered once it is back', async () => {
  const { services, events } = servicesFor(db.direct);
  const { s, v, asks } = await parisVisitor(services);
  try {
    const { message } = await asks();
    // Committed; then the database goes away before the bot has read the conversation, and the
    // node publishes its event, as its message service does after the commit.
    db.proxy.set('refuse');
    app.bus.publish('message.created', createdEventOf(events, message.id));
    await eventually(
      () =>
        db.logLines.some(
          (l) => l.msg === 'bot: the database is unavailable, retrying every 5 s' && 'conversationId' in l,
        ),
      10_000,
    );
    db.proxy.set('pass');
    const answer = await v.next('msg', (m) => m.role === 'bot', 15_000);
    assert.match(String(answer.content), /9:00 to 20:00/);
    assert.equal(await botAnswers(s.conversation_id), 1);
    assert.deepEqual(
      db.logLines.filter((l) => l.msg === 'bot failed to handle a message'),
      [],
      'not given up',
    );
  } finally {
    v.close();
  }
});
