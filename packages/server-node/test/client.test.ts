// RelayClient against the real relay in this process: every method once at least, the shapes of
// the answers, paging and its iterator, errors (404, 400 naming the parameter, 401 with a wrong
// secret), retries of GETs only, the secret's rotation, and fromEnv.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  MessageRole,
  RelayClient,
  RelayError,
  TicketPriority,
  TicketStatus,
  WEBHOOK_EVENT_TYPES,
  type Conversation,
} from '@switchboard/server-node';
import type { TestApp } from '../../../test/helpers/app.js';
import { createVisitorSession } from '../../../test/helpers/relay.js';
import { ISO, newClient, newTenant, SHOP, startRelay, stopRelay, UUID } from './helpers.js';

/** A 1×1 PNG. */
const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** The promise's rejection, as a RelayError. */
async function refusal(p: Promise<unknown>): Promise<RelayError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RelayError, `not a RelayError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a RelayError');
}

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe('RelayClient against the relay', { concurrency: 1 }, () => {
  let t: TestApp;
  let chat: RelayClient;

  before(async () => {
    t = await startRelay();
    chat = await newClient(t);
  });
  after(() => stopRelay(t));

  test('usage', async () => {
    const usage = await chat.usage(7);
    assert.equal(usage.days.length, 7);
    assert.match(usage.days[0]!.day, /^\d{4}-\d{2}-\d{2}$/);
    for (const k of ['sessions', 'messages', 'api_calls', 'webhooks_sent'] as const) {
      assert.equal(typeof usage.totals[k], 'number');
    }
  });

  test('conversations: create (then found), get, list pages and the iterator', async () => {
    const convo = await chat.conversations.create({
      visitor_user_id: 'user-123',
      visitor_display_name: 'Mary',
      locale: 'en',
      metadata: { order_id: 'ORD-9981' },
    });
    assert.match(convo.id, UUID);
    assert.equal(convo.conversation_id, convo.id);
    assert.equal(convo.created, true);
    assert.equal(convo.visitor_user_id, 'user-123');
    assert.equal(convo.visitor_display_name, 'Mary');
    assert.equal(convo.locale, 'en');
    // No knowledge base, so no bot: a person from the start.
    assert.equal(convo.mode, 'human');
    assert.deepEqual(convo.metadata, { order_id: 'ORD-9981' });
    assert.match(convo.created_at, ISO);
    const again = await chat.conversations.create({ visitor_user_id: 'user-123' });
    assert.equal(again.id, convo.id);
    assert.equal(again.created, false);

    const { rating, ...got } = await chat.conversations.get(convo.id);
    assert.equal(rating, null, 'not rated yet');
    assert.deepEqual(
      { ...got, created: true },
      { ...convo, last_message_at: got.last_message_at, metadata: got.metadata },
    );

    const pager = await newClient(t);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await pager.conversations.create({ visitor_user_id: `u-${i}` })).id);
    const first = await pager.conversations.list({ limit: 2 });
    assert.equal(first.items.length, 2);
    assert.equal(typeof first.next_cursor, 'string');
    const second = await pager.conversations.list({ limit: 2, cursor: first.next_cursor! });
    assert.equal(second.items.length, 2);
    const all: Conversation[] = await collect(pager.conversations.iterate({ limit: 2 }));
    assert.deepEqual(all.map((c) => c.id).sort(), [...ids].sort());
    assert.deepEqual(
      all.slice(0, 4).map((c) => c.id),
      [...first.items, ...second.items].map((c) => c.id),
      'the iterator walks the same pages',
    );
    const mine = await pager.conversations.list({ visitor_user_id: 'u-3' });
    assert.deepEqual(
      mine.items.map((c) => c.id),
      [ids[3]],
    );
    assert.equal(mine.next_cursor, null);
  });

  test('messages: every role, a repeated client_msg_id, list and iterate', async () => {
    const convo = await chat.conversations.create({ visitor_user_id: `user-${randomUUID()}` });
    const op = await chat.operators.create({
      external_id: `op-${randomUUID().slice(0, 8)}`,
      display_name: 'Ann',
    });
    const sent = [];
    sent.push(
      await chat.messages.send(convo.id, { role: MessageRole.Visitor, content: 'Where is my order?' }),
    );
    sent.push(await chat.messages.send(convo.id, { role: 'bot', content: 'Looking…' }));
    sent.push(await chat.messages.send(convo.id, { role: 'system', content: 'Order found' }));
    sent.push(
      await chat.messages.send(convo.id, {
        role: 'agent',
        content: 'It ships today',
        operator_external_id: op.external_id,
        client_msg_id: 'ship-1',
      }),
    );
    assert.deepEqual(
      sent.map((m) => [m.role, m.sender_type, m.duplicate]),
      [
        ['visitor', 'end_user', false],
        ['bot', 'bot', false],
        ['system', 'system', false],
        ['agent', 'agent', false],
      ],
    );
    const m = sent[0]!;
    assert.match(m.id, UUID);
    assert.equal(m.conversation_id, convo.id);
    assert.equal(m.content, 'Where is my order?');
    assert.equal(m.content_type, 'text');
    assert.equal(typeof m.seq, 'number');
    assert.match(m.created_at, ISO);
    const dup = await chat.messages.send(convo.id, {
      role: 'agent',
      content: 'It ships today',
      operator_external_id: op.external_id,
      client_msg_id: 'ship-1',
    });
    assert.equal(dup.duplicate, true);
    assert.equal(dup.id, sent[3]!.id);

    const page = await chat.messages.list(convo.id, { limit: 2 });
    assert.equal(page.items.length, 2);
    assert.deepEqual(
      page.items.map((x) => x.id),
      [sent[0]!.id, sent[1]!.id],
      'oldest first',
    );
    const all = await collect(chat.messages.iterate(convo.id, { limit: 3 }));
    assert.deepEqual(
      all.map((x) => x.id),
      sent.map((x) => x.id),
    );
  });

  test('messages: rich media, internal notes and include_internal', async () => {
    const convo = await chat.conversations.create({ visitor_user_id: `user-${randomUUID()}` });
    const op = await chat.operators.create({ external_id: `op-${randomUUID().slice(0, 8)}` });
    const buttons = await chat.messages.send(convo.id, {
      role: 'bot',
      content: 'Pick one',
      content_type: 'quick_button',
      rich_media: { buttons: [{ label: 'Track', value: 'track' }] },
    });
    assert.equal(buttons.content_type, 'quick_button');
    assert.deepEqual(buttons.rich_media, { buttons: [{ label: 'Track', value: 'track' }] });
    const note = await chat.messages.send(convo.id, {
      role: 'agent',
      content: 'VIP: be nice',
      operator_external_id: op.external_id,
      internal: true,
    });
    assert.equal(note.internal, true);
    const visible = await chat.messages.list(convo.id);
    assert.deepEqual(
      visible.items.map((m) => m.id),
      [buttons.id],
      'notes are left out by default',
    );
    const everything = await chat.messages.list(convo.id, { include_internal: true });
    assert.deepEqual(
      everything.items.map((m) => [m.id, m.internal]),
      [
        [buttons.id, undefined],
        [note.id, true],
      ],
    );
    const iterated = await collect(chat.messages.iterate(convo.id, { include_internal: true, limit: 1 }));
    assert.deepEqual(
      iterated.map((m) => m.id),
      [buttons.id, note.id],
    );
    // The relay's own checks reach the caller, naming the field.
    const notForVisitors = await refusal(
      chat.messages.send(convo.id, { role: 'visitor', content: 'x', content_type: 'image', rich_media: {} }),
    );
    assert.equal(notForVisitors.status_code, 400);
    assert.match(notForVisitors.param ?? '', /^rich_media/);
  });

  test('attachments.upload: the raw bytes are signed and stored, then sent as an image message', async () => {
    const convo = await chat.conversations.create({ visitor_user_id: `user-${randomUUID()}` });
    const png = Buffer.from(PNG_1X1, 'base64');
    const att = await chat.attachments.upload(convo.id, png, {
      filename: 'pixel été.png',
      content_type: 'image/png',
    });
    assert.match(att.id, UUID);
    assert.equal(att.filename, 'pixel été.png', 'the URI-encoded X-Filename is decoded');
    assert.equal(att.content_type, 'image/png');
    assert.equal(att.size, png.length);
    assert.equal(att.kind, 'image');
    assert.match(att.url, /^https?:\/\//);
    // The bytes decide the type, not the hint: a text file claimed as an image is a file.
    const text = await chat.attachments.upload(convo.id, new TextEncoder().encode('order 42\n'), {
      filename: 'order.txt',
      content_type: 'image/png',
    });
    assert.equal(text.kind, 'file');
    assert.equal(text.size, 9);

    const sent = await chat.messages.send(convo.id, {
      role: 'bot',
      content_type: 'image',
      rich_media: { url: att.url, alt: 'a pixel' },
    });
    assert.equal(sent.content_type, 'image');
    const listed = (await chat.messages.list(convo.id)).items.find((m) => m.id === sent.id)!;
    assert.ok(String(listed.rich_media?.url).startsWith(att.url), 'the stored URL, signed on the way out');

    const other = await newClient(t);
    const hidden = await refusal(other.attachments.upload(convo.id, png, { filename: 'x.png' }));
    assert.equal(hidden.status_code, 404, "another tenant's conversation is not found");
    // A wrong secret fails HMAC#1 over the bytes.
    const forged = new RelayClient({ baseUrl: t.url, tenantId: chat.tenantId, tenantSecret: 'sk_wrong' });
    assert.equal(
      (await refusal(forged.attachments.upload(convo.id, png, { filename: 'x.png' }))).status_code,
      401,
    );
  });

  test('escalate, and tickets: list, get, create, update', async () => {
    // Escalation takes a conversation from the bot: a widget visitor's, on a tenant with a
    // knowledge base (the signed API's own conversations start with the humans).
    const esc = await newClient(t);
    await esc.knowledge.create({ title: 'Opening hours', body: 'The shop opens at nine every morning.' });
    const { widget_public_key: pk } = await esc.rotateWidgetKey();
    const visitor = await createVisitorSession(t.url, { id: esc.tenantId, pk });
    const esc1 = await esc.conversations.escalate(visitor.conversation_id, {
      reason: 'vip',
      priority: TicketPriority.High,
      subject: 'VIP customer',
    });
    assert.equal(esc1.escalated, true);
    const ticket = esc1.ticket!;
    assert.match(ticket.id, UUID);
    assert.equal(ticket.conversation_id, visitor.conversation_id);
    assert.equal(ticket.subject, 'VIP customer');
    assert.equal(ticket.priority, 'high');
    assert.equal(ticket.status, TicketStatus.Open);
    assert.equal(typeof ticket.number, 'number');
    const twice = await esc.conversations.escalate(visitor.conversation_id);
    assert.equal(twice.escalated, false);
    assert.equal(twice.ticket?.id, ticket.id);
    const human = await chat.conversations.create({ visitor_user_id: `user-${randomUUID()}` });
    assert.deepEqual(await chat.conversations.escalate(human.id), { escalated: false, ticket: null });

    const made = await esc.tickets.create({ subject: 'Refund', summary: 'By hand', priority: 'low' });
    assert.equal(made.subject, 'Refund');
    assert.equal(made.conversation_id, null);
    assert.equal(made.number, ticket.number + 1);
    assert.deepEqual(await esc.tickets.get(made.id), made);

    const op = await esc.operators.create({ external_id: `op-${randomUUID().slice(0, 8)}` });
    const assigned = await esc.tickets.update(made.id, {
      assignee_external_id: op.external_id,
      status: 'pending',
    });
    assert.equal(assigned.assignee_id, op.id);
    assert.deepEqual(assigned.assignee, {
      id: op.id,
      external_id: op.external_id,
      display_name: op.display_name,
    });
    assert.equal(assigned.status, 'pending');
    const resolved = await esc.tickets.update(made.id, { status: 'resolved' });
    assert.match(resolved.resolved_at!, ISO);

    const list = await esc.tickets.list({ limit: 1 });
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0]!.id, made.id, 'newest first');
    const every = await collect(esc.tickets.iterate({ limit: 1 }));
    assert.ok([made.id, ticket.id].every((id) => every.some((x) => x.id === id)));
    const onConvo = await esc.tickets.list({ conversation_id: visitor.conversation_id });
    assert.deepEqual(
      onConvo.items.map((x) => x.id),
      [ticket.id],
    );
  });

  test('knowledge documents: create, list, get, update, search, delete', async () => {
    const kb = await newClient(t);
    const doc = await kb.knowledge.create({
      title: 'Delivery times',
      body: '# Delivery\n\nParcels to France arrive within three working days.',
      format: 'markdown',
      url: 'https://shop.example/help/delivery',
      tags: ['shipping'],
      language: 'en',
    });
    assert.match(doc.id, UUID);
    assert.equal(doc.format, 'markdown');
    assert.deepEqual(doc.tags, ['shipping']);
    assert.ok(doc.passages >= 1);
    assert.match(doc.updated_at, ISO);
    const other = await kb.knowledge.create({ title: 'Returns', body: 'Return anything within 30 days.' });
    assert.equal(other.format, 'text');
    assert.equal(other.url, null);

    assert.deepEqual(await kb.knowledge.get(doc.id), doc);
    const tagged = await kb.knowledge.list({ tag: 'shipping' });
    assert.deepEqual(
      tagged.items.map((d) => d.id),
      [doc.id],
    );
    assert.equal((await kb.knowledge.list({ limit: 1 })).items.length, 1);
    assert.equal((await collect(kb.knowledge.iterate({ limit: 1 }))).length, 2);

    const changed = await kb.knowledge.update(doc.id, { url: null, tags: ['shipping', 'france'] });
    assert.equal(changed.url, null);
    assert.deepEqual(changed.tags, ['shipping', 'france']);

    const hits = await kb.knowledge.search({ q: 'when will my parcel arrive in France?', limit: 2 });
    assert.equal(hits.items[0]?.document_id, doc.id);
    assert.equal(hits.items[0]?.title, 'Delivery times');
    assert.equal(typeof hits.items[0]?.score, 'number');
    assert.equal(typeof hits.items[0]?.content, 'string');

    assert.deepEqual(await kb.knowledge.delete(doc.id), { id: doc.id, deleted: true });
    const gone = await refusal(kb.knowledge.get(doc.id));
    assert.equal(gone.status_code, 404);
    assert.equal(gone.code, 'knowledge/not_found');
  });

  test('operators: create, list, get, update, deactivate, reactivate, token', async () => {
    const ops = await newClient(t);
    const created = await ops.operators.create({
      external_id: 'emp-1',
      display_name: 'Ann',
      email: `ann-${randomUUID().slice(0, 8)}@example.com`,
      role: 'admin',
      routing_keys: ['billing'],
    });
    assert.equal(created.external_id, 'emp-1');
    assert.match(created.id, UUID);
    assert.equal(created.role, 'admin');
    assert.equal(created.status, 'active');
    assert.deepEqual(created.routing_keys, ['billing']);
    assert.equal(created.last_login_at, null);
    const second = await ops.operators.create({ external_id: 'emp-2' });
    assert.equal(second.email, null, 'the placeholder email is not shown');

    assert.deepEqual(await ops.operators.get('emp-1'), created);
    const page = await ops.operators.list({ limit: 1 });
    assert.deepEqual(
      page.items.map((o) => o.external_id),
      ['emp-1'],
    );
    assert.deepEqual(
      (await collect(ops.operators.iterate({ limit: 1 }))).map((o) => o.external_id),
      ['emp-1', 'emp-2'],
    );
    const updated = await ops.operators.update('emp-1', { display_name: 'Ann B.', routing_keys: [] });
    assert.equal(updated.display_name, 'Ann B.');
    assert.deepEqual(updated.routing_keys, []);

    assert.equal((await ops.operators.deactivate('emp-1')).status, 'deactivated');
    const refused = await refusal(ops.operators.token('emp-1'));
    assert.equal(refused.status_code, 409);
    assert.equal(refused.code, 'operator/deactivated');
    assert.equal((await ops.operators.reactivate('emp-1')).status, 'active');
    const token = await ops.operators.token('emp-1', { ttl_seconds: 60 });
    assert.equal(typeof token.operator_token, 'string');
    assert.match(token.expires_at, ISO);
    assert.match(token.login_url, /\/auth\/operator\?token=/);

    const exists = await refusal(ops.operators.create({ external_id: 'emp-1' }));
    assert.equal(exists.status_code, 409);
    assert.equal(exists.code, 'operator/exists');
  });

  test('mintVisitorToken', async () => {
    const token = await chat.mintVisitorToken({
      visitor_user_id: 'user-123',
      origin: SHOP,
      visitor_email_hash: 'sha256:abc',
      ttl_seconds: 3600,
    });
    assert.match(token.session_id, /^vs_/);
    assert.equal(token.visitor_token.split('.').length, 3, 'a JWT');
    assert.match(token.expires_at, ISO);
    assert.match(token.session_expires_at, ISO);
    const convo = await chat.conversations.create({ visitor_user_id: 'user-123' });
    assert.equal(token.conversation_id, convo.id, "the user's conversation");
    const forbidden = await refusal(
      chat.mintVisitorToken({ visitor_user_id: 'user-123', origin: 'https://evil.example' }),
    );
    assert.equal(forbidden.status_code, 403);
    assert.equal(forbidden.code, 'origin/forbidden');
  });

  test('webhooks: config, test, deliveries, delivery, redeliver', async () => {
    // Nothing listens on port 9 (discard): the deliveries stay pending, retried.
    const hooks = await newClient(t);
    const initial = await hooks.webhooks.get();
    assert.equal(initial.callback_base_url, null);
    assert.deepEqual([...initial.available_events].sort(), [...WEBHOOK_EVENT_TYPES].sort());
    const notConfigured = await refusal(hooks.webhooks.test());
    assert.equal(notConfigured.status_code, 409);
    assert.equal(notConfigured.code, 'webhook/not_configured');

    const config = await hooks.webhooks.configure({
      callback_base_url: 'http://127.0.0.1:9/hooks',
      events: ['message-received', 'ticket-created'],
    });
    assert.equal(config.callback_base_url, 'http://127.0.0.1:9/hooks');
    assert.deepEqual(config.events, ['message-received', 'ticket-created']);
    assert.deepEqual(await hooks.webhooks.get(), config);

    const delivery = await hooks.webhooks.test('ticket-created');
    assert.match(delivery.id, UUID);
    assert.equal(delivery.event, 'ticket-created');
    assert.equal(delivery.status, 'pending');
    const list = await hooks.webhooks.deliveries({ event: 'ticket-created', limit: 5 });
    assert.deepEqual(
      list.items.map((d) => d.id),
      [delivery.id],
    );
    assert.equal((await collect(hooks.webhooks.iterateDeliveries({ limit: 1 }))).length, 1);
    const detail = await hooks.webhooks.delivery(delivery.id);
    assert.equal(detail.id, delivery.id);
    assert.equal(detail.data.test, true);
    assert.ok(Array.isArray(detail.attempt_log));
    const again = await hooks.webhooks.redeliver(delivery.id);
    assert.equal(again.id, delivery.id);
    assert.equal(again.status, 'pending');

    const off = await hooks.webhooks.configure({ callback_base_url: null });
    assert.equal(off.callback_base_url, null);
    const badUrl = await refusal(hooks.webhooks.configure({ callback_base_url: 'ftp://x.example' }));
    assert.equal(badUrl.status_code, 400);
  });

  test('rotations: the widget key, and the tenant secret (the client signs with the new one)', async () => {
    const tn = await newTenant(t.url);
    const rot = new RelayClient({ baseUrl: t.url, tenantId: tn.id, tenantSecret: tn.secret });
    const { widget_public_key } = await rot.rotateWidgetKey();
    assert.match(widget_public_key, /^pk_/);
    const rotated = await rot.rotateTenantSecret({ grace_hours: 1 });
    assert.match(rotated.tenant_secret, /^sk_/);
    assert.notEqual(rotated.tenant_secret, tn.secret);
    assert.equal(rotated.previous_secret_valid_hours, 1);
    assert.deepEqual(rot.webhookSecrets, [rotated.tenant_secret, tn.secret]);
    assert.equal((await rot.usage(1)).days.length, 1, 'signed with the new secret');
    const old = new RelayClient({ baseUrl: t.url, tenantId: tn.id, tenantSecret: tn.secret });
    assert.equal((await old.usage(1)).days.length, 1, 'the old one within its grace');
    await rot.rotateTenantSecret({ grace_hours: 0 });
    const stale = await refusal(old.usage(1));
    assert.equal(stale.code, 'hmac/bad_signature');
  });

  test('errors: 404, 400 naming the parameter, 401 with a wrong secret', async () => {
    const missing = await refusal(chat.conversations.get(randomUUID()));
    assert.equal(missing.status_code, 404);
    assert.equal(missing.code, 'conversation/not_found');
    assert.equal(typeof missing.message, 'string');
    assert.equal(missing.body?.status_code, 404);

    const bad = await refusal(chat.conversations.list({ limit: 1000 }));
    assert.equal(bad.status_code, 400);
    assert.equal(bad.code, 'request/invalid');
    assert.equal(bad.param, 'limit');
    assert.match(bad.message, /limit/);

    const noAgent = await refusal(
      chat.messages.send((await chat.conversations.create({ visitor_user_id: 'x-1' })).id, {
        role: 'visitor',
        content: '  ',
      }),
    );
    assert.equal(noAgent.param, 'content');

    const wrong = new RelayClient({ baseUrl: t.url, tenantId: chat.tenantId, tenantSecret: 'sk_wrong' });
    const unauthorized = await refusal(wrong.usage());
    assert.equal(unauthorized.status_code, 401);
    assert.equal(unauthorized.code, 'hmac/bad_signature');
    const unknown = new RelayClient({ baseUrl: t.url, tenantId: randomUUID(), tenantSecret: 'sk_x' });
    assert.equal((await refusal(unknown.usage())).code, 'hmac/unknown_tenant');
  });
});

describe('RelayClient without a relay', () => {
  const envelope = (status: number, data: unknown, extra: Record<string, unknown> = {}) =>
    new Response(JSON.stringify({ status_code: status, data, message: 'm', ...extra }), {
      status,
      headers: { 'content-type': 'application/json' },
    });

  test('a GET is tried again on 503 and network errors, freshly signed; a POST is not', async () => {
    const calls: { method: string; nonce: string | null }[] = [];
    const answers: (() => Response)[] = [
      () => envelope(503, null, { error: 'unavailable' }),
      () => {
        throw new TypeError('fetch failed');
      },
      () => envelope(200, { days: [], totals: {} }),
    ];
    const client = new RelayClient({
      baseUrl: 'http://relay.test/prefix/',
      tenantId: randomUUID(),
      tenantSecret: 'sk_x',
      fetch: async (url, init) => {
        const headers = new Headers(init?.headers);
        calls.push({ method: init?.method ?? 'GET', nonce: headers.get('x-relay-nonce') });
        assert.match(String(url), /^http:\/\/relay\.test\/prefix\/api\/v1\/relay\//);
        return answers.shift()!();
      },
    });
    assert.deepEqual(await client.usage(), { days: [], totals: {} });
    assert.equal(calls.length, 3);
    assert.equal(new Set(calls.map((c) => c.nonce)).size, 3, 'a new nonce per attempt');

    calls.length = 0;
    answers.push(() => envelope(503, null, { error: 'unavailable' }));
    const err = await refusal(client.conversations.create({ visitor_user_id: 'u' }));
    assert.equal(err.status_code, 503);
    assert.equal(err.code, 'unavailable');
    assert.equal(calls.length, 1);

    answers.push(() => {
      throw new TypeError('fetch failed');
    });
    const net = await refusal(client.tickets.create({ subject: 's' }));
    assert.equal(net.status_code, 0);
    assert.equal(net.code, 'network');
  });

  test('a timeout is a RelayError', async () => {
    // AbortSignal.timeout's timer does not hold the event loop open; a socket would.
    const hold = setTimeout(() => {}, 5_000);
    const client = new RelayClient({
      baseUrl: 'http://relay.test',
      tenantId: randomUUID(),
      tenantSecret: 'sk_x',
      timeoutMs: 50,
      maxRetries: 0,
      fetch: (_url, init) =>
        new Promise((_resolve, reject) =>
          init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)),
        ),
    });
    const err = await refusal(client.usage());
    clearTimeout(hold);
    assert.equal(err.code, 'timeout');
  });

  test('fromEnv reads the SWITCHBOARD_* variables', () => {
    const id = randomUUID();
    const client = RelayClient.fromEnv({
      SWITCHBOARD_BASE_URL: 'https://chat.example.com',
      SWITCHBOARD_TENANT_ID: id,
      SWITCHBOARD_TENANT_SECRET: 'sk_1',
      SWITCHBOARD_CALLBACK_BASE_URL: 'https://backend.example.com',
    });
    assert.equal(client.baseUrl, 'https://chat.example.com');
    assert.equal(client.tenantId, id);
    assert.equal(client.callbackBaseUrl, 'https://backend.example.com');
    assert.deepEqual(client.webhookSecrets, ['sk_1']);
    assert.throws(() => RelayClient.fromEnv({ SWITCHBOARD_BASE_URL: 'x' }), /SWITCHBOARD_TENANT_ID/);
  });

  test('webhooks.configure() without a callback URL refuses rather than turning webhooks off', async () => {
    const client = new RelayClient({
      baseUrl: 'http://relay.test',
      tenantId: randomUUID(),
      tenantSecret: 'sk_x',
    });
    await assert.rejects(client.webhooks.configure(), /SWITCHBOARD_CALLBACK_BASE_URL/);
  });
});
