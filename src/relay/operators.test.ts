// Operators through the signed API: the tenant backend's users as agents without a password
// (create, list, update, deactivate, reactivate), and the operator token that signs one into the
// inbox. PostgreSQL with Redis, and embedded PGlite on one node.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { provisionTenant, signedCall, type SignedTenant } from '../../test/helpers/relay.js';
import { cookieOf } from '../../test/helpers/http.js';
import { connectSocket, eventually } from '../../test/helpers/sockets.js';
import { createNonceStore } from './hmac.middleware.js';
import { createOperatorTokens } from './operator.tokens.js';
import { createVisitorTokens } from './tokens.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

type Tenant = SignedTenant;

for (const mode of dbModes) {
  describe(`operators on ${mode.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), { redis: mode.name === 'postgres', env: { ADMIN_KEY } });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    const provision = () => provisionTenant(t.url, ADMIN_KEY, 'Ops');
    const call = (tn: Tenant, method: string, path: string, json?: unknown) =>
      signedCall(t.url, tn, method, path, json);

    test('create, duplicate, list by cursor, update, and another tenant sees nothing', async () => {
      const tn = await provision();
      const made = await call(tn, 'POST', '/api/v1/relay/operators', {
        external_id: 'op-1',
        display_name: 'Ada',
        routing_keys: ['billing'],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.equal(made.body.data!.external_id, 'op-1');
      assert.equal(made.body.data!.role, 'agent');
      assert.equal(made.body.data!.email, null);
      assert.deepEqual(made.body.data!.routing_keys, ['billing']);
      const user = await t.database.prisma.user.findUniqueOrThrow({
        where: { id: String(made.body.data!.id) },
      });
      assert.equal(user.passwordHash, null);
      assert.match(user.email, /@operators\.invalid$/);

      const dup = await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'op-1' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error, 'operator/exists');

      const mail = `boss-${randomUUID().slice(0, 8)}@example.com`;
      const admin = await call(tn, 'POST', '/api/v1/relay/operators', {
        external_id: 'op-2',
        email: mail,
        role: 'admin',
      });
      assert.equal(admin.status, 201);
      assert.equal(admin.body.data!.email, mail);
      assert.equal(admin.body.data!.display_name, 'op-2');
      await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'op-3' });
      const bad = await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'op-4', role: 'owner' });
      assert.equal(bad.status, 400);

      const first = await call(tn, 'GET', '/api/v1/relay/operators?limit=2');
      const p1 = first.body.data as { items: { external_id: string }[]; next_cursor: string | null };
      assert.deepEqual(
        p1.items.map((o) => o.external_id),
        ['op-1', 'op-2'],
      );
      const second = await call(tn, 'GET', `/api/v1/relay/operators?limit=2&cursor=${p1.next_cursor}`);
      const p2 = second.body.data as { items: { external_id: string }[]; next_cursor: string | null };
      assert.deepEqual(
        p2.items.map((o) => o.external_id),
        ['op-3'],
      );
      assert.equal(p2.next_cursor, null);

      const upd = await call(tn, 'PATCH', '/api/v1/relay/operators/op-1', {
        routing_keys: ['sales', 'vip'],
        role: 'admin',
      });
      assert.equal(upd.status, 200, JSON.stringify(upd.body));
      assert.deepEqual(upd.body.data!.routing_keys, ['sales', 'vip']);
      assert.equal(upd.body.data!.role, 'admin');
      assert.equal((await call(tn, 'PATCH', '/api/v1/relay/operators/op-1', {})).status, 400);

      const other = await provision();
      for (const [method, path, body] of [
        ['GET', '/api/v1/relay/operators/op-1', undefined],
        ['PATCH', '/api/v1/relay/operators/op-1', { display_name: 'x' }],
        ['POST', '/api/v1/relay/operators/op-1/deactivate', undefined],
      ] as const) {
        const res = await call(other, method, path, body);
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(res.body.error, 'operator/not_found');
      }
      const empty = await call(other, 'GET', '/api/v1/relay/operators');
      assert.deepEqual((empty.body.data as { items: unknown[] }).items, []);
      // The same external id is another tenant's own.
      assert.equal(
        (await call(other, 'POST', '/api/v1/relay/operators', { external_id: 'op-1' })).status,
        201,
      );
    });

    test('an operator has no password to sign in with', async () => {
      const tn = await provision();
      const mail = `nopw-${randomUUID().slice(0, 8)}@example.com`;
      await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'np', email: mail });
      const page = await fetch(`${t.url}/auth/login`);
      const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(await page.text())![1]!;
      const res = await fetch(`${t.url}/auth/login`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          cookie: page.headers.getSetCookie()[0]!.split(';')[0]!,
          'x-csrftoken': csrf,
        },
        // The password the login checks a missing hash against.
        body: JSON.stringify({ email: mail, password: 'timing-equaliser-not-a-password' }),
      });
      assert.equal(res.status, 401);
    });

    test('deactivation publishes agent.deactivated and cuts sockets; reactivation restores', async () => {
      const tn = await provision();
      const made = await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'gone' });
      const id = String(made.body.data!.id);
      const events: string[] = [];
      const unsubscribe = t.bus.subscribe('agent.deactivated', (e) => void events.push(e.userId));
      try {
        const off = await call(tn, 'POST', '/api/v1/relay/operators/gone/deactivate');
        assert.equal(off.status, 200);
        assert.equal(off.body.data!.status, 'deactivated');
        assert.deepEqual(
          events.filter((e) => e === id),
          [id],
        );
        // Twice is not a second event.
        await call(tn, 'POST', '/api/v1/relay/operators/gone/deactivate');
        assert.equal(events.filter((e) => e === id).length, 1);
        const on = await call(tn, 'POST', '/api/v1/relay/operators/gone/reactivate');
        assert.equal(on.body.data!.status, 'active');
      } finally {
        unsubscribe();
      }
    });

    /**
     * Follows a login link by hand: its status, where it goes, and the session cookie if it signed
     * somebody in (the login page sets a cookie for its form's CSRF token, but it stores no session).
     */
    async function follow(url: string) {
      const res = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
      const set = res.headers.getSetCookie().some((c) => c.startsWith('session='));
      const cookie = set ? cookieOf(res) : null;
      const me = cookie ? await fetch(`${t.url}/auth/me`, { headers: { cookie } }) : null;
      return { status: res.status, location: res.headers.get('location'), cookie: me?.ok ? cookie : null };
    }

    const mint = async (tn: Tenant, externalId: string, json: unknown = {}) =>
      call(tn, 'POST', `/api/v1/relay/operators/${externalId}/token`, json);

    test('an operator token signs the operator into the inbox once, within their queues', async () => {
      const tn = await provision();
      await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'q-op', routing_keys: ['billing'] });
      const ids: string[] = [];
      for (const [user, key] of [
        ['v-billing', 'billing'],
        ['v-sales', 'sales'],
      ] as const) {
        const res = await call(tn, 'POST', '/api/v1/relay/conversations', { visitor_user_id: user });
        const id = String(res.body.data!.conversation_id);
        await t.database.prisma.conversation.update({ where: { id }, data: { routingKey: key } });
        ids.push(id);
      }

      const minted = await mint(tn, 'q-op');
      assert.equal(minted.status, 201, JSON.stringify(minted.body));
      const data = minted.body.data as { operator_token: string; expires_at: string; login_url: string };
      const ttl = (Date.parse(data.expires_at) - Date.now()) / 1000;
      assert.ok(ttl > 290 && ttl <= 301, `ttl ${ttl}`);
      const url = new URL(data.login_url);
      assert.equal(url.pathname, '/auth/operator');
      assert.equal(url.searchParams.get('token'), data.operator_token);

      const first = await follow(`${t.url}/auth/operator?token=${encodeURIComponent(data.operator_token)}`);
      assert.equal(first.status, 303);
      assert.equal(first.location, '/inbox');
      assert.ok(first.cookie);
      const me = await fetch(`${t.url}/auth/me`, { headers: { cookie: first.cookie } });
      const who = (await me.json()) as { user: { role: string; routing_keys: string[] } };
      assert.deepEqual(who.user.routing_keys, ['billing']);
      const list = await fetch(`${t.url}/api/conversations?filter=all`, {
        headers: { cookie: first.cookie },
      });
      assert.equal(list.status, 200);
      const seen = ((await list.json()) as { id: string }[]).map((c) => c.id);
      assert.deepEqual(seen, [ids[0]]);
      const inbox = await fetch(`${t.url}/inbox`, { headers: { cookie: first.cookie }, redirect: 'manual' });
      assert.equal(inbox.status, 200);

      // Spent: a second use signs nobody in.
      const again = await follow(`${t.url}/auth/operator?token=${encodeURIComponent(data.operator_token)}`);
      assert.equal(again.status, 401);
      assert.equal(again.cookie, null);
    });

    test('expired, forged, visitor, missing and deactivated-operator tokens start no session', async () => {
      const tn = await provision();
      const made = await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'x-op' });
      const claims = { userId: String(made.body.data!.id), tenantId: tn.id, externalId: 'x-op' };
      const used = createNonceStore({ prefix: 'test', now: Date.now });
      const secrets = t.config.relay.tokenSecrets;
      const past = createOperatorTokens({ secrets, used, now: () => Date.now() - 3_600_000 });
      const forger = createOperatorTokens({ secrets: ['not-the-deployment-key-at-all-000000'], used });
      const visitor = createVisitorTokens({ secrets, ttlS: 300 }).signVisitorToken({
        sessionId: randomUUID(),
        tenantId: tn.id,
        widgetPublicKey: 'pk',
        origin: 'https://shop.example',
        conversationId: randomUUID(),
      });
      const tokens = [
        (await past.sign(claims, 300)).token,
        (await forger.sign(claims, 300)).token,
        (await visitor).token,
        '',
        'not.a.jwt',
      ];
      for (const token of tokens) {
        const res = await follow(`${t.url}/auth/operator?token=${encodeURIComponent(token)}`);
        assert.equal(res.status, 401, token);
        assert.equal(res.cookie, null);
      }

      const pending = (await mint(tn, 'x-op')).body.data as { login_url: string; operator_token: string };
      await call(tn, 'POST', '/api/v1/relay/operators/x-op/deactivate');
      const late = await follow(`${t.url}/auth/operator?token=${encodeURIComponent(pending.operator_token)}`);
      assert.equal(late.status, 401);
      assert.equal(late.cookie, null);
      const refused = await mint(tn, 'x-op');
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error, 'operator/deactivated');

      assert.equal((await mint(tn, 'x-op', { ttl_seconds: 3601 })).status, 400);
      assert.equal((await mint(tn, 'nobody')).status, 404);
      // Another tenant cannot mint for this one's operator.
      assert.equal((await mint(await provision(), 'x-op')).status, 404);
    });

    test("deactivation cuts the operator's socket and session within seconds", async () => {
      const tn = await provision();
      await call(tn, 'POST', '/api/v1/relay/operators', { external_id: 'sock-op' });
      const { operator_token } = (await mint(tn, 'sock-op', { ttl_seconds: 60 })).body.data as {
        operator_token: string;
      };
      const { cookie } = await follow(`${t.url}/auth/operator?token=${encodeURIComponent(operator_token)}`);
      assert.ok(cookie);
      const socket = await connectSocket(t.url, { cookie });
      try {
        let gone = false;
        socket.on('disconnect', () => void (gone = true));
        await call(tn, 'POST', '/api/v1/relay/operators/sock-op/deactivate');
        await eventually(() => gone, 5000);
        const me = await fetch(`${t.url}/auth/me`, { headers: { cookie } });
        assert.equal(me.status, 401);
      } finally {
        socket.close();
      }
    });
  });
}
