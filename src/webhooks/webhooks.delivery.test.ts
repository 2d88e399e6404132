// Webhook delivery guarantees end to end (issue 17, parts 3 and 4; README "Webhooks"), each on a
// PostgreSQL database of its own so that no other worker takes its events: any 2xx completes a
// delivery; the outbox row lives and dies with the transaction of its cause; several workers
// claiming at once deliver each event once, a conversation's in order, and skip rows another holds
// rather than wait; the retry waits follow `webhookBackoffMs`; and a callback host that resolves to
// loopback is refused when connecting, on a node without WEBHOOK_ALLOW_PRIVATE.
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { createLogger } from '../shared/logger.js';
import { openPostgres } from '../shared/db.js';
import { startApp } from '../../test/helpers/app.js';
import { testConfig } from '../../test/helpers/config.js';
import { freshPostgresDatabase } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { signedCall, SHOP, type SignedTenant } from '../../test/helpers/relay.js';
import { eventually } from '../../test/helpers/sockets.js';
import { startWebhookReceiver, stringToSign } from '../../test/helpers/webhook-receiver.js';
import { webhookPolicy } from './webhooks.js';
import { createWebhookWorker, type WebhookPolicy } from './webhooks.worker.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

/** One test's world: a fresh database, an app serving the signed API (it delivers nothing itself). */
async function world(t: TestContext, env: Record<string, string> = { WEBHOOK_ALLOW_PRIVATE: 'true' }) {
  const fresh = await freshPostgresDatabase();
  const database = await openPostgres(fresh.url, { poolSize: 4 });
  await database.migrate();
  const app = await startApp(database, { env: { ADMIN_KEY, ...env } });
  const secrets = new Map<string, string>();
  const cleanups: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
    await app.stop();
    await database.close();
    await fresh.drop();
  });
  const call = (tn: SignedTenant, method: string, path: string, json?: unknown) =>
    signedCall(app.url, tn, method, `/api/v1/relay${path}`, json);
  return {
    app,
    database,
    url: fresh.url,
    secrets,
    call,
    /** Runs `fn` when the test ends, before the database goes (newest first). */
    onEnd: (fn: () => Promise<unknown>) => cleanups.push(fn),
    async provision(callbackUrl?: string): Promise<SignedTenant> {
      const res = await fetch(`${app.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({
          tenant_name: `Delivery ${randomUUID().slice(0, 6)}`,
          allowed_origins: [SHOP],
          rate_limit_per_min: 1_000_000,
          ...(callbackUrl ? { callback_base_url: callbackUrl } : {}),
        }),
      });
      const body = (await res.json()) as { data: { tenant_id: string; tenant_secret: string } };
      assert.equal(res.status, 201, JSON.stringify(body));
      const tn = { id: body.data.tenant_id, secret: body.data.tenant_secret };
      secrets.set(tn.id, tn.secret);
      return tn;
    },
    async open(tn: SignedTenant, userId: string) {
      const res = await call(tn, 'POST', '/conversations', { visitor_user_id: userId });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return String(res.body.data!.conversation_id);
    },
    async say(tn: SignedTenant, conversationId: string, content: string) {
      const res = await call(tn, 'POST', `/conversations/${conversationId}/messages`, {
        role: 'visitor',
        content,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.data as { id: string; seq: number };
    },
    async sendTest(tn: SignedTenant, event: string) {
      const res = await call(tn, 'POST', '/webhooks/test', { event });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return String(res.body.data!.id);
    },
    /** A worker of its own on this database (its own pool), as a node runs one; stopped at the end. */
    async worker(o: Partial<WebhookPolicy> = {}, logs?: Record<string, unknown>[]) {
      const db = await openPostgres(fresh.url, { poolSize: 3 });
      const config = testConfig();
      let sent = 0;
      const w = createWebhookWorker({
        db: db.prisma,
        encryptionKey: config.encryptionKey,
        logger: createLogger('info', {
          write: (line: string) => void logs?.push(JSON.parse(line) as Record<string, unknown>),
        }),
        policy: { ...webhookPolicy(config), retryBaseMs: 50, timeoutMs: 3000, ...o },
        usage: { countWebhookSent: () => void (sent += 1) },
      });
      cleanups.push(async () => {
        await w.stop();
        await db.close();
      });
      return { ...w, sent: () => sent };
    },
  };
}

type Hit = {
  path: string;
  event: string;
  id: string;
  conversationId: string | null;
  data: Record<string, unknown>;
  verified: boolean;
  status: number;
};

/**
 * A bare receiver for answers the shared one does not give (an empty 202, a delay): it checks each
 * call's HMAC#1 signature with the recipe of docs/hmac.md (the test helper's string to sign, not
 * the product's signer) and answers what `answer` says.
 */
async function bareReceiver(
  secretOf: (tenantId: string) => string | undefined,
  answer: (n: number) => { status: number; body?: string; delayMs?: number },
) {
  const hits: Hit[] = [];
  let n = 0;
  const header = (h: IncomingHttpHeaders, k: string) => String(h[k] ?? '');
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const h = req.headers;
      const secret = secretOf(header(h, 'x-relay-tenant'));
      const toSign = stringToSign(
        req.method ?? '',
        req.url ?? '',
        header(h, 'x-relay-timestamp'),
        header(h, 'x-relay-nonce'),
        raw,
      );
      const verified =
        secret !== undefined &&
        header(h, 'x-relay-signature') === `v1=${createHmac('sha256', secret).update(toSign).digest('hex')}`;
      const body = JSON.parse(raw.toString('utf8')) as {
        id: string;
        type: string;
        data: Record<string, unknown>;
      };
      const a = answer(n++);
      hits.push({
        path: req.url ?? '',
        event: (req.url ?? '').split('/').at(-1) ?? '',
        id: body.id,
        conversationId: (body.data.conversation_id as string | undefined) ?? null,
        data: body.data,
        verified,
        status: a.status,
      });
      const reply = () => {
        res.writeHead(a.status, a.body ? { 'content-type': 'application/json' } : {});
        res.end(a.body ?? '');
      };
      if (a.delayMs) setTimeout(reply, a.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cb`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Detail = {
  status: 'pending' | 'delivered' | 'failed';
  last_status_code: number | null;
  last_error: string | null;
  attempt_log: {
    attempt: number;
    status_code: number | null;
    ok: boolean;
    error: string | null;
    response_excerpt: string | null;
    at: string;
  }[];
};

/** `deliveries/:id` once `check` holds (polled until the deadline). */
async function deliveryWhen(
  w: Awaited<ReturnType<typeof world>>,
  tn: SignedTenant,
  id: string,
  check: (d: Detail) => boolean,
  timeoutMs = 10_000,
): Promise<Detail> {
  let last: Detail | undefined;
  await eventually(async () => {
    const res = await w.call(tn, 'GET', `/webhooks/deliveries/${id}`);
    last = res.body.data as unknown as Detail;
    return res.status === 200 && check(last);
  }, timeoutMs).catch(() => assert.fail(`delivery ${id} never matched; last: ${JSON.stringify(last)}`));
  return last!;
}

describe('webhook delivery guarantees', { concurrency: 1 }, () => {
  test('any 2xx completes a delivery: 204, 202 with an empty body, 201', async (t) => {
    const w = await world(t);
    const answers = [{ status: 204 }, { status: 202, body: '' }, { status: 201, body: '{"ok":1}' }];
    const r = await bareReceiver(
      (id) => w.secrets.get(id),
      (n) => answers[n] ?? { status: 500 },
    );
    w.onEnd(r.close);
    const tn = await w.provision(r.url);
    const worker = await w.worker();
    // One after the other, so each meets its scripted answer.
    const ids: string[] = [];
    worker.start(50);
    for (const event of ['ticket-created', 'ticket-assigned', 'ticket-resolved']) {
      const id = await w.sendTest(tn, event);
      ids.push(id);
      await deliveryWhen(w, tn, id, (d) => d.status !== 'pending');
    }
    for (const [i, id] of ids.entries()) {
      const d = await deliveryWhen(w, tn, id, (x) => x.status === 'delivered');
      assert.equal(d.last_status_code, answers[i]!.status);
      assert.equal(d.last_error, null);
      assert.equal(d.attempt_log.length, 1, `${answers[i]!.status}: one attempt`);
      const [a] = d.attempt_log;
      assert.deepEqual([a!.status_code, a!.ok, a!.error], [answers[i]!.status, true, null]);
      assert.equal(a!.response_excerpt, answers[i]!.body || null);
    }
    assert.deepEqual(
      r.hits.map((h) => [h.id, h.status, h.verified]),
      ids.map((id, i) => [id, answers[i]!.status, true]),
    );
    assert.equal(worker.sent(), 3);
  });

  test('the outbox: an event row is written in the transaction of its cause and rolls back with it', async (t) => {
    const w = await world(t);
    const r = await startWebhookReceiver({ secrets: (id) => w.secrets.get(id) });
    w.onEnd(r.close);
    const tn = await w.provision(r.url);
    const convId = await w.open(tn, 'rollback-user');
    await w.say(tn, convId, 'first');
    const agent = await createAgent(w.app.services, tn.id);
    const prisma = w.database.prisma;
    const events = async () =>
      (
        await prisma.webhookEvent.findMany({
          where: { conversationId: convId },
          orderBy: { position: 'asc' },
        })
      ).map((e) => e.type);
    assert.deepEqual(await events(), ['conversation-started', 'message-received']);
    const session = await prisma.conversationSession.findFirstOrThrow({
      where: { conversationId: convId, status: 'open' },
    });

    // The causes as the product writes them (a claim of the session, a stored message), in one
    // transaction: their events are there inside it, and gone with it.
    const causes = async (tx: Pick<typeof prisma, '$executeRaw'>, content: string) => {
      await tx.$executeRaw`
        UPDATE conversation_sessions SET assigned_agent_id = ${agent.user.id}::uuid WHERE id = ${session.id}::uuid`;
      await tx.$executeRaw`
        INSERT INTO messages (id, organization_id, conversation_id, session_id, sender_type, sender_id,
          content_type, content, created_at)
        VALUES (${randomUUID()}::uuid, ${tn.id}::uuid, ${convId}::uuid, ${session.id}::uuid,
          'system'::"SenderType", 'system', 'text'::"ContentType", ${content}, now())`;
    };
    let inside: string[] = [];
    await assert.rejects(
      prisma.$transaction(async (tx) => {
        await causes(tx, 'rolled back');
        inside = (
          await tx.webhookEvent.findMany({ where: { conversationId: convId }, orderBy: { position: 'asc' } })
        ).map((e) => e.type);
        throw new Error('the cause fails after its events were queued');
      }),
      /the cause fails/,
    );
    assert.deepEqual(inside, [
      'conversation-started',
      'message-received',
      'agent-assigned',
      'message-received',
    ]);
    assert.deepEqual(await events(), ['conversation-started', 'message-received'], 'rolled back: no event');
    assert.equal(await prisma.message.count({ where: { conversationId: convId } }), 1);

    // Committed, the very same statements queue the events.
    await prisma.$transaction(async (tx) => causes(tx, 'committed'));
    assert.deepEqual(await events(), [
      'conversation-started',
      'message-received',
      'agent-assigned',
      'message-received',
    ]);

    // Through the signed API: a send whose transaction fails at COMMIT (a deferred check, after
    // every trigger ran) leaves no message, no session and no event; the next one queues both.
    await w.database.prisma.$executeRawUnsafe(`
      CREATE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.content LIKE '%[fail-at-commit]%' THEN RAISE EXCEPTION 'test: fails at commit'; END IF;
        RETURN NULL;
      END $$`);
    await w.database.prisma.$executeRawUnsafe(`
      CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON messages
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit()`);
    const other = await w.open(tn, 'commit-fails');
    const failed = await w.call(tn, 'POST', `/conversations/${other}/messages`, {
      role: 'visitor',
      content: 'Hello [fail-at-commit]',
    });
    assert.ok(failed.status >= 500, `${failed.status} ${JSON.stringify(failed.body)}`);
    assert.equal(await prisma.message.count({ where: { conversationId: other } }), 0);
    assert.equal(await prisma.conversationSession.count({ where: { conversationId: other } }), 0);
    assert.equal(await prisma.webhookEvent.count({ where: { conversationId: other } }), 0);
    await w.say(tn, other, 'Hello again');
    const queued = await prisma.webhookEvent.findMany({
      where: { conversationId: other },
      orderBy: { position: 'asc' },
    });
    assert.deepEqual(
      queued.map((e) => e.type),
      ['conversation-started', 'message-received'],
    );

    // And the worker sends what committed, nothing of what did not.
    const worker = await w.worker();
    worker.start(50);
    await r.waitFor((x) => x.status === 200, 10_000, 6);
    // Each conversation's in order (the two conversations' events may interleave).
    const of = (id: string) =>
      r
        .events()
        .filter((x) => x.body!.data.conversation_id === id)
        .map((x) => [x.event, (x.body!.data.message as { content?: string } | undefined)?.content]);
    assert.deepEqual(of(convId), [
      ['conversation-started', undefined],
      ['message-received', 'first'],
      ['agent-assigned', undefined],
      ['message-received', 'committed'],
    ]);
    assert.deepEqual(of(other), [
      ['conversation-started', undefined],
      ['message-received', 'Hello again'],
    ]);
    assert.equal(r.requests.length, 6);
    assert.ok(!r.requests.some((x) => x.rawBody.toString().includes('rolled back')));
    assert.ok(!r.requests.some((x) => x.rawBody.toString().includes('[fail-at-commit]')));
  });

  test('three workers claiming at once: every event delivered once, each conversation in order', async (t) => {
    const w = await world(t);
    // Answers take a few ms, so the workers' batches overlap; the first three calls fail.
    const r = await bareReceiver(
      (id) => w.secrets.get(id),
      (n) =>
        n < 3
          ? { status: 500, delayMs: 5 }
          : { status: 200, body: '{"received":true}', delayMs: 5 + (n % 7) },
    );
    w.onEnd(r.close);
    const tn = await w.provision(r.url);
    const CONVERSATIONS = 6;
    const convs = await Promise.all(Array.from({ length: CONVERSATIONS }, (_, i) => w.open(tn, `busy-${i}`)));
    const talk = (from: number, to: number) =>
      Promise.all(
        convs.map(async (id) => {
          for (let i = from; i <= to; i++) await w.say(tn, id, `m${i}`);
        }),
      );
    // A backlog before any worker runs: 6 × (started + 4 messages), and 4 tenant-wide events.
    await talk(1, 4);
    for (let i = 0; i < 4; i++) await w.sendTest(tn, 'ticket-created');
    const workers = await Promise.all([0, 1, 2].map(() => w.worker()));
    for (const k of workers) k.start(50);
    // More while they deliver.
    await talk(5, 6);
    const total = CONVERSATIONS * 7 + 4;
    assert.equal(await w.database.prisma.webhookEvent.count({ where: { organizationId: tn.id } }), total);

    await eventually(
      async () => new Set(r.hits.filter((h) => h.status === 200).map((h) => h.id)).size >= total,
      30_000,
    ).catch(() => assert.fail(`${r.hits.length} calls, ${total} events`));
    await eventually(
      async () =>
        (await w.database.prisma.webhookEvent.count({
          where: { organizationId: tn.id, status: 'delivered' },
        })) === total,
    );
    assert.ok(r.hits.every((h) => h.verified));
    const ok = r.hits.filter((h) => h.status === 200);
    assert.equal(ok.length, total, 'each event delivered exactly once');
    assert.equal(new Set(ok.map((h) => h.id)).size, total);
    assert.equal(r.hits.length, total + 3, 'and the three refused calls retried once each');
    const attempts = await w.database.prisma.webhookAttempt.count({
      where: { event: { organizationId: tn.id } },
    });
    assert.equal(attempts, total + 3, 'one attempt logged per call');

    for (const id of convs) {
      const mine = r.hits.filter((h) => h.conversationId === id);
      const seqOf = (h: Hit) =>
        h.event === 'conversation-started' ? 0 : (h.data.message as { seq: number }).seq;
      const delivered = mine.filter((h) => h.status === 200);
      assert.deepEqual(
        delivered.map(seqOf),
        [0, 1, 2, 3, 4, 5, 6],
        `conversation ${id}: ${JSON.stringify(mine.map((h) => [seqOf(h), h.status]))}`,
      );
      // Calls included: nothing overtook an event before it was delivered.
      const calls = mine.map(seqOf);
      assert.deepEqual(
        calls,
        [...calls].sort((a, b) => a - b),
        `conversation ${id} calls in order`,
      );
    }
    const shares = workers.map((k) => k.sent());
    t.diagnostic(`deliveries per worker: ${shares.join(', ')}`);
    assert.equal(
      shares.reduce((a, b) => a + b, 0),
      total,
      `deliveries per worker: ${shares.join(', ')}`,
    );
    assert.ok(shares.filter((s) => s > 0).length >= 2, `the work was shared: ${shares.join(', ')}`);
  });

  test('a row another claimer holds is skipped, not waited for; its conversation waits behind it', async (t) => {
    const w = await world(t);
    const r = await startWebhookReceiver({ secrets: (id) => w.secrets.get(id) });
    w.onEnd(r.close);
    const tn = await w.provision(r.url);
    const [held, free] = [await w.open(tn, 'held'), await w.open(tn, 'free')];
    for (const id of [held, free]) for (const c of ['one', 'two']) await w.say(tn, id, c);

    // Another claimer's transaction holds the head of `held`, as a worker mid-claim would.
    const locker = new pg.Client({ connectionString: w.url });
    await locker.connect();
    w.onEnd(() => locker.end());
    await locker.query('BEGIN');
    const locked = await locker.query<{ id: string }>(
      `SELECT id FROM webhook_events WHERE conversation_id = $1 ORDER BY position LIMIT 1 FOR UPDATE`,
      [held],
    );
    assert.equal(locked.rowCount, 1);

    const worker = await w.worker();
    worker.start(50);
    // The other conversation goes through, one event per pass, while the head stays locked.
    const freeHooks = await r.waitFor(
      (x) => x.body?.data.conversation_id === free && x.status === 200,
      10_000,
      3,
    );
    assert.deepEqual(
      freeHooks.map((x) => x.event),
      ['conversation-started', 'message-received', 'message-received'],
    );
    assert.equal(r.requests.filter((x) => x.body?.data.conversation_id === held).length, 0);
    const head = await w.database.prisma.webhookEvent.findUniqueOrThrow({
      where: { id: locked.rows[0]!.id },
    });
    assert.deepEqual([head.status, head.attempts], ['pending', 0], 'not claimed under the lock');

    await locker.query('COMMIT');
    const heldHooks = await r.waitFor(
      (x) => x.body?.data.conversation_id === held && x.status === 200,
      10_000,
      3,
    );
    assert.deepEqual(
      heldHooks.map((x) => [x.event, (x.body!.data.message as { content?: string } | undefined)?.content]),
      [
        ['conversation-started', undefined],
        ['message-received', 'one'],
        ['message-received', 'two'],
      ],
    );
    assert.equal(heldHooks[0]!.body!.id, locked.rows[0]!.id);
  });

  test('retries wait as webhookBackoffMs says: ×3 per attempt from WEBHOOK_RETRY_BASE_MS, ±20 %', async (t) => {
    const w = await world(t);
    const r = await startWebhookReceiver({ secrets: (id) => w.secrets.get(id) });
    w.onEnd(r.close);
    await r.set(503);
    const tn = await w.provision(r.url);
    const BASE = 1000;
    const POLL = 200;
    const worker = await w.worker({ retryBaseMs: BASE, maxAttempts: 3 });
    worker.start(POLL);
    const id = await w.sendTest(tn, 'escalation-triggered');
    const d = await deliveryWhen(w, tn, id, (x) => x.status === 'failed', 15_000);
    assert.equal(d.attempt_log.length, 3);
    assert.equal(r.requests.length, 3);
    const at = d.attempt_log.map((a) => Date.parse(a.at));
    const gaps = [at[1]! - at[0]!, at[2]! - at[1]!];
    // Never before the wait; after it, within a poll and some slack for a busy machine.
    const SLACK = POLL + 1000;
    assert.ok(gaps[0]! >= 0.8 * BASE && gaps[0]! <= 1.2 * BASE + SLACK, `first wait ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 0.8 * 3 * BASE && gaps[1]! <= 1.2 * 3 * BASE + SLACK, `second wait ${gaps[1]} ms`);
  });

  test('a callback host resolving to loopback is refused when connecting, without WEBHOOK_ALLOW_PRIVATE', async (t) => {
    // The API node is strict too: it would not have saved this URL.
    const w = await world(t, {});
    assert.equal(w.app.config.webhooks.allowPrivate, false);
    const r = await startWebhookReceiver({ secrets: (id) => w.secrets.get(id) });
    w.onEnd(r.close);
    const tn = await w.provision();
    const url = `http://localhost:${r.port}/hooks`;
    const refused = await w.call(tn, 'PUT', '/webhooks', { callback_base_url: url });
    assert.equal(refused.body.error, 'webhook/url_refused');
    // Stored directly, as a URL saved under another policy (or a name re-pointed later) would be.
    await w.database.prisma.organization.update({ where: { id: tn.id }, data: { webhookUrl: url } });

    const logs: Record<string, unknown>[] = [];
    const strict = await w.worker({ allowPrivate: false, maxAttempts: 2 }, logs);
    strict.start(50);
    const id = await w.sendTest(tn, 'ticket-created');
    const d = await deliveryWhen(w, tn, id, (x) => x.status === 'failed');
    assert.equal(d.attempt_log.length, 2);
    for (const a of d.attempt_log) {
      assert.equal(a.status_code, null);
      assert.equal(a.ok, false);
      assert.match(
        String(a.error),
        /^EADDRREFUSED: localhost resolves to (127\.0\.0\.1|::1), not a public address/,
      );
    }
    assert.match(String(d.last_error), /EADDRREFUSED/);
    assert.equal(r.requests.length, 0, 'the receiver got nothing');
    assert.equal(strict.sent(), 0);
    const logged = logs.filter((l) => l.eventId === id);
    assert.deepEqual(
      logged.map((l) => l.msg),
      ['webhook not delivered; will retry', 'webhook not delivered; giving up'],
    );
    assert.ok(logged.every((l) => /EADDRREFUSED/.test(String(l.error))));

    // The same URL is reachable: a node that allows private addresses delivers the redelivery.
    await strict.stop();
    const permissive = await w.worker({ allowPrivate: true });
    permissive.start(50);
    const again = await w.call(tn, 'POST', `/webhooks/deliveries/${id}/redeliver`);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    const [hook] = await r.waitFor((x) => x.body?.id === id && x.status === 200);
    assert.equal(hook!.verified, true);
    assert.equal(hook!.path, '/hooks/api/v1/chat-callbacks/ticket-created');
  });
});
