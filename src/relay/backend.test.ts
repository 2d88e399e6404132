// The signed API's reading and administration endpoints: conversations and messages paged by
// cursor, one conversation, and the rotation of the tenant secret, all through HMAC#1.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { createVisitorSession, SHOP } from '../../test/helpers/relay.js';
import { signRequest } from './hmac.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

type Body = { status_code: number; data: Record<string, unknown> | null; message: string; error?: string };
type Tenant = { id: string; secret: string };

for (const mode of dbModes) {
  describe(`the signed API's reads and rotation on ${mode.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), { env: { ADMIN_KEY } });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    async function provision(): Promise<Tenant> {
      const res = await fetch(`${t.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({ tenant_name: `Backend ${randomUUID().slice(0, 6)}` }),
      });
      const body = (await res.json()) as { data: { tenant_id: string; tenant_secret: string } };
      return { id: body.data.tenant_id, secret: body.data.tenant_secret };
    }

    async function call(tn: Tenant, method: string, path: string, json?: unknown) {
      const body = json === undefined ? undefined : JSON.stringify(json);
      const headers = signRequest({ method, pathAndQuery: path, body, tenantId: tn.id, secret: tn.secret });
      const res = await fetch(`${t.url}${path}`, {
        method,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body } : {}),
      });
      const out = (await res.json()) as Body;
      assert.equal(out.status_code, res.status);
      return { status: res.status, body: out };
    }

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
  });
}
