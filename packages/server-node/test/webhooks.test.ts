// Webhooks from the real relay to a node:http backend mounting createWebhookHandler through
// toNodeHttp: events verified and typed, an event without a handler answered {"received": true},
// a handler's failure retried, tampered and replayed requests refused, the secret's rotation,
// and the Express-compatible middleware.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import {
  createWebhookHandler,
  expressWebhooks,
  RelayClient,
  signRequest,
  toNodeHttp,
  type MessageRole,
  WEBHOOK_EVENT_TYPES,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookHandler,
  type WebhookRequest,
} from '@switchboard/server-node';
import { loginAgent, type TestApp } from '../../../test/helpers/app.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { agentHttp } from '../../../test/helpers/http.js';
import { createVisitorSession } from '../../../test/helpers/relay.js';
import { freshPostgresDatabase } from '../../../test/helpers/db.js';
import { openPostgres } from '../../../src/shared/db.js';
import { ISO, listen, newTenant, startRelay, stopRelay, until, UUID } from './helpers.js';

describe('webhooks from the relay', { concurrency: 1 }, () => {
  let t: TestApp;
  let drop: () => Promise<void>;
  let chat: RelayClient;
  let receiver: Awaited<ReturnType<typeof listen>>;
  const started: WebhookEvent<'conversation-started'>[] = [];
  const messages: WebhookEvent<'message-received'>[] = [];
  const attempts: number[] = [];
  const unhandled: WebhookEvent[] = [];
  const logged: string[] = [];
  /** Every request the backend got, and what it answered. */
  const seen: { req: WebhookRequest; status: number; body: Record<string, unknown> }[] = [];
  let failNext = false;

  before(async () => {
    // A database of this file's own: another file's server process without WEBHOOK_ALLOW_PRIVATE
    // could otherwise take these deliveries and refuse the loopback URL.
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    const database = await openPostgres(fresh.url, { poolSize: 5 });
    await database.migrate();
    t = await startRelay(database);
    const tn = await newTenant(t.url);
    chat = new RelayClient({ baseUrl: t.url, tenantId: tn.id, tenantSecret: tn.secret });

    const handler = createWebhookHandler({
      client: chat,
      handlers: {
        'conversation-started': (event) => {
          started.push(event);
        },
        'message-received': (event, ctx) => {
          // Typed per event: `message.role` is a MessageRole.
          const role: MessageRole = event.data.message.role;
          if (failNext && role === 'system') {
            failNext = false;
            throw new Error('the backend is not ready');
          }
          attempts.push(ctx.attempt);
          messages.push(event);
        },
      },
      onUnhandled: (event) => {
        unhandled.push(event);
      },
      logger: { info: (msg) => logged.push(msg), warn: (msg) => logged.push(msg), error: () => {} },
    });
    const recording: WebhookHandler = async (req) => {
      const out = await handler(req);
      seen.push({ req, ...out });
      return out;
    };
    receiver = await listen(toNodeHttp(recording));
    const config = await chat.webhooks.configure({ callback_base_url: `${receiver.url}/hooks` });
    assert.equal(config.events.length, 9);
  });

  after(async () => {
    await receiver?.close();
    await stopRelay(t);
    await drop?.();
  });

  test('conversation-started and message-received arrive verified and typed', async () => {
    const convo = await chat.conversations.create({
      visitor_user_id: 'user-123',
      visitor_display_name: 'Mary',
    });
    const sent = await chat.messages.send(convo.id, { role: 'visitor', content: 'Where is my order?' });
    const start = await until(() => started.find((e) => e.data.conversation_id === convo.id));
    assert.match(start.id, UUID);
    assert.equal(start.type, 'conversation-started');
    assert.equal(start.tenant_id, chat.tenantId);
    assert.match(start.created_at, ISO);
    assert.equal(start.data.visitor_user_id, 'user-123');
    assert.equal(start.data.visitor_display_name, 'Mary');
    assert.equal(start.data.reopened, false);
    assert.equal(typeof start.data.session_id, 'string');

    const msg = await until(() => messages.find((e) => e.data.message.id === sent.id));
    assert.equal(msg.type, 'message-received');
    assert.equal(msg.data.conversation_id, convo.id);
    assert.equal(msg.data.session_id, start.data.session_id);
    assert.deepEqual(
      { ...msg.data.message, created_at: 'x' },
      {
        id: sent.id,
        seq: sent.seq,
        role: 'visitor',
        sender_id: sent.sender_id,
        content_type: 'text',
        content: 'Where is my order?',
        rich_media: null,
        created_at: 'x',
      },
    );
    const delivered = seen.filter((s) => s.req.url.endsWith('/message-received'));
    assert.ok(delivered.every((s) => s.status === 200 && s.body.received === true));
    assert.equal(delivered[0]!.req.url, '/hooks/api/v1/chat-callbacks/message-received');
  });

  test('all nine events, driven through the real API, are verified and reach their own callbacks', async () => {
    // A tenant of its own with a knowledge base (its widget conversations start with the bot, so
    // they can be escalated) and a backend with a callback for every event.
    const tn = await newTenant(t.url);
    const nine = new RelayClient({ baseUrl: t.url, tenantId: tn.id, tenantSecret: tn.secret });
    const got: WebhookEvent[] = [];
    const dispatched: string[] = [];
    const record =
      <T extends WebhookEventType>(name: T) =>
      (event: WebhookEvent<T>) => {
        assert.equal(event.type, name, 'each callback gets its own event type');
        dispatched.push(name);
        got.push(event as WebhookEvent);
      };
    const handler = createWebhookHandler({
      client: nine,
      handlers: {
        'conversation-started': record('conversation-started'),
        'message-received': record('message-received'),
        'agent-assigned': record('agent-assigned'),
        'agent-released': record('agent-released'),
        'agent-resolved': record('agent-resolved'),
        'ticket-created': record('ticket-created'),
        'ticket-assigned': record('ticket-assigned'),
        'ticket-resolved': record('ticket-resolved'),
        'escalation-triggered': record('escalation-triggered'),
      },
      onUnhandled: () => assert.fail('every event has a handler'),
    });
    const answers: { url: string; status: number }[] = [];
    const backend = await listen(
      toNodeHttp(async (req) => {
        const out = await handler(req);
        answers.push({ url: req.url, status: out.status });
        return out;
      }),
    );
    try {
      await nine.webhooks.configure({ callback_base_url: backend.url });
      const find = <T extends WebhookEventType>(type: T, match: (e: WebhookEvent<T>) => boolean) =>
        until(() => (got as WebhookEvent<T>[]).find((e) => e.type === type && match(e)));

      // A conversation the signed API opens; an agent claims it, releases it, claims it, resolves it.
      const convo = await nine.conversations.create({ visitor_user_id: 'nine-user' });
      await nine.messages.send(convo.id, { role: 'visitor', content: 'Hello' });
      const start = await find('conversation-started', (e) => e.data.conversation_id === convo.id);
      await find('message-received', (e) => e.data.conversation_id === convo.id);
      const agent = await createAgent(t.services, tn.id);
      const ann = agentHttp(t.url, await loginAgent(t.url, agent.user.email, agent.password));
      assert.equal((await ann.post(`/api/conversations/${convo.id}/assign`)).status, 200);
      const assigned = await find('agent-assigned', (e) => e.data.conversation_id === convo.id);
      assert.equal(assigned.data.agent?.id, agent.user.id);
      assert.equal(assigned.data.previous_agent, null);
      assert.equal(assigned.data.session_id, start.data.session_id);
      assert.equal((await ann.post(`/api/conversations/${convo.id}/release`)).status, 200);
      const released = await find('agent-released', (e) => e.data.conversation_id === convo.id);
      assert.equal(released.data.agent?.id, agent.user.id);
      assert.equal((await ann.post(`/api/conversations/${convo.id}/assign`)).status, 200);
      assert.equal((await ann.post(`/api/conversations/${convo.id}/resolve`, {})).status, 200);
      const resolved = await find('agent-resolved', (e) => e.data.conversation_id === convo.id);
      assert.equal(resolved.data.agent?.id, agent.user.id);
      assert.match(resolved.data.resolved_at, ISO);

      // Tickets: filed, assigned to an operator, resolved.
      const op = await nine.operators.create({ external_id: 'nine-op', display_name: 'Grace' });
      const ticket = await nine.tickets.create({ subject: 'Late parcel', conversation_id: convo.id });
      await find('ticket-created', (e) => e.data.ticket_id === ticket.id);
      await nine.tickets.update(ticket.id, { assignee_external_id: op.external_id });
      const tAssigned = await find('ticket-assigned', (e) => e.data.ticket_id === ticket.id);
      assert.equal(tAssigned.data.assignee?.id, op.id);
      assert.equal(tAssigned.data.previous_assignee, null);
      await nine.tickets.update(ticket.id, { status: 'resolved' });
      const tResolved = await find('ticket-resolved', (e) => e.data.ticket_id === ticket.id);
      assert.equal(tResolved.data.status, 'resolved');
      assert.match(tResolved.data.resolved_at, ISO);

      // Escalation: a widget visitor's bot conversation handed to the humans.
      await nine.knowledge.create({ title: 'Opening hours', body: 'The shop opens at nine every morning.' });
      const { widget_public_key: pk } = await nine.rotateWidgetKey();
      const visitor = await createVisitorSession(t.url, { id: nine.tenantId, pk });
      const esc = await nine.conversations.escalate(visitor.conversation_id, { reason: 'vip' });
      assert.equal(esc.escalated, true);
      const escalated = await find(
        'escalation-triggered',
        (e) => e.data.conversation_id === visitor.conversation_id,
      );
      assert.equal(escalated.data.reason, 'vip');
      assert.match(escalated.data.escalated_at, ISO);

      assert.deepEqual(new Set(dispatched), new Set(WEBHOOK_EVENT_TYPES), 'all nine reached a callback');
      for (const type of WEBHOOK_EVENT_TYPES) {
        const calls = answers.filter((a) => a.url === `/api/v1/chat-callbacks/${type}`);
        assert.ok(calls.length > 0, `${type} was delivered`);
        assert.ok(
          calls.every((a) => a.status === 200),
          `${type}: every request verified and answered 200`,
        );
      }
      assert.ok(got.every((e) => e.tenant_id === nine.tenantId));
    } finally {
      await nine.webhooks.configure({ callback_base_url: null });
      await backend.close();
    }
  });

  test('an event without a handler is answered {"received": true} and logged', async () => {
    const convo = await chat.conversations.create({ visitor_user_id: 'user-ticket' });
    const ticket = await chat.tickets.create({ subject: 'Damaged parcel', conversation_id: convo.id });
    const created = await until(() =>
      unhandled.find((e) => e.type === 'ticket-created' && e.data.ticket_id === ticket.id),
    );
    if (created.type !== 'ticket-created') assert.fail(created.type);
    assert.equal(created.data.number, ticket.number);
    assert.equal(created.data.subject, 'Damaged parcel');
    assert.equal(created.data.conversation_id, convo.id);
    assert.equal(created.data.status, 'open');
    assert.equal(created.data.assignee, null);
    assert.ok(logged.includes('webhook without a handler'));
    const delivery = await until(async () => {
      const page = await chat.webhooks.deliveries({ event: 'ticket-created', status: 'delivered' });
      return page.items.find((d) => d.conversation_id === convo.id);
    });
    const detail = await chat.webhooks.delivery(delivery.id);
    assert.equal(detail.attempt_log[0]?.status_code, 200);
    assert.deepEqual(JSON.parse(detail.attempt_log[0]!.response_excerpt!), { received: true });
  });

  test('a handler that throws answers 500 and the relay tries again (same event id)', async () => {
    const convo = await chat.conversations.create({ visitor_user_id: 'user-retry' });
    failNext = true;
    const sent = await chat.messages.send(convo.id, { role: 'system', content: 'Order shipped' });
    const msg = await until(() => messages.find((e) => e.data.message.id === sent.id));
    const tries = seen.filter((s) => s.req.rawBody.toString().includes(sent.id));
    assert.deepEqual(
      tries.map((s) => s.status),
      [500, 200],
    );
    assert.equal(attempts[messages.indexOf(msg)], 2, 'X-Relay-Attempt');
    assert.equal(JSON.parse(tries[0]!.req.rawBody.toString()).id, msg.id);
  });

  test('a tampered, replayed, misdirected or unsigned request is refused', async () => {
    const original = seen.find((s) => s.status === 200 && s.req.url.endsWith('/message-received'))!;
    const post = (path: string, body: string, headers = original.req.headers, method = 'POST') =>
      fetch(`${receiver.url}${path}`, {
        method,
        headers: Object.fromEntries(
          Object.entries(headers as Record<string, string>).filter(([k]) =>
            /^(x-relay-|content-type$)/i.test(k),
          ),
        ),
        ...(method === 'POST' ? { body } : {}),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const raw = Buffer.from(original.req.rawBody).toString('utf8');
    const tampered = raw.replace('Where is my order?', 'Refund me 1000 EUR');
    assert.deepEqual(await post(original.req.url, tampered), {
      status: 401,
      body: { error: 'invalid_signature', reason: 'bad_signature' },
    });
    assert.deepEqual(await post(original.req.url, raw), {
      status: 401,
      body: { error: 'invalid_signature', reason: 'replayed_nonce' },
    });
    // Signed for one event, sent to another's path: the path is signed.
    assert.equal(
      (await post('/hooks/api/v1/chat-callbacks/ticket-created', raw)).body.reason,
      'bad_signature',
    );
    assert.equal((await post('/hooks/api/v1/chat-callbacks/no-such-event', raw)).status, 404);
    assert.equal((await post('/elsewhere', raw)).status, 404);
    assert.equal((await post(original.req.url, raw, original.req.headers, 'GET')).status, 405);
    assert.deepEqual(await post(original.req.url, raw, { 'content-type': 'application/json' }), {
      status: 401,
      body: { error: 'invalid_signature', reason: 'missing_headers' },
    });
    // A forger with another secret.
    const forged = signRequest({
      tenantId: chat.tenantId,
      secret: 'sk_forged',
      method: 'POST',
      pathAndQuery: original.req.url,
      body: raw,
    });
    assert.equal((await post(original.req.url, raw, forged as never)).body.reason, 'bad_signature');
  });

  test('after rotating the secret, webhooks signed with the new one (or the old one) still verify', async () => {
    const convo = await chat.conversations.create({ visitor_user_id: 'user-rotate' });
    const { tenant_secret } = await chat.rotateTenantSecret({ grace_hours: 1 });
    const sent = await chat.messages.send(convo.id, { role: 'visitor', content: 'After the rotation' });
    await until(() => messages.find((e) => e.data.message.id === sent.id));
    assert.equal(chat.webhookSecrets[0], tenant_secret);
  });

  test('a test event reaches its handler with data {test: true}', async () => {
    const delivery = await chat.webhooks.test('conversation-started');
    const event = await until(() => started.find((e) => e.id === delivery.id));
    assert.equal((event.data as unknown as { test: boolean }).test, true);
  });
});

describe('the Express-compatible middleware', () => {
  const tenantId = '0190f5a2-7c3e-7a41-9b2d-5e8f1c6a3d70';
  const secret = 'sk_test_express';
  const body = JSON.stringify({
    id: '338ccad3-182d-49a0-a7b1-222f76983793',
    type: 'escalation-triggered',
    tenant_id: tenantId,
    created_at: new Date().toISOString(),
    data: {
      conversation_id: 'c1',
      reason: 'no_answer',
      routing_key: null,
      escalated_at: new Date().toISOString(),
    },
  });
  const path = '/hooks/api/v1/chat-callbacks/escalation-triggered';
  const signed = () => ({
    ...signRequest({ tenantId, secret, method: 'POST', pathAndQuery: path, body }),
    'content-type': 'application/json',
  });

  async function withApp(
    mount: (app: express.Express, got: WebhookEvent[]) => void,
    run: (url: string, got: WebhookEvent[]) => Promise<void>,
  ) {
    const got: WebhookEvent[] = [];
    const app = express();
    mount(app, got);
    app.use((_req, res) => {
      res.status(404).json({ from: 'express' });
    });
    const srv = await listen(app);
    try {
      await run(srv.url, got);
    } finally {
      await srv.close();
    }
  }
  const handlerFor = (got: WebhookEvent[]) =>
    createWebhookHandler({
      secrets: ['sk_old', secret],
      tenantId,
      handlers: { 'escalation-triggered': (e) => void got.push(e) },
    });

  test('mounted first (under a prefix), it reads the raw body itself; other paths go on', async () => {
    await withApp(
      (app, got) => {
        app.use('/hooks', expressWebhooks(handlerFor(got)));
        app.use(express.json());
      },
      async (url, got) => {
        const res = await fetch(`${url}${path}`, { method: 'POST', headers: signed(), body });
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { received: true });
        assert.equal(got[0]?.type, 'escalation-triggered');
        assert.equal(got[0]?.type === 'escalation-triggered' && got[0].data.reason, 'no_answer');
        const other = await fetch(`${url}/hooks/else`, { method: 'POST', headers: signed(), body });
        assert.deepEqual(await other.json(), { from: 'express' });
        const tampered = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: signed(),
          body: body.replace('c1', 'c2'),
        });
        assert.equal(tampered.status, 401);
      },
    );
  });

  test('after express.raw it uses the buffer; after express.json it refuses to guess', async () => {
    await withApp(
      (app, got) => {
        app.use(express.raw({ type: 'application/json' }));
        app.use(expressWebhooks(handlerFor(got)));
      },
      async (url, got) => {
        const res = await fetch(`${url}${path}`, { method: 'POST', headers: signed(), body });
        assert.equal(res.status, 200);
        assert.equal(got.length, 1);
      },
    );
    await withApp(
      (app, got) => {
        app.use(express.json());
        app.use(expressWebhooks(handlerFor(got)));
      },
      async (url, got) => {
        const res = await fetch(`${url}${path}`, { method: 'POST', headers: signed(), body });
        assert.equal(res.status, 500);
        assert.equal(got.length, 0);
      },
    );
  });
});
