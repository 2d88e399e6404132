// Ticket filters over HTTP: the tenant backend's GET /api/v1/relay/tickets (signed) and the
// inbox's GET /api/tickets (session), by status, priority and routing_key, alone and together;
// for a store-7 operator the filters apply within what they see (a ticket with no queue is
// everyone's). Compared as sets: tickets made in the same millisecond have no set order.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startApp, loginAgent, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { provisionTenant, signedCall } from '../../test/helpers/relay.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

let t: TestApp;
before(async () => {
  t = await startApp(await dbModes[0]!.open(), { env: { ADMIN_KEY } });
});
after(async () => {
  await t.stop();
  await t.database.close();
});

type Item = { id: string; subject: string };

test('tickets filtered by status, priority and routing_key: signed API and inbox', async () => {
  const tn = await provisionTenant(t.url, ADMIN_KEY, 'Filters');
  const admin = await createAgent(t.services, tn.id, { role: 'admin' });
  const op7 = await createAgent(t.services, tn.id, { routingKeys: ['store-7'] });

  /** A ticket through the signed API, moved to `status` if not open. */
  const ticket = async (subject: string, priority: string, routingKey: string | null, status = 'open') => {
    const res = await signedCall(t.url, tn, 'POST', '/api/v1/relay/tickets', {
      subject,
      priority,
      ...(routingKey ? { routing_key: routingKey } : {}),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const id = (res.body.data as { id: string }).id;
    if (status !== 'open') {
      const moved = await signedCall(t.url, tn, 'PATCH', `/api/v1/relay/tickets/${id}`, { status });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
    }
  };
  await ticket('A pending high store-7', 'high', 'store-7', 'pending');
  await ticket('B open low store-12', 'low', 'store-12');
  await ticket('C resolved high no queue', 'high', null, 'resolved');
  await ticket('D open urgent store-7', 'urgent', 'store-7');

  const signed = async (query: string) => {
    const res = await signedCall(t.url, tn, 'GET', `/api/v1/relay/tickets${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ((res.body.data as { items: Item[] }).items ?? [])
      .map((i) => i.subject[0])
      .sort()
      .join('');
  };
  const inbox = async (who: { user: { email: string }; password: string }) => {
    const { cookie } = await loginAgent(t.url, who.user.email, who.password);
    return async (query: string) => {
      const res = await fetch(`${t.url}/api/tickets${query}`, { headers: { cookie } });
      const body = (await res.json()) as { items: Item[] };
      assert.equal(res.status, 200, JSON.stringify(body));
      return body.items
        .map((i) => i.subject[0])
        .sort()
        .join('');
    };
  };
  const byAdmin = await inbox(admin);
  const by7 = await inbox(op7);

  const cases: [query: string, all: string, store7: string][] = [
    ['', 'ABCD', 'ACD'],
    ['?status=open', 'BD', 'D'],
    ['?status=pending', 'A', 'A'],
    ['?status=resolved', 'C', 'C'],
    ['?status=closed', '', ''],
    ['?priority=high', 'AC', 'AC'],
    ['?priority=urgent', 'D', 'D'],
    ['?priority=normal', '', ''],
    ['?routing_key=store-7', 'AD', 'AD'],
    ['?routing_key=store-12', 'B', ''],
    ['?status=open&routing_key=store-7', 'D', 'D'],
    ['?status=pending&priority=high&routing_key=store-7', 'A', 'A'],
    ['?status=open&priority=high', '', ''],
  ];
  for (const [query, all, store7] of cases) {
    assert.equal(await signed(query), all, `signed ${query}`);
    assert.equal(await byAdmin(query), all, `admin ${query}`);
    assert.equal(await by7(query), store7, `store-7 operator ${query}`);
  }

  // A value outside the lists is refused, naming the parameter.
  for (const query of ['?status=done', '?priority=asap']) {
    const res = await signedCall(t.url, tn, 'GET', `/api/v1/relay/tickets${query}`);
    assert.equal(res.status, 400);
    assert.match(res.body.message, new RegExp(query.slice(1, query.indexOf('='))));
  }
});
