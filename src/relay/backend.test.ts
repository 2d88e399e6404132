// The signed API's reading and administration endpoints: conversations and messages paged by
// cursor, one conversation, and the rotation of the tenant secret, all through HMAC#1.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { provisionTenant, signedCall, type SignedTenant } from '../../test/helpers/relay.js';
import { createVisitorSession, SHOP } from '../../test/helpers/relay.js';
import { connectWs, widgetWsUrl } from '../../test/helpers/ws.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

type Tenant = SignedTenant;

for (const mode of dbModes) {
  describe(`the signed API's reads and rotation on ${mode.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), { redis: mode.name === 'postgres', env: { ADMIN_KEY } });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    const provision = () => provisionTenant(t.url, ADMIN_KEY, 'Backend');
    const call = (tn: Tenant, method: string, path: string, json?: unknown) =>
      signedCall(t.url, tn, method, path, json);

    const open = async (tn: Tenant, userId: string) => {
      const res = await call(tn, 'POST', '/api/v1/relay/conversations', { visitor_user_id: userId });
      assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
      return String(res.body.data!.conversation_id);
    };

    test('conversations: newest first, paged by cursor, filtered by user; one by id', async () => {
      const tn = await provision();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await open(tn, `u-${i}`));
      const seen: string[] = [];
      const stamps: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const res = await call(tn, 'GET', `/api/v1/relay/conversations?limit=2${q}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const data = res.body.data as {
          items: { conversation_id: string; created_at: string }[];
          next_cursor: string | null;
        };
        assert.ok(data.items.length <= 2);
        seen.push(...data.items.map((c) => c.conversation_id));
        stamps.push(...data.items.map((c) => c.created_at));
        cursor = data.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      // Newest first; two opened in the same millisecond are in id order, so compare as sets too.
      assert.deepEqual([...seen].sort(), [...ids].sort());
      const times = stamps.map((x) => Date.parse(x));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
      );
      assert.equal(pages, 3);

      const one = await call(tn, 'GET', '/api/v1/relay/conversations?visitor_user_id=u-3');
      const items = (one.body.data as { items: { conversation_id: string; visitor_user_id: string }[] })
        .items;
      assert.deepEqual(
        items.map((c) => c.visitor_user_id),
        ['u-3'],
      );
      const got = await call(tn, 'GET', `/api/v1/relay/conversations/${ids[0]}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.data!.visitor_user_id, 'u-0');

      const other = await provision();
      const hidden = await call(other, 'GET', `/api/v1/relay/conversations/${ids[0]}`);
      assert.equal(hidden.status, 404);
      assert.equal(hidden.body.error, 'conversation/not_found');
      const none = await call(other, 'GET', '/api/v1/relay/conversations');
      assert.deepEqual((none.body.data as { items: unknown[] }).items, []);
      const bad = await call(tn, 'GET', '/api/v1/relay/conversations?cursor=nonsense');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'request/invalid');
    });

    test('messages: oldest first, paged by cursor', async () => {
      const tn = await provision();
      const id = await open(tn, 'writer');
      const path = `/api/v1/relay/conversations/${id}/messages`;
      for (let i = 0; i < 5; i++) {
        assert.equal((await call(tn, 'POST', path, { role: 'visitor', content: `m${i}` })).status, 201);
      }
      const contents: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const res = await call(tn, 'GET', `${path}?limit=2${q}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const data = res.body.data as { items: { content: string }[]; next_cursor: string | null };
        contents.push(...data.items.map((m) => m.content));
        cursor = data.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      assert.deepEqual(contents, ['m0', 'm1', 'm2', 'm3', 'm4']);
      const other = await provision();
      assert.equal((await call(other, 'GET', path)).status, 404);
    });

    test('rotating the widget key: a new pk_, the old one no longer opens sessions', async () => {
      const res0 = await fetch(`${t.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({ tenant_name: `Key ${randomUUID().slice(0, 6)}`, allowed_origins: [SHOP] }),
      });
      const p = (await res0.json()) as {
        data: { tenant_id: string; tenant_secret: string; widget_public_key: string };
      };
      const tn = { id: p.data.tenant_id, secret: p.data.tenant_secret };
      const res = await call(tn, 'POST', '/api/v1/relay/rotate/widget-key');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const key = String(res.body.data!.widget_public_key);
      assert.match(key, /^pk_/);
      assert.notEqual(key, p.data.widget_public_key);
      await assert.rejects(createVisitorSession(t.url, { id: tn.id, pk: p.data.widget_public_key }));
      await createVisitorSession(t.url, { id: tn.id, pk: key });
    });

    test('rotating the tenant secret: the new one in the answer, the old one in its grace', async () => {
      const tn = await provision();
      const res = await call(tn, 'POST', '/api/v1/relay/rotate/tenant-secret', { grace_hours: 1 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const fresh = String(res.body.data!.tenant_secret);
      assert.match(fresh, /^sk_/);
      assert.notEqual(fresh, tn.secret);
      assert.equal((await call(tn, 'GET', '/api/v1/relay/usage')).status, 200, 'old, in grace');
      assert.equal((await call({ ...tn, secret: fresh }, 'GET', '/api/v1/relay/usage')).status, 200);
      // Without grace the old secret stops at once.
      const next = await call({ ...tn, secret: fresh }, 'POST', '/api/v1/relay/rotate/tenant-secret', {
        grace_hours: 0,
      });
      const third = String(next.body.data!.tenant_secret);
      assert.equal((await call({ ...tn, secret: fresh }, 'GET', '/api/v1/relay/usage')).status, 401);
      assert.equal((await call({ ...tn, secret: third }, 'GET', '/api/v1/relay/usage')).status, 200);
    });

    test("visitor-token: a verified user's session on an allowed origin, usable on the WebSocket", async () => {
      const APP = 'app://acme_mobile';
      const res0 = await fetch(`${t.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({
          tenant_name: `Sdk ${randomUUID().slice(0, 6)}`,
          allowed_origins: [SHOP, APP],
        }),
      });
      const p = (await res0.json()) as { data: { tenant_id: string; tenant_secret: string } };
      const tn = { id: p.data.tenant_id, secret: p.data.tenant_secret };
      const opened = await open(tn, 'sdk-user');

      const res = await call(tn, 'POST', '/api/v1/relay/visitor-token', {
        visitor_user_id: 'sdk-user',
        visitor_email_hash: 'a3f1c2',
        origin: APP,
        ttl_seconds: 120,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const d = res.body.data as {
        session_id: string;
        visitor_token: string;
        expires_at: string;
        conversation_id: string;
      };
      assert.match(d.session_id, /^vs_/);
      assert.equal(
        d.conversation_id,
        opened,
        "the user's conversation, as POST /relay/conversations opens it",
      );
      const ttl = (Date.parse(d.expires_at) - Date.now()) / 1000;
      assert.ok(ttl > 110 && ttl <= 121, `ttl ${ttl}`);
      const user = await t.database.prisma.endUser.findFirstOrThrow({
        where: { organizationId: tn.id, externalId: 'sdk-user' },
      });
      assert.deepEqual(user.metadata, { email_hash: 'a3f1c2' });
      assert.ok(user.verifiedAt);

      // Capped at the deployment's visitor token lifetime.
      const long = await call(tn, 'POST', '/api/v1/relay/visitor-token', {
        visitor_user_id: 'sdk-user',
        origin: SHOP,
        ttl_seconds: 86_400,
      });
      assert.equal(long.status, 201);
      const cap = (Date.parse(String(long.body.data!.expires_at)) - Date.now()) / 1000;
      assert.ok(cap <= t.config.relay.tokenTtlS + 1, `cap ${cap}`);

      const bad = await call(tn, 'POST', '/api/v1/relay/visitor-token', {
        visitor_user_id: 'sdk-user',
        origin: 'https://evil.example',
      });
      assert.equal(bad.status, 403);
      assert.equal(bad.body.error, 'origin/forbidden');
      const noOrigin = await call(tn, 'POST', '/api/v1/relay/visitor-token', { visitor_user_id: 'sdk-user' });
      assert.equal(noOrigin.status, 400);

      // The token works with the visitor WebSocket (the app sends its scheme as Origin) and refresh.
      const ws = await connectWs(widgetWsUrl(t.url, { token: d.visitor_token }), { origin: APP });
      try {
        const welcome = await ws.next('welcome');
        assert.equal(welcome.session_id, d.session_id);
        assert.equal(welcome.conversation_id, opened);
        const sent = await call(tn, 'POST', `/api/v1/relay/conversations/${opened}/messages`, {
          role: 'visitor',
          content: 'from the backend',
        });
        assert.equal(sent.status, 201);
        assert.equal((await ws.next('msg')).content, 'from the backend');
      } finally {
        ws.close();
      }
      const refreshed = await fetch(`${t.url}/api/v1/refresh/visitor-token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${d.visitor_token}`, origin: APP },
      });
      assert.equal(refreshed.status, 200);
    });

    test('messages as bot and system reach the visitor socket with their roles; a retry is a duplicate', async () => {
      const res0 = await fetch(`${t.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({ tenant_name: `Roles ${randomUUID().slice(0, 6)}`, allowed_origins: [SHOP] }),
      });
      const p = (await res0.json()) as { data: { tenant_id: string; tenant_secret: string } };
      const tn = { id: p.data.tenant_id, secret: p.data.tenant_secret };
      const minted = await call(tn, 'POST', '/api/v1/relay/visitor-token', {
        visitor_user_id: 'roles-user',
        origin: SHOP,
      });
      const d = minted.body.data as { visitor_token: string; conversation_id: string };
      const ws = await connectWs(widgetWsUrl(t.url, { token: d.visitor_token }), { origin: SHOP });
      try {
        await ws.next('welcome');
        const path = `/api/v1/relay/conversations/${d.conversation_id}/messages`;
        const bot = await call(tn, 'POST', path, {
          role: 'bot',
          content: 'Hello from the bot',
          client_msg_id: 'b1',
        });
        assert.equal(bot.status, 201, JSON.stringify(bot.body));
        assert.equal(bot.body.data!.sender_type, 'bot');
        assert.equal(bot.body.data!.role, 'bot');
        const heard = await ws.next('msg');
        assert.equal(heard.role, 'bot');
        assert.equal(heard.content, 'Hello from the bot');
        const dup = await call(tn, 'POST', path, {
          role: 'bot',
          content: 'Hello from the bot',
          client_msg_id: 'b1',
        });
        assert.equal(dup.status, 200);
        assert.equal(dup.body.data!.id, bot.body.data!.id);
        assert.equal(dup.body.data!.duplicate, true);

        const sys = await call(tn, 'POST', path, { role: 'system', content: 'Order #42 shipped' });
        assert.equal(sys.status, 201);
        assert.equal(sys.body.data!.sender_type, 'system');
        assert.equal((await ws.next('msg', (f) => f.content === 'Order #42 shipped')).role, 'system');
        const stored = await t.database.prisma.message.findMany({
          where: { conversationId: d.conversation_id },
          orderBy: { seq: 'asc' },
        });
        assert.deepEqual(
          stored.map((m) => [m.seq, m.senderType]),
          [
            [1, 'bot'],
            [2, 'system'],
          ],
        );
      } finally {
        ws.close();
      }
    });

    test('a message as agent speaks as the named operator: assigned to them, within their queues', async () => {
      const tn = await provisionTenant(t.url, ADMIN_KEY, 'Agent role', { allowed_origins: [SHOP] });
      const minted = await call(tn, 'POST', '/api/v1/relay/visitor-token', {
        visitor_user_id: 'agent-role-user',
        origin: SHOP,
      });
      assert.equal(minted.status, 201, JSON.stringify(minted.body));
      const d = minted.body.data as { visitor_token: string; conversation_id: string };
      const path = `/api/v1/relay/conversations/${d.conversation_id}/messages`;
      for (const [external_id, routing_keys] of [
        ['op-ann', []],
        ['op-store-b', ['store-b']],
      ] as const) {
        const op = await call(tn, 'POST', '/api/v1/relay/operators', { external_id, routing_keys });
        assert.equal(op.status, 201, JSON.stringify(op.body));
      }
      const refusals: [Record<string, unknown>, number, string][] = [
        [{ role: 'agent', content: 'hi' }, 400, 'request/invalid'],
        [{ role: 'bot', content: 'hi', operator_external_id: 'op-ann' }, 400, 'request/invalid'],
        [{ role: 'agent', content: 'hi', operator_external_id: 'op-nobody' }, 404, 'operator/not_found'],
        // The conversation is in the default queue; this operator sees store-b only.
        [{ role: 'agent', content: 'hi', operator_external_id: 'op-store-b' }, 404, 'conversation/not_found'],
      ];
      for (const [body, status, error] of refusals) {
        const res = await call(tn, 'POST', path, body);
        assert.equal(res.status, status, JSON.stringify([body, res.body]));
        assert.equal(res.body.error, error, JSON.stringify(res.body));
      }
      assert.equal(
        await t.database.prisma.message.count({ where: { conversationId: d.conversation_id } }),
        0,
      );

      const ws = await connectWs(widgetWsUrl(t.url, { token: d.visitor_token }), { origin: SHOP });
      try {
        await ws.next('welcome');
        const sent = await call(tn, 'POST', path, {
          role: 'agent',
          content: 'Ann here, how can I help?',
          operator_external_id: 'op-ann',
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        assert.equal(sent.body.data!.sender_type, 'agent');
        assert.equal(sent.body.data!.role, 'agent');
        const heard = await ws.next('msg');
        assert.equal(heard.role, 'agent');
        assert.equal(heard.content, 'Ann here, how can I help?');
      } finally {
        ws.close();
      }
      const ann = await t.database.prisma.user.findFirstOrThrow({ where: { externalId: 'op-ann' } });
      const session = await t.database.prisma.conversationSession.findFirstOrThrow({
        where: { conversationId: d.conversation_id, status: 'open' },
      });
      assert.equal(session.assignedAgentId, ann.id, 'the operator who wrote first owns the conversation');
      await call(tn, 'POST', '/api/v1/relay/operators/op-ann/deactivate');
      const gone = await call(tn, 'POST', path, {
        role: 'agent',
        content: 'still here?',
        operator_external_id: 'op-ann',
      });
      assert.equal(gone.status, 409);
      assert.equal(gone.body.error, 'operator/deactivated');
    });
  });
}
