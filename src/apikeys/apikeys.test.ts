import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { agentHttp, ISO_8601 } from '../../test/helpers/http.js';
import type { UserRole } from '../generated/prisma/client.js';
import { sha256Hex } from '../shared/crypto.js';
import { MAX_ACTIVE_KEYS } from './apikeys.service.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

let app: TestApp;
before(async () => {
  app = await startApp(await postgres.open());
});
after(async () => {
  await app.stop();
  await app.database.close();
});

async function signedIn(organizationId: string, role: UserRole) {
  const a = await createAgent(app.services, organizationId, { role });
  return { ...a, http: agentHttp(app.url, await loginAgent(app.url, a.user.email, a.password)) };
}

test('an admin creates a key (shown once, stored hashed), lists it, sees it used, revokes it', async () => {
  const { org } = await createOrg(app.services);
  const admin = await signedIn(org.id, 'admin');

  const created = await admin.http.post('/api/api-keys', { name: '  CRM sync  ' });
  assert.equal(created.status, 201);
  const k = created.body;
  assert.deepEqual(Object.keys(k).sort(), [
    'created_at',
    'created_by_id',
    'id',
    'key',
    'last_used_at',
    'name',
    'prefix',
  ]);
  assert.equal(k.name, 'CRM sync');
  assert.match(k.key, /^sk_[\w-]{43}$/);
  assert.equal(k.prefix, k.key.slice(0, 10));
  assert.equal(k.created_by_id, admin.user.id);
  assert.match(k.created_at, ISO_8601);
  assert.equal(k.last_used_at, null);

  // Only a hash is kept: the key appears in no column.
  const row = await app.database.prisma.apiKey.findUniqueOrThrow({ where: { id: k.id } });
  assert.equal(row.keyHash, sha256Hex(k.key));
  assert.ok(!JSON.stringify(row).includes(k.key));

  const second = await admin.http.post('/api/api-keys', { name: 'Billing' });
  const list = await admin.http.get('/api/api-keys');
  assert.equal(list.status, 200);
  assert.equal(list.headers['cache-control'], 'no-store');
  assert.deepEqual(
    list.body.map((x: { name: string }) => x.name),
    ['Billing', 'CRM sync'],
  );
  const { key: _shownOnce, ...listed } = k;
  assert.deepEqual(list.body[1], listed);
  assert.ok(list.body.every((x: object) => !('key' in x) && !('key_hash' in x)));

  // A key in use records when (no route accepts keys yet; the service is ready for one).
  assert.deepEqual(await app.services.apiKeys.authenticate(k.key), {
    organizationId: org.id,
    apiKeyId: k.id,
  });
  assert.equal(await app.services.apiKeys.authenticate(`${k.key}x`), null);
  const used = (await admin.http.get('/api/api-keys')).body[1];
  assert.match(used.last_used_at, ISO_8601);

  const revoked = await admin.http.delete(`/api/api-keys/${k.id}`);
  assert.equal(revoked.status, 200);
  assert.equal(revoked.body.id, k.id);
  assert.match(revoked.body.revoked_at, ISO_8601);
  assert.deepEqual(
    (await admin.http.get('/api/api-keys')).body.map((x: { id: string }) => x.id),
    [second.body.id],
  );
  assert.equal(await app.services.apiKeys.authenticate(k.key), null);
  const again = await admin.http.delete(`/api/api-keys/${k.id}`);
  assert.equal(again.status, 404);
  assert.deepEqual(again.body, { error: 'api_key/not_found', message: 'API key not found' });
});

test('owners may manage keys; agents get 403 and change nothing', async () => {
  const { org } = await createOrg(app.services);
  const owner = await signedIn(org.id, 'owner');
  const agent = await signedIn(org.id, 'agent');
  const key = await owner.http.post('/api/api-keys', { name: 'Owner key' });
  assert.equal(key.status, 201);

  for (const res of [
    await agent.http.get('/api/api-keys'),
    await agent.http.post('/api/api-keys', { name: 'sneaky' }),
    await agent.http.delete(`/api/api-keys/${key.body.id}`),
  ]) {
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'auth/forbidden');
    assert.equal(typeof res.body.message, 'string');
  }
  const rows = await app.database.prisma.apiKey.findMany({ where: { organizationId: org.id } });
  assert.deepEqual(
    rows.map((r) => [r.name, r.revokedAt]),
    [['Owner key', null]],
  );
});

test('bad input is 400 naming the parameter; no session is 401; no CSRF token is 403', async () => {
  const { org } = await createOrg(app.services);
  const admin = await signedIn(org.id, 'admin');
  const cases: [object | undefined, string][] = [
    [undefined, 'name'],
    [{ name: '' }, 'name'],
    [{ name: '   ' }, 'name'],
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ name: 42 }, 'name'],
  ];
  for (const [body, param] of cases) {
    const res = await admin.http.post('/api/api-keys', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.param, param);
    assert.match(res.body.message, /'name'/);
  }
  const badId = await admin.http.delete('/api/api-keys/123');
  assert.equal(badId.status, 400);
  assert.equal(badId.body.param, 'id');

  const anonymous = await request(app.url).get('/api/api-keys');
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.error, 'auth/unauthenticated');
  const noCsrf = await request(app.url)
    .post('/api/api-keys')
    .set('Cookie', (await loginAgent(app.url, admin.user.email, admin.password)).cookie)
    .send({ name: 'no token' });
  assert.equal(noCsrf.status, 403);
  assert.equal(noCsrf.body.error, 'auth/csrf');
  assert.equal(await app.database.prisma.apiKey.count({ where: { organizationId: org.id } }), 0);
});

test(`an organization holds at most ${MAX_ACTIVE_KEYS} active keys (409); revoking frees a place`, async () => {
  const { org } = await createOrg(app.services);
  const admin = await signedIn(org.id, 'admin');
  await app.database.prisma.apiKey.createMany({
    data: Array.from({ length: MAX_ACTIVE_KEYS }, (_, i) => ({
      organizationId: org.id,
      name: `k${i}`,
      prefix: 'sk_test',
      keyHash: sha256Hex(randomUUID()),
    })),
  });
  const full = await admin.http.post('/api/api-keys', { name: 'one too many' });
  assert.equal(full.status, 409);
  assert.equal(full.body.error, 'api_key/limit');
  const [oldest] = await app.database.prisma.apiKey.findMany({ where: { organizationId: org.id }, take: 1 });
  assert.equal((await admin.http.delete(`/api/api-keys/${oldest!.id}`)).status, 200);
  assert.equal((await admin.http.post('/api/api-keys', { name: 'fits now' })).status, 201);
});
