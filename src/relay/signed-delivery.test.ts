// A message sent through the signed API (HMAC#1) reaches the conversation's visitor and agents
// exactly as one sent from the inbox does (issue 17, part 2; README "Signed backend API"): for each
// role (visitor, agent, bot, system) the widget's Socket.IO client, the visitor WebSocket and an
// agent socket in the conversation's room get it live, with the inbox message's payload.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { openPostgres } from '../shared/db.js';
import { createEmbedTokenSchema } from '../channels/channels.schemas.js';
import { userHash } from '../tenants/identity.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { testDatabaseUrl } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { provisionTenant, SHOP, signedCall, type SignedTenant } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, record } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

type Received = Record<string, unknown> & { id: string; content: string; sender_type: string };

describe('signed API messages reach the Socket.IO visitor and the agents', () => {
  let t: TestApp;
  const sockets: Socket[] = [];
  const wsClients: WsClient[] = [];

  before(async () => {
    t = await startApp(await openPostgres(testDatabaseUrl(), { poolSize: 5 }), {
      redis: true,
      env: { ADMIN_KEY },
    });
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    for (const w of wsClients) w.close();
    await t.stop();
    await t.database.close();
  });

  const call = (tn: SignedTenant, method: string, path: string, json?: unknown) =>
    signedCall(t.url, tn, method, `/api/v1/relay${path}`, json);

  /**
   * A provisioned tenant that also embeds the Socket.IO widget: an embed token for its web chat,
   * as the console makes one (the widget loads with it). Without a live one a web-chat
   * conversation is closed to Socket.IO end users (`embed_token/revoked`); the relay's own visitor
   * sessions go through the WebSocket instead.
   */
  async function tenantWithWidget(name: string) {
    const tn = await provisionTenant(t.url, ADMIN_KEY, name, { allowed_origins: [SHOP] });
    const { channelId } = await t.services.channels.createEmbedToken(
      createEmbedTokenSchema.parse({ organizationId: tn.id }),
    );
    return { tn, channelId };
  }

  /** The widget on Socket.IO, joined to the conversation as the user the backend signs for. */
  async function widgetIn(tn: SignedTenant, convId: string, visitorId: string) {
    const widget = await connectSocket(t.url, { origin: SHOP });
    sockets.push(widget);
    const joined = await emitAck(widget, 'join_conversation', {
      conversation_id: convId,
      external_id: visitorId,
      user_hash: userHash(tn.secret, visitorId),
    });
    assert.equal(joined.ok, true, JSON.stringify(joined));
    return widget;
  }

  test('each role, live on the widget socket, the visitor WebSocket and an agent socket; the inbox payload', async () => {
    const { tn, channelId } = await tenantWithWidget('Signed delivery');
    const visitorId = 'signed-visitor';
    const opened = await call(tn, 'POST', '/conversations', {
      visitor_user_id: visitorId,
      visitor_display_name: 'Vera',
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    const convId = String(opened.body.data!.conversation_id);
    const stored = await t.database.prisma.conversation.findUniqueOrThrow({ where: { id: convId } });
    assert.equal(stored.channelId, channelId, "the widget's channel");
    const op = await call(tn, 'POST', '/operators', { external_id: 'op-signed', routing_keys: [] });
    assert.equal(op.status, 201, JSON.stringify(op.body));

    // The widget on Socket.IO, as the tenant's page embeds it: the user id signed by the backend.
    const widget = await widgetIn(tn, convId, visitorId);
    const widgetHeard = record<Received>(widget, 'message_received');

    // The same visitor in an app, on the raw WebSocket with a token the backend minted.
    const minted = await call(tn, 'POST', '/visitor-token', { visitor_user_id: visitorId, origin: SHOP });
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    assert.equal(minted.body.data!.conversation_id, convId);
    const ws = await connectWs(widgetWsUrl(t.url, { token: String(minted.body.data!.visitor_token) }), {
      origin: SHOP,
    });
    wsClients.push(ws);
    await ws.next('welcome');

    // An agent of the tenant in the inbox, looking at the conversation.
    const agent = await createAgent(t.services, tn.id);
    const login = await loginAgent(t.url, agent.user.email, agent.password);
    const agentSocket = await connectSocket(t.url, { cookie: login.cookie });
    sockets.push(agentSocket);
    const agentJoined = await emitAck(agentSocket, 'join_conversation', { conversation_id: convId });
    assert.equal(agentJoined.ok, true, JSON.stringify(agentJoined));
    const agentHeard = record<Received>(agentSocket, 'message_received');

    const sends = [
      { role: 'visitor', content: 'Hi, from the app', sender_type: 'end_user' },
      { role: 'bot', content: 'The bot answers', sender_type: 'bot' },
      { role: 'system', content: 'Order #7 shipped', sender_type: 'system' },
      {
        role: 'agent',
        content: 'An operator here',
        sender_type: 'agent',
        operator_external_id: 'op-signed',
      },
    ];
    const answers: Received[] = [];
    for (const { sender_type: senderType, ...body } of sends) {
      const res = await call(tn, 'POST', `/conversations/${convId}/messages`, body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const data = res.body.data as Received;
      assert.equal(data.sender_type, senderType);
      answers.push(data);
      // Each arrives before the next is sent: live, not at a later catch-up.
      await eventually(() => widgetHeard.some((m) => m.id === data.id), 5000).catch(() =>
        assert.fail(`${body.role}: not on the widget socket; got ${JSON.stringify(widgetHeard)}`),
      );
      await eventually(() => agentHeard.some((m) => m.id === data.id), 5000).catch(() =>
        assert.fail(`${body.role}: not on the agent socket; got ${JSON.stringify(agentHeard)}`),
      );
      const frame = await ws.next('msg', (f) => f.content === body.content, 5000);
      assert.equal(frame.role, body.role, 'the WebSocket frame names the role');
    }

    // What the sockets got is the stored message the API answered, minus the API's own fields.
    for (const a of answers) {
      const { role: _role, duplicate: _dup, read_by: _read, ...expected } = a;
      assert.deepEqual(
        widgetHeard.find((m) => m.id === a.id),
        expected,
        `widget: ${a.sender_type}`,
      );
      assert.deepEqual(
        agentHeard.find((m) => m.id === a.id),
        expected,
        `agent: ${a.sender_type}`,
      );
    }
    assert.deepEqual(
      widgetHeard.map((m) => m.content),
      sends.map((s) => s.content),
      'in order, each once',
    );
    assert.deepEqual(
      agentHeard.map((m) => m.content),
      sends.map((s) => s.content),
    );

    // One from the inbox, for comparison: the same event, the same fields of the same types.
    const inbox = await emitAck(agentSocket, 'send_message', {
      conversation_id: convId,
      content: 'Sent from the inbox',
      content_type: 'text',
      sender_type: 'agent',
    });
    assert.equal(inbox.ok, true, JSON.stringify(inbox));
    await eventually(() => widgetHeard.length === 5 && agentHeard.length === 5);
    const fromInbox = widgetHeard[4]!;
    assert.equal(fromInbox.content, 'Sent from the inbox');
    assert.deepEqual(agentHeard[4], fromInbox);
    const shape = (m: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(m)
          .map(([k, v]) => [k, v === null ? 'null' : typeof v] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
    for (const m of widgetHeard.slice(0, 4)) {
      assert.deepEqual(shape(m), shape(fromInbox), `${m.sender_type} vs the inbox's`);
      assert.equal(m.conversation_id, convId);
      assert.equal(m.session_id, fromInbox.session_id, 'one session');
    }
    assert.deepEqual(
      widgetHeard.map((m) => m.seq),
      [1, 2, 3, 4, 5],
    );
  });

  test("an internal note through the signed API reaches the agents, not the visitor's sockets", async () => {
    const { tn } = await tenantWithWidget('Signed note');
    const visitorId = 'noted-visitor';
    const opened = await call(tn, 'POST', '/conversations', { visitor_user_id: visitorId });
    const convId = String(opened.body.data!.conversation_id);
    await call(tn, 'POST', '/operators', { external_id: 'op-note', routing_keys: [] });
    const widget = await widgetIn(tn, convId, visitorId);
    const widgetHeard = record<Received>(widget, 'message_received');
    const agent = await createAgent(t.services, tn.id);
    const login = await loginAgent(t.url, agent.user.email, agent.password);
    const agentSocket = await connectSocket(t.url, { cookie: login.cookie });
    sockets.push(agentSocket);
    assert.equal((await emitAck(agentSocket, 'join_conversation', { conversation_id: convId })).ok, true);
    const agentHeard = record<Received>(agentSocket, 'message_received');

    const path = `/conversations/${convId}/messages`;
    // A note needs an open session: the visitor's first message opens it.
    const first = await call(tn, 'POST', path, { role: 'visitor', content: 'Where is my order?' });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const note = await call(tn, 'POST', path, {
      role: 'agent',
      operator_external_id: 'op-note',
      content: 'Internal: VIP customer',
      internal: true,
    });
    assert.equal(note.status, 201, JSON.stringify(note.body));
    const visible = await call(tn, 'POST', path, { role: 'system', content: 'Visible to all' });
    assert.equal(visible.status, 201, JSON.stringify(visible.body));
    // The visible one came after the note on the same path: once it is in, the note had its turn.
    await eventually(() => widgetHeard.some((m) => m.content === 'Visible to all'));
    await eventually(() => agentHeard.some((m) => m.content === 'Visible to all'));
    assert.deepEqual(
      agentHeard.map((m) => m.content),
      ['Where is my order?', 'Internal: VIP customer', 'Visible to all'],
    );
    assert.deepEqual(
      widgetHeard.map((m) => m.content),
      ['Where is my order?', 'Visible to all'],
    );
  });
});
