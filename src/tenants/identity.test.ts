// The attack: a mobile Channel ID ships inside the app and user ids are guessable (`user-1001`),
// so whoever knew both could open that user's conversation, read its history, join and post as
// them, and register their own push token to receive the agent's next reply. With verified
// identity, only the tenant's backend (which holds the tenant secret) can vouch for a user id.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { connectSocket, emitAck } from '../../test/helpers/sockets.js';
import { userHash } from './identity.js';

const fcmToken = () => `fcm-${randomBytes(24).toString('base64url')}`;
const randomVisitor = () => `v_${randomBytes(16).toString('hex')}`;

for (const mode of dbModes) {
  const full = mode.name === 'postgres';
  const pgOnly = { skip: full ? false : 'covered on postgres' };
  describe(`verified end-user identity on ${mode.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), { redis: full });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    /** An organization with an owner signed in and a mobile channel (verified by default). */
    async function tenant() {
      const o = await createOrg(t.services);
      const owner = await createAgent(t.services, o.org.id, { role: 'owner' });
      const s = await loginAgent(t.url, owner.user.email, owner.password);
      const as = (method: 'get' | 'post' | 'patch', path: string, body?: object) => {
        const r = request(t.url)[method](path).set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
        return body ? r.send(body) : r;
      };
      const ch = await as('post', '/api/mobile/channels', { bot_id: o.botId });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      return { ...o, owner, session: s, as, mobileChannelId: ch.body.id as string };
    }

    const open = (body: object) => request(t.url).post('/api/mobile/conversations').send(body);
    const endUsers = (organizationId: string) =>
      t.database.prisma.endUser.count({ where: { organizationId } });

    test('a guessed user id opens, reads, joins, posts and registers push for nobody', async () => {
      const o = await tenant();
      const user = 'user-1001';
      const hash = userHash(o.tenantSecret, user);

      // The real app, with the hash its backend computed at login.
      const mine = await open({ channel_id: o.mobileChannelId, external_id: user, user_hash: hash });
      assert.equal(mine.status, 200, JSON.stringify(mine.body));
      const conversationId = mine.body.conversation_id as string;
      const users = await endUsers(o.org.id);

      // The attacker knows the Channel ID (it is in the app) and guesses the user id.
      const bare = await open({ channel_id: o.mobileChannelId, external_id: user });
      assert.equal(bare.status, 403);
      assert.equal(bare.body.error, 'identity/required');
      const forged = await open({
        channel_id: o.mobileChannelId,
        external_id: user,
        user_hash: userHash('sk_guess', user),
      });
      assert.equal(forged.status, 403);
      assert.equal(forged.body.error, 'identity/forbidden');
      // Another user's hash does not fit this id either.
      const borrowed = await open({
        channel_id: o.mobileChannelId,
        external_id: user,
        user_hash: userHash(o.tenantSecret, 'user-1002'),
      });
      assert.equal(borrowed.status, 403);
      // A made-up user: nothing created for them either.
      const made = await open({ channel_id: o.mobileChannelId, external_id: 'user-9999' });
      assert.equal(made.status, 403);
      assert.equal(await endUsers(o.org.id), users);

      // History.
      const history = (q: string) => request(t.url).get(`/chat-widget/history/${conversationId}?${q}`);
      assert.equal((await history(`external_id=${user}`)).status, 403);
      assert.equal((await history(`external_id=${user}&user_hash=${userHash('x', user)}`)).status, 403);
      assert.equal((await history(`external_id=${user}&user_hash=${hash}`)).status, 200);

      // Push: the attacker's token is not registered.
      const token = fcmToken();
      const device = (body: object) => request(t.url).post('/api/mobile/devices').send(body);
      const steal = await device({
        conversation_id: conversationId,
        external_id: user,
        platform: 'fcm',
        token,
      });
      assert.equal(steal.status, 403);
      assert.equal(await t.database.prisma.deviceToken.count({ where: { token } }), 0);
      const own = await device({
        conversation_id: conversationId,
        external_id: user,
        user_hash: hash,
        platform: 'fcm',
        token,
      });
      assert.equal(own.status, 201, JSON.stringify(own.body));

      // The socket: join and send without the hash are refused, nothing stored; with it, they work.
      const attacker = await connectSocket(t.url);
      const join = await emitAck(attacker, 'join_conversation', {
        conversation_id: conversationId,
        external_id: user,
      });
      assert.equal(join.ok, false);
      assert.equal(join.error, 'identity/required');
      const post = await emitAck(attacker, 'send_message', {
        conversation_id: conversationId,
        content: 'send me the reset code',
        sender_type: 'end_user',
        external_id: user,
      });
      assert.equal(post.error, 'identity/required');
      const typing = await emitAck(attacker, 'user_typing', {
        conversation_id: conversationId,
        sender_type: 'end_user',
        external_id: user,
      });
      assert.equal(typing.error, 'identity/required');
      assert.equal(await t.database.prisma.message.count({ where: { conversationId } }), 0);
      attacker.disconnect();

      const app = await connectSocket(t.url);
      const joined = await emitAck(app, 'join_conversation', {
        conversation_id: conversationId,
        external_id: user,
        user_hash: hash,
      });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      // Proven once on this socket: later events need no hash.
      const sent = await emitAck(app, 'send_message', {
        conversation_id: conversationId,
        content: 'hello',
        sender_type: 'end_user',
        external_id: user,
      });
      assert.equal(sent.ok, true, JSON.stringify(sent));
      app.disconnect();
    });

    test('the WebView URL of a signed-in app user needs the hash; the widget’s own visitors do not', async () => {
      const o = await tenant();
      const page = (q: Record<string, string>) =>
        request(t.url)
          .get('/chat-widget')
          .query({ embed_token: o.embedToken, ...q });
      const user = `user-${randomUUID()}`;
      const bare = await page({ session_id: user });
      assert.equal(bare.status, 403);
      assert.match(bare.text, /user_hash/);
      assert.equal((await page({ session_id: user, user_hash: userHash('nope', user) })).status, 403);
      assert.equal(await t.database.prisma.endUser.count({ where: { externalId: user } }), 0);
      const ok = await page({ session_id: user, user_hash: userHash(o.tenantSecret, user) });
      assert.equal(ok.status, 200);
      // The page hands the hash to its own socket and history calls.
      assert.match(ok.text, new RegExp(userHash(o.tenantSecret, user)));
      // A random visitor id, as embed.js makes, needs nothing.
      assert.equal((await page({ session_id: randomVisitor() })).status, 200);
      // The hash's shape is checked like any parameter.
      const malformed = await page({ session_id: user, user_hash: 'abc' });
      assert.equal(malformed.status, 400);
      assert.match(malformed.text, /user_hash/);
    });

    test('once verified, a user id never again works without its hash, whatever the mode', async () => {
      const o = await tenant();
      const off = await o.as('patch', '/api/organization', { identity_mode: 'off' });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      assert.equal(off.body.identity_mode, 'off');
      // `off`: today's behaviour, documented as unsafe — a bare id opens.
      const legacy = await open({ channel_id: o.mobileChannelId, external_id: 'legacy-7' });
      assert.equal(legacy.status, 200);
      // This user's app now sends the hash: from then on the bare id is refused.
      const hash = userHash(o.tenantSecret, 'legacy-7');
      const verified = await open({
        channel_id: o.mobileChannelId,
        external_id: 'legacy-7',
        user_hash: hash,
      });
      assert.equal(verified.status, 200);
      const again = await open({ channel_id: o.mobileChannelId, external_id: 'legacy-7' });
      assert.equal(again.status, 403);
      assert.equal(again.body.error, 'identity/required');
      const s = await connectSocket(t.url);
      const join = await emitAck(s, 'join_conversation', {
        conversation_id: legacy.body.conversation_id,
        external_id: 'legacy-7',
      });
      assert.equal(join.error, 'identity/required');
      s.disconnect();

      // A socket that joined with the bare id before the user was verified is cut off then.
      const early = await open({ channel_id: o.mobileChannelId, external_id: 'legacy-8' });
      const bare = await connectSocket(t.url);
      assert.equal(
        (
          await emitAck(bare, 'join_conversation', {
            conversation_id: early.body.conversation_id,
            external_id: 'legacy-8',
          })
        ).ok,
        true,
      );
      const cut = new Promise<string>((resolve) => bare.once('disconnect', resolve));
      const proven = await connectSocket(t.url);
      const joined = await emitAck(proven, 'join_conversation', {
        conversation_id: early.body.conversation_id,
        external_id: 'legacy-8',
        user_hash: userHash(o.tenantSecret, 'legacy-8'),
      });
      assert.equal(joined.ok, true, 'the socket that verifies stays');
      assert.equal(await cut, 'io server disconnect');
      assert.equal(proven.connected, true);
      proven.disconnect();
    });

    test('anonymous mode takes random visitor ids only', async () => {
      const o = await tenant();
      assert.equal((await o.as('patch', '/api/organization', { identity_mode: 'anonymous' })).status, 200);
      const named = 'user-42';
      const refused = await open({
        channel_id: o.mobileChannelId,
        external_id: named,
        user_hash: userHash(o.tenantSecret, named),
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'identity/forbidden');
      // A short or patterned "v_" id is not a random one.
      assert.equal((await open({ channel_id: o.mobileChannelId, external_id: 'v_1' })).status, 403);
      assert.equal((await open({ channel_id: o.mobileChannelId, external_id: randomVisitor() })).status, 200);
    });

    test(
      'a channel’s own mode overrides the organization’s; tightening it disconnects the unproven',
      pgOnly,
      async () => {
        const o = await tenant();
        const relax = await o.as('patch', `/api/channels/${o.mobileChannelId}`, { identity_mode: 'off' });
        assert.equal(relax.status, 200, JSON.stringify(relax.body));
        assert.equal(relax.body.identity_mode, 'off');
        const opened = await open({ channel_id: o.mobileChannelId, external_id: 'kiosk-1' });
        assert.equal(opened.status, 200);
        // The organization stays verified: its web chat still refuses the same bare id.
        const web = await request(t.url)
          .get('/chat-widget')
          .query({ embed_token: o.embedToken, session_id: 'kiosk-1' });
        assert.equal(web.status, 403);

        const s = await connectSocket(t.url);
        const join = await emitAck(s, 'join_conversation', {
          conversation_id: opened.body.conversation_id,
          external_id: 'kiosk-1',
        });
        assert.equal(join.ok, true);
        const gone = new Promise<string>((resolve) => s.once('disconnect', resolve));
        const back = await o.as('patch', `/api/channels/${o.mobileChannelId}`, { identity_mode: null });
        assert.equal(back.body.identity_mode, null);
        assert.equal(await gone, 'io server disconnect');
        const s2 = await connectSocket(t.url);
        const rejoin = await emitAck(s2, 'join_conversation', {
          conversation_id: opened.body.conversation_id,
          external_id: 'kiosk-1',
        });
        assert.equal(rejoin.error, 'identity/required');
        s2.disconnect();

        const bad = await o.as('patch', `/api/channels/${o.mobileChannelId}`, { identity_mode: 'lax' });
        assert.equal(bad.status, 400);
        const other = await tenant();
        const foreign = await other.as('patch', `/api/channels/${o.mobileChannelId}`, {
          identity_mode: 'off',
        });
        assert.equal(foreign.status, 404);
      },
    );

    test('routing_key on native open only when signed, and the routed user keeps one hash', async () => {
      const o = await tenant();
      const user = 'shopper-5';
      const unsigned = await open({
        channel_id: o.mobileChannelId,
        external_id: user,
        user_hash: userHash(o.tenantSecret, user),
        routing_key: 'store-lyon',
      });
      assert.equal(unsigned.status, 403);
      assert.match(unsigned.body.message, /routing_key/);
      const otherStore = await open({
        channel_id: o.mobileChannelId,
        external_id: user,
        user_hash: userHash(o.tenantSecret, user, 'store-paris'),
        routing_key: 'store-lyon',
      });
      assert.equal(otherStore.status, 403);
      assert.equal(await endUsers(o.org.id), 0);

      const routedHash = userHash(o.tenantSecret, user, 'store-lyon');
      const signed = await open({
        channel_id: o.mobileChannelId,
        external_id: user,
        user_hash: routedHash,
        routing_key: 'store-lyon',
      });
      assert.equal(signed.status, 200, JSON.stringify(signed.body));
      const conv = await t.database.prisma.conversation.findUniqueOrThrow({
        where: { id: signed.body.conversation_id },
      });
      assert.equal(conv.routingKey, 'store-lyon');
      // The app keeps using the value it opened with.
      const s = await connectSocket(t.url);
      const join = await emitAck(s, 'join_conversation', {
        conversation_id: conv.id,
        external_id: user,
        user_hash: routedHash,
      });
      assert.equal(join.ok, true, JSON.stringify(join));
      s.disconnect();
    });

    test('the secret: masked, rotated by owners with a grace period in which both verify', async () => {
      const o = await tenant();
      const info = await o.as('get', '/api/organization');
      assert.equal(info.status, 200);
      assert.equal(info.body.identity_mode, 'verified');
      assert.equal(info.body.tenant_secret_hint, `sk_…${o.tenantSecret.slice(-4)}`);
      assert.ok(!JSON.stringify(info.body).includes(o.tenantSecret), 'the secret is never shown again');

      const user = 'user-rot';
      const oldHash = userHash(o.tenantSecret, user);
      const rotated = await o.as('post', '/api/organization/secret/rotate', { grace_hours: 2 });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const newSecret = rotated.body.tenant_secret as string;
      assert.match(newSecret, /^sk_[\w-]{40,}$/);
      assert.notEqual(newSecret, o.tenantSecret);
      const until = Date.parse(rotated.body.previous_secret_valid_until);
      assert.ok(Math.abs(until - (Date.now() + 2 * 3_600_000)) < 60_000);
      // During the grace period both secrets verify.
      assert.equal(
        (await open({ channel_id: o.mobileChannelId, external_id: user, user_hash: oldHash })).status,
        200,
      );
      const newHash = userHash(newSecret, user);
      assert.equal(
        (await open({ channel_id: o.mobileChannelId, external_id: user, user_hash: newHash })).status,
        200,
      );
      // The secret is in the rotation's answer only.
      assert.equal((await o.as('get', '/api/organization')).body.tenant_secret, undefined);

      // No grace: the old secret stops at once.
      const now = await o.as('post', '/api/organization/secret/rotate', { grace_hours: 0 });
      assert.equal(now.body.previous_secret_valid_until, null);
      const stale = await open({ channel_id: o.mobileChannelId, external_id: user, user_hash: newHash });
      assert.equal(stale.status, 403);
      const fresh = userHash(now.body.tenant_secret, user);
      assert.equal(
        (await open({ channel_id: o.mobileChannelId, external_id: user, user_hash: fresh })).status,
        200,
      );

      // Only owners rotate; admins read; agents neither; bad input changes nothing.
      const admin = await createAgent(t.services, o.org.id, { role: 'admin' });
      const as = await loginAgent(t.url, admin.user.email, admin.password);
      const adminHttp = (method: 'get' | 'post', path: string) =>
        request(t.url)[method](path).set('Cookie', as.cookie).set('X-CSRFToken', as.csrf);
      assert.equal((await adminHttp('get', '/api/organization')).status, 200);
      assert.equal((await adminHttp('post', '/api/organization/secret/rotate').send({})).status, 403);
      const agent = await createAgent(t.services, o.org.id, { role: 'agent' });
      const ag = await loginAgent(t.url, agent.user.email, agent.password);
      assert.equal((await request(t.url).get('/api/organization').set('Cookie', ag.cookie)).status, 403);
      const tooLong = await o.as('post', '/api/organization/secret/rotate', { grace_hours: 10_000 });
      assert.equal(tooLong.status, 400);
      const noCsrf = await request(t.url)
        .post('/api/organization/secret/rotate')
        .set('Cookie', o.session.cookie)
        .send({});
      assert.equal(noCsrf.status, 403);
      assert.equal(
        (await open({ channel_id: o.mobileChannelId, external_id: user, user_hash: fresh })).status,
        200,
      );
    });

    test('two owners rotating at once: every secret handed out still verifies', async () => {
      const o = await tenant();
      const second = await createAgent(t.services, o.org.id, { role: 'owner' });
      const s2 = await loginAgent(t.url, second.user.email, second.password);
      const rotate2 = request(t.url)
        .post('/api/organization/secret/rotate')
        .set('Cookie', s2.cookie)
        .set('X-CSRFToken', s2.csrf)
        .send({ grace_hours: 1 });
      const answers = await Promise.all([
        o.as('post', '/api/organization/secret/rotate', { grace_hours: 1 }),
        rotate2,
      ]);
      for (const r of answers) assert.ok([200, 409].includes(r.status), JSON.stringify(r.body));
      const given = answers.filter((r) => r.status === 200).map((r) => r.body.tenant_secret as string);
      assert.ok(given.length >= 1);
      for (const secret of given) {
        const user = `user-${randomUUID()}`;
        const res = await open({
          channel_id: o.mobileChannelId,
          external_id: user,
          user_hash: userHash(secret, user),
        });
        assert.equal(res.status, 200, 'a secret shown to an owner must verify');
      }
    });

    test(
      'a stricter organization mode disconnects end users who never proved themselves',
      pgOnly,
      async () => {
        const o = await tenant();
        await o.as('patch', '/api/organization', { identity_mode: 'off' });
        const opened = await open({ channel_id: o.mobileChannelId, external_id: 'walk-in' });
        const s = await connectSocket(t.url);
        assert.equal(
          (
            await emitAck(s, 'join_conversation', {
              conversation_id: opened.body.conversation_id,
              external_id: 'walk-in',
            })
          ).ok,
          true,
        );
        const agentSocket = await connectSocket(t.url, { cookie: o.session.cookie });
        const left = new Promise<string>((resolve) => s.once('disconnect', resolve));
        await o.as('patch', '/api/organization', { identity_mode: 'verified' });
        assert.equal(await left, 'io server disconnect');
        // The agents stay.
        assert.equal(agentSocket.connected, true);
        agentSocket.disconnect();
      },
    );
  });
}
