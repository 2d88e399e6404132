// The relay's visitor side: widget config, visitor sessions, their tokens (expiry, refresh, key
// rotation), identify, CORS, the tenant quota, modes and queues, isolation between tenants. Every
// answer is in the envelope; the clock is moved, never slept on.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, message } from '../../test/helpers/factories.js';
import { agentHttp, ISO_8601 } from '../../test/helpers/http.js';
import { connectSocket } from '../../test/helpers/sockets.js';
import { sendAsRelayVisitor } from '../../test/helpers/relay.js';
import { userHash } from '../tenants/identity.js';
import { createOrganizationSchema } from '../tenants/tenants.schemas.js';
import { createVisitorTokens, keyId } from './tokens.js';

const SHOP = 'https://app.acme.com';
const APP = 'app://com.acme.shop';
const HOUR_S = 3600;
const DAY_MS = 86_400_000;

type Body = {
  status_code: number;
  data: Record<string, unknown> | null;
  message: string;
  error?: string;
  retry_after?: number;
};
type SessionData = {
  session_id: string;
  visitor_token: string;
  expires_at: string;
  session_expires_at: string;
  conversation_id: string;
  widget_config: Record<string, unknown>;
};

/** An error answer in the envelope: HTTP status = status_code, `data: null`, the code. */
function assertEnvelopeError(res: request.Response, status: number, error: string) {
  const body = res.body as Body;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.status_code, status);
  assert.equal(body.data, null);
  assert.equal(body.error, error);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
}

describe('visitor tokens (keys and rotation)', () => {
  const binding = {
    sessionId: 'vs_x',
    tenantId: randomUUID(),
    widgetPublicKey: 'pk_x',
    origin: SHOP,
    conversationId: randomUUID(),
  };
  const oldKey = 'o'.repeat(40);
  const newKey = 'n'.repeat(40);

  test('signed with the current key, its kid in the header; the previous key still verifies', async () => {
    const before = createVisitorTokens({ secrets: [oldKey], ttlS: HOUR_S });
    const { token } = await before.signVisitorToken(binding);
    assert.equal(decodeProtectedHeader(token).kid, keyId(oldKey));
    assert.equal(decodeProtectedHeader(token).alg, 'HS256');
    // After a rotation (VISITOR_TOKEN_SECRET=new, VISITOR_TOKEN_PREVIOUS_SECRET=old).
    const after = createVisitorTokens({ secrets: [newKey, oldKey], ttlS: HOUR_S });
    const verified = await after.verifyVisitorToken(token, { allowExpired: false });
    assert.equal(verified.sessionId, 'vs_x');
    assert.equal(verified.origin, SHOP);
    const fresh = await after.signVisitorToken(binding);
    assert.equal(decodeProtectedHeader(fresh.token).kid, keyId(newKey));
    // Once the old key is dropped, its tokens are invalid.
    const later = createVisitorTokens({ secrets: [newKey], ttlS: HOUR_S });
    await assert.rejects(later.verifyVisitorToken(token, { allowExpired: true }), { code: 'token/invalid' });
  });

  test('expired: refused, unless allowed; a bad signature never passes', async () => {
    let now = Date.now();
    const tokens = createVisitorTokens({ secrets: [newKey], ttlS: HOUR_S, now: () => now });
    const { token } = await tokens.signVisitorToken(binding);
    now += (HOUR_S + 1) * 1000;
    await assert.rejects(tokens.verifyVisitorToken(token, { allowExpired: false }), {
      code: 'token/expired',
    });
    const old = await tokens.verifyVisitorToken(token, { allowExpired: true });
    assert.equal(old.expired, true);
    const [h, p, s] = token.split('.');
    const flipped = `${h}.${p}.${s!.slice(0, -2)}${s!.endsWith('AA') ? 'BB' : 'AA'}`;
    await assert.rejects(tokens.verifyVisitorToken(flipped, { allowExpired: true }), {
      code: 'token/invalid',
    });
    await assert.rejects(tokens.verifyVisitorToken('garbage', { allowExpired: true }), {
      code: 'token/invalid',
    });
  });
});

for (const mode of dbModes) {
  describe(`relay visitor side on ${mode.name}${mode.name === 'postgres' ? ' + Redis' : ''}`, () => {
    let t: TestApp;
    // The app's clock: tests move it forward and put it back.
    let offsetMs = 0;
    before(async () => {
      t = await startApp(await mode.open(), {
        redis: mode.name === 'postgres',
        now: () => Date.now() + offsetMs,
        env: { REALTIME_REDIS_PREFIX: `sb:relay:${randomUUID().slice(0, 8)}` },
      });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });
    afterEach(() => {
      offsetMs = 0;
    });

    /** A tenant as provisioning makes one: its id, widget key and secret. */
    async function tenant(
      o: {
        origins?: string[];
        rateLimitPerMin?: number;
        identityMode?: 'anonymous' | 'verified' | 'off';
      } = {},
    ) {
      const { organization, tenantSecret } = await t.services.tenants.createOrganization(
        createOrganizationSchema.parse({
          name: `Demo Boutique ${randomUUID().slice(0, 6)}`,
          allowedOrigins: o.origins ?? [SHOP, APP],
          rateLimitPerMin: o.rateLimitPerMin ?? 1000,
          ...(o.identityMode ? { identityMode: o.identityMode } : {}),
        }),
      );
      return {
        org: organization,
        id: organization.id,
        pk: organization.widgetPublicKey,
        secret: tenantSecret,
      };
    }
    type Tenant = Awaited<ReturnType<typeof tenant>>;

    const createSession = (
      tn: Tenant,
      extra: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) =>
      request(t.url)
        .post('/api/v1/create/visitor-session')
        .set(headers)
        .send({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP, ...extra });

    async function session(tn: Tenant, extra: Record<string, unknown> = {}): Promise<SessionData> {
      const res = await createSession(tn, extra);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return (res.body as Body).data as SessionData;
    }

    const refresh = (token: string, headers: Record<string, string> = {}) =>
      request(t.url)
        .post('/api/v1/refresh/visitor-token')
        .set('Authorization', `Bearer ${token}`)
        .set(headers);
    const identify = (token: string, body: Record<string, unknown>) =>
      request(t.url).post('/api/v1/identify/visitor').set('Authorization', `Bearer ${token}`).send(body);

    test("the documents' example: create a visitor session with curl", async () => {
      const tn = await tenant();
      const events: unknown[] = [];
      const unsubscribe = t.bus.subscribe('visitor_session.created', (e) => void events.push(e));
      // curl $BASE_URL/api/v1/create/visitor-session -X POST -H "Content-Type: application/json" -d '{…}'
      const res = await request(t.url)
        .post('/api/v1/create/visitor-session')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP, locale: 'en' }));
      unsubscribe();
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const body = res.body as Body & { data: SessionData };
      assert.equal(body.status_code, 201);
      assert.equal(body.message, 'Visitor session created.');
      const d = body.data;
      assert.match(d.session_id, /^vs_[\w-]+$/);
      assert.match(d.expires_at, ISO_8601);
      assert.equal(d.widget_config.tenant_name, tn.org.name);
      assert.equal(d.widget_config.tenant_id, tn.id);
      assert.equal(d.widget_config.is_online, false);
      assert.equal(d.widget_config.locale, 'en');

      // The token: HS256 with its key id, bound to (tenant, widget key, origin), the session and
      // its conversation, about an hour long.
      const header = decodeProtectedHeader(d.visitor_token);
      assert.equal(header.alg, 'HS256');
      assert.equal(header.kid, keyId(t.config.relay.tokenSecrets[0]!));
      const claims = decodeJwt(d.visitor_token);
      assert.equal(claims.sub, d.session_id);
      assert.equal(claims.tid, tn.id);
      assert.equal(claims.pk, tn.pk);
      assert.equal(claims.origin, SHOP);
      assert.equal(claims.cid, d.conversation_id);
      assert.equal(typeof claims.iss, 'string');
      assert.equal(claims.exp! - claims.iat!, HOUR_S);
      assert.equal(new Date(claims.exp! * 1000).toISOString(), d.expires_at);

      // Server side: the session (about 30 days), a random visitor and their conversation.
      const row = await t.database.prisma.visitorSession.findUniqueOrThrow({
        where: { id: d.session_id },
        include: { conversation: true, endUser: true },
      });
      assert.equal(row.organizationId, tn.id);
      assert.equal(row.origin, SHOP);
      assert.equal(row.locale, 'en');
      assert.equal(row.mode, 'bot');
      assert.equal(Math.round((row.expiresAt.getTime() - row.createdAt.getTime()) / DAY_MS), 30);
      assert.match(row.endUser.externalId, /^v_[0-9a-f]{32}$/);
      assert.equal(row.conversation.id, d.conversation_id);
      assert.equal(row.conversation.mode, 'bot');
      assert.equal(row.conversation.locale, 'en');
      assert.equal(row.conversation.routingKey, null);
      assert.deepEqual(events, [
        { organizationId: tn.id, sessionId: d.session_id, conversationId: d.conversation_id },
      ]);
    });

    test('GET create/visitor-session with query parameters; defaults; metadata', async () => {
      const tn = await tenant();
      const res = await request(t.url)
        .get('/api/v1/create/visitor-session')
        .query({
          tenant_id: tn.id,
          widget_public_key: tn.pk,
          origin: SHOP,
          metadata: JSON.stringify({ order_id: 'ORD-9981' }),
        });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const d = (res.body as Body).data as SessionData;
      const row = await t.database.prisma.visitorSession.findUniqueOrThrow({ where: { id: d.session_id } });
      assert.equal(row.locale, 'fr');
      assert.equal(row.mode, 'bot');
      assert.deepEqual(row.metadata, { order_id: 'ORD-9981' });
      // Metadata: an object of storable text, at most 8 KB.
      assertEnvelopeError(await createSession(tn, { metadata: ['x'] }), 400, 'request/invalid');
      assertEnvelopeError(
        await createSession(tn, { metadata: { a: 'x'.repeat(9000) } }),
        400,
        'request/invalid',
      );
      assertEnvelopeError(await createSession(tn, { metadata: { a: 'nul\u0000' } }), 400, 'request/invalid');
      assertEnvelopeError(await createSession(tn, { mode: 'robot' }), 400, 'request/invalid');
    });

    test('widget config: what the launcher needs, without a session; is_online follows presence', async () => {
      const tn = await tenant();
      await t.database.prisma.organization.update({
        where: { id: tn.id },
        data: { config: { primary_color: '#0a7', greeting: 'Hi!', locale: 'en', secret_flag: true } },
      });
      const config = () =>
        request(t.url)
          .get('/api/v1/fetch/widget-config')
          .query({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP });
      const res = await config();
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, {
        status_code: 200,
        data: {
          tenant_id: tn.id,
          tenant_name: tn.org.name,
          is_online: false,
          locale: 'en',
          branding: { primary_color: '#0a7', greeting: 'Hi!' },
          offline_behaviour: 'message',
          is_open: true,
          available: false,
        },
        message: 'Widget config.',
      });
      assert.equal(await t.database.prisma.visitorSession.count({ where: { organizationId: tn.id } }), 0);

      // An agent with the inbox open (a socket) makes the tenant online.
      const agent = await createAgent(t.services, tn.id);
      const { cookie } = await loginAgent(t.url, agent.user.email, agent.password);
      const socket = await connectSocket(t.url, { cookie });
      try {
        let online = false;
        for (let i = 0; i < 50 && !online; i++) {
          online = ((await config()).body as Body).data!.is_online === true;
          if (!online) await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(online, true);
      } finally {
        socket.disconnect();
      }
    });

    test('a wrong key pair is the same 404 as an unknown tenant; origins are checked', async () => {
      const a = await tenant();
      const b = await tenant();
      const get = (q: Record<string, string>) => request(t.url).get('/api/v1/fetch/widget-config').query(q);
      const wrongKey = await get({ tenant_id: a.id, widget_public_key: b.pk, origin: SHOP });
      const unknown = await get({ tenant_id: randomUUID(), widget_public_key: a.pk, origin: SHOP });
      assertEnvelopeError(wrongKey, 404, 'tenant/not_found');
      assertEnvelopeError(unknown, 404, 'tenant/not_found');
      assert.deepEqual(wrongKey.body, unknown.body);
      // A's key pair with B's id, on session creation too.
      assertEnvelopeError(await createSession({ ...b, pk: a.pk }), 404, 'tenant/not_found');
      assertEnvelopeError(
        await get({ tenant_id: a.id, widget_public_key: a.pk, origin: 'https://evil.example' }),
        403,
        'origin/forbidden',
      );
      assertEnvelopeError(
        await get({ tenant_id: 'nope', widget_public_key: a.pk, origin: SHOP }),
        400,
        'request/invalid',
      );
      // A tenant with no allowed origins allows none.
      const closed = await tenant({ origins: [] });
      assertEnvelopeError(await createSession(closed), 403, 'origin/forbidden');
    });

    test('CORS: preflight and answers carry Allow-Origin only for allowed origins', async () => {
      const tn = await tenant({ origins: [SHOP, APP] });
      const other = await tenant({ origins: ['https://other.example'] });
      const preflight = (origin: string, path = '/api/v1/create/visitor-session') =>
        request(t.url)
          .options(path)
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'POST')
          .set('Access-Control-Request-Headers', 'content-type, authorization');

      const ok = await preflight(SHOP);
      assert.equal(ok.status, 204);
      assert.equal(ok.headers['access-control-allow-origin'], SHOP);
      assert.match(ok.headers['vary'] ?? '', /Origin/);
      assert.match(ok.headers['access-control-allow-methods'] ?? '', /POST/);
      assert.match(ok.headers['access-control-allow-headers'] ?? '', /Content-Type/);
      assert.match(ok.headers['access-control-allow-headers'] ?? '', /Authorization/);
      assert.equal(ok.headers['access-control-allow-credentials'], undefined);
      for (const path of [
        '/api/v1/refresh/visitor-token',
        '/api/v1/identify/visitor',
        '/api/v1/fetch/widget-config',
      ]) {
        assert.equal((await preflight(SHOP, path)).headers['access-control-allow-origin'], SHOP);
      }

      const refused = await preflight('https://evil.example');
      assert.equal(refused.status, 204);
      assert.equal(refused.headers['access-control-allow-origin'], undefined);
      assert.equal(refused.headers['access-control-allow-methods'], undefined);
      // Naming a tenant in the query narrows it to that tenant's origins.
      const narrowed = await preflight(
        'https://other.example',
        `/api/v1/fetch/widget-config?tenant_id=${tn.id}`,
      );
      assert.equal(narrowed.headers['access-control-allow-origin'], undefined);
      const own = await preflight(
        'https://other.example',
        `/api/v1/fetch/widget-config?tenant_id=${other.id}`,
      );
      assert.equal(own.headers['access-control-allow-origin'], 'https://other.example');

      // The call itself from the allowed page: ACAO, and Retry-After readable.
      const created = await createSession(tn, {}, { Origin: SHOP });
      assert.equal(created.status, 201);
      assert.equal(created.headers['access-control-allow-origin'], SHOP);
      assert.match(created.headers['access-control-expose-headers'] ?? '', /Retry-After/);
      // From another site: 403 in the envelope and no ACAO, so its script cannot even read it.
      const evil = await createSession(tn, { origin: SHOP }, { Origin: 'https://evil.example' });
      assertEnvelopeError(evil, 403, 'origin/forbidden');
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
      // Another tenant's allowed origin is not this one's.
      assertEnvelopeError(
        await createSession(tn, { origin: 'https://other.example' }, { Origin: 'https://other.example' }),
        403,
        'origin/forbidden',
      );
      // Header and body must agree, even when both are allowed.
      assertEnvelopeError(
        await createSession(tn, { origin: APP }, { Origin: SHOP }),
        403,
        'origin/forbidden',
      );
      // A native app sends no Origin: its app scheme must still be allowed.
      assert.equal((await createSession(tn, { origin: APP })).status, 201);
      assertEnvelopeError(await createSession(tn, { origin: 'app://com.evil' }), 403, 'origin/forbidden');
    });

    test('token expiry and refresh with the expired token: same session and conversation', async () => {
      const tn = await tenant();
      const s = await session(tn);
      // Within the hour the token works (identify is one of its uses).
      offsetMs = (HOUR_S + 1) * 1000;
      assertEnvelopeError(
        await identify(s.visitor_token, { user_id: 'u1', user_signature: userHash(tn.secret, 'u1') }),
        401,
        'token/expired',
      );
      const res = await refresh(s.visitor_token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const body = res.body as Body & { data: SessionData };
      assert.equal(body.status_code, 200);
      assert.equal(body.message, 'Visitor token refreshed.');
      assert.equal(body.data.session_id, s.session_id);
      assert.equal(body.data.conversation_id, s.conversation_id);
      const claims = decodeJwt(body.data.visitor_token);
      assert.equal(claims.sub, s.session_id);
      assert.equal(claims.cid, s.conversation_id);
      assert.ok(Math.abs(claims.iat! * 1000 - (Date.now() + offsetMs)) < 5000);
      assert.ok(new Date(body.data.session_expires_at) > new Date(s.session_expires_at));
      // The new token works now.
      assert.equal(
        (
          await identify(body.data.visitor_token, {
            user_id: 'u1',
            user_signature: userHash(tn.secret, 'u1'),
          })
        ).status,
        200,
      );
    });

    test('the session slides on refresh and expires after 30 idle days: 404 session/expired', async () => {
      const tn = await tenant();
      const s = await session(tn);
      offsetMs = 20 * DAY_MS;
      const slid = await refresh(s.visitor_token);
      assert.equal(slid.status, 200);
      offsetMs = 40 * DAY_MS;
      assert.equal((await refresh(s.visitor_token)).status, 200);
      offsetMs = 71 * DAY_MS;
      assertEnvelopeError(await refresh(s.visitor_token), 404, 'session/expired');

      offsetMs = 0;
      const idle = await session(tn);
      offsetMs = 31 * DAY_MS;
      assertEnvelopeError(await refresh(idle.visitor_token), 404, 'session/expired');
      // An ended session is expired too.
      offsetMs = 0;
      const ended = await session(tn);
      await t.database.prisma.visitorSession.update({
        where: { id: ended.session_id },
        data: { endedAt: new Date() },
      });
      assertEnvelopeError(await refresh(ended.visitor_token), 404, 'session/expired');
    });

    test('bad tokens: 401 token/invalid', async () => {
      const tn = await tenant();
      const s = await session(tn);
      const [h, p, sig] = s.visitor_token.split('.');
      const forged = `${h}.${p}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
      assertEnvelopeError(await refresh(forged), 401, 'token/invalid');
      assertEnvelopeError(await refresh('not-a-jwt'), 401, 'token/invalid');
      assertEnvelopeError(await request(t.url).post('/api/v1/refresh/visitor-token'), 401, 'token/invalid');
      // Signed with a key the deployment does not have.
      const foreign = createVisitorTokens({ secrets: ['f'.repeat(40)], ttlS: HOUR_S });
      const { token } = await foreign.signVisitorToken({
        sessionId: s.session_id,
        tenantId: tn.id,
        widgetPublicKey: tn.pk,
        origin: SHOP,
        conversationId: s.conversation_id,
      });
      assertEnvelopeError(await refresh(token), 401, 'token/invalid');
      // A token whose session never existed (same key, e.g. a deleted row) is expired, not invalid.
      const ours = createVisitorTokens({ secrets: t.config.relay.tokenSecrets, ttlS: HOUR_S });
      const ghost = await ours.signVisitorToken({
        sessionId: 'vs_ghost',
        tenantId: tn.id,
        widgetPublicKey: tn.pk,
        origin: SHOP,
        conversationId: s.conversation_id,
      });
      assertEnvelopeError(await refresh(ghost.token), 404, 'session/expired');
      // The token is bound to its origin: a page elsewhere cannot use it.
      assertEnvelopeError(await refresh(s.visitor_token, { Origin: APP }), 403, 'origin/forbidden');
    });

    test('a rotated widget_public_key ends the sessions made with the old one', async () => {
      const tn = await tenant();
      const s = await session(tn);
      await t.database.prisma.organization.update({
        where: { id: tn.id },
        data: { widgetPublicKey: `pk_${randomBytes(18).toString('base64url')}` },
      });
      assertEnvelopeError(await refresh(s.visitor_token), 404, 'session/expired');
      assertEnvelopeError(
        await identify(s.visitor_token, { user_id: 'u1', user_signature: userHash(tn.secret, 'u1') }),
        404,
        'session/expired',
      );
      assertEnvelopeError(await createSession(tn), 404, 'tenant/not_found');
    });

    test('identify: a good signature links the session to the user; a forged one is 403', async () => {
      const tn = await tenant();
      const userId = `user-${randomUUID().slice(0, 8)}`;
      const signature = userHash(tn.secret, userId);

      // First device: the user has no conversation yet, so the anonymous one becomes theirs.
      const first = await session(tn, { mode: 'human' });
      const forged = await identify(first.visitor_token, {
        user_id: userId,
        user_signature: 'ab'.repeat(32),
      });
      assertEnvelopeError(forged, 403, 'identity/forbidden');
      // Signed for another user id, or with another tenant's secret: forged too.
      assertEnvelopeError(
        await identify(first.visitor_token, {
          user_id: userId,
          user_signature: userHash(tn.secret, 'someone'),
        }),
        403,
        'identity/forbidden',
      );
      assertEnvelopeError(
        await identify(first.visitor_token, { user_id: userId, user_signature: 'xyz' }),
        400,
        'request/invalid',
      );
      const ok = await identify(first.visitor_token, { user_id: userId, user_signature: signature });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const linked = (ok.body as Body).data as SessionData & { user_id: string };
      assert.equal((ok.body as Body).message, 'Visitor identified.');
      assert.equal(linked.session_id, first.session_id);
      assert.equal(linked.conversation_id, first.conversation_id);
      assert.equal(linked.user_id, userId);
      assert.equal(decodeJwt(linked.visitor_token).cid, first.conversation_id);
      const conv = await t.database.prisma.conversation.findUniqueOrThrow({
        where: { id: first.conversation_id },
        include: { endUser: true },
      });
      assert.equal(conv.endUser.externalId, userId);
      assert.ok(conv.endUser.verifiedAt);
      assert.equal(conv.mode, 'human');

      // Second device: a new anonymous session; after identify it points at the user's conversation.
      const second = await session(tn);
      const provider = await identify(second.visitor_token, {
        visitor_token_provider: `${userId}:${signature}`,
      });
      assert.equal(provider.status, 200, JSON.stringify(provider.body));
      const moved = (provider.body as Body).data as SessionData;
      assert.equal(moved.session_id, second.session_id);
      assert.equal(moved.conversation_id, first.conversation_id);
      assert.notEqual(moved.conversation_id, second.conversation_id);
      assert.equal(decodeJwt(moved.visitor_token).cid, first.conversation_id);
      // The second device's anonymous conversation had no message: it is gone.
      assert.equal(await t.database.prisma.conversation.count({ where: { id: second.conversation_id } }), 0);
      // Its old token refreshes into the session's conversation now.
      const refreshed = (await refresh(second.visitor_token)).body as Body;
      assert.equal((refreshed.data as SessionData).conversation_id, first.conversation_id);

      // Third device, the visitor wrote before signing in: that conversation stays, under the
      // visitor id it was written with; the session moves to the user's.
      const third = await session(tn);
      const row = await t.database.prisma.visitorSession.findUniqueOrThrow({
        where: { id: third.session_id },
        include: { endUser: true },
      });
      await t.services.messages.send(
        {
          kind: 'end_user',
          organizationId: tn.id,
          endUserId: row.endUserId,
          externalId: row.endUser.externalId,
        },
        message({
          conversation_id: third.conversation_id,
          content: 'Before signing in',
          sender_type: 'end_user',
        }),
      );
      const alias = await identify(third.visitor_token, {
        user_id: userId,
        user_hash: signature.toUpperCase(),
      });
      assert.equal(alias.status, 200, JSON.stringify(alias.body));
      assert.equal(((alias.body as Body).data as SessionData).conversation_id, first.conversation_id);
      const kept = await t.database.prisma.conversation.findUniqueOrThrow({
        where: { id: third.conversation_id },
        include: { endUser: true },
      });
      assert.equal(kept.endUser.externalId, row.endUser.externalId);
      assert.equal(kept.lastSeq, 1);
    });

    test('identify: an anonymous-only tenant refuses it; the body is validated', async () => {
      const anon = await tenant({ identityMode: 'anonymous' });
      const s = await session(anon);
      assertEnvelopeError(
        await identify(s.visitor_token, { user_id: 'u1', user_signature: userHash(anon.secret, 'u1') }),
        403,
        'identity/forbidden',
      );
      const tn = await tenant();
      const t2 = await session(tn);
      assertEnvelopeError(await identify(t2.visitor_token, {}), 400, 'request/invalid');
      assertEnvelopeError(
        await identify(t2.visitor_token, { visitor_token_provider: 'no-colon' }),
        400,
        'request/invalid',
      );
      // Without a token nothing is said about the body.
      assertEnvelopeError(
        await request(t.url).post('/api/v1/identify/visitor').send({}),
        401,
        'token/invalid',
      );
    });

    test('isolation: a token of tenant A cannot identify with B’s users or reach B’s data', async () => {
      const a = await tenant();
      const b = await tenant();
      const sa = await session(a);
      // B's user, signed by B's backend: A's session does not accept B's secret.
      assertEnvelopeError(
        await identify(sa.visitor_token, {
          user_id: 'shared-id',
          user_signature: userHash(b.secret, 'shared-id'),
        }),
        403,
        'identity/forbidden',
      );
      // Editing the token's tenant breaks its signature.
      const [h, , sig] = sa.visitor_token.split('.');
      const claims = { ...decodeJwt(sa.visitor_token), tid: b.id, pk: b.pk };
      const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
      assertEnvelopeError(await refresh(tampered), 401, 'token/invalid');
      // A's identify with A's own signature touches A only.
      const ok = await identify(sa.visitor_token, {
        user_id: 'shared-id',
        user_signature: userHash(a.secret, 'shared-id'),
      });
      assert.equal(ok.status, 200);
      const users = await t.database.prisma.endUser.findMany({
        where: { externalId: 'shared-id', organizationId: { in: [a.id, b.id] } },
      });
      assert.deepEqual(
        users.map((u) => u.organizationId),
        [a.id],
      );
    });

    test('the tenant quota on session creation: 429 with Retry-After; other tenants unaffected', async () => {
      const tn = await tenant({ rateLimitPerMin: 2 });
      assert.equal((await createSession(tn)).status, 201);
      assert.equal((await createSession(tn)).status, 201);
      const over = await createSession(tn, {}, { Origin: SHOP });
      assertEnvelopeError(over, 429, 'rate_limited');
      const retryAfter = Number(over.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal((over.body as Body).retry_after, retryAfter);
      // The widget can read it (CORS).
      assert.equal(over.headers['access-control-allow-origin'], SHOP);
      assert.equal(await t.database.prisma.visitorSession.count({ where: { organizationId: tn.id } }), 2);
      // A fresh tenant with the same limit has its own minute.
      const fresh = await tenant({ rateLimitPerMin: 2 });
      assert.equal((await createSession(fresh)).status, 201);
    });

    test('mode and routing_key land on the conversation; the queue’s agent sees it', async () => {
      const tn = await tenant();
      const store1 = await createAgent(t.services, tn.id, { routingKeys: ['store-1'] });
      const store2 = await createAgent(t.services, tn.id, { routingKeys: ['store-2'] });
      // A visitor cannot invent a queue.
      assertEnvelopeError(await createSession(tn, { routing_key: 'store-9' }), 400, 'routing_key/unknown');

      const s = await session(tn, { mode: 'human', routing_key: 'store-1', locale: 'de' });
      const conv = await t.database.prisma.conversation.findUniqueOrThrow({
        where: { id: s.conversation_id },
      });
      assert.equal(conv.mode, 'human');
      assert.equal(conv.routingKey, 'store-1');
      assert.equal(conv.locale, 'de');

      const list = async (agent: typeof store1, filter: string) => {
        const session = await loginAgent(t.url, agent.user.email, agent.password);
        const res = await agentHttp(t.url, session).get(`/api/conversations?filter=${filter}`);
        assert.equal(res.status, 200);
        return res.body as { id: string; mode: string; routing_key: string }[];
      };
      const seen = (await list(store1, 'all')).find((c) => c.id === s.conversation_id);
      assert.ok(seen, 'the store-1 agent sees the conversation');
      assert.equal(seen.mode, 'human');
      assert.equal(seen.routing_key, 'store-1');
      assert.equal(
        (await list(store2, 'all')).find((c) => c.id === s.conversation_id),
        undefined,
      );

      // human: the visitor's first message puts it in the queue, unassigned.
      await sendAsRelayVisitor(t.services, t.database, tn.id, s, 'Where is my order?');
      assert.ok((await list(store1, 'unassigned')).some((c) => c.id === s.conversation_id));
    });

    test('a suspended tenant: 403 organization/suspended on every visitor endpoint', async () => {
      const tn = await tenant();
      const s = await session(tn);
      await t.services.tenants.suspend(tn.id);
      assertEnvelopeError(
        await request(t.url)
          .get('/api/v1/fetch/widget-config')
          .query({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP }),
        403,
        'organization/suspended',
      );
      assertEnvelopeError(await createSession(tn), 403, 'organization/suspended');
      assertEnvelopeError(await refresh(s.visitor_token), 403, 'organization/suspended');
      assertEnvelopeError(
        await identify(s.visitor_token, { user_id: 'u1', user_signature: userHash(tn.secret, 'u1') }),
        403,
        'organization/suspended',
      );
      // A wrong key still learns nothing, not even the suspension.
      assertEnvelopeError(await createSession({ ...tn, pk: 'pk_wrong' }), 404, 'tenant/not_found');
    });

    test('errors are in the envelope: malformed JSON, missing fields, unknown paths', async () => {
      const malformed = await request(t.url)
        .post('/api/v1/create/visitor-session')
        .set('Content-Type', 'application/json')
        .send('{"tenant_id":');
      assertEnvelopeError(malformed, 400, 'request/invalid');
      const missing = await request(t.url).post('/api/v1/create/visitor-session').send({});
      assertEnvelopeError(missing, 400, 'request/invalid');
      assert.match((missing.body as Body).message, /tenant_id/);
      assertEnvelopeError(await request(t.url).get('/api/v1/refresh/visitor-token'), 404, 'not_found');
    });
  });
}

test('one address opens only so many visitor sessions per tenant and in all: 429 in the envelope', async () => {
  const t = await startApp(await dbModes[0]!.open(), {
    redis: true,
    env: {
      REALTIME_REDIS_PREFIX: `sb:relaylimit:${randomUUID().slice(0, 8)}`,
      PUBLIC_RATE_LIMIT_PER_TARGET: '3',
      PUBLIC_RATE_LIMIT_PER_IP: '5',
    },
  });
  try {
    const make = async () => {
      const { organization } = await t.services.tenants.createOrganization(
        createOrganizationSchema.parse({
          name: `Limited ${randomUUID().slice(0, 6)}`,
          allowedOrigins: [SHOP],
          rateLimitPerMin: 1000,
        }),
      );
      return organization;
    };
    const open = (org: { id: string; widgetPublicKey: string }) =>
      request(t.url)
        .post('/api/v1/create/visitor-session')
        .send({ tenant_id: org.id, widget_public_key: org.widgetPublicKey, origin: SHOP });
    const a = await make();
    for (let i = 0; i < 3; i++) assert.equal((await open(a)).status, 201);
    const refused = await open(a);
    assert.equal(refused.status, 429);
    assert.equal((refused.body as Body).error, 'rate_limited');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal(await t.database.prisma.visitorSession.count({ where: { organizationId: a.id } }), 3);
    // Another tenant from the same address: its own count, until the address's five attempts in
    // the window (the refused one counted too) run out.
    const b = await make();
    assert.equal((await open(b)).status, 201);
    assert.equal((await open(b)).status, 429);
    assert.equal(await t.database.prisma.visitorSession.count({ where: { organizationId: b.id } }), 1);
  } finally {
    await t.stop();
    await t.database.close();
  }
});
