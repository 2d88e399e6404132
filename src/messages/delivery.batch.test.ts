// Receipts at scale: a flush writes every conversation's receipt in one statement, and a
// conversation another transaction holds (a message being stored in it) is skipped, not waited
// for, and written by the next flush. PostgreSQL only: the lock needs a second connection.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { openPostgres } from '../shared/db.js';
import { createEventBus, type DomainEvents } from '../shared/events.js';
import { dbModes, testDatabaseUrl } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { createConversation, createOrg } from '../../test/helpers/factories.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import { createDeliveryBatcher } from './delivery.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;
let app: TestApp;
before(async () => {
  app = await startApp(await postgres.open());
});
after(async () => {
  await app.stop();
  await app.database.close();
});

test('one statement per flush for 40 conversations; a locked one waits for the next flush', async () => {
  const { org, channelId } = await createOrg(app.services);
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const { conversation } = await createConversation(app.services, { organizationId: org.id, channelId });
    ids.push(conversation.id);
  }
  // Five messages each (what receipts are capped at), as the message trigger would count them.
  const prisma = app.database.prisma;
  await prisma.conversation.updateMany({ where: { id: { in: ids } }, data: { lastSeq: 5 } });

  const bus = createEventBus(() => {});
  const delivered: DomainEvents['messages.delivered'][] = [];
  bus.subscribe('messages.delivered', (e) => void delivered.push(e));
  const batcher = createDeliveryBatcher({ db: prisma, bus, flushMs: 60_000 });

  // Another transaction holds the first conversation's row.
  const holder = new pg.Client({ connectionString: testDatabaseUrl() });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM conversations WHERE id = $1 FOR UPDATE', [ids[0]]);

    for (const id of ids) {
      // Several receipts per conversation: the highest counts, one past last_seq is capped at it.
      for (const seq of [1, 3, 9])
        batcher.ack({ organizationId: org.id, conversationId: id, side: 'agent', seq });
    }
    const writes = batcher.stats.writes;
    const t0 = Date.now();
    await batcher.flush();
    assert.ok(Date.now() - t0 < 5_000, 'the flush did not wait for the lock');
    assert.equal(batcher.stats.writes - writes, 1, 'one statement for 40 conversations');
    assert.equal(delivered.length, 39);
    assert.ok(delivered.every((e) => e.seq === 5 && e.recipientType === 'agent'));
    const stored = await prisma.conversation.findMany({
      where: { id: { in: ids } },
      select: { id: true, agentDeliveredSeq: true, visitorDeliveredSeq: true },
    });
    const seqOf = new Map(stored.map((c) => [c.id, c.agentDeliveredSeq]));
    assert.equal(seqOf.get(ids[0]!), 0, 'the held row is not written');
    assert.ok(ids.slice(1).every((id) => seqOf.get(id) === 5));
    assert.ok(
      stored.every((c) => c.visitorDeliveredSeq === 0),
      'the other side is untouched',
    );
  } finally {
    await holder.query('COMMIT');
    await holder.end();
  }

  // The held one is still pending: the next flush writes it, and only it.
  await batcher.flush();
  assert.equal(delivered.length, 40);
  assert.equal(delivered.at(-1)!.conversationId, ids[0]);
  const first = await prisma.conversation.findUniqueOrThrow({ where: { id: ids[0]! } });
  assert.equal(first.agentDeliveredSeq, 5);

  // Receipts that move nothing (already there) write nothing and tell nobody.
  for (const id of ids) batcher.ack({ organizationId: org.id, conversationId: id, side: 'agent', seq: 4 });
  await batcher.flush();
  assert.equal(delivered.length, 40);
});

test("a receipt naming another organization's conversation moves nothing", async () => {
  const a = await createOrg(app.services);
  const b = await createOrg(app.services);
  const { conversation } = await createConversation(app.services, {
    organizationId: a.org.id,
    channelId: a.channelId,
  });
  const prisma = app.database.prisma;
  await prisma.conversation.update({ where: { id: conversation.id }, data: { lastSeq: 3 } });
  const bus = createEventBus(() => {});
  let told = 0;
  bus.subscribe('messages.delivered', () => void (told += 1));
  const batcher = createDeliveryBatcher({ db: prisma, bus, flushMs: 60_000 });
  batcher.ack({ organizationId: b.org.id, conversationId: conversation.id, side: 'end_user', seq: 3 });
  await batcher.flush();
  assert.equal(told, 0);
  const row = await prisma.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
  assert.equal(row.visitorDeliveredSeq, 0);
});

test('receipts taken while the database is away are written when it is back', async () => {
  const { org, channelId } = await createOrg(app.services);
  const { conversation } = await createConversation(app.services, { organizationId: org.id, channelId });
  await app.database.prisma.conversation.update({ where: { id: conversation.id }, data: { lastSeq: 4 } });

  const target = new URL(testDatabaseUrl());
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const proxied = openPostgres(proxy.url(testDatabaseUrl()), {
    poolSize: 2,
    timeouts: { connectMs: 1000, statementMs: 2000, queryMs: 3000 },
  });
  try {
    const bus = createEventBus(() => {});
    const delivered: DomainEvents['messages.delivered'][] = [];
    bus.subscribe('messages.delivered', (e) => void delivered.push(e));
    const batcher = createDeliveryBatcher({ db: proxied.prisma, bus, flushMs: 60_000 });

    proxy.set('refuse');
    batcher.ack({ organizationId: org.id, conversationId: conversation.id, side: 'end_user', seq: 3 });
    await batcher.flush();
    assert.equal(delivered.length, 0);
    const during = await app.database.prisma.conversation.findUniqueOrThrow({
      where: { id: conversation.id },
    });
    assert.equal(during.visitorDeliveredSeq, 0);

    // Nothing new is received meanwhile: the waiting receipt alone is written once it is back.
    proxy.set('pass');
    await batcher.flush();
    assert.deepEqual(
      delivered.map((e) => [e.conversationId, e.recipientType, e.seq]),
      [[conversation.id, 'end_user', 3]],
    );
    const after = await app.database.prisma.conversation.findUniqueOrThrow({
      where: { id: conversation.id },
    });
    assert.equal(after.visitorDeliveredSeq, 3);
  } finally {
    proxy.set('pass');
    await proxied.close();
    await proxy.close();
  }
});
