import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';
import { connectSocket, emitAck } from '../../test/helpers/sockets.js';
import { createEmbedTokenSchema } from './channels.schemas.js';
import { createOrganizationSchema } from '../tenants/tenants.schemas.js';

// The attack (issue 14): after an embed token was revoked its visitors still joined, sent and read
// history; with the organization suspended the widget page still answered 200, sends went through
// and agents still signed in. Two nodes (two apps on one database and one Redis, as behind a load
// balancer): the revocation is made on node A, the sockets it must cut are on node B.
const postgres = dbModes.find((m) => m.name === 'postgres')!;
const CUT_WITHIN_MS = 3000;

/** A visitor id as the widget makes them (`v_` and 128 random bits). */
const visitorId = () => `v_${randomUUID().replaceAll('-', '')}`;

describe('revocation and suspension bite within seconds on every node', () => {
  let a: TestApp;
  let b: TestApp;
  const sockets: Socket[] = [];

  before(async () => {
    const env = { REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}` };
    const database = await postgres.open();
    a = await startApp(database, { redis: true, env });
    b = await startApp(database, { redis: true, env });
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    await b?.stop();
    await a?.stop();
    await a?.database.close();
  });

  const open = async (app: TestApp, cookie?: string) => {
    const s = await connectSocket(app.url, cookie ? { cookie } : {});
    sockets.push(s);
    return s;
  };

  /** Resolves with the disconnect reason, or rejects when the socket is still connected after `ms`. */
  const cut = (s: Socket, ms = CUT_WITHIN_MS) =>
    new Promise<string>((resolve, reject) => {
      if (!s.connected) return resolve('already disconnected');
      const timer = setTimeout(() => reject(new Error(`socket still connected after ${ms} ms`)), ms);
      s.once('disconnect', (reason) => {
        clearTimeout(timer);
        resolve(reason);
      });
    });

  /** The widget page as a top-level visit (a WebView): its config block names the conversation. */
  async function widgetPage(app: TestApp, token: string, sessionId: string, referer?: string) {
    const res = await fetch(
      `${app.url}/chat-widget?${new URLSearchParams({ embed_token: token, session_id: sessionId })}`,
      { headers: { 'sec-fetch-dest': referer ? 'iframe' : 'document', ...(referer ? { referer } : {}) } },
    );
    const text = await res.text();
    const json = /<script type="application\/json" id="cw-config">([^<]*)<\/script>/.exec(text)?.[1];
    return {
      status: res.status,
      csp: res.headers.get('content-security-policy') ?? '',
      error: json ? undefined : (JSON.parse(text) as { error: string }).error,
      conversationId: json ? (JSON.parse(json) as { conversation_id: string }).conversation_id : '',
    };
  }

  const send = (s: Socket, conversationId: string, externalId: string) =>
    emitAck(s, 'send_message', {
      conversation_id: conversationId,
      content: 'hello',
      content_type: 'text',
      sender_type: 'end_user',
      external_id: externalId,
      client_msg_id: randomUUID(),
    });

  /** Every end-user entry point that names a conversation, and what each answered. */
  async function endUserAnswers(app: TestApp, conversationId: string, externalId: string) {
    const s = await open(app);
    const join = await emitAck(s, 'join_conversation', {
      conversation_id: conversationId,
      external_id: externalId,
    });
    const sent = await send(s, conversationId, externalId);
    const history = await request(app.url)
      .get(`/chat-widget/history/${conversationId}`)
      .query({ external_id: externalId });
    const device = await request(app.url)
      .post('/api/mobile/devices')
      .send({
        conversation_id: conversationId,
        external_id: externalId,
        platform: 'fcm',
        token: `fcm-token-${randomUUID()}`,
      });
    s.disconnect();
    return {
      join: join.error,
      send: sent.error,
      history: [history.status, history.body.error],
      device: [device.status, device.body.error],
    };
  }

  async function adminOf(orgId: string) {
    const admin = await createAgent(a.services, orgId, { role: 'admin' });
    const session = await loginAgent(a.url, admin.user.email, admin.password);
    return { ...admin, session, http: agentHttp(a.url, session) };
  }

  test('a revoked embed token disconnects its visitors on the other node; every way back is 403', async () => {
    const { org, embedToken, channelId } = await createOrg(a.services);
    const admin = await adminOf(org.id);
    const second = await a.services.channels.createEmbedToken(
      createEmbedTokenSchema.parse({ organizationId: org.id, name: 'Second site' }),
    );
    const revoked = await a.services.channels.findEmbedToken(embedToken);

    // A visitor of the token to revoke, and one of another token of the same channel, both on B.
    const mallory = visitorId();
    const page = await widgetPage(a, embedToken, mallory);
    assert.equal(page.status, 200);
    const malloryB = await open(b);
    assert.equal(
      (
        await emitAck(malloryB, 'join_conversation', {
          conversation_id: page.conversationId,
          external_id: mallory,
        })
      ).ok,
      true,
    );
    const ann = visitorId();
    const annPage = await widgetPage(a, second.token, ann);
    const annB = await open(b);
    assert.equal(
      (
        await emitAck(annB, 'join_conversation', {
          conversation_id: annPage.conversationId,
          external_id: ann,
        })
      ).ok,
      true,
    );
    // The agent on the conversation loses nothing.
    const agentB = await open(b, admin.session.cookie);
    assert.equal(
      (await emitAck(agentB, 'join_conversation', { conversation_id: page.conversationId })).ok,
      true,
    );

    const gone = cut(malloryB);
    const res = await admin.http.delete(`/api/embed-tokens/${revoked!.id}`);
    assert.equal(res.status, 200);
    assert.equal(await gone, 'io server disconnect');

    assert.deepEqual(await endUserAnswers(b, page.conversationId, mallory), {
      join: 'embed_token/revoked',
      send: 'embed_token/revoked',
      history: [403, 'embed_token/revoked'],
      device: [403, 'embed_token/revoked'],
    });
    const again = await widgetPage(b, embedToken, mallory);
    assert.deepEqual([again.status, again.error], [403, 'embed_token/invalid']);
    const profile = await request(b.url)
      .post('/chat-widget/profile')
      .send({ embed_token: embedToken, session_id: mallory, customer_name: 'Mallory' });
    assert.deepEqual([profile.status, profile.body.error], [403, 'embed_token/invalid']);
    assert.match(profile.body.message, /revoked/);

    // The other token's visitor and the agent are still in and still talk.
    assert.equal(annB.connected, true);
    assert.equal(agentB.connected, true);
    assert.equal((await send(annB, annPage.conversationId, ann)).ok, true);

    // The same visitor may come back through the live token: the conversation lives by it now.
    const back = await widgetPage(b, second.token, mallory);
    assert.equal(back.status, 200);
    assert.equal(back.conversationId, page.conversationId);
    const s = await open(a);
    assert.equal(
      (await emitAck(s, 'join_conversation', { conversation_id: page.conversationId, external_id: mallory }))
        .ok,
      true,
    );

    // The channel's last live token: every visitor of the channel goes, the legacy ones too.
    const annGone = cut(annB);
    const sGone = cut(s);
    await a.services.channels.revokeEmbedToken(admin.actor, second.embedToken.id);
    await Promise.all([annGone, sGone]);
    assert.equal(
      (
        await emitAck(await open(b), 'join_conversation', {
          conversation_id: annPage.conversationId,
          external_id: ann,
        })
      ).error,
      'embed_token/revoked',
    );
    assert.equal(channelId, second.channelId);
  });

  test('a suspended organization: agents, visitors and apps are cut off on every node, every door is 403', async () => {
    const { org, embedToken, botId } = await createOrg(a.services);
    const other = await createOrg(a.services);
    const admin = await adminOf(org.id);
    const agent = await createAgent(a.services, org.id);
    const { channel: mobile } = await a.services.channels.createMobileChannel(admin.actor, botId);

    const visitor = visitorId();
    const page = await widgetPage(a, embedToken, visitor);
    const visitorB = await open(b);
    await emitAck(visitorB, 'join_conversation', {
      conversation_id: page.conversationId,
      external_id: visitor,
    });
    const appUser = visitorId();
    const opened = await request(a.url)
      .post('/api/mobile/conversations')
      .send({ channel_id: mobile.id, external_id: appUser });
    assert.equal(opened.status, 200);
    const appA = await open(a);
    assert.equal(
      (
        await emitAck(appA, 'join_conversation', {
          conversation_id: opened.body.conversation_id,
          external_id: appUser,
        })
      ).ok,
      true,
    );
    const agentB = await open(b, admin.session.cookie);
    assert.equal((await emitAck(agentB, 'join_queue')).ok, true);
    // Another tenant's visitor is not touched.
    const bystander = visitorId();
    const bystanderPage = await widgetPage(a, other.embedToken, bystander);
    const bystanderB = await open(b);
    await emitAck(bystanderB, 'join_conversation', {
      conversation_id: bystanderPage.conversationId,
      external_id: bystander,
    });

    const started = Date.now();
    const allGone = Promise.all([cut(visitorB), cut(appA), cut(agentB)]);
    await a.services.tenants.suspend(org.id);
    assert.deepEqual(await allGone, Array(3).fill('io server disconnect'));
    assert.ok(Date.now() - started < CUT_WITHIN_MS);

    for (const node of [a, b]) {
      assert.deepEqual(await endUserAnswers(node, page.conversationId, visitor), {
        join: 'organization/suspended',
        send: 'organization/suspended',
        history: [403, 'organization/suspended'],
        device: [403, 'organization/suspended'],
      });
    }
    assert.equal(
      (await endUserAnswers(b, opened.body.conversation_id as string, appUser)).join,
      'organization/suspended',
    );
    const newVisitor = await widgetPage(b, embedToken, visitorId());
    assert.deepEqual([newVisitor.status, newVisitor.error], [403, 'organization/suspended']);
    const profile = await request(b.url)
      .post('/chat-widget/profile')
      .send({ embed_token: embedToken, session_id: visitor, customer_name: 'V' });
    assert.deepEqual([profile.status, profile.body.error], [403, 'organization/suspended']);
    const nativeOpen = await request(b.url)
      .post('/api/mobile/conversations')
      .send({ channel_id: mobile.id, external_id: visitorId() });
    assert.deepEqual([nativeOpen.status, nativeOpen.body.error], [403, 'organization/suspended']);

    // Agents: the session in hand no longer counts, a new sign-in is refused with the reason.
    assert.equal((await agentHttp(b.url, admin.session).get('/api/conversations')).status, 401);
    await assert.rejects(
      loginAgent(b.url, agent.user.email, agent.password),
      /login failed: 403 .*organization\/suspended/,
    );
    // A wrong password still gets the one answer for every failure (nothing leaks to a guesser).
    await assert.rejects(loginAgent(b.url, agent.user.email, 'wrong-password'), /login failed: 401/);

    assert.equal(bystanderB.connected, true);
    assert.equal((await send(bystanderB, bystanderPage.conversationId, bystander)).ok, true);

    // Lifted: everyone may come back.
    await a.services.tenants.reactivate(org.id);
    assert.equal((await widgetPage(b, embedToken, visitor)).status, 200);
    await loginAgent(b.url, agent.user.email, agent.password);
    const back = await open(a);
    assert.equal((await send(back, page.conversationId, visitor)).ok, true);
  });

  test('a revoked channel: its app users are cut off, native open and joins are 403 until restored', async () => {
    const { org, botId } = await createOrg(a.services);
    const admin = await adminOf(org.id);
    const { channel } = await a.services.channels.createMobileChannel(admin.actor, botId);
    const user = visitorId();
    const opened = await request(a.url)
      .post('/api/mobile/conversations')
      .send({ channel_id: channel.id, external_id: user });
    const appB = await open(b);
    await emitAck(appB, 'join_conversation', {
      conversation_id: opened.body.conversation_id,
      external_id: user,
    });

    const gone = cut(appB);
    const res = await admin.http.post(`/api/channels/${channel.id}/revoke`);
    assert.equal(res.status, 200);
    assert.ok(res.body.revoked_at);
    await gone;
    const reopen = await request(b.url)
      .post('/api/mobile/conversations')
      .send({ channel_id: channel.id, external_id: user });
    assert.deepEqual([reopen.status, reopen.body.error], [403, 'channel/revoked']);
    assert.deepEqual(await endUserAnswers(b, opened.body.conversation_id as string, user), {
      join: 'channel/revoked',
      send: 'channel/revoked',
      history: [403, 'channel/revoked'],
      device: [403, 'channel/revoked'],
    });
    // Another tenant's admin cannot touch it.
    const stranger = await adminOf((await createOrg(a.services)).org.id);
    assert.equal((await stranger.http.post(`/api/channels/${channel.id}/restore`)).status, 404);

    const restored = await admin.http.post(`/api/channels/${channel.id}/restore`);
    assert.equal(restored.body.revoked_at, null);
    const s = await open(b);
    assert.equal(
      (
        await emitAck(s, 'join_conversation', {
          conversation_id: opened.body.conversation_id,
          external_id: user,
        })
      ).ok,
      true,
    );
  });

  test('a deactivated agent is disconnected on the other node at once', async () => {
    const { org } = await createOrg(a.services);
    const admin = await adminOf(org.id);
    const agent = await createAgent(a.services, org.id);
    const login = await loginAgent(b.url, agent.user.email, agent.password);
    const agentB = await open(b, login.cookie);
    const gone = cut(agentB);
    await a.services.agents.updateMember(admin.actor, agent.user.id, { status: 'deactivated' });
    assert.equal(await gone, 'io server disconnect');
  });

  test("the widget page allows the token's origins and its organization's, and nothing else", async () => {
    const { organization } = await a.services.tenants.createOrganization(
      createOrganizationSchema.parse({ name: 'Origins', allowedOrigins: ['https://org.example'] }),
    );
    const scoped = await a.services.channels.createEmbedToken(
      createEmbedTokenSchema.parse({
        organizationId: organization.id,
        allowedOrigins: ['https://shop.example'],
      }),
    );
    const blank = await a.services.channels.createEmbedToken(
      createEmbedTokenSchema.parse({ organizationId: organization.id }),
    );
    for (const token of [scoped.token, blank.token]) {
      const fromOrg = await widgetPage(a, token, visitorId(), 'https://org.example/help');
      assert.equal(fromOrg.status, 200);
      assert.match(fromOrg.csp, /frame-ancestors 'self'[^;]* https:\/\/org\.example/);
      const evil = await widgetPage(a, token, visitorId(), 'https://evil.example/');
      assert.deepEqual([evil.status, evil.error], [403, 'origin/forbidden']);
    }
    const fromShop = await widgetPage(a, scoped.token, visitorId(), 'https://shop.example/cart');
    assert.equal(fromShop.status, 200);
    assert.match(fromShop.csp, /frame-ancestors 'self' https:\/\/shop\.example https:\/\/org\.example$/);
    // The organization's origins do not open the blank token to the shop.
    const shopOnBlank = await widgetPage(a, blank.token, visitorId(), 'https://shop.example/');
    assert.equal(shopOnBlank.status, 403);
  });
});
