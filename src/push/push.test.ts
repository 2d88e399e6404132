import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createOrg, message as sendPayload } from '../../test/helpers/factories.js';
import { makeTlsCert, startFakeApns, startFakeFcm } from '../../test/helpers/push-providers.js';
import { connectSocket, emitAck, eventually, nextEvent } from '../../test/helpers/sockets.js';
import { userHash } from '../tenants/identity.js';
import { createdEventOf, servicesFor } from '../../test/helpers/services.js';
import { proxiedTestDatabase, type ProxiedDatabase } from '../../test/helpers/proxied-db.js';
import { nodeDiesNow } from '../../test/helpers/faults.js';

const fcmToken = () => `fcm-${randomBytes(40).toString('base64url')}:APA91b${randomUUID()}`;
const apnsToken = () => randomBytes(32).toString('hex');

// The product talks to local servers that speak FCM HTTP v1 (HTTPS + OAuth) and APNs (HTTP/2 +
// provider JWT); only the hosts and the extra CA are configured, as an operator would.
for (const mode of dbModes) {
  const full = mode.name === 'postgres';
  describe(`push notifications on ${mode.name}${full ? ' + Redis' : ''}`, () => {
    let t: TestApp;
    let tls: ReturnType<typeof makeTlsCert>;
    let fcm: Awaited<ReturnType<typeof startFakeFcm>>;
    let apns: Awaited<ReturnType<typeof startFakeApns>>;
    // send() called → request at the provider: first use of a credential (OAuth, TLS) vs warm.
    const timings = { cold: [] as number[], warm: [] as number[] };
    const prefix = `sb:test:${randomUUID()}`;
    let cut: ProxiedDatabase | undefined;

    before(async () => {
      tls = makeTlsCert();
      fcm = await startFakeFcm(tls);
      apns = await startFakeApns(tls);
      // On PostgreSQL the node's database is behind a proxy a test can cut.
      if (full) cut = await proxiedTestDatabase();
      t = await startApp(cut ? cut.proxied : await mode.open(), {
        redis: full,
        env: {
          FCM_API_URL: fcm.url,
          GOOGLE_OAUTH_TOKEN_URL: `${fcm.url}/token`,
          APNS_HOST: apns.host,
          PUSH_CA_FILE: tls.caFile,
          PUSH_RETRY_BASE_MS: '100',
          PUSH_MAX_ATTEMPTS: '4',
          REALTIME_REDIS_PREFIX: prefix,
          PRESENCE_HEARTBEAT_S: '1',
        },
      });
      t.push.start();
    });
    after(async () => {
      console.log(
        `# push (${mode.name}): send() → provider request: cold ${timings.cold.join(', ')} ms; ` +
          `warm ${timings.warm.join(', ')} ms`,
      );
      await t.stop();
      await (cut ? cut.close() : t.database.close());
      await Promise.all([fcm.close(), apns.close()]);
      tls.remove();
    });

    /** An organization whose mobile channel has both credentials, set through the admin API. */
    async function mobileOrg() {
      const o = await createOrg(t.services);
      const admin = await createAgent(t.services, o.org.id, { role: 'admin' });
      const s = await loginAgent(t.url, admin.user.email, admin.password);
      const http = request(t.url);
      const ch = await http
        .post('/api/mobile/channels')
        .set('Cookie', s.cookie)
        .set('X-CSRFToken', s.csrf)
        .send({ bot_id: o.botId });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      const channelId = ch.body.id as string;
      const put = (provider: string, body: object) =>
        http
          .put(`/api/mobile/channels/${channelId}/push/${provider}`)
          .set('Cookie', s.cookie)
          .set('X-CSRFToken', s.csrf)
          .send(body);
      assert.equal(
        (await put('fcm', { service_account_json: JSON.stringify(fcm.serviceAccount) })).status,
        200,
      );
      assert.equal((await put('apns', { ...apns.credential, environment: 'sandbox' })).status, 200);
      return { ...o, admin, channelId };
    }

    /**
     * An app user: native open, then device registration, as the mobile app does it; the app's
     * user id is signed by the tenant's backend (user_hash).
     */
    async function appUser(
      m: Awaited<ReturnType<typeof mobileOrg>>,
      devices: { platform: 'fcm' | 'apns'; token: string }[],
    ) {
      const externalId = `user-${randomUUID()}`;
      const hash = userHash(m.tenantSecret, externalId);
      const open = await request(t.url)
        .post('/api/mobile/conversations')
        .send({ channel_id: m.channelId, external_id: externalId, user_hash: hash, display_name: 'Alice' });
      assert.equal(open.status, 200, JSON.stringify(open.body));
      const conversationId = open.body.conversation_id as string;
      for (const d of devices) {
        const r = await request(t.url)
          .post('/api/mobile/devices')
          .send({ conversation_id: conversationId, external_id: externalId, user_hash: hash, ...d });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      return { externalId, userHash: hash, conversationId, endUserId: open.body.end_user.id as string };
    }

    async function agentSays(
      m: Awaited<ReturnType<typeof mobileOrg>>,
      conversationId: string,
      content: string,
    ) {
      const at = Date.now();
      const { message } = await t.services.messages.send(
        m.admin.actor,
        sendPayload({
          conversation_id: conversationId,
          content,
          sender_type: 'agent',
        }),
      );
      return { id: message.id, at };
    }

    const jobsOf = (messageId: string) => t.database.prisma.pushJob.findMany({ where: { messageId } });
    /** Every one of the `count` jobs of a message has left the queue with `status`. */
    const allDone = async (messageId: string, count: number, status?: 'sent') => {
      const jobs = await jobsOf(messageId);
      return (
        jobs.length === count && jobs.every((j) => (status ? j.status === status : j.status !== 'pending'))
      );
    };
    const device = (token: string) => t.database.prisma.deviceToken.findFirstOrThrow({ where: { token } });

    test(
      'a reply stored by a node killed before it queued the push is pushed by the node that finds it dead',
      { skip: full ? false : 'needs Redis (presence finds dead nodes)' },
      async () => {
        const m = await mobileOrg();
        const ft = fcmToken();
        const u = await appUser(m, [{ platform: 'fcm', token: ft }]);
        // Another node stores the agent's reply and dies before its push listener runs: its
        // services publish nowhere, and it beat in Redis for the last time just then.
        const dead = servicesFor(t.database).services;
        const say = (content: string) =>
          dead.messages.send(
            m.admin.actor,
            sendPayload({ conversation_id: u.conversationId, content, sender_type: 'agent' }),
          );
        // One the end user's app acknowledged receiving is not pushed again.
        const seen = await say('Already on the phone');
        await t.database.prisma.conversation.update({
          where: { id: u.conversationId },
          data: { visitorDeliveredSeq: seen.message.seq },
        });
        const { message } = await say('Left by a dead node');
        await nodeDiesNow(prefix);
        // Reaped after three silent beats (1 s here): the push goes out.
        const [f] = await fcm.waitFor(ft, 1, 15_000);
        assert.deepEqual(f!.message.data, {
          conversation_id: u.conversationId,
          message_id: message.id,
          type: 'message',
        });
        await eventually(() => allDone(message.id, 1, 'sent'));
        assert.equal((await jobsOf(seen.message.id)).length, 0);
      },
    );

    test(
      'a reply stored just before the database went away is pushed once it is back',
      { skip: full ? false : 'needs the proxied PostgreSQL' },
      async () => {
        const m = await mobileOrg();
        const ft = fcmToken();
        const u = await appUser(m, [{ platform: 'fcm', token: ft }]);
        // Stored and committed; the node's own event, as its message service publishes it then.
        const { services, events } = servicesFor(t.database);
        const { message } = await services.messages.send(
          m.admin.actor,
          sendPayload({
            conversation_id: u.conversationId,
            content: 'Your refund is on its way',
            sender_type: 'agent',
          }),
        );
        // The database goes away before the listener has looked up the user's devices.
        cut!.proxy.set('refuse');
        t.bus.publish('message.created', createdEventOf(events, message.id));
        await new Promise((r) => setTimeout(r, 1000));
        cut!.proxy.set('pass');
        const [f] = await fcm.waitFor(ft, 1, 15_000);
        assert.equal((f!.message.data as { message_id?: string }).message_id, message.id);
        await eventually(() => allDone(message.id, 1, 'sent'));
      },
    );

    test('an agent message reaches FCM (HTTP v1, OAuth bearer) and APNs (HTTP/2, ES256 JWT)', async () => {
      const m = await mobileOrg();
      const [ft, at] = [fcmToken(), apnsToken()];
      const u = await appUser(m, [
        { platform: 'fcm', token: ft },
        { platform: 'apns', token: at },
      ]);
      const msg = await agentSays(m, u.conversationId, 'Your order has shipped');

      const [f] = await fcm.waitFor(ft, 1);
      timings.cold.push(f!.at - msg.at);
      assert.equal(f!.projectId, fcm.serviceAccount.project_id);
      assert.ok(f!.accessTokenValid, 'FCM call carries the OAuth access token the token endpoint issued');
      assert.match(String(f!.contentType), /^application\/json/);
      const claims = fcm.tokenRequests.at(-1)!.claims;
      assert.match(String(claims.scope), /firebase\.messaging|cloud-platform/);
      assert.deepEqual(f!.message.notification, {
        title: m.admin.user.displayName,
        body: 'Your order has shipped',
      });
      assert.deepEqual(f!.message.data, {
        conversation_id: u.conversationId,
        message_id: msg.id,
        type: 'message',
      });
      const android = f!.message.android as {
        collapse_key: string;
        priority: string;
        notification: { tag: string };
      };
      assert.equal(android.collapse_key, u.conversationId);
      assert.equal(android.notification.tag, u.conversationId);
      assert.equal(android.priority, 'high');

      const [a] = await apns.waitFor(at, 1);
      timings.cold.push(a!.at - msg.at);
      assert.equal(a!.headers['apns-topic'], apns.credential.bundle_id);
      assert.equal(a!.headers['apns-push-type'], 'alert');
      assert.equal(a!.headers['apns-collapse-id'], u.conversationId);
      assert.equal(a!.headers['apns-priority'], '10');
      assert.equal(a!.jwt!.header.kid, apns.credential.key_id);
      assert.equal(a!.jwt!.claims.iss, apns.credential.team_id);
      assert.deepEqual(a!.body.aps.alert, {
        title: m.admin.user.displayName,
        body: 'Your order has shipped',
      });
      assert.equal(a!.body.aps['thread-id'], u.conversationId);
      assert.equal(a!.body.conversation_id, u.conversationId);
      assert.equal(a!.body.message_id, msg.id);

      await eventually(() => allDone(msg.id, 2, 'sent'));
      assert.equal((await jobsOf(msg.id)).length, 2);
      assert.ok((await device(ft)).lastUsedAt, 'a delivered token records its last use');

      // A second message in the same conversation keeps the same collapse / thread id.
      const second = await agentSays(m, u.conversationId, 'x'.repeat(500));
      const [, f2] = await fcm.waitFor(ft, 2);
      timings.warm.push(f2!.at - second.at);
      const body = (f2!.message.notification as { body: string }).body;
      assert.ok(body.length <= 178 && body.endsWith('…'), `long bodies are truncated: ${body.length}`);
      assert.equal((f2!.message.android as { collapse_key: string }).collapse_key, u.conversationId);
      const [, a2] = await apns.waitFor(at, 2);
      timings.warm.push(a2!.at - second.at);
      assert.equal(a2!.headers['apns-collapse-id'], u.conversationId);
      assert.equal(a2!.body.message_id, second.id);
    });

    test('tokens the provider reports unregistered are disabled and never used again', async () => {
      const m = await mobileOrg();
      const [ft, at, live] = [fcmToken(), apnsToken(), fcmToken()];
      fcm.answers.set(ft, 'unregistered');
      apns.answers.set(at, 'unregistered');
      const u = await appUser(m, [
        { platform: 'fcm', token: ft },
        { platform: 'apns', token: at },
        { platform: 'fcm', token: live },
      ]);
      const msg = await agentSays(m, u.conversationId, 'hello');
      await eventually(async () => Boolean((await device(ft)).disabledAt && (await device(at)).disabledAt));
      assert.match(String((await device(ft)).disabledReason), /registration-token-not-registered/);
      assert.match(String((await device(at)).disabledReason), /410: Unregistered/);
      await eventually(() => allDone(msg.id, 3));
      assert.deepEqual((await jobsOf(msg.id)).map((j) => j.status).sort(), ['failed', 'failed', 'sent']);

      // The next message goes to the live device only.
      const next = await agentSays(m, u.conversationId, 'again');
      await fcm.waitFor(live, 2);
      assert.equal((await jobsOf(next.id)).length, 1);
      assert.equal(fcm.for(ft).length, 1);
      assert.equal(apns.for(at).length, 1);

      // Registering the token again (the app was reinstalled) re-enables it.
      const again = await request(t.url).post('/api/mobile/devices').send({
        conversation_id: u.conversationId,
        external_id: u.externalId,
        user_hash: u.userHash,
        platform: 'fcm',
        token: ft,
      });
      assert.equal(again.status, 200);
      assert.equal((await device(ft)).disabledAt, null);
    });

    test(
      '503 from a provider is retried with backoff until it is delivered',
      { skip: !full && 'covered on postgres' },
      async () => {
        const m = await mobileOrg();
        const [ft, at] = [fcmToken(), apnsToken()];
        // FCM: firebase-admin itself retries a 503 once after its own backoff.
        fcm.answers.set(ft, 'unavailable', 'ok');
        // APNs: each attempt tries twice; the first two attempts fail, the third gets through.
        apns.answers.set(at, 'unavailable', 'unavailable', 'unavailable', 'unavailable', 'ok');
        const u = await appUser(m, [
          { platform: 'fcm', token: ft },
          { platform: 'apns', token: at },
        ]);
        const msg = await agentSays(m, u.conversationId, 'are you there?');
        await eventually(() => allDone(msg.id, 2, 'sent'), 20_000);
        assert.deepEqual(
          fcm.for(ft).map((r) => r.answered),
          ['unavailable', 'ok'],
        );
        const tries = apns.for(at);
        assert.deepEqual(
          tries.map((r) => r.answered),
          ['unavailable', 'unavailable', 'unavailable', 'unavailable', 'ok'],
        );
        const jobs = await jobsOf(msg.id);
        const apnsDevice = await device(at);
        assert.equal(jobs.find((j) => j.deviceTokenId === apnsDevice.id)!.attempts, 3);
        // Backoff between outbox attempts: ≥ 80 ms (100 ms base, −20 % jitter), then doubled.
        assert.ok(tries[2]!.at - tries[1]!.at >= 80, `first retry waited ${tries[2]!.at - tries[1]!.at} ms`);
        assert.ok(
          tries[4]!.at - tries[3]!.at >= 160,
          `second retry waited ${tries[4]!.at - tries[3]!.at} ms`,
        );
        assert.equal(apnsDevice.disabledAt, null, 'an outage never disables a token');
      },
    );

    test('an end user with a connected socket gets no push; once gone, they do', async () => {
      const m = await mobileOrg();
      const ft = fcmToken();
      const u = await appUser(m, [{ platform: 'fcm', token: ft }]);
      const socket = await connectSocket(t.url);
      try {
        const joined = await emitAck(socket, 'join_conversation', {
          conversation_id: u.conversationId,
          external_id: u.externalId,
          user_hash: u.userHash,
        });
        assert.equal(joined.ok, true, JSON.stringify(joined));
        const received = nextEvent<{ id: string }>(socket, 'message_received');
        const live = await agentSays(m, u.conversationId, 'you are online');
        assert.equal((await received).id, live.id);
        // Let the listener run to its decision before the socket goes.
        await new Promise((r) => setTimeout(r, 300));
        socket.disconnect();
        await eventually(async () => (await t.io.in(`enduser:${u.endUserId}`).fetchSockets()).length === 0);
        const offline = await agentSays(m, u.conversationId, 'you are offline');
        const [only] = await fcm.waitFor(ft, 1);
        assert.equal((only!.message.data as { message_id: string }).message_id, offline.id);
        assert.equal((await jobsOf(live.id)).length, 0, 'nothing was queued while connected');
      } finally {
        socket.disconnect();
      }
    });

    test(
      'the outbox is durable and shared: a node without a running sender queues, another sends',
      { skip: !full && 'needs a database two apps share' },
      async () => {
        // Node B stores the message and queues the push but never sends (as if it died next).
        const b = await startApp(await mode.open(), {
          env: { FCM_API_URL: fcm.url, GOOGLE_OAUTH_TOKEN_URL: `${fcm.url}/token`, PUSH_CA_FILE: tls.caFile },
        });
        try {
          const m = await mobileOrg();
          const ft = fcmToken();
          const u = await appUser(m, [{ platform: 'fcm', token: ft }]);
          const { message } = await b.services.messages.send(
            m.admin.actor,
            sendPayload({
              conversation_id: u.conversationId,
              content: 'queued on B',
              sender_type: 'agent',
            }),
          );
          // Node A's worker (the suite's app) picks the row up from the shared table.
          const [r] = await fcm.waitFor(ft, 1);
          assert.equal((r!.message.data as { message_id: string }).message_id, message.id);
          await eventually(() => allDone(message.id, 1, 'sent'));
        } finally {
          await b.stop();
          await b.database.close();
        }
      },
    );

    test("replies sent at the same moment each reach exactly their own user's devices", async () => {
      const m = await mobileOrg();
      const tokens = [fcmToken(), fcmToken()];
      const withTwo = await appUser(m, [
        { platform: 'fcm', token: tokens[0]! },
        { platform: 'fcm', token: tokens[1]! },
      ]);
      const withNone = await appUser(m, []);
      const appleToken = apnsToken();
      const withOne = await appUser(m, [{ platform: 'apns', token: appleToken }]);
      // Sent together: their device lookups share one query.
      const [a, b, c] = await Promise.all([
        agentSays(m, withTwo.conversationId, 'to two devices'),
        agentSays(m, withNone.conversationId, 'to nobody'),
        agentSays(m, withOne.conversationId, 'to one device'),
      ]);
      await eventually(async () => (await allDone(a.id, 2)) && (await allDone(c.id, 1)));
      const tokenOf = async (messageId: string) =>
        (
          await t.database.prisma.pushJob.findMany({
            where: { messageId },
            include: { deviceToken: { select: { token: true } } },
          })
        )
          .map((j) => j.deviceToken.token)
          .sort();
      assert.deepEqual(await tokenOf(a.id), [...tokens].sort());
      assert.deepEqual(await tokenOf(b.id), []);
      assert.deepEqual(await tokenOf(c.id), [appleToken]);
    });

    test('end-user messages, and users without devices, queue nothing', async () => {
      const m = await mobileOrg();
      const ft = fcmToken();
      const u = await appUser(m, [{ platform: 'fcm', token: ft }]);
      const endUser = {
        kind: 'end_user' as const,
        organizationId: m.org.id,
        endUserId: u.endUserId,
        externalId: u.externalId,
      };
      const own = await t.services.messages.send(
        endUser,
        sendPayload({
          conversation_id: u.conversationId,
          content: 'hi',
          sender_type: 'end_user',
          external_id: u.externalId,
        }),
      );
      const bare = await appUser(m, []);
      const noDevice = await agentSays(m, bare.conversationId, 'hello');
      // A later agent message in the first conversation is pushed: the queue was running all along.
      const reply = await agentSays(m, u.conversationId, 'reply');
      await fcm.waitFor(ft, 1);
      assert.equal((fcm.for(ft)[0]!.message.data as { message_id: string }).message_id, reply.id);
      assert.equal((await jobsOf(own.message.id)).length, 0);
      assert.equal((await jobsOf(noDevice.id)).length, 0);
    });
  });
}
