// Signed webhooks end to end (issue 17; the contract: README.md, section "Webhooks"): a real
// receiver on loopback checks every call with its own HMAC#1 verifier
// (test/helpers/webhook-receiver.ts), and a Python one with the standard library only.
// Configuration, the live events and their data, the four test events, per-conversation order,
// retries with their attempt log, failure and redelivery, secret rotation, the receiver's replay
// and window checks, and a node killed mid-delivery.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { openPostgres, type Database } from '../shared/db.js';
import { freshPostgresDatabase } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent } from '../../test/helpers/factories.js';
import { agentHttp, ISO_8601, type AgentSession } from '../../test/helpers/http.js';
import { rootDir, startServer, type RunningServer } from '../../test/helpers/process.js';
import { createTenant, signedCall, SHOP, type SignedTenant } from '../../test/helpers/relay.js';
import { servicesFor } from '../../test/helpers/services.js';
import { eventually } from '../../test/helpers/sockets.js';
import {
  hmac1Headers,
  startWebhookReceiver,
  stringToSign,
  type ReceivedHook,
  type WebhookReceiver,
} from '../../test/helpers/webhook-receiver.js';

// Debian's interpreter, as the other Python tests use; the receiver needs nothing but the stdlib.
const PYTHON = '/usr/bin/python3';
const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;
const EVENTS = [
  'conversation-started',
  'message-received',
  'ticket-created',
  'ticket-assigned',
  'ticket-resolved',
  'escalation-triggered',
  'agent-assigned',
  'agent-released',
  'agent-resolved',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Fast retries for every app of this file; the receivers are on loopback. */
const WEBHOOK_ENV = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_BASE_MS: '50',
  WEBHOOK_TIMEOUT_MS: '3000',
};

type Delivery = {
  id: string;
  event: string;
  conversation_id: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
};
type Attempt = {
  attempt: number;
  status_code: number | null;
  ok: boolean;
  error: string | null;
  latency_ms: number;
  response_excerpt: string | null;
  url: string;
  at: string;
};
/** `GET deliveries/:id`: the delivery, its `attempts` being the log (contract). */
type Detail = Delivery & { attempt_log: Attempt[] };

/** The secret(s) each tenant may sign with, as the receivers know them (tests rotate them here). */
const secrets = new Map<string, string[]>();
/** Receivers that know `secrets`, all closed together by `closeAll`. */
function receiverPool() {
  const open: WebhookReceiver[] = [];
  return {
    async make(): Promise<WebhookReceiver> {
      const r = await startWebhookReceiver({ secrets: (tenantId) => secrets.get(tenantId) });
      open.push(r);
      return r;
    },
    closeAll: () => Promise.all(open.splice(0).map((r) => r.close())),
  };
}

/** The signed API of one app, for one tenant. */
function api(baseUrl: string) {
  const call = (tn: SignedTenant, method: string, path: string, json?: unknown) =>
    signedCall(baseUrl, tn, method, `/api/v1/relay${path}`, json);
  return {
    call,
    async provision(extra: Record<string, unknown> = {}): Promise<SignedTenant> {
      const res = await fetch(`${baseUrl}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({
          tenant_name: `Hooks ${randomUUID().slice(0, 6)}`,
          allowed_origins: [SHOP],
          rate_limit_per_min: 1_000_000,
          ...extra,
        }),
      });
      const body = (await res.json()) as { data: { tenant_id: string; tenant_secret: string } };
      assert.equal(res.status, 201, JSON.stringify(body));
      const tn = { id: body.data.tenant_id, secret: body.data.tenant_secret };
      secrets.set(tn.id, [tn.secret]);
      return tn;
    },
    async configure(tn: SignedTenant, url: string | null, events?: string[]) {
      const res = await call(tn, 'PUT', '/webhooks', {
        callback_base_url: url,
        ...(events ? { events } : {}),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.data as { callback_base_url: string | null; events: string[] };
    },
    async sendTest(tn: SignedTenant, event?: string): Promise<Delivery> {
      const res = await call(tn, 'POST', '/webhooks/test', event ? { event } : {});
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.data as Delivery;
    },
    /** `deliveries/:id` once `check` holds (polled): the delivery with its attempts log. */
    async deliveryWhen(tn: SignedTenant, id: string, check: (d: Detail) => boolean, timeoutMs = 10_000) {
      let last: Detail | undefined;
      try {
        await eventually(async () => {
          const res = await call(tn, 'GET', `/webhooks/deliveries/${id}`);
          last = res.body.data as unknown as Detail;
          return res.status === 200 && check(last);
        }, timeoutMs);
      } catch {
        assert.fail(`delivery ${id} never matched; last: ${JSON.stringify(last)}`);
      }
      return last!;
    },
    async openConversation(tn: SignedTenant, userId: string, extra: Record<string, unknown> = {}) {
      const res = await call(tn, 'POST', '/conversations', { visitor_user_id: userId, ...extra });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return String(res.body.data!.conversation_id);
    },
    async say(tn: SignedTenant, conversationId: string, content: string, role = 'visitor') {
      const res = await call(tn, 'POST', `/conversations/${conversationId}/messages`, { role, content });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.data as { id: string; seq: number; content: string };
    },
  };
}

/** What every call must carry, whatever the event (contract: "The HTTP call the receiver gets"). */
function assertWellFormed(r: ReceivedHook, tenantId: string, prefix = '/hooks') {
  assert.equal(r.verified, true, `${r.event}: ${r.reason}`);
  assert.equal(r.method, 'POST');
  assert.equal(r.path, `${prefix}/api/v1/chat-callbacks/${r.event}`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(r.headers['user-agent'], 'Switchboard-Webhooks/1');
  assert.equal(r.headers['x-relay-tenant'], tenantId);
  assert.equal(r.headers['x-relay-event'], r.event);
  const body = r.body!;
  assert.equal(r.headers['x-relay-event-id'], body.id);
  assert.ok(r.attempt >= 1, `X-Relay-Attempt ${String(r.headers['x-relay-attempt'])}`);
  assert.match(body.id, UUID);
  assert.equal(body.type, r.event);
  assert.equal(body.tenant_id, tenantId);
  assert.match(body.created_at, ISO_8601);
  assert.equal(typeof body.data, 'object');
}

/**
 * The contract's fields of `actual` equal `expected` (agents compared whole); fields the contract
 * does not name are tolerated here and listed in the failure message when something differs.
 */
function assertHas(actual: Record<string, unknown> | undefined, expected: Record<string, unknown>) {
  assert.ok(actual, 'no data');
  const picked = Object.fromEntries(Object.keys(expected).map((k) => [k, actual[k]]));
  assert.deepEqual(picked, expected, `got ${JSON.stringify(actual)}`);
}

const ofConversation = (r: WebhookReceiver, conversationId: string) =>
  r.events().filter((x) => x.body?.data.conversation_id === conversationId);

// The two suites run side by side (the crash one mostly waits for its server processes); the
// tests inside each run one after the other.
describe('webhooks end to end', { concurrency: 2 }, () => {
  describe('webhooks', { concurrency: 1 }, () => {
    const drops: (() => Promise<void>)[] = [];
    const pool = receiverPool();
    const receiver = pool.make;
    let app: TestApp;
    /** Same database, without WEBHOOK_ALLOW_PRIVATE and without a worker: it only refuses URLs. */
    let strict: TestApp;
    /** A database of its own, so no other worker retries its deliveries: gives up after 2. */
    let capped: TestApp;
    let A: ReturnType<typeof api>;

    before(async () => {
      // Databases of this file's own: server processes of other test files run workers on the
      // shared one, and a worker without WEBHOOK_ALLOW_PRIVATE could take these deliveries.
      const [fresh, freshCapped] = await Promise.all([freshPostgresDatabase(), freshPostgresDatabase()]);
      drops.push(fresh.drop, freshCapped.drop);
      const [database, strictDb, cappedDb] = await Promise.all([
        openPostgres(fresh.url, { poolSize: 5 }),
        openPostgres(fresh.url, { poolSize: 2 }),
        openPostgres(freshCapped.url, { poolSize: 3 }),
      ]);
      await Promise.all([database.migrate(), cappedDb.migrate()]);
      [app, strict, capped] = await Promise.all([
        startApp(database, { redis: true, env: { ADMIN_KEY, ...WEBHOOK_ENV } }),
        startApp(strictDb, { env: { ADMIN_KEY, WEBHOOK_WORKER: 'off' } }),
        startApp(cappedDb, { env: { ADMIN_KEY, ...WEBHOOK_ENV, WEBHOOK_MAX_ATTEMPTS: '2' } }),
      ]);
      // createApp leaves delivery to the caller (the server starts it unless WEBHOOK_WORKER=off).
      app.webhooks.start();
      capped.webhooks.start();
      A = api(app.url);
    });

    after(async () => {
      await pool.closeAll();
      for (const t of [app, strict, capped]) {
        await t?.stop();
        await t?.database.close();
      }
      for (const drop of drops) await drop();
    });

    test('the receiver verifier agrees with the published HMAC#1 vectors', () => {
      type Field = 'name' | 'tenant_id' | 'secret' | 'method' | 'path_and_query' | 'nonce' | 'body';
      type Vector = Record<Field | 'string_to_sign' | 'signature', string> & { timestamp: number };
      const { vectors } = JSON.parse(readFileSync(`${rootDir}/docs/hmac-vectors.json`, 'utf8')) as {
        vectors: Vector[];
      };
      for (const v of vectors) {
        const sts = stringToSign(v.method, v.path_and_query, String(v.timestamp), v.nonce, v.body);
        assert.equal(sts, v.string_to_sign, v.name);
        const h = hmac1Headers({
          tenantId: v.tenant_id,
          secret: v.secret,
          method: v.method,
          pathAndQuery: v.path_and_query,
          body: Buffer.from(v.body, 'utf8'),
          timestamp: Number(v.timestamp),
          nonce: v.nonce,
        });
        assert.equal(h['x-relay-signature'], `v1=${v.signature}`, v.name);
      }
    });

    test('configuration: defaults, validation, private URLs refused without WEBHOOK_ALLOW_PRIVATE', async () => {
      const tn = await A.provision();
      const S = api(strict.url);
      const got = await A.call(tn, 'GET', '/webhooks');
      assert.equal(got.status, 200, JSON.stringify(got.body));
      const data = got.body.data as {
        callback_base_url: string | null;
        events: string[];
        available_events: string[];
      };
      assert.equal(data.callback_base_url, null);
      assert.deepEqual([...data.events].sort(), [...EVENTS].sort());
      assert.deepEqual([...data.available_events].sort(), [...EVENTS].sort());

      const unconfigured = await A.call(tn, 'POST', '/webhooks/test', {});
      assert.equal(unconfigured.status, 409);
      assert.equal(unconfigured.body.error, 'webhook/not_configured');

      for (const url of [
        'http://127.0.0.1:9/hooks',
        'http://10.1.2.3/hooks',
        'http://192.168.0.20/hooks',
        'http://169.254.169.254/latest',
        'http://[::1]:8080/hooks',
        'http://localhost:8080/hooks',
      ]) {
        const res = await S.call(tn, 'PUT', '/webhooks', { callback_base_url: url });
        assert.equal(res.status, 400, `${url}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error, 'webhook/url_refused', url);
      }
      for (const body of [
        { callback_base_url: 'not a url' },
        { callback_base_url: 'https://93.184.216.34/hooks', events: ['no-such-event'] },
      ]) {
        const res = await S.call(tn, 'PUT', '/webhooks', body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error, 'request/invalid');
      }
      assert.equal(
        (await A.call(tn, 'POST', '/webhooks/test', { event: 'nope' })).body.error,
        'request/invalid',
      );

      // Provisioning with a callback URL is held to the same rule.
      const provisioned = await fetch(`${strict.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({ tenant_name: 'Private hook', callback_base_url: 'http://127.0.0.1:9/x' }),
      });
      const refusal = (await provisioned.json()) as { error?: string };
      assert.equal(provisioned.status, 400, JSON.stringify(refusal));
      assert.equal(refusal.error, 'webhook/url_refused');

      // A public address is fine anywhere; events narrow what is sent.
      const pub = await S.configure(tn, 'https://93.184.216.34/base', ['message-received']);
      assert.equal(pub.callback_base_url, 'https://93.184.216.34/base');
      assert.deepEqual(pub.events, ['message-received']);
      // With WEBHOOK_ALLOW_PRIVATE a loopback receiver is accepted; events back to all nine.
      const r = await receiver();
      const mine = await A.configure(tn, r.url, EVENTS);
      assert.equal(mine.callback_base_url, r.url);
      assert.deepEqual([...mine.events].sort(), [...EVENTS].sort());
      assert.equal((await A.configure(tn, null)).callback_base_url, null);
    });

    test('live events: started, messages, assigned, released, transferred, resolved, reopened', async () => {
      const r = await receiver();
      // Provisioning takes the callback URL directly.
      const tn = await A.provision({ callback_base_url: r.url });
      const cfg = await A.call(tn, 'GET', '/webhooks');
      assert.equal(cfg.body.data!.callback_base_url, r.url);

      const [ann, bob] = await Promise.all(
        [0, 1].map(async () => {
          const a = await createAgent(app.services, tn.id);
          const session = await loginAgent(app.url, a.user.email, a.password);
          return { ...a, http: agentHttp(app.url, session) };
        }),
      );
      const agentDto = (a: typeof ann) => ({
        id: a!.user.id,
        external_id: a!.user.externalId ?? null,
        display_name: a!.user.displayName,
      });

      const id = await A.openConversation(tn, 'hook-user', {
        visitor_display_name: 'Ada',
        locale: 'en',
        metadata: { plan: 'pro' },
      });
      const conv = (await A.call(tn, 'GET', `/conversations/${id}`)).body.data!;
      const first = await A.say(tn, id, 'Hello there');
      await r.waitFor((x) => x.event === 'message-received' && x.body?.data.conversation_id === id);

      assert.equal((await ann!.http.post(`/api/conversations/${id}/assign`)).status, 200);
      await r.waitFor((x) => x.event === 'agent-assigned' && x.body?.data.conversation_id === id);
      assert.equal((await ann!.http.post(`/api/conversations/${id}/release`)).status, 200);
      assert.equal((await ann!.http.post(`/api/conversations/${id}/assign`)).status, 200);
      const moved = await ann!.http.post(`/api/conversations/${id}/transfer`, { agent_id: bob!.user.id });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      const bot = await A.say(tn, id, 'A bot says hi', 'bot');
      const resolved = await bob!.http.post(`/api/conversations/${id}/resolve`, {});
      assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
      const again = await A.say(tn, id, 'One more question');

      const expected = [
        'conversation-started',
        'message-received',
        'agent-assigned',
        'agent-released',
        'agent-assigned',
        'agent-assigned',
        'message-received',
        'agent-resolved',
        'conversation-started',
        'message-received',
      ];
      await r.waitFor((x) => x.verified && x.body?.data.conversation_id === id, 15_000, expected.length);
      const got = ofConversation(r, id);
      assert.deepEqual(
        got.map((x) => x.event),
        expected,
      );
      for (const x of r.requests) assertWellFormed(x, tn.id);
      assert.equal(new Set(got.map((x) => x.body!.id)).size, expected.length, 'unique ids');
      assert.ok(got.every((x) => x.status === 200 && x.attempt === 1));

      const d = got.map((x) => x.body!.data as Record<string, unknown>);
      const sessionId = d[0]!.session_id;
      assert.equal(typeof sessionId, 'string');
      assertHas(d[0], {
        conversation_id: id,
        session_id: sessionId,
        visitor_user_id: 'hook-user',
        visitor_display_name: 'Ada',
        channel_id: d[0]!.channel_id,
        routing_key: conv.routing_key,
        locale: 'en',
        metadata: conv.metadata,
        reopened: false,
      });
      assert.equal(typeof d[0]!.channel_id, 'string');

      const msg = d[1]!.message as Record<string, unknown>;
      assert.equal(d[1]!.conversation_id, id);
      assert.equal(d[1]!.session_id, sessionId);
      assert.equal(msg.id, first.id);
      assert.equal(msg.seq, first.seq);
      assert.equal(msg.role, 'visitor');
      assert.equal(msg.content, 'Hello there');
      assert.equal(typeof msg.sender_id, 'string');
      assert.equal(typeof msg.content_type, 'string');
      assert.ok('rich_media' in msg);
      assert.match(String(msg.created_at), ISO_8601);

      assertHas(d[2], {
        conversation_id: id,
        session_id: sessionId,
        agent: agentDto(ann),
        previous_agent: null,
      });
      assertHas(d[3], { conversation_id: id, session_id: sessionId, agent: agentDto(ann) });
      assert.deepEqual(d[4]!.previous_agent, null);
      assertHas(d[5], {
        conversation_id: id,
        session_id: sessionId,
        agent: agentDto(bob),
        previous_agent: agentDto(ann),
      });
      const botMsg = d[6]!.message as Record<string, unknown>;
      assert.deepEqual([botMsg.id, botMsg.seq, botMsg.role], [bot.id, bot.seq, 'bot']);
      assertHas(d[7], { conversation_id: id, session_id: sessionId, agent: agentDto(bob) });
      assert.match(String(d[7]!.resolved_at), ISO_8601);
      assert.equal(Date.parse(String(d[7]!.resolved_at)), Date.parse(resolved.body.resolved_at));
      assert.equal(d[8]!.reopened, true);
      assert.notEqual(d[8]!.session_id, sessionId, 'a new session');
      const last = d[9]!.message as Record<string, unknown>;
      assert.deepEqual([last.id, last.seq, d[9]!.session_id], [again.id, again.seq, d[8]!.session_id]);

      // The delivery log has them all, delivered, with their conversation.
      const log = await A.call(tn, 'GET', `/webhooks/deliveries?limit=100&event=agent-assigned`);
      const items = (log.body.data as { items: Delivery[] }).items;
      assert.equal(items.length, 3);
      assert.ok(items.every((i) => i.conversation_id === id && i.event === 'agent-assigned'));
    });

    test('messages of a tenant without a webhook URL wake no worker; once it sets one, they do', async () => {
      const tn = await A.provision();
      const id = await A.openConversation(tn, 'quiet-user');
      // The first message opens a session (the full path, which cannot tell): it may wake one.
      await A.say(tn, id, 'Hello');
      const quiet = app.webhooks.kicks();
      for (const text of ['One', 'Two', 'Three']) await A.say(tn, id, text);
      assert.equal(app.webhooks.kicks(), quiet, 'no URL: nothing was queued, nobody looks');
      assert.equal(await app.database.prisma.webhookEvent.count({ where: { organizationId: tn.id } }), 0);

      const r = await receiver();
      await A.configure(tn, r.url);
      const said = await A.say(tn, id, 'Now with a receiver');
      assert.ok(app.webhooks.kicks() > quiet, 'a URL: the worker looks');
      const [hook] = await r.waitFor(
        (x) => x.event === 'message-received' && x.body?.data.conversation_id === id,
      );
      const message = hook!.body!.data.message as Record<string, unknown>;
      assert.equal(message.id, said.id);
      assert.equal(message.content, 'Now with a receiver');
    });

    test('ticket and escalation events through /webhooks/test; the delivery log pages newest first', async () => {
      const r = await receiver();
      const tn = await A.provision();
      await A.configure(tn, r.url);
      const types = ['ticket-created', 'ticket-assigned', 'ticket-resolved', 'escalation-triggered'];
      const sent: Delivery[] = [];
      for (const type of types) sent.push(await A.sendTest(tn, type));
      sent.push(await A.sendTest(tn)); // the default: conversation-started
      for (const [i, s] of sent.entries()) {
        assert.match(s.id, UUID);
        assert.equal(s.event, [...types, 'conversation-started'][i]);
        assert.ok(['pending', 'delivered'].includes(s.status), s.status);
        assert.match(s.created_at, ISO_8601);
      }
      await r.waitFor((x) => x.verified, 10_000, sent.length);
      for (const s of sent) {
        const hook = r.events(s.event).find((x) => x.body!.id === s.id);
        assert.ok(hook, `${s.event} ${s.id} received`);
        assertWellFormed(hook, tn.id);
        assert.equal(hook.body!.data.test, true);
      }
      const done = await A.deliveryWhen(tn, sent[0]!.id, (d) => d.status === 'delivered');
      assert.equal(done.attempt_log.length, 1);
      assert.equal(done.last_status_code, 200);
      assert.equal(done.conversation_id, null);
      assert.match(String(done.delivered_at), ISO_8601);
      assert.equal(done.next_attempt_at, null);
      for (const s of sent.slice(1)) await A.deliveryWhen(tn, s.id, (d) => d.status === 'delivered');

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const res = await A.call(tn, 'GET', `/webhooks/deliveries?limit=2${q}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const page = res.body.data as { items: Delivery[]; next_cursor: string | null };
        assert.ok(page.items.length <= 2);
        assert.ok(page.items.every((i) => typeof i.attempts === 'number'));
        seen.push(...page.items.map((i) => i.id));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      assert.deepEqual(seen, sent.map((s) => s.id).reverse());
      const filtered = await A.call(tn, 'GET', '/webhooks/deliveries?event=ticket-resolved&status=delivered');
      assert.deepEqual(
        (filtered.body.data as { items: Delivery[] }).items.map((i) => i.id),
        [sent[2]!.id],
      );
      const other = await A.provision();
      const foreign = await A.call(other, 'GET', `/webhooks/deliveries/${sent[0]!.id}`);
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.error, 'webhook/not_found');
    });

    test('order: the messages of a conversation arrive by seq, even across a retry', async () => {
      const r = await receiver();
      const tn = await A.provision();
      await A.configure(tn, r.url, ['message-received']);
      r.script(500); // the first call fails: the ones behind it must wait for its retry
      const id = await A.openConversation(tn, 'orderly');
      for (let i = 1; i <= 6; i++) await A.say(tn, id, `m${i}`);
      await r.waitFor((x) => x.status === 200, 10_000, 6);
      const seqs = r.requests.map((x) => (x.body!.data.message as { seq: number }).seq);
      assert.deepEqual(seqs, [1, 1, 2, 3, 4, 5, 6]);
      assert.deepEqual(
        r.requests.map((x) => x.status),
        [500, 200, 200, 200, 200, 200, 200],
      );
      assert.deepEqual(
        r.events().map((x) => (x.body!.data.message as { content: string }).content),
        ['m1', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'],
      );
      assert.ok(
        r.requests.every((x) => x.event === 'message-received'),
        'only the enabled event',
      );
    });

    test('retries: 500, 500, then 200 is one delivery with three attempts in its log', async () => {
      const r = await receiver();
      const tn = await A.provision();
      await A.configure(tn, r.url);
      r.script(500, 500);
      const sent = await A.sendTest(tn, 'ticket-created');
      const calls = await r.waitFor((x) => x.body?.id === sent.id, 10_000, 3);
      assert.deepEqual(
        calls.map((x) => [x.attempt, x.status]),
        [
          [1, 500],
          [2, 500],
          [3, 200],
        ],
      );
      for (const c of calls) assertWellFormed(c, tn.id);
      assert.ok(
        calls.every((c) => c.rawBody.equals(calls[0]!.rawBody)),
        'the same bytes every time',
      );
      assert.equal(new Set(calls.map((c) => c.headers['x-relay-nonce'])).size, 3, 'a nonce per attempt');

      const done = await A.deliveryWhen(tn, sent.id, (d) => d.status === 'delivered');
      assert.equal(done.last_status_code, 200);
      const attempts = done.attempt_log;
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.status_code, a.ok]),
        [
          [1, 500, false],
          [2, 500, false],
          [3, 200, true],
        ],
      );
      for (const a of attempts) {
        assert.equal(typeof a.latency_ms, 'number');
        assert.ok(a.latency_ms >= 0);
        assert.equal(a.url, `${r.url}/api/v1/chat-callbacks/ticket-created`);
        assert.match(a.at, ISO_8601);
      }
      assert.match(String(attempts[2]!.response_excerpt), /received/);
      assert.equal(attempts[2]!.error, null);
    });

    test('a redirect is not followed: it is a failed attempt, retried', async () => {
      const r = await receiver();
      const tn = await A.provision();
      await A.configure(tn, r.url);
      r.script(307);
      const sent = await A.sendTest(tn, 'ticket-created');
      const done = await A.deliveryWhen(tn, sent.id, (d) => d.status === 'delivered');
      assert.deepEqual(
        done.attempt_log.map((a) => [a.status_code, a.ok]),
        [
          [307, false],
          [200, true],
        ],
      );
      assert.deepEqual(
        r.requests.map((x) => [x.event, x.status]),
        [
          ['ticket-created', 307],
          ['ticket-created', 200],
        ],
      );
    });

    test('a receiver that never answers: the attempt times out (WEBHOOK_TIMEOUT_MS) and is retried', async () => {
      const r = await receiver();
      const tn = await A.provision();
      await A.configure(tn, r.url);
      r.script('hang');
      const sent = await A.sendTest(tn, 'ticket-resolved');
      const done = await A.deliveryWhen(tn, sent.id, (d) => d.status === 'delivered', 15_000);
      const [timedOut, ok] = done.attempt_log;
      assert.equal(done.attempt_log.length, 2);
      assert.deepEqual(
        [timedOut!.status_code, timedOut!.ok, typeof timedOut!.error],
        [null, false, 'string'],
      );
      assert.ok(timedOut!.latency_ms >= 2500, `waited ${timedOut!.latency_ms} ms of 3000`);
      assert.deepEqual([ok!.status_code, ok!.ok], [200, true]);
      assert.deepEqual(
        r.requests.map((x) => [x.attempt, x.status]),
        [
          [1, undefined],
          [2, 200],
        ],
      );
    });

    test('the console: admins configure, test and read the log over the session API', async () => {
      const r = await receiver();
      const tn = await A.provision();
      const [admin, plain] = (await Promise.all(
        (['admin', 'agent'] as const).map(async (role) => {
          const a = await createAgent(app.services, tn.id, { role });
          return loginAgent(app.url, a.user.email, a.password);
        }),
      )) as [AgentSession, AgentSession];
      const base = '/api/organization/webhooks';
      const put = (s: AgentSession, body: object, csrf = true) => {
        const req = request(app.url).put(base).set('Cookie', s.cookie);
        return (csrf ? req.set('X-CSRFToken', s.csrf) : req).send(body);
      };
      assert.equal((await put(admin, { callback_base_url: r.url }, false)).status, 403, 'CSRF');
      assert.equal((await put(plain, { callback_base_url: r.url })).status, 403, 'admins only');
      assert.equal((await agentHttp(app.url, plain).get(base)).status, 403);
      const saved = await put(admin, { callback_base_url: r.url, events: ['ticket-created'] });
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      assert.equal(saved.body.callback_base_url, r.url);
      assert.deepEqual(saved.body.events, ['ticket-created']);
      assert.equal(saved.body.status_code, undefined, 'no envelope');
      const signedView = await A.call(tn, 'GET', '/webhooks');
      assert.equal(signedView.body.data!.callback_base_url, r.url);

      const dash = agentHttp(app.url, admin);
      const sent = await dash.post(`${base}/test`, { event: 'ticket-created' });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      await r.waitFor((x) => x.body?.id === sent.body.id && x.status === 200);
      await eventually(
        async () => (await dash.get(`${base}/deliveries/${sent.body.id}`)).body.status === 'delivered',
      );
      const one = await dash.get(`${base}/deliveries/${sent.body.id}`);
      assert.equal(one.body.attempt_log.length, 1);
      assert.equal(one.body.attempt_log[0].status_code, 200);
      const list = await dash.get(`${base}/deliveries`);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.items.map((i: Delivery) => i.id),
        [sent.body.id],
      );
      const again = await dash.post(`${base}/deliveries/${sent.body.id}/redeliver`);
      assert.equal(again.status, 202);
      assert.equal(again.body.status, 'pending');
      await r.waitFor((x) => x.body?.id === sent.body.id && x.status === 200, 10_000, 2);
    });

    test('a receiver down for a while: everything arrives once it is back, in order', async () => {
      const r = await receiver();
      const tn = await A.provision();
      await A.configure(tn, r.url);
      await r.set('down');
      const id = await A.openConversation(tn, 'patient');
      for (let i = 1; i <= 3; i++) await A.say(tn, id, `while down ${i}`);
      const probe = await A.sendTest(tn, 'escalation-triggered');
      // Refused connections are retried: wait until it has failed twice, then come back.
      const failing = await A.deliveryWhen(tn, probe.id, (d) => d.attempt_log.length >= 2);
      assert.equal(failing.status, 'pending');
      assert.equal(failing.last_status_code, null);
      assert.ok(failing.last_error, 'the refusal is described');
      assert.deepEqual(
        failing.attempt_log.slice(0, 2).map((a) => [a.status_code, a.ok, typeof a.error]),
        [
          [null, false, 'string'],
          [null, false, 'string'],
        ],
      );
      assert.equal(r.requests.length, 0);

      await r.up();
      await r.waitFor((x) => x.status === 200, 15_000, 5);
      const conv = ofConversation(r, id);
      assert.deepEqual(
        conv.map((x) => x.event),
        ['conversation-started', 'message-received', 'message-received', 'message-received'],
      );
      assert.deepEqual(
        conv.slice(1).map((x) => (x.body!.data.message as { content: string }).content),
        ['while down 1', 'while down 2', 'while down 3'],
      );
      assert.ok(r.events('escalation-triggered').some((x) => x.body!.id === probe.id));
      const all = await A.call(tn, 'GET', '/webhooks/deliveries?limit=100');
      const items = (all.body.data as { items: Delivery[] }).items;
      assert.equal(items.length, 5);
      await eventually(async () => {
        const res = await A.call(tn, 'GET', '/webhooks/deliveries?status=delivered&limit=100');
        return (res.body.data as { items: Delivery[] }).items.length === 5;
      });
    });

    test('failed for good after WEBHOOK_MAX_ATTEMPTS, then redelivered on request', async () => {
      const C = api(capped.url);
      const r = await receiver();
      const tn = await C.provision();
      await C.configure(tn, r.url);
      await r.set(503);
      const sent = await C.sendTest(tn, 'ticket-assigned');
      const failed = await C.deliveryWhen(tn, sent.id, (d) => d.status === 'failed');
      assert.equal(failed.attempt_log.length, 2);
      assert.equal(failed.last_status_code, 503);
      assert.equal(failed.next_attempt_at, null);
      assert.equal(failed.delivered_at, null);
      assert.equal(r.requests.length, 2);
      const list = await C.call(tn, 'GET', '/webhooks/deliveries?status=failed');
      assert.deepEqual(
        (list.body.data as { items: Delivery[] }).items.map((i) => i.id),
        [sent.id],
      );

      await r.set('ok');
      const again = await C.call(tn, 'POST', `/webhooks/deliveries/${sent.id}/redeliver`);
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.equal(again.body.data!.id, sent.id);
      assert.equal(again.body.data!.status, 'pending');
      const done = await C.deliveryWhen(tn, sent.id, (d) => d.status === 'delivered');
      assert.equal(done.last_status_code, 200);
      const ok = r.events('ticket-assigned').filter((x) => x.status === 200);
      assert.equal(ok.length, 1);
      assert.equal(ok[0]!.body!.id, sent.id, 'the same event id');
      assert.ok(ok[0]!.rawBody.equals(r.requests[0]!.rawBody), 'the same body bytes');

      const unknown = await C.call(tn, 'POST', `/webhooks/deliveries/${randomUUID()}/redeliver`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error, 'webhook/not_found');
      const other = await C.provision();
      const foreign = await C.call(other, 'POST', `/webhooks/deliveries/${sent.id}/redeliver`);
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.error, 'webhook/not_found');
    });

    test('a rotated tenant secret signs the webhooks that follow', async () => {
      const r = await receiver();
      const tn = await A.provision();
      const old = tn.secret;
      await A.configure(tn, r.url);
      const before1 = await A.sendTest(tn, 'ticket-created');
      await r.waitFor((x) => x.body?.id === before1.id && x.verified);

      const rotated = await A.call(tn, 'POST', '/rotate/tenant-secret', { grace_hours: 1 });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const fresh = { ...tn, secret: String(rotated.body.data!.tenant_secret) };
      secrets.set(tn.id, [fresh.secret]); // the receiver now knows only the new one
      const after1 = await A.sendTest(fresh, 'ticket-resolved');
      const [hook] = await r.waitFor((x) => x.body?.id === after1.id);
      assert.equal(hook!.verified, true, `signed with the new secret: ${hook!.reason}`);
      assert.notEqual(old, fresh.secret);
      // And not with the old one, which would not verify here.
      assert.ok(r.requests.every((x) => x.verified));
    });

    test("the receiver's recipe: a replayed webhook and a stale timestamp are refused", async () => {
      const r = await receiver();
      const tn = await A.provision();
      await A.configure(tn, r.url);
      const sent = await A.sendTest(tn);
      const [hook] = await r.waitFor((x) => x.body?.id === sent.id && x.verified);
      const replay = await r.replay(hook!);
      assert.deepEqual(replay, { status: 401, body: { error: 'replayed_nonce' } });
      const resign = (timestamp?: number) =>
        hmac1Headers({
          tenantId: tn.id,
          secret: tn.secret,
          method: 'POST',
          pathAndQuery: hook!.path,
          body: hook!.rawBody,
          ...(timestamp ? { timestamp } : {}),
        });
      const stale = await r.replay(hook!, resign(Math.floor(Date.now() / 1000) - 301));
      assert.deepEqual(stale, { status: 401, body: { error: 'stale_timestamp' } });
      assert.equal((await r.replay(hook!, resign())).status, 200, 'the same bytes freshly signed');
      const forged = await r.replay(hook!, { ...resign(), 'x-relay-signature': `v1=${'0'.repeat(64)}` });
      assert.equal(forged.status, 401);
    });

    test('a Python receiver (stdlib only) verifies real deliveries; its vectors mode passes', async () => {
      const vectors = await runPython([
        'test/python/webhook_receiver.py',
        '--vectors',
        'docs/hmac-vectors.json',
      ]);
      assert.equal(vectors.code, 0, vectors.stdout + vectors.stderr);
      const summary = JSON.parse(vectors.stdout.trim()) as { vectors: number; ok: number };
      assert.ok(summary.vectors >= 6);
      assert.equal(summary.ok, summary.vectors);

      const tn = await A.provision();
      const py = spawn(PYTHON, ['test/python/webhook_receiver.py', '0'], {
        cwd: rootDir,
        env: { PATH: process.env.PATH, WEBHOOK_SECRET: tn.secret },
      });
      try {
        const lines = pythonLines(py);
        await eventually(() => lines.length > 0);
        const port = Number((lines[0] as { listening: number }).listening);
        assert.ok(port > 0);
        await A.configure(tn, `http://127.0.0.1:${port}/py`);
        const id = await A.openConversation(tn, 'py-user');
        await A.say(tn, id, 'Grüße aus Python 🐍');
        await eventually(() => lines.filter((l) => l.verified === true).length >= 2);
        const got = lines.slice(1) as { event: string; id: string; verified: boolean; reason: unknown }[];
        assert.deepEqual(
          got.map((l) => [l.event, l.verified, l.reason]),
          [
            ['conversation-started', true, null],
            ['message-received', true, null],
          ],
        );
        assert.ok(got.every((l) => UUID.test(l.id)));
      } finally {
        py.kill();
      }
    });
  });

  describe('webhooks: a node killed while delivering', { concurrency: 1 }, () => {
    let dropDb: () => Promise<void>;
    let database: Database;
    const nodes: RunningServer[] = [];
    const pool = receiverPool();
    const receiver = pool.make;

    before(async () => {
      // Its own database: no other worker may take the delivery the killed node held.
      const fresh = await freshPostgresDatabase();
      dropDb = fresh.drop;
      database = await openPostgres(fresh.url, { poolSize: 2 });
      await database.migrate();
      env.DATABASE_URL = fresh.url;
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
      await pool.closeAll();
      await database?.close();
      await dropDb?.();
    });

    const env: Record<string, string> = {
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      SESSION_SECRET: 'webhook-crash-session-secret-webhook',
      // testConfig's key: the tenant below is made in this process, its secret encrypted with it.
      ENCRYPTION_KEY: '11'.repeat(32),
      REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}`,
      ADMIN_KEY,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_LEASE_S: '2',
      // Longer than the test: the first node must still be waiting when it is killed.
      WEBHOOK_TIMEOUT_MS: '30000',
    };

    test('SIGKILL mid-delivery: a second node on the same database delivers the same event', async () => {
      try {
        await crashAndRecover();
      } catch (err) {
        // The nodes' own logs say more than a timeout does.
        const logs = nodes.map(
          (n, i) => `--- node ${i} ---\n${n.stdout().slice(-3000)}${n.stderr().slice(-2000)}`,
        );
        throw Object.assign(err as Error, { message: `${(err as Error).message}\n${logs.join('\n')}` });
      }
    });

    async function crashAndRecover() {
      const { services } = servicesFor(database);
      const t = await createTenant(services, { rateLimitPerMin: 1_000_000 });
      const tn = { id: t.id, secret: t.secret };
      secrets.set(tn.id, [tn.secret]);
      const r = await receiver();
      await r.set('hang');

      const first = await startServer(env);
      nodes.push(first);
      const A = api(first.url);
      await A.configure(tn, r.url);
      const id = await A.openConversation(tn, 'crash-user');
      await A.say(tn, id, 'Are you there?');
      const [held] = await r.waitFor((x) => x.event === 'conversation-started', 15_000);
      assert.equal(held!.status, undefined, 'the receiver holds it');
      const heldId = held!.body!.id;

      await first.stop('SIGKILL');
      await r.set('ok');
      const second = await startServer(env);
      nodes.push(second);
      const B = api(second.url);
      const delivered = await r.waitFor((x) => x.status === 200, 20_000, 2);
      assert.deepEqual(
        delivered.map((x) => [x.event, x.verified]),
        [
          ['conversation-started', true],
          ['message-received', true],
        ],
      );
      assert.equal(delivered[0]!.body!.id, heldId, 'the same event, not a new one');
      assert.ok(delivered[0]!.rawBody.equals(held!.rawBody), 'the same body bytes');
      assert.equal((delivered[1]!.body!.data.message as { content: string }).content, 'Are you there?');
      const d = await B.deliveryWhen(tn, heldId, (x) => x.status === 'delivered');
      assert.equal(d.last_status_code, 200);
      const all = await B.call(tn, 'GET', '/webhooks/deliveries?limit=100');
      assert.equal((all.body.data as { items: Delivery[] }).items.length, 2, 'nothing lost, nothing doubled');
    }
  });
});

/** Runs the Python script to completion. */
async function runPython(args: string[]) {
  const py = spawn(PYTHON, args, { cwd: rootDir, env: { PATH: process.env.PATH } });
  let stdout = '';
  let stderr = '';
  py.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => py.on('exit', resolve));
  return { code, stdout, stderr };
}

/** The JSON lines a running Python receiver prints, as they come. */
function pythonLines(py: ChildProcessWithoutNullStreams): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  py.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  return lines;
}
