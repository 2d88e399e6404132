import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { decryptSecret } from '../shared/crypto.js';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { userHash } from '../tenants/identity.js';

const rsaPem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
const ecPem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

for (const mode of dbModes) {
  const full = mode.name === 'postgres';
  const pgOnly = { skip: full ? false : 'covered on postgres' };
  describe(`mobile channels, native open and devices on ${mode.name}${full ? ' + Redis' : ''}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), { redis: full });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    async function adminOf(role: 'admin' | 'agent' = 'admin') {
      const o = await createOrg(t.services);
      const a = await createAgent(t.services, o.org.id, { role });
      const s = await loginAgent(t.url, a.user.email, a.password);
      const as = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: object) => {
        const r = request(t.url)[method](path).set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
        return body ? r.send(body) : r;
      };
      return { ...o, agent: a, session: s, as };
    }

    async function mobileChannel() {
      const a = await adminOf();
      const res = await a.as('post', '/api/mobile/channels', { bot_id: a.botId });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { ...a, webChannelId: a.channelId, channelId: res.body.id as string };
    }

    test('admins create one mobile channel per bot and see its Channel ID', pgOnly, async () => {
      const a = await adminOf();
      const first = await a.as('post', '/api/mobile/channels', { bot_id: a.botId });
      assert.equal(first.status, 201);
      assert.equal(first.body.type, 'mobile_sdk');
      assert.equal(first.body.bot_id, a.botId);
      assert.equal(first.body.channel_id, first.body.id);
      assert.deepEqual(first.body.push, { fcm: null, apns: null });
      const again = await a.as('post', '/api/mobile/channels', { bot_id: a.botId });
      assert.equal(again.status, 200);
      assert.equal(again.body.id, first.body.id);
      const list = await a.as('get', '/api/mobile/channels');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.items.map((i: { bot_id: string; channel: { id: string } }) => [i.bot_id, i.channel.id]),
        [[a.botId, first.body.id]],
      );
      assert.equal((await a.as('get', `/api/mobile/channels/${first.body.id}`)).body.id, first.body.id);
    });

    test(
      'the admin API: session, CSRF, role and tenant checks; bad input changes nothing',
      pgOnly,
      async () => {
        const m = await mobileChannel();
        const other = await adminOf();
        const agent = await adminOf('agent');
        const http = request(t.url);
        assert.equal((await http.get('/api/mobile/channels')).status, 401);
        const noCsrf = await http
          .post('/api/mobile/channels')
          .set('Cookie', m.session.cookie)
          .send({ bot_id: m.botId });
        assert.equal(noCsrf.status, 403);
        assert.equal(noCsrf.body.error, 'auth/csrf');
        const low = await agent.as('post', '/api/mobile/channels', { bot_id: agent.botId });
        assert.equal(low.status, 403);
        assert.equal(low.body.error, 'auth/forbidden');
        // Another tenant's channel and bot do not exist for this admin.
        const foreign = await other.as('get', `/api/mobile/channels/${m.channelId}`);
        assert.equal(foreign.status, 404);
        assert.equal(foreign.body.error, 'channel/not_found');
        const foreignPut = await other.as('put', `/api/mobile/channels/${m.channelId}/push/apns`, {
          team_id: 'ABCDE12345',
          key_id: 'KEY1234567',
          bundle_id: 'com.x.y',
          private_key: ecPem(),
          environment: 'sandbox',
        });
        assert.equal(foreignPut.status, 404);
        assert.equal((await other.as('post', '/api/mobile/channels', { bot_id: m.botId })).status, 404);
        const bad = await m.as('post', '/api/mobile/channels', { bot_id: 'nope' });
        assert.equal(bad.status, 400);
        assert.equal(bad.body.param, 'bot_id');
        // The webchat channel is not a mobile channel.
        assert.equal((await m.as('get', `/api/mobile/channels/${m.webChannelId}`)).status, 404);
        assert.equal((await m.as('get', `/api/mobile/channels/${m.channelId}`)).body.push.apns, null);
      },
    );

    test('FCM and APNs credentials are stored encrypted and never shown again', pgOnly, async () => {
      const m = await mobileChannel();
      const rsa = rsaPem();
      const sa = {
        type: 'service_account',
        project_id: 'acme-app-1234',
        private_key_id: 'abc123',
        private_key: rsa,
        client_email: 'fcm@acme-app-1234.iam.gserviceaccount.com',
      };
      const fcm = await m.as('put', `/api/mobile/channels/${m.channelId}/push/fcm`, {
        service_account_json: JSON.stringify(sa),
        sender_id: '123456789012',
      });
      assert.equal(fcm.status, 200, JSON.stringify(fcm.body));
      assert.equal(fcm.body.push.fcm.project_id, 'acme-app-1234');
      assert.equal(fcm.body.push.fcm.client_email, sa.client_email);
      assert.equal(fcm.body.push.fcm.http_v1, true);
      assert.equal(fcm.body.push.fcm.notice, undefined);
      const p8 = ecPem();
      const apns = await m.as('put', `/api/mobile/channels/${m.channelId}/push/apns`, {
        team_id: 'ABCDE12345',
        key_id: 'KEY1234567',
        bundle_id: 'com.acme.app',
        private_key: p8,
        environment: 'production',
      });
      assert.equal(apns.status, 200, JSON.stringify(apns.body));
      assert.deepEqual(
        { ...apns.body.push.apns, updated_at: undefined },
        {
          configured: true,
          updated_at: undefined,
          team_id: 'ABCDE12345',
          key_id: 'KEY1234567',
          bundle_id: 'com.acme.app',
          environment: 'production',
          private_key: 'stored (hidden)',
        },
      );
      for (const res of [
        fcm,
        apns,
        await m.as('get', `/api/mobile/channels/${m.channelId}`),
        await m.as('get', '/api/mobile/channels'),
      ]) {
        const text = JSON.stringify(res.body);
        assert.ok(
          !text.includes('PRIVATE KEY') &&
            !text.includes(rsa.slice(40, 80)) &&
            !text.includes(p8.slice(40, 80)),
        );
      }
      const rows = await t.database.prisma.pushCredential.findMany({ where: { channelId: m.channelId } });
      assert.equal(rows.length, 2);
      for (const row of rows) {
        assert.ok(
          !row.secretEnc.includes('PRIVATE') && !JSON.stringify(row.publicConfig).includes('PRIVATE'),
        );
        assert.match(decryptSecret(t.config.encryptionKey, row.secretEnc), /BEGIN PRIVATE KEY/);
      }

      // The legacy server key alone is accepted, shown only by its last 4 characters, and flagged.
      const key = `AAAA${randomBytes(30).toString('base64url')}`;
      const legacy = await m.as('put', `/api/mobile/channels/${m.channelId}/push/fcm`, { server_key: key });
      assert.equal(legacy.status, 200);
      assert.equal(legacy.body.push.fcm.legacy_server_key, `…${key.slice(-4)}`);
      assert.equal(legacy.body.push.fcm.http_v1, false);
      assert.match(legacy.body.push.fcm.notice, /retired/);
      assert.ok(!JSON.stringify(legacy.body).includes(key));

      // Bad credentials: 400 naming the field; what was stored stays.
      const before = await t.database.prisma.pushCredential.findMany({ where: { channelId: m.channelId } });
      const cases: [string, object, string][] = [
        ['fcm', { service_account_json: '{not json' }, 'service_account_json'],
        [
          'fcm',
          { service_account_json: { ...sa, private_key: 'garbage' } },
          'service_account_json.private_key',
        ],
        ['fcm', {}, 'service_account_json'],
        [
          'apns',
          {
            team_id: 'ABCDE12345',
            key_id: 'KEY1234567',
            bundle_id: 'com.acme.app',
            private_key: rsa,
            environment: 'production',
          },
          'private_key',
        ],
        [
          'apns',
          {
            team_id: 'short',
            key_id: 'KEY1234567',
            bundle_id: 'com.acme.app',
            private_key: p8,
            environment: 'production',
          },
          'team_id',
        ],
        [
          'apns',
          {
            team_id: 'ABCDE12345',
            key_id: 'KEY1234567',
            bundle_id: 'com.acme.app',
            private_key: p8,
            environment: 'dev',
          },
          'environment',
        ],
      ];
      for (const [provider, body, param] of cases) {
        const res = await m.as('put', `/api/mobile/channels/${m.channelId}/push/${provider}`, body);
        assert.equal(res.status, 400, `${provider} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error, 'request/invalid');
        assert.equal(res.body.param, param);
      }
      assert.deepEqual(
        await t.database.prisma.pushCredential.findMany({ where: { channelId: m.channelId } }),
        before,
      );

      assert.equal((await m.as('delete', `/api/mobile/channels/${m.channelId}/push/apns`)).status, 204);
      const gone = await m.as('delete', `/api/mobile/channels/${m.channelId}/push/apns`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error, 'push/not_configured');
    });

    test('native open creates or gets the end user and conversation from channel_id + external_id', async () => {
      const m = await mobileChannel();
      const http = request(t.url);
      // The app's own user id, signed by the tenant's backend: user_hash = hex(hmac_sha256(secret, id)).
      const externalId = `app-user-${randomUUID()}`;
      const hash = userHash(m.tenantSecret, externalId);
      const unsigned = await http
        .post('/api/mobile/conversations')
        .send({ channel_id: m.channelId, external_id: externalId, display_name: 'Alice Smith' });
      assert.equal(unsigned.status, 403, JSON.stringify(unsigned.body));
      assert.equal(unsigned.body.error, 'identity/required');
      assert.equal(
        await t.database.prisma.endUser.count({ where: { organizationId: m.org.id, externalId } }),
        0,
        'an unsigned user id creates nothing',
      );
      const first = await http.post('/api/mobile/conversations').send({
        channel_id: m.channelId,
        external_id: externalId,
        user_hash: hash,
        display_name: 'Alice Smith',
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.channel_id, m.channelId);
      assert.equal(first.body.end_user.external_id, externalId);
      assert.equal(first.body.end_user.display_name, 'Alice Smith');
      assert.equal(first.headers['cache-control'], 'no-store');
      const again = await http.post('/api/mobile/conversations').send({
        channel_id: m.channelId,
        external_id: externalId,
        user_hash: hash,
        display_name: 'Alice S.',
      });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.conversation_id, first.body.conversation_id);
      assert.equal(again.body.end_user.display_name, 'Alice S.');
      const conv = await t.database.prisma.conversation.findUniqueOrThrow({
        where: { id: first.body.conversation_id },
        include: { endUser: true },
      });
      assert.equal(conv.channelId, m.channelId);
      assert.equal(conv.organizationId, m.org.id);
      assert.equal(conv.endUser.externalId, externalId);
      // What join_conversation checks: the conversation is this external_id's.
      const proof = await t.services.conversations.requireForEndUser(first.body.conversation_id, {
        externalId,
        userHash: hash,
      });
      assert.equal(proof.conversationId, first.body.conversation_id);

      // A web-chat channel, an unknown channel, bad input: clear errors, nothing created.
      const count = () => t.database.prisma.endUser.count({ where: { organizationId: m.org.id } });
      const n = await count();
      for (const [body, status, error] of [
        [
          { channel_id: m.channelId.replace(/^.{8}/, '00000000'), external_id: 'x' },
          404,
          'channel/not_found',
        ],
        [{ channel_id: m.channelId, external_id: '' }, 400, 'request/invalid'],
        [{ channel_id: 'abc', external_id: 'x' }, 400, 'request/invalid'],
        [{ external_id: 'x' }, 400, 'request/invalid'],
      ] as const) {
        const res = await http.post('/api/mobile/conversations').send(body);
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.error, error);
        assert.equal(typeof res.body.message, 'string');
      }
      const web = await http.post('/api/mobile/conversations').send({
        channel_id: m.webChannelId,
        external_id: 'x',
      });
      assert.equal(web.status, 404);
      assert.equal(await count(), n);
    });

    test('devices register and unregister, proven like the socket (conversation_id + external_id + user_hash)', async () => {
      const m = await mobileChannel();
      const http = request(t.url);
      const externalId = `app-user-${randomUUID()}`;
      const hash = userHash(m.tenantSecret, externalId);
      const open = await http
        .post('/api/mobile/conversations')
        .send({ channel_id: m.channelId, external_id: externalId, user_hash: hash });
      assert.equal(open.status, 200, JSON.stringify(open.body));
      const conversationId = open.body.conversation_id as string;
      const apns = randomBytes(32).toString('hex').toUpperCase();
      const fcm = `${randomBytes(30).toString('base64url')}:APA91b${randomBytes(60).toString('base64url')}`;
      const reg = (body: object) => http.post('/api/mobile/devices').send(body);
      const unsigned = { conversation_id: conversationId, external_id: externalId };
      const proof = { ...unsigned, user_hash: hash };

      const a = await reg({ ...proof, platform: 'apns', token: apns });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      assert.equal(a.body.platform, 'apns');
      assert.equal(
        (await reg({ ...proof, platform: 'apns', token: apns })).status,
        200,
        'registering twice is idempotent',
      );
      assert.equal((await reg({ ...proof, platform: 'fcm', token: fcm })).status, 201);
      const rows = await t.database.prisma.deviceToken.findMany({
        where: { endUserId: open.body.end_user.id },
        orderBy: { platform: 'asc' },
      });
      assert.deepEqual(
        rows.map((r) => [r.platform, r.token, r.channelId]).sort(),
        [
          ['fcm', fcm, m.channelId],
          ['apns', apns.toLowerCase(), m.channelId],
        ].sort(),
      );

      // No user_hash or a wrong one: the socket's identity 403s, nothing registered.
      const noHash = await reg({ ...unsigned, platform: 'fcm', token: `${fcm}z` });
      assert.equal(noHash.status, 403);
      assert.equal(noHash.body.error, 'identity/required');
      const badHash = await reg({
        ...proof,
        user_hash: userHash(m.tenantSecret, 'someone-else'),
        platform: 'fcm',
        token: `${fcm}z`,
      });
      assert.equal(badHash.status, 403);
      assert.equal(badHash.body.error, 'identity/forbidden');
      assert.equal(await t.database.prisma.deviceToken.count({ where: { token: `${fcm}z` } }), 0);
      // Wrong external_id or unknown conversation: the socket's 403; bad tokens: 400.
      const wrong = await reg({ ...proof, external_id: 'someone-else', platform: 'fcm', token: fcm });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error, 'auth/forbidden');
      assert.equal(
        (await reg({ ...proof, conversation_id: randomUUID(), platform: 'fcm', token: fcm })).status,
        403,
      );
      for (const body of [
        { ...proof, platform: 'apns', token: 'not-hex' },
        { ...proof, platform: 'fcm', token: 'short' },
        { ...proof, platform: 'gcm', token: fcm },
      ]) {
        const res = await reg(body);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error, 'request/invalid');
      }
      // A WebView (web-chat) conversation registers against its bot's mobile channel…
      const web = await createConversation(t.services, {
        organizationId: m.org.id,
        channelId: m.webChannelId,
      });
      const viaWeb = await reg({
        conversation_id: web.conversation.id,
        external_id: web.externalId,
        platform: 'fcm',
        token: `${fcm}x`,
      });
      assert.equal(viaWeb.status, 201);
      const webDevice = await t.database.prisma.deviceToken.findFirstOrThrow({ where: { token: `${fcm}x` } });
      assert.equal(webDevice.channelId, m.channelId);
      // …and a bot without a mobile channel has nowhere to send from.
      const bare = await createOrg(t.services);
      const bareConv = await createConversation(t.services, {
        organizationId: bare.org.id,
        channelId: bare.channelId,
      });
      const notMobile = await reg({
        conversation_id: bareConv.conversation.id,
        external_id: bareConv.externalId,
        platform: 'fcm',
        token: `${fcm}y`,
      });
      assert.equal(notMobile.status, 409);
      assert.equal(notMobile.body.error, 'device/not_mobile_channel');

      const un = (body: object) => http.delete('/api/mobile/devices').send(body);
      assert.equal(
        (await un({ ...proof, external_id: 'someone-else', platform: 'apns', token: apns })).status,
        403,
      );
      const unNoHash = await un({ ...unsigned, platform: 'apns', token: apns });
      assert.equal(unNoHash.status, 403);
      assert.equal(unNoHash.body.error, 'identity/required');
      assert.equal((await un({ ...proof, platform: 'apns', token: apns })).status, 204);
      const again = await un({ ...proof, platform: 'apns', token: apns });
      assert.equal(again.status, 404);
      assert.equal(again.body.error, 'device/not_found');
      assert.equal(
        await t.database.prisma.deviceToken.count({ where: { endUserId: open.body.end_user.id } }),
        1,
      );
    });

    test('the public endpoints are rate-limited (429 with Retry-After)', async () => {
      const m = await mobileChannel();
      const http = request(t.url);
      const statuses: number[] = [];
      const ids = Array.from({ length: 31 }, () => `v_${randomUUID()}`);
      for (const id of ids) {
        const res = await http
          .post('/api/mobile/conversations')
          .send({ channel_id: m.channelId, external_id: id });
        statuses.push(res.status);
        if (res.status === 429) {
          assert.equal(res.body.error, 'rate_limited');
          assert.ok(Number(res.headers['retry-after']) >= 1);
        }
      }
      assert.deepEqual(statuses.slice(0, 30), Array(30).fill(200));
      assert.equal(statuses[30], 429);
      assert.equal(
        await t.database.prisma.endUser.count({
          where: { organizationId: m.org.id, externalId: ids[30] },
        }),
        0,
      );
    });
  });
}
