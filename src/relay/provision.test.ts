// The relay's front door: an operator provisions a tenant with the admin key and receives its three
// credentials once, every /api/v1 answer (errors included) is in the envelope, and each tenant's
// usage is counted per day and readable by its admins.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { validate as isUuid, version as uuidVersion } from 'uuid';
import { createEmbedTokenSchema } from '../channels/channels.schemas.js';
import { decryptSecret } from '../shared/crypto.js';
import { createEventBus } from '../shared/events.js';
import { createLogger } from '../shared/logger.js';
import { userHash } from '../tenants/identity.js';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, message } from '../../test/helpers/factories.js';
import { ISO_8601 } from '../../test/helpers/http.js';
import { connectSocket, emitAck } from '../../test/helpers/sockets.js';
import { createUsage } from './usage.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;
const MESSAGE =
  'Tenant provisioned. Save tenant_secret and widget_public_key now — the secret will not be shown again.';
const unique = (name: string) => `${name} ${randomUUID().slice(0, 8)}`;
const today = () => new Date().toISOString().slice(0, 10);

type Body = { status_code: number; data: unknown; message: string; error?: string; param?: string };

/** Every relay answer: the HTTP status is `status_code`; an error has `data: null` and its code. */
function envelope(res: request.Response, status: number, error?: string): Body {
  const body = res.body as Body;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(body.status_code, res.status, 'HTTP status == status_code');
  assert.equal(typeof body.message, 'string');
  if (error) {
    assert.equal(body.data, null);
    assert.equal(body.error, error);
  }
  return body;
}

for (const mode of dbModes) {
  const full = mode.name === 'postgres';
  describe(`relay provisioning on ${mode.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), {
        redis: full,
        env: { ADMIN_KEY, REALTIME_REDIS_PREFIX: `sb:prov:${randomUUID().slice(0, 8)}` },
      });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    const provision = (body: unknown, key: string | null = ADMIN_KEY) => {
      const r = request(t.url).post('/api/v1/provision/tenant');
      return (key === null ? r : r.set('X-Admin-Key', key)).send(body as object);
    };
    const orgsNamed = (name: string) => t.database.prisma.organization.count({ where: { name } });

    test("the quickstart's curl: 201 with exactly the three credentials, the name, the limit and the date", async () => {
      // curl $BASE_URL/api/v1/provision/tenant -X POST -H "X-Admin-Key: …" -H "Content-Type: application/json" -d '…'
      const res = await request(t.url)
        .post('/api/v1/provision/tenant')
        .set('X-Admin-Key', ADMIN_KEY)
        .set('Content-Type', 'application/json')
        .send(
          '{"tenant_name": "Demo Boutique", "allowed_origins": ["https://shop.demo.com", "app://bloonio_chat_flutter"]}',
        );
      const body = envelope(res, 201);
      assert.equal(body.message, MESSAGE);
      assert.deepEqual(Object.keys(body).sort(), ['data', 'message', 'status_code']);
      const data = body.data as Record<string, unknown>;
      assert.deepEqual(Object.keys(data).sort(), [
        'callback_base_url',
        'created_at',
        'rate_limit_per_min',
        'tenant_id',
        'tenant_name',
        'tenant_secret',
        'widget_public_key',
      ]);
      const tenantId = data.tenant_id as string;
      assert.ok(isUuid(tenantId), tenantId);
      assert.equal(uuidVersion(tenantId), 7, 'tenant_id is a UUID v7');
      assert.match(data.tenant_secret as string, /^sk_[\w-]{40,}$/);
      assert.match(data.widget_public_key as string, /^pk_[\w-]{20,}$/);
      assert.equal(data.tenant_name, 'Demo Boutique');
      assert.equal(data.callback_base_url, null, 'no webhooks until a callback URL is given');
      assert.equal(data.rate_limit_per_min, 60);
      assert.match(data.created_at as string, ISO_8601);
      assert.equal(res.headers['cache-control'], 'no-store', 'credentials are never cached');

      // Stored with the documented defaults; the secret only encrypted.
      const org = await t.database.prisma.organization.findUniqueOrThrow({ where: { id: tenantId } });
      assert.deepEqual(org.allowedOrigins, ['https://shop.demo.com', 'app://bloonio_chat_flutter']);
      assert.equal(org.identityMode, 'verified');
      assert.equal(org.status, 'active');
      assert.equal(org.widgetPublicKey, data.widget_public_key);
      assert.deepEqual(org.config, { locale: 'fr' });
      assert.equal(org.createdAt.toISOString(), data.created_at);
      assert.ok(!org.tenantSecretEnc.includes(data.tenant_secret as string), 'secret kept encrypted');
      assert.equal(decryptSecret(t.config.encryptionKey, org.tenantSecretEnc), data.tenant_secret);
    });

    test('the secret works: it signs a user id the widget then accepts; a forged one is refused', async () => {
      const res = await provision({ tenant_name: unique('Signed Shop') });
      const data = envelope(res, 201).data as { tenant_id: string; tenant_secret: string };
      const { token } = await t.services.channels.createEmbedToken(
        createEmbedTokenSchema.parse({ organizationId: data.tenant_id }),
      );
      const open = (hash?: string) =>
        request(t.url)
          .get('/chat-widget')
          .query({ embed_token: token, session_id: 'user-42', ...(hash ? { user_hash: hash } : {}) });
      assert.equal((await open(userHash(data.tenant_secret, 'user-42'))).status, 200);
      assert.equal((await open(userHash('sk_forged', 'user-42'))).status, 403);
      assert.equal((await open()).status, 403);
    });

    test('every default can be set; branding and locale land in the tenant config', async () => {
      const name = unique('Branded');
      const res = await provision({
        tenant_name: `  ${name}  `,
        allowed_origins: ['https://www.example.com/', 'http://localhost:4200'],
        rate_limit_per_min: 600,
        identity_mode: 'anonymous',
        locale: 'pt-BR',
        primary_color: '#1F6FEB',
        greeting: 'Olá! Como podemos ajudar?',
        launcher_text: 'Fale conosco',
        avatar_url: 'https://cdn.example.com/a.png',
        callback_base_url: 'https://hooks.example.com/chat/',
      });
      const data = envelope(res, 201).data as {
        tenant_id: string;
        tenant_name: string;
        rate_limit_per_min: number;
        callback_base_url: string;
      };
      assert.equal(data.tenant_name, name, 'trimmed');
      assert.equal(data.callback_base_url, 'https://hooks.example.com/chat', 'webhooks go there');
      assert.equal(data.rate_limit_per_min, 600);
      const org = await t.database.prisma.organization.findUniqueOrThrow({ where: { id: data.tenant_id } });
      assert.deepEqual(org.allowedOrigins, ['https://www.example.com', 'http://localhost:4200']);
      assert.equal(org.identityMode, 'anonymous');
      assert.equal(org.rateLimitPerMin, 600);
      assert.deepEqual(org.config, {
        locale: 'pt-BR',
        primary_color: '#1F6FEB',
        greeting: 'Olá! Como podemos ajudar?',
        launcher_text: 'Fale conosco',
        avatar_url: 'https://cdn.example.com/a.png',
      });
    });

    test('a wrong or missing admin key is 401 in the envelope and creates nothing', async () => {
      const name = unique('Intruder');
      const cases: [string | null, string][] = [
        [null, 'missing'],
        ['', 'empty'],
        [`${ADMIN_KEY}x`, 'longer'],
        [ADMIN_KEY.slice(0, -1), 'shorter'],
        [`${ADMIN_KEY.slice(0, -1)}${ADMIN_KEY.endsWith('A') ? 'B' : 'A'}`, 'one character off'],
        [ADMIN_KEY.toUpperCase(), 'other case'],
      ];
      for (const [key, what] of cases) {
        const body = envelope(await provision({ tenant_name: name }, key), 401, 'admin/unauthorized');
        assert.match(body.message, /X-Admin-Key/, what);
      }
      // The key is checked before the body: a bad body without the key says nothing about it.
      envelope(await provision({ rate_limit_per_min: 'x' }, null), 401, 'admin/unauthorized');
      assert.equal(await orgsNamed(name), 0);
    });

    test(
      'without ADMIN_KEY provisioning is disabled: 401 saying so',
      { skip: !full && 'covered on postgres' },
      async () => {
        const closed = await startApp(t.database, { env: {} });
        try {
          assert.equal(closed.config.adminKey, undefined);
          const name = unique('Nobody');
          for (const key of [null, ADMIN_KEY, 'anything-at-all-anything-at-all']) {
            const res = await request(closed.url)
              .post('/api/v1/provision/tenant')
              .set(key === null ? {} : { 'X-Admin-Key': key })
              .send({ tenant_name: name });
            const body = envelope(res, 401, 'admin/disabled');
            assert.match(body.message, /disabled.*ADMIN_KEY/);
          }
          assert.equal(await orgsNamed(name), 0);
        } finally {
          await closed.close();
        }
      },
    );

    test('a bad body is 400 in the envelope naming the parameter, and creates nothing', async () => {
      const name = unique('Bad Body');
      const cases: [unknown, string, RegExp?][] = [
        [{}, 'tenant_name'],
        [{ tenant_name: '   ' }, 'tenant_name', /empty/],
        [{ tenant_name: 42 }, 'tenant_name'],
        [{ tenant_name: `x\u0000y` }, 'tenant_name', /NUL/],
        [{ tenant_name: 'x'.repeat(201) }, 'tenant_name'],
        [{ tenant_name: name, rate_limit_per_min: '60' }, 'rate_limit_per_min'],
        [{ tenant_name: name, rate_limit_per_min: 0 }, 'rate_limit_per_min'],
        [{ tenant_name: name, rate_limit_per_min: 1.5 }, 'rate_limit_per_min'],
        [{ tenant_name: name, allowed_origins: 'https://shop.demo.com' }, 'allowed_origins'],
        [
          { tenant_name: name, allowed_origins: ['https://ok.com', 'not an origin'] },
          'allowed_origins.1',
          /origin/,
        ],
        [{ tenant_name: name, allowed_origins: ['https://shop.com/path'] }, 'allowed_origins.0'],
        [{ tenant_name: name, identity_mode: 'maybe' }, 'identity_mode', /anonymous, verified or off/],
        [{ tenant_name: name, locale: 'french!' }, 'locale', /language tag/],
        [{ tenant_name: name, primary_color: 'red' }, 'primary_color', /hex/],
        [{ tenant_name: name, avatar_url: 'javascript:alert(1)' }, 'avatar_url'],
        [{ tenant_name: name, greeting: '' }, 'greeting'],
        [{ tenant_name: name, callback_base_url: 'ftp://hooks.example.com' }, 'callback_base_url', /http/],
        [{ tenant_name: name, callback_base_url: 'https://u:p@hooks.example.com' }, 'callback_base_url'],
        // A misspelt option is refused rather than silently defaulted.
        [{ tenant_name: name, alowed_origins: ['https://shop.com'] }, 'body', /alowed_origins/],
        [[{ tenant_name: name }], 'body'],
      ];
      for (const [payload, param, re] of cases) {
        const what = JSON.stringify(payload).slice(0, 80);
        const body = envelope(await provision(payload), 400, 'request/invalid');
        assert.equal(body.param, param, what);
        assert.ok(body.message.includes(`'${param}'`), `${what}: ${body.message}`);
        if (re) assert.match(body.message, re, what);
      }
      assert.equal(await orgsNamed(name), 0);
      // A callback to this network (cloud metadata, loopback, private ranges) is refused.
      for (const url of [
        'http://169.254.169.254',
        'http://127.0.0.1:8080',
        'https://10.1.2.3',
        'http://localhost',
      ]) {
        const body = envelope(
          await provision({ tenant_name: name, callback_base_url: url }),
          400,
          'webhook/url_refused',
        );
        assert.match(body.message, /public/, url);
      }
      assert.equal(await orgsNamed(name), 0);
    });

    test('the envelope on every error: unknown path, wrong method, malformed JSON, body too large', async () => {
      const unknown = envelope(await request(t.url).get('/api/v1/no/such/endpoint'), 404, 'not_found');
      assert.match(unknown.message, /GET \/api\/v1\/no\/such\/endpoint/);
      envelope(await request(t.url).post('/api/v1/nothing').send({}), 404, 'not_found');
      // Another method on the provisioning path is an unknown endpoint too (no 405 in the relay).
      for (const method of ['get', 'put', 'delete', 'patch'] as const) {
        const res = await request(t.url)[method]('/api/v1/provision/tenant').set('X-Admin-Key', ADMIN_KEY);
        assert.match(envelope(res, 404, 'not_found').message, /provision\/tenant/, method);
      }

      const malformed = await request(t.url)
        .post('/api/v1/provision/tenant')
        .set('X-Admin-Key', ADMIN_KEY)
        .set('Content-Type', 'application/json')
        .send('{"tenant_name": "Broken');
      assert.equal(envelope(malformed, 400, 'request/invalid').message, 'Malformed JSON body');

      const name = unique('Too Large');
      const large = await provision({ tenant_name: name, greeting: 'x'.repeat(300 * 1024) });
      envelope(large, 413, 'request/too_large');
      assert.equal(await orgsNamed(name), 0);

      // The agent API keeps its own shape.
      const agentApi = await request(t.url).get('/api/nowhere');
      assert.equal(agentApi.status, 404);
      assert.deepEqual(Object.keys(agentApi.body as object).sort(), ['error', 'message']);
    });

    test('usage: sessions and end users’ messages per day, readable by the tenant’s admins', async () => {
      const res = await provision({ tenant_name: unique('Busy Shop') });
      const tenantId = (envelope(res, 201).data as { tenant_id: string }).tenant_id;
      const other = (
        envelope(await provision({ tenant_name: unique('Quiet Shop') }), 201).data as {
          tenant_id: string;
        }
      ).tenant_id;
      const { channelId } = await t.services.channels.createEmbedToken(
        createEmbedTokenSchema.parse({ organizationId: tenantId }),
      );
      const admin = await createAgent(t.services, tenantId, { role: 'admin' });
      const agent = await createAgent(t.services, tenantId, { role: 'agent' });
      const session = await loginAgent(t.url, admin.user.email, admin.password);
      const usage = (q = '') =>
        request(t.url).get(`/api/organization/usage${q}`).set('Cookie', session.cookie);

      // Two visitor sessions (the relay's visitor side publishes this), one for another tenant.
      for (const organizationId of [tenantId, tenantId, other]) {
        t.bus.publish('visitor_session.created', {
          organizationId,
          sessionId: `vs_${randomUUID()}`,
          conversationId: randomUUID(),
        });
      }
      // Three messages from an end user over a socket, one from an agent (not usage).
      const c = await createConversation(t.services, { organizationId: tenantId, channelId });
      const socket = await connectSocket(t.url);
      try {
        for (const content of ['Hello', 'Where is my order?', 'Thanks']) {
          const ack = await emitAck(socket, 'send_message', {
            conversation_id: c.conversation.id,
            external_id: c.externalId,
            sender_type: 'end_user',
            content,
            client_msg_id: randomUUID(),
          });
          assert.equal(ack.ok, true, JSON.stringify(ack));
        }
      } finally {
        socket.disconnect();
      }
      await t.services.messages.send(
        admin.actor,
        message({ conversation_id: c.conversation.id, content: 'On its way', sender_type: 'agent' }),
      );
      // What the next issues count (signed API calls, webhooks).
      t.usage.countApiCall(tenantId);
      t.usage.countWebhookSent(tenantId);
      t.usage.countWebhookSent(tenantId);
      await t.usage.flush();

      const read = await usage('?days=3');
      assert.equal(read.status, 200, JSON.stringify(read.body));
      const zero = { sessions: 0, messages: 0, api_calls: 0, webhooks_sent: 0 };
      const counted = { sessions: 2, messages: 3, api_calls: 1, webhooks_sent: 2 };
      const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
      const { days, totals, quota, current_minute } = read.body;
      assert.deepEqual(
        { days, totals },
        {
          days: [
            { day: day(2), ...zero },
            { day: day(1), ...zero },
            { day: today(), ...counted },
          ],
          totals: counted,
        },
      );
      // The per-minute quota, and what this minute used of it (the three messages).
      assert.deepEqual(quota, { per_minute: 60 });
      assert.equal(current_minute.find((c: { kind: string }) => c.kind === 'messages').used, 3);

      // Counts add up across flushes (one row per tenant and day).
      t.usage.countApiCall(tenantId);
      await t.usage.flush();
      const again = await usage();
      assert.equal(again.body.days.length, 30, 'default: 30 days');
      assert.equal(again.body.days.at(-1).api_calls, 2);
      assert.deepEqual(again.body.totals, { ...counted, api_calls: 2 });
      assert.equal(await t.database.prisma.usageDaily.count({ where: { organizationId: tenantId } }), 1);
      // The other tenant's session is its own.
      const otherRow = await t.database.prisma.usageDaily.findFirstOrThrow({
        where: { organizationId: other },
      });
      assert.equal(otherRow.sessions, 1);

      const bad = await usage('?days=0');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.param, 'days');
      assert.equal((await usage('?days=367')).status, 400);
      // Admins only; signed-in agents are not, anonymous callers even less.
      const plain = await loginAgent(t.url, agent.user.email, agent.password);
      assert.equal(
        (await request(t.url).get('/api/organization/usage').set('Cookie', plain.cookie)).status,
        403,
      );
      assert.equal((await request(t.url).get('/api/organization/usage')).status, 401);
    });

    test('usage counted just before shutdown reaches the database when the app closes', async () => {
      const { organization } = await t.services.tenants.createOrganization({
        name: unique('Closing'),
        allowedOrigins: [],
        rateLimitPerMin: 60,
      });
      const node = await startApp(t.database, { env: { ADMIN_KEY } });
      node.usage.countApiCall(organization.id);
      node.bus.publish('visitor_session.created', {
        organizationId: organization.id,
        sessionId: 'vs_x',
        conversationId: randomUUID(),
      });
      await node.close();
      const row = await t.database.prisma.usageDaily.findFirstOrThrow({
        where: { organizationId: organization.id },
      });
      assert.equal(row.apiCalls, 1);
      assert.equal(row.sessions, 1);
      assert.equal(row.day.toISOString().slice(0, 10), today());
    });

    test('usage from two nodes adds up; the timer flushes; retried and non-end-user messages are not counted', async () => {
      const { organization } = await t.services.tenants.createOrganization({
        name: unique('Two Nodes'),
        allowedOrigins: [],
        rateLimitPerMin: 60,
      });
      const logger = createLogger('silent');
      const buses = [createEventBus(() => {}), createEventBus(() => {})];
      const nodes = buses.map((bus) => createUsage({ db: t.database.prisma, bus, logger, flushMs: 50 }));
      const msg = (senderType: 'end_user' | 'agent' | 'bot' | 'system', redelivered = false) => ({
        message: { organizationId: organization.id, senderType } as never,
        conversation: {} as never,
        sessionOpened: false,
        redelivered,
      });
      try {
        for (const bus of buses) {
          bus.publish('message.created', msg('end_user'));
          bus.publish('message.created', msg('end_user', true));
          bus.publish('message.created', msg('agent'));
          bus.publish('message.created', msg('bot'));
          bus.publish('message.created', msg('system'));
        }
        nodes[0]!.countApiCall(organization.id);
        nodes[1]!.countApiCall(organization.id);
        const where = { organizationId: organization.id };
        let row = await t.database.prisma.usageDaily.findFirst({ where });
        for (let i = 0; i < 100 && (row?.messages !== 2 || row.apiCalls !== 2); i++) {
          await new Promise((r) => setTimeout(r, 50));
          row = await t.database.prisma.usageDaily.findFirst({ where });
        }
        assert.deepEqual(row && { messages: row.messages, apiCalls: row.apiCalls, sessions: row.sessions }, {
          messages: 2,
          apiCalls: 2,
          sessions: 0,
        });
      } finally {
        await Promise.all(nodes.map((n) => n.stop()));
      }
      // Stopped: nothing more is counted.
      buses[0]!.publish('message.created', msg('end_user'));
      await nodes[0]!.flush();
      assert.equal(
        (await t.database.prisma.usageDaily.findFirstOrThrow({ where: { organizationId: organization.id } }))
          .messages,
        2,
      );
    });
  });
}
