// The bot of bot-mode conversations, end to end: a visitor on the raw WebSocket asks, the bot
// answers from the tenant's knowledge base (extractive, or a model behind a local server speaking
// the chat-completions protocol), and hands over to the humans when asked, when it has no answer
// twice, or when the backend says so: mode human, the queue told, a ticket with the transcript, the
// visitor told, and the webhooks. Then the ticket's life through the inbox API, with its webhooks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { startApp, loginAgent, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { createVisitorSession, provisionTenant, signedCall, SHOP } from '../../test/helpers/relay.js';
import { servicesFor } from '../../test/helpers/services.js';
import { connectSocket, emitAck, nextEvent, record } from '../../test/helpers/sockets.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';
import { createDocumentSchema } from '../knowledge/knowledge.schemas.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

const DOCS = [
  {
    title: 'Delivery times and costs',
    url: 'https://help.shop.example/delivery',
    body: 'Orders to Germany, France and Belgium arrive in 2 to 4 working days. Standard delivery costs 4.90 euros and is free from 60 euros. Express delivery arrives the next working day for 9.90 euros.',
  },
  {
    title: 'Returning an item',
    url: 'https://help.shop.example/returns',
    body: 'You can return any item within 30 days of delivery. Print the prepaid label from your account, pack the item in its original packaging and drop it at any parcel point. Refunds reach your card within 5 days of our receiving the parcel.',
  },
  {
    title: 'Store opening hours',
    url: null,
    body: 'Our Lyon store opens Monday to Saturday from 10:00 to 19:00. The Paris store opens every day from 9:00 to 20:00.',
  },
];

type Tenant = { id: string; secret: string; pk: string };

describe('the bot on postgres', () => {
  let t: TestApp;
  let hooks: WebhookReceiver;
  const secrets = new Map<string, string>();
  const sockets: Socket[] = [];
  const clients: WsClient[] = [];

  before(async () => {
    hooks = await startWebhookReceiver({ secrets: (id) => secrets.get(id) });
    t = await startApp(await dbModes[0]!.open(), {
      env: {
        ADMIN_KEY,
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_RETRY_BASE_MS: '50',
        BOT_RECOVERY_GRACE_S: '2',
      },
    });
    t.webhooks.start();
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    for (const c of clients) c.close();
    await t.stop();
    await t.database.close();
    await hooks.close();
  });

  /** A tenant with the three documents, its webhooks to the receiver. */
  async function tenant(docs = DOCS): Promise<Tenant> {
    const tn = await provisionTenant(t.url, ADMIN_KEY, 'Bot', {
      allowed_origins: [SHOP],
      callback_base_url: hooks.url,
    });
    secrets.set(tn.id, tn.secret);
    for (const d of docs) await t.services.knowledge.create(tn.id, createDocumentSchema.parse(d));
    const org = await t.database.prisma.organization.findUniqueOrThrow({ where: { id: tn.id } });
    return { ...tn, pk: org.widgetPublicKey };
  }

  /** A visitor in a bot-mode session, connected (welcome read). */
  async function visitor(tn: Tenant, locale = 'en') {
    const s = await createVisitorSession(t.url, tn, { locale });
    const ws = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }), { origin: SHOP });
    clients.push(ws);
    const welcome = await ws.next('welcome');
    assert.equal(welcome.mode, 'bot');
    return { ws, conversationId: s.conversation_id };
  }

  async function agentIn(tn: Tenant) {
    const a = await createAgent(t.services, tn.id);
    const { cookie, csrf } = await loginAgent(t.url, a.user.email, a.password);
    const s = await connectSocket(t.url, { cookie });
    sockets.push(s);
    assert.equal((await emitAck(s, 'join_queue')).ok, true);
    return { socket: s, cookie, csrf, user: a.user };
  }

  const botSays = (ws: WsClient, match?: (content: string) => boolean) =>
    ws.next('msg', (f) => f.role === 'bot' && (!match || match(String(f.content))));

  test('a question gets an answer from the best passage, with its source and a way to a person', async () => {
    const tn = await tenant();
    const { ws, conversationId } = await visitor(tn);
    const agent = await agentIn(tn);
    const queued = record(agent.socket, 'conversation_updated');
    ws.send({ type: 'msg', client_msg_id: 'q1', content: 'How many days for a delivery to Germany?' });
    const answer = await botSays(ws);
    assert.match(String(answer.content), /2 to 4 working days/);
    assert.match(
      String(answer.content),
      /Source: Delivery times and costs — https:\/\/help\.shop\.example\/delivery/,
    );
    assert.equal(answer.content_type, 'quick_button');
    const buttons = (answer.rich_media as { buttons: { label: string }[] }).buttons;
    assert.equal(buttons[0]!.label, 'Talk to a person');
    assert.ok(buttons.length <= 3, 'at most two suggestions');
    const stored = await t.database.prisma.message.findMany({
      where: { conversationId },
      orderBy: { seq: 'asc' },
    });
    assert.deepEqual(
      stored.map((m) => m.senderType),
      ['end_user', 'bot'],
    );
    // Agents see nothing yet: the bot has it. The list's queue neither.
    const list = await fetch(`${t.url}/api/conversations/?filter=unassigned`, {
      headers: { cookie: agent.cookie },
    });
    assert.ok(!((await list.json()) as { id: string }[]).some((c) => c.id === conversationId));
    assert.equal(queued.length, 0);
    const conv = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
    assert.equal(conv.mode, 'bot');
  });

  test('asking for a person escalates: human mode, the queue, a ticket with the transcript, the webhooks', async () => {
    const tn = await tenant();
    const { ws, conversationId } = await visitor(tn);
    ws.send({ type: 'msg', client_msg_id: 'q1', content: 'Can I return shoes I wore once?' });
    assert.match(String((await botSays(ws)).content), /within 30 days/);
    const agent = await agentIn(tn);
    const queued = nextEvent(
      agent.socket,
      'conversation_updated',
      (e) => e.conversation_id === conversationId,
    );
    const ticketed = nextEvent(agent.socket, 'ticket_updated');
    // The button's text, as the widget sends it.
    ws.send({ type: 'msg', client_msg_id: 'q2', content: 'Talk to a person' });
    const update = await queued;
    assert.equal(update.content, 'Talk to a person');
    assert.equal((await ticketed).kind, 'created');
    // Nobody is online (the agent's socket joined the queue but presence is per node): told either way.
    const notice = await botSays(ws, (c) => /person|team/.test(c));
    assert.ok(notice);
    const conv = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
    assert.equal(conv.mode, 'human');
    assert.equal(conv.escalationReason, 'visitor_request');
    const tickets = await t.database.prisma.ticket.findMany({ where: { conversationId } });
    assert.equal(tickets.length, 1);
    assert.equal(tickets[0]!.number, 1);
    assert.equal(tickets[0]!.subject, 'Can I return shoes I wore once?');
    assert.match(tickets[0]!.summary, /Visitor: Can I return shoes I wore once\?\nBot: You can return/);
    // In the queue now, waiting.
    const list = await fetch(`${t.url}/api/conversations/?filter=unassigned`, {
      headers: { cookie: agent.cookie },
    });
    assert.ok(((await list.json()) as { id: string }[]).some((c) => c.id === conversationId));
    // The bot never speaks again.
    const botBefore = await t.database.prisma.message.count({ where: { conversationId, senderType: 'bot' } });
    ws.send({ type: 'msg', client_msg_id: 'q3', content: 'Hello? How long is delivery to France?' });
    await ws.next('ack', (f) => f.client_msg_id === 'q3');
    await t.bot.idle();
    assert.equal(
      await t.database.prisma.message.count({ where: { conversationId, senderType: 'bot' } }),
      botBefore,
    );
    // The webhooks, in the conversation's order.
    const got = await hooks.waitFor(
      (r) =>
        r.verified &&
        r.body?.tenant_id === tn.id &&
        ['escalation-triggered', 'ticket-created'].includes(r.event),
      10_000,
      2,
    );
    assert.deepEqual(
      got.map((r) => r.event),
      ['escalation-triggered', 'ticket-created'],
    );
    assert.equal(got[0]!.body!.data.reason, 'visitor_request');
    assert.equal(got[1]!.body!.data.number, 1);
    assert.equal(got[1]!.body!.data.conversation_id, conversationId);
  });

  test('two questions in a row without an answer escalate; one answered in between resets the count', async () => {
    const tn = await tenant();
    const { ws, conversationId } = await visitor(tn);
    ws.send({ type: 'msg', client_msg_id: 'a', content: 'Do you sell submarine spare parts?' });
    assert.match(String((await botSays(ws)).content), /couldn't find an answer/);
    ws.send({ type: 'msg', client_msg_id: 'b', content: 'When does the Lyon store open?' });
    assert.match(String((await botSays(ws, (c) => /Lyon/.test(c))).content), /10:00 to 19:00/);
    ws.send({ type: 'msg', client_msg_id: 'c', content: 'Zebra quantum saxophone?' });
    await botSays(ws, (c) => /couldn't find an answer/.test(c));
    ws.send({ type: 'msg', client_msg_id: 'd', content: 'Volcanic origami insurance?' });
    await botSays(ws, (c) => /offline|shortly/.test(c));
    const conv = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
    assert.equal(conv.mode, 'human');
    assert.equal(conv.escalationReason, 'no_answer');
  });

  test('the backend escalates through the signed API; a second time changes nothing', async () => {
    const tn = await tenant();
    const { ws, conversationId } = await visitor(tn);
    ws.send({ type: 'msg', client_msg_id: 'a', content: 'Where is the Paris store?' });
    await botSays(ws);
    const path = `/api/v1/relay/conversations/${conversationId}/escalate`;
    const first = await signedCall(t.url, tn, 'POST', path, { reason: 'vip_customer', priority: 'high' });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const data = first.body.data as {
      escalated: boolean;
      ticket: { id: string; priority: string; number: number };
    };
    assert.equal(data.escalated, true);
    assert.equal(data.ticket.priority, 'high');
    const again = await signedCall(t.url, tn, 'POST', path, {});
    assert.equal(again.status, 200);
    assert.equal((again.body.data as { escalated: boolean }).escalated, false);
    assert.equal(await t.database.prisma.ticket.count({ where: { conversationId } }), 1);
    const bad = await signedCall(t.url, tn, 'POST', path, { priority: 'asap' });
    assert.equal(bad.status, 400);
    const other = await tenant();
    const foreign = await signedCall(t.url, other, 'POST', path, {});
    assert.equal(foreign.status, 404);
  });

  /** A visitor's question stored by a node that died before its bot saw it: no event published. */
  async function storedByADeadNode(tn: Tenant, conversationId: string, content: string, ageMs = 0) {
    const session = await t.database.prisma.conversationSession.findFirstOrThrow({
      where: { conversationId, status: 'open' },
    });
    await t.database.prisma.message.create({
      data: {
        organizationId: tn.id,
        conversationId,
        sessionId: session.id,
        senderType: 'end_user',
        senderId: 'v',
        contentType: 'text',
        content,
        ...(ageMs ? { createdAt: new Date(Date.now() - ageMs) } : {}),
      },
    });
  }

  const botAnswers = (conversationId: string) =>
    t.database.prisma.message.count({ where: { conversationId, senderType: 'bot' } });

  test('a question the bot never answered (its node died) is answered on recovery, once; not while its node may still be answering it', async () => {
    const tn = await tenant();
    const { ws, conversationId } = await visitor(tn);
    ws.send({ type: 'msg', client_msg_id: 'a', content: 'How do I return an item?' });
    await botSays(ws);
    await storedByADeadNode(tn, conversationId, 'When does the Paris store open?');
    // Younger than the grace (2 s here): a live node may be composing its answer (a model's call,
    // an escalation) this very moment, so recovery leaves it.
    await t.bot.recover();
    await t.bot.idle();
    assert.equal(await botAnswers(conversationId), 1, 'a question just stored is left to its node');
    await new Promise((r) => setTimeout(r, 2500));
    // Past it: two nodes recovering at once answer it once.
    await Promise.all([t.bot.recover(), t.bot.recover()]);
    await t.bot.idle();
    const answer = await botSays(ws, (c) => /Paris/.test(c));
    assert.match(String(answer.content), /9:00 to 20:00/);
    assert.equal(await botAnswers(conversationId), 2, 'one answer per question');
    // Recovering again answers nothing here (it looks at every tenant of the database, so its
    // count may include another test's question still on its way).
    await t.bot.recover();
    await t.bot.idle();
    assert.equal(await botAnswers(conversationId), 2, 'nothing left to answer');
  });

  test('a node starting answers what the last run left: questions past the grace at once, younger ones once past it', async () => {
    const tn = await tenant();
    const old = await visitor(tn);
    const young = await visitor(tn);
    for (const v of [old, young]) {
      v.ws.send({ type: 'msg', client_msg_id: 'a', content: 'How do I return an item?' });
      await botSays(v.ws);
    }
    await storedByADeadNode(tn, old.conversationId, 'When does the Paris store open?', 60_000);
    await storedByADeadNode(tn, young.conversationId, 'How many days for a delivery to Germany?');
    t.bot.start();
    assert.match(String((await botSays(old.ws, (c) => /Paris/.test(c))).content), /9:00 to 20:00/);
    // The younger one waits for the grace (2 s) and a second for the database's clock.
    assert.equal(await botAnswers(young.conversationId), 1);
    assert.match(String((await botSays(young.ws, (c) => /working days/.test(c))).content), /2 to 4/);
    await t.bot.idle();
    assert.equal(await botAnswers(old.conversationId), 2);
    assert.equal(await botAnswers(young.conversationId), 2);
  });

  test('an escalation whose node died before its bot told the visitor: recovery tells them once, unless a person has answered or the session is over', async () => {
    const tn = await tenant();
    const told = await visitor(tn);
    const answered = await visitor(tn);
    const over = await visitor(tn);
    for (const v of [told, answered, over]) {
      v.ws.send({ type: 'msg', client_msg_id: 'a', content: 'How do I return an item?' });
      await botSays(v.ws);
    }
    // A node whose events go nowhere escalates both (committed), and dies before its bot speaks.
    const dead = servicesFor(t.database).services;
    for (const v of [told, answered, over])
      await dead.escalations.escalate(tn.id, v.conversationId, { reason: 'visitor_request' });
    // Another was resolved meanwhile.
    await t.database.prisma.conversationSession.updateMany({
      where: { conversationId: over.conversationId, status: 'open' },
      data: { status: 'resolved', resolvedAt: new Date() },
    });
    // In one of them an agent has answered meanwhile: a person is not "coming" any more.
    await t.database.prisma.message.create({
      data: {
        organizationId: tn.id,
        conversationId: answered.conversationId,
        sessionId: (
          await t.database.prisma.conversationSession.findFirstOrThrow({
            where: { conversationId: answered.conversationId, status: 'open' },
          })
        ).id,
        senderType: 'agent',
        senderId: 'ann',
        contentType: 'text',
        content: 'Hello, Ann here.',
      },
    });
    const coming = (c: string) => /offline|shortly/.test(c);
    // Younger than the grace: its node may be about to speak.
    await t.bot.recover();
    await t.bot.idle();
    assert.equal(await botAnswers(told.conversationId), 1);
    await new Promise((r) => setTimeout(r, 2500));
    await Promise.all([t.bot.recover(), t.bot.recover()]);
    await t.bot.idle();
    assert.match(String((await botSays(told.ws, coming)).content), /offline/);
    await t.bot.recover();
    await t.bot.idle();
    assert.equal(await botAnswers(told.conversationId), 2, 'told once');
    assert.equal(await botAnswers(answered.conversationId), 1, 'not told after a person answered');
    assert.equal(await botAnswers(over.conversationId), 1, 'not told once the session is over');
  });

  test("a tenant without a knowledge base has no bot: the queue gets the visitor's first message", async () => {
    const tn = await tenant([]);
    const { ws, conversationId } = await visitor(tn);
    const agent = await agentIn(tn);
    const queued = nextEvent(
      agent.socket,
      'conversation_updated',
      (e) => e.conversation_id === conversationId,
    );
    ws.send({ type: 'msg', client_msg_id: 'a', content: 'Hello, anyone?' });
    assert.equal((await queued).content, 'Hello, anyone?');
    await t.bot.idle();
    assert.equal(await t.database.prisma.message.count({ where: { conversationId, senderType: 'bot' } }), 0);
  });

  test("a ticket's life in the inbox API: assign, pending, resolved, closed, reopen; its webhooks", async () => {
    const tn = await tenant();
    const { ws, conversationId } = await visitor(tn);
    ws.send({ type: 'msg', client_msg_id: 'a', content: 'I want a human please' });
    await botSays(ws);
    const agent = await agentIn(tn);
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${t.url}${path}`, {
        method,
        headers: { cookie: agent.cookie, 'x-csrftoken': agent.csrf, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const listed = (await (await api('GET', '/api/tickets?status=open')).json()) as {
      items: { id: string; conversation_id: string; status: string }[];
    };
    const ticket = listed.items.find((i) => i.conversation_id === conversationId);
    assert.ok(ticket, 'the escalation filed a ticket');
    const patch = async (body: unknown, status = 200) => {
      const res = await api('PATCH', `/api/tickets/${ticket.id}`, body);
      const json = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, status, JSON.stringify(json));
      return json;
    };
    assert.equal((await patch({ assignee_id: agent.user.id })).assignee_id, agent.user.id);
    assert.equal((await patch({ status: 'pending', priority: 'urgent' })).status, 'pending');
    const resolved = await patch({ status: 'resolved' });
    assert.ok(resolved.resolved_at);
    assert.equal((await patch({ status: 'pending' }, 409)).error, 'ticket/bad_transition');
    assert.equal((await patch({ status: 'closed' })).status, 'closed');
    assert.equal((await patch({ status: 'open' })).resolved_at, null);
    await patch({ assignee_id: '00000000-0000-4000-8000-000000000000' }, 400);
    await patch({}, 400);
    const got = await hooks.waitFor(
      (r) => r.verified && r.body?.tenant_id === tn.id && r.event.startsWith('ticket-'),
      10_000,
      3,
    );
    assert.deepEqual(
      got.map((r) => r.event),
      ['ticket-created', 'ticket-assigned', 'ticket-resolved'],
    );
    assert.equal((got[1]!.body!.data.assignee as { id: string }).id, agent.user.id);
    // Another tenant's agent sees nothing of it.
    const stranger = await agentIn(await tenant([]));
    const res = await fetch(`${t.url}/api/tickets/${ticket.id}`, { headers: { cookie: stranger.cookie } });
    assert.equal(res.status, 404);
  });

  test('with a model configured, the passages go to the chat-completions endpoint; a failing model falls back', async () => {
    const calls: { auth?: string; body: { model: string; messages: { role: string; content: string }[] } }[] =
      [];
    let failing = false;
    const model = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        calls.push({ auth: req.headers.authorization, body: JSON.parse(raw) as never });
        if (failing) {
          res.writeHead(500).end('{"error":{"message":"overloaded"}}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            choices: [{ message: { role: 'assistant', content: 'Two to four working days [1].' } }],
          }),
        );
      });
    });
    await new Promise<void>((r) => model.listen(0, '127.0.0.1', r));
    const port = (model.address() as AddressInfo).port;
    const withModel = await startApp(t.database, {
      env: {
        ADMIN_KEY,
        BOT_LLM_BASE_URL: `http://127.0.0.1:${port}/v1`,
        BOT_LLM_API_KEY: 'sk-local-test',
        BOT_LLM_MODEL: 'shop-helper-1',
      },
    });
    try {
      const tn = await (async () => {
        const p = await provisionTenant(withModel.url, ADMIN_KEY, 'Model', { allowed_origins: [SHOP] });
        for (const d of DOCS) await withModel.services.knowledge.create(p.id, createDocumentSchema.parse(d));
        const org = await withModel.database.prisma.organization.findUniqueOrThrow({ where: { id: p.id } });
        return { ...p, pk: org.widgetPublicKey };
      })();
      const s = await createVisitorSession(withModel.url, tn, { locale: 'en' });
      const ws = await connectWs(widgetWsUrl(withModel.url, { token: s.visitor_token }), { origin: SHOP });
      clients.push(ws);
      await ws.next('welcome');
      ws.send({ type: 'msg', client_msg_id: 'm1', content: 'How long does delivery to Germany take?' });
      const answer = await ws.next('msg', (f) => f.role === 'bot');
      // The model's answer, then the source it cites, as a link like an extractive answer's.
      assert.equal(
        answer.content,
        'Two to four working days [1].\n\nSource: Delivery times and costs — https://help.shop.example/delivery',
      );
      assert.equal(calls.length, 1);
      const call = calls[0]!;
      assert.equal(call.auth, 'Bearer sk-local-test');
      assert.equal(call.body.model, 'shop-helper-1');
      assert.deepEqual(
        call.body.messages.map((m) => m.role),
        ['system', 'user'],
      );
      assert.equal(call.body.messages[1]!.content, 'How long does delivery to Germany take?');
      assert.match(
        call.body.messages[0]!.content,
        /\[1\] Delivery times and costs \(https:\/\/help\.shop\.example\/delivery\)\nOrders to Germany/,
      );
      failing = true;
      ws.send({ type: 'msg', client_msg_id: 'm2', content: 'How many days to return an item?' });
      const fallback = await ws.next('msg', (f) => f.role === 'bot');
      assert.match(String(fallback.content), /within 30 days/, 'the extractive answer when the model fails');
      assert.equal(calls.length, 2);
    } finally {
      await withModel.stop();
      model.close();
    }
  });
});
