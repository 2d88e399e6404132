// The bot's hand-over, end to end on the visitor WebSocket: follow-up suggestions that ask for
// another document, a visitor asking for a person in French, what the visitor is told (a person
// is coming when an agent is online; when nobody is, the usual wait from the tenant's history),
// and the tenant's backend escalating through the signed API with every effect: mode, queue,
// visitor notice and the escalation-triggered webhook carrying the backend's reason.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { startApp, loginAgent, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { createVisitorSession, provisionTenant, signedCall, SHOP } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, nextEvent } from '../../test/helpers/sockets.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';
import { createDocumentSchema } from '../knowledge/knowledge.schemas.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;
const MIN = 60_000;

const DOCS = [
  {
    title: 'Delivery times and costs',
    url: 'https://help.shop.example/delivery',
    body: 'Orders to Germany, France and Belgium arrive in 2 to 4 working days. Standard delivery costs 4.90 euros and is free from 60 euros.',
  },
  {
    title: 'Returning an item',
    url: 'https://help.shop.example/returns',
    body: 'You can return any item within 30 days of delivery. Print the prepaid label from your account and drop the parcel at any parcel point.',
  },
  {
    title: 'Retours et remboursements',
    url: 'https://help.shop.example/fr/retours',
    language: 'fr',
    body: 'Vous pouvez retourner un article sous 30 jours après la livraison. Le remboursement arrive sous 5 jours.',
  },
];

type Tenant = { id: string; secret: string; pk: string };

describe('the bot hands over', () => {
  let t: TestApp;
  let hooks: WebhookReceiver;
  const secrets = new Map<string, string>();
  const sockets: Socket[] = [];
  const clients: WsClient[] = [];

  before(async () => {
    hooks = await startWebhookReceiver({ secrets: (id) => secrets.get(id) });
    t = await startApp(await dbModes[0]!.open(), {
      env: { ADMIN_KEY, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '50' },
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

  async function tenant(): Promise<Tenant> {
    const tn = await provisionTenant(t.url, ADMIN_KEY, 'Handover', {
      allowed_origins: [SHOP],
      callback_base_url: hooks.url,
    });
    secrets.set(tn.id, tn.secret);
    for (const d of DOCS) await t.services.knowledge.create(tn.id, createDocumentSchema.parse(d));
    const org = await t.database.prisma.organization.findUniqueOrThrow({ where: { id: tn.id } });
    return { ...tn, pk: org.widgetPublicKey };
  }

  async function visitor(tn: Tenant, locale = 'en') {
    const s = await createVisitorSession(t.url, tn, { locale });
    const ws = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }), { origin: SHOP });
    clients.push(ws);
    assert.equal((await ws.next('welcome')).mode, 'bot');
    return { ws, conversationId: s.conversation_id };
  }

  /** An agent of the tenant, signed in, with a socket in the queue: online. */
  async function agentIn(tn: Tenant) {
    const a = await createAgent(t.services, tn.id);
    const { cookie } = await loginAgent(t.url, a.user.email, a.password);
    const s = await connectSocket(t.url, { cookie });
    sockets.push(s);
    assert.equal((await emitAck(s, 'join_queue')).ok, true);
    await eventually(async () => (await t.realtime.onlineAgents(tn.id)).includes(a.user.id));
    return { socket: s, user: a.user };
  }

  /**
   * Past conversations of the tenant whose first assignment came `minutes` after the visitor's
   * first message: the history the expected wait is the median of.
   */
  async function history(tn: Tenant, minutes: number[]) {
    for (const m of minutes) {
      const s = await createVisitorSession(t.url, tn, {});
      const firstMessageAt = new Date(Date.now() - 3 * 60 * MIN);
      await t.database.prisma.conversationSession.create({
        data: {
          organizationId: tn.id,
          conversationId: s.conversation_id,
          status: 'resolved',
          firstMessageAt,
          assignedAt: new Date(firstMessageAt.getTime() + m * MIN),
          resolvedAt: new Date(firstMessageAt.getTime() + (m + 5) * MIN),
        },
      });
    }
  }

  const botSays = (ws: WsClient, match?: (content: string) => boolean) =>
    ws.next('msg', (f) => f.role === 'bot' && (!match || match(String(f.content))));

  const ask = async (ws: WsClient, id: string, content: string) => {
    ws.send({ type: 'msg', client_msg_id: id, content });
    await ws.next('ack', (f) => f.client_msg_id === id);
  };

  test("a follow-up suggestion carries another document's title; tapping it gets that document's answer", async () => {
    const tn = await tenant();
    const { ws } = await visitor(tn);
    await ask(ws, 'q1', 'Can I return an item after delivery?');
    const answer = await botSays(ws);
    assert.match(String(answer.content), /within 30 days/);
    assert.match(
      String(answer.content),
      /Source: Returning an item — https:\/\/help\.shop\.example\/returns/,
    );
    const buttons = (answer.rich_media as { buttons: { label: string; value: string }[] }).buttons;
    assert.equal(buttons[0]!.label, 'Talk to a person');
    const suggestion = buttons.find((b) => b.label === 'Delivery times and costs');
    assert.ok(suggestion, `a suggestion for the other document, got ${JSON.stringify(buttons)}`);
    assert.equal(suggestion.value, 'Delivery times and costs');
    assert.ok(
      !buttons.some((b) => b.label === 'Returning an item'),
      'the answer’s own source is no suggestion',
    );
    // Tapped: the widget sends the button's label, with its value.
    ws.send({
      type: 'msg',
      client_msg_id: 'tap',
      content: suggestion.label,
      rich_media: { value: suggestion.value },
    });
    const followUp = await botSays(ws, (c) => c !== answer.content);
    assert.match(String(followUp.content), /2 to 4 working days/);
    assert.match(
      String(followUp.content),
      /Source: Delivery times and costs — https:\/\/help\.shop\.example\/delivery/,
    );
  });

  test('in French: "un humain svp" escalates, and the visitor is told in French with the usual wait', async () => {
    const tn = await tenant();
    await history(tn, [10, 20, 20, 25, 40]);
    const { ws, conversationId } = await visitor(tn, 'fr');
    await ask(ws, 'q1', 'Je peux retourner un article ?');
    assert.match(String((await botSays(ws)).content), /sous 30 jours/);
    await ask(ws, 'q2', 'un humain svp');
    const notice = await botSays(ws, (c) => c.startsWith('Notre équipe'));
    assert.equal(
      notice.content,
      'Notre équipe est absente pour le moment. Une personne vous répondra ici dès son retour (en général sous 20 minutes).',
    );
    const conv = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
    assert.equal(conv.mode, 'human');
    assert.equal(conv.escalationReason, 'visitor_request');
    assert.equal(await t.database.prisma.ticket.count({ where: { conversationId } }), 1);
  });

  test('nobody online: the visitor is told the median wait of the last 30 days', async () => {
    const tn = await tenant();
    // Median 20 minutes; a session older than 30 days and an unassigned one don't count.
    await history(tn, [5, 12, 20, 33, 95]);
    const old = await createVisitorSession(t.url, tn, {});
    await t.database.prisma.conversationSession.create({
      data: {
        organizationId: tn.id,
        conversationId: old.conversation_id,
        status: 'resolved',
        firstMessageAt: new Date(Date.now() - 40 * 24 * 60 * MIN),
        assignedAt: new Date(Date.now() - 40 * 24 * 60 * MIN + 600 * MIN),
      },
    });
    assert.deepEqual(await t.realtime.onlineAgents(tn.id), []);
    const { ws, conversationId } = await visitor(tn);
    await ask(ws, 'q1', 'I want to talk to an agent');
    const notice = await botSays(ws);
    assert.equal(
      notice.content,
      'Our team is offline right now. A person will answer here as soon as they are back (usually within about 20 minutes).',
    );
    const conv = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
    assert.equal(conv.mode, 'human');
  });

  test('nobody online and too little history (under five assignments): no figure', async () => {
    const tn = await tenant();
    await history(tn, [10, 20, 30, 40]);
    const { ws } = await visitor(tn);
    await ask(ws, 'q1', 'person please');
    assert.equal(
      (await botSays(ws)).content,
      'Our team is offline right now. A person will answer here as soon as they are back.',
    );
  });

  test('an agent online: the visitor is told a person is coming, with no wait', async () => {
    const tn = await tenant();
    await history(tn, [20, 20, 20, 20, 20]);
    const agent = await agentIn(tn);
    const { ws, conversationId } = await visitor(tn);
    const queued = nextEvent(
      agent.socket,
      'conversation_updated',
      (e) => e.conversation_id === conversationId,
    );
    await ask(ws, 'q1', 'Can I speak to a human?');
    await queued;
    assert.equal(
      (await botSays(ws)).content,
      'I am passing you to a person from our team: they will answer here shortly.',
    );
  });

  test("the backend escalates through the signed API: human mode, the queue, the visitor's notice, the webhook's reason", async () => {
    const tn = await tenant();
    const agent = await agentIn(tn);
    const { ws, conversationId } = await visitor(tn);
    await ask(ws, 'q1', 'How long is delivery to Belgium?');
    assert.match(String((await botSays(ws)).content), /2 to 4 working days/);
    const queued = nextEvent(
      agent.socket,
      'conversation_updated',
      (e) => e.conversation_id === conversationId,
    );
    const ticketed = nextEvent(agent.socket, 'ticket_updated');
    const res = await signedCall(
      t.url,
      tn,
      'POST',
      `/api/v1/relay/conversations/${conversationId}/escalate`,
      {
        reason: 'vip_customer',
        priority: 'urgent',
      },
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const update = await queued;
    assert.equal(update.conversation_id, conversationId);
    const ticket = await ticketed;
    assert.equal(ticket.kind, 'created');
    assert.equal(
      (await botSays(ws, (c) => /person/.test(c))).content,
      'I am passing you to a person from our team: they will answer here shortly.',
    );
    const conv = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId } });
    assert.equal(conv.mode, 'human');
    assert.equal(conv.escalationReason, 'vip_customer');
    const [hook] = await hooks.waitFor(
      (r) => r.verified && r.body?.tenant_id === tn.id && r.event === 'escalation-triggered',
      10_000,
    );
    assert.equal(hook!.body!.data.reason, 'vip_customer');
    assert.equal(hook!.body!.data.conversation_id, conversationId);
    // Now the humans have it: the bot stays quiet.
    const bots = await t.database.prisma.message.count({ where: { conversationId, senderType: 'bot' } });
    await ask(ws, 'q2', 'And to France?');
    await t.bot.idle();
    assert.equal(
      await t.database.prisma.message.count({ where: { conversationId, senderType: 'bot' } }),
      bots,
    );
  });
});
