import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp, randomIp, sidOf } from '../../test/helpers/http.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

// Behind a trusted proxy, so each test can speak from addresses of its own (X-Forwarded-For)
// and never spends the rate limit of 127.0.0.1 that other tests share.
let app: TestApp;
before(async () => {
  app = await startApp(await postgres.open(), { env: { TRUST_PROXY: 'true' } });
});
after(async () => {
  await app.stop();
  await app.database.close();
});

/** The login page as a browser first sees it: its session cookie and CSRF token. */
async function loginPage(url = app.url, headers: Record<string, string> = {}) {
  const res = await request(url).get('/auth/login').set(headers);
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(res.text)?.[1];
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = setCookie.find((c) => c.startsWith('session='));
  return { res, csrf: csrf!, setCookie: cookie, cookie: cookie?.split(';')[0] ?? '' };
}

/** A JSON login attempt from `ip`, reusing a login page's cookie and token. */
function attempt(page: { cookie: string; csrf: string }, email: string, password: string, ip = randomIp()) {
  return request(app.url)
    .post('/auth/login')
    .set({ Cookie: page.cookie, 'X-CSRFToken': page.csrf, 'X-Forwarded-For': ip })
    .send({ email, password });
}

async function newAgent(role: 'agent' | 'admin' | 'owner' = 'agent') {
  const { org, channelId } = await createOrg(app.services);
  return { ...(await createAgent(app.services, org.id, { role })), org, channelId };
}

test('the login page carries the CSRF meta tag and sets the session cookie: httpOnly, SameSite=Lax', async () => {
  const page = await loginPage();
  assert.equal(page.res.status, 200);
  assert.match(page.res.headers['content-type']!, /^text\/html/);
  assert.match(page.csrf, /^[0-9a-f]{64}$/);
  assert.match(page.res.text, /<form method="post" action="\/auth\/login">/);
  const attrs = page.setCookie!.split(';').map((a) => a.trim().toLowerCase());
  assert.ok(attrs.includes('httponly'));
  assert.ok(attrs.includes('samesite=lax'));
  assert.ok(attrs.includes('path=/'));
  // Plain HTTP: a Secure cookie would never come back.
  assert.ok(!attrs.includes('secure'));
  // The anonymous session id (nothing is stored for it, see auth.session.test.ts) lives an hour.
  const expires = attrs.find((a) => a.startsWith('expires='))!.slice('expires='.length);
  const left = Date.parse(expires) - Date.now();
  assert.ok(left > 50 * 60_000 && left <= 61 * 60_000, `anonymous session expires in ${left} ms`);
});

test('the cookie is Secure when served over TLS through a trusted proxy, and only then', async (t) => {
  const over = await loginPage(app.url, { 'X-Forwarded-Proto': 'https' });
  assert.match(over.setCookie!, /;\s*Secure/i);

  // Without TRUST_PROXY a client's own X-Forwarded-Proto is not believed.
  const direct = await startApp(app.database);
  t.after(() => direct.stop());
  const spoofed = await loginPage(direct.url, { 'X-Forwarded-Proto': 'https' });
  assert.ok(spoofed.setCookie);
  assert.doesNotMatch(spoofed.setCookie, /;\s*Secure/i);
});

test('the cookie is Secure when the app itself serves TLS', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const args =
    'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost';
  const made = spawnSync('openssl', [
    ...args.split(' '),
    ...['-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
  ]);
  assert.equal(made.status, 0, 'openssl is needed to make a test certificate');
  const direct = await startApp(app.database);
  const tls = createHttpsServer(
    { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) },
    direct.app,
  );
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise((resolve) => tls.close(resolve));
    await direct.stop();
  });
  const res = await request(`https://127.0.0.1:${(tls.address() as AddressInfo).port}`)
    .get('/auth/login')
    .disableTLSCerts();
  assert.equal(res.status, 200);
  const cookie = ([] as string[])
    .concat(res.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith('session='));
  assert.match(cookie!, /;\s*Secure/i);
});

test('JSON login: the agent and a fresh CSRF token; the session id is regenerated; /auth/me', async () => {
  const a = await newAgent('admin');
  const page = await loginPage();
  const res = await attempt(page, a.user.email.toUpperCase(), a.password);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.user, {
    id: a.user.id,
    organization_id: a.org.id,
    display_name: a.user.displayName,
    role: 'admin',
    routing_keys: [],
  });
  assert.match(res.body.csrf_token, /^[0-9a-f]{64}$/);
  assert.notEqual(res.body.csrf_token, page.csrf);
  const cookie = ([] as string[])
    .concat(res.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith('session='))!;
  const session = cookie.split(';')[0]!;
  const expires = /expires=([^;]+)/i.exec(cookie)![1]!;
  assert.ok(Date.parse(expires) - Date.now() > 6 * 24 * 3600_000, 'a signed-in session lasts a week');
  // No session fixation: the pre-login session is not the signed-in one.
  assert.notEqual(sidOf(session), sidOf(page.cookie));
  assert.equal((await request(app.url).get('/auth/me').set('Cookie', page.cookie)).status, 401);

  const me = await request(app.url).get('/auth/me').set('Cookie', session);
  assert.equal(me.status, 200);
  assert.deepEqual(me.body, { user: res.body.user, csrf_token: res.body.csrf_token });
  const row = await app.database.prisma.user.findUniqueOrThrow({ where: { id: a.user.id } });
  assert.ok(row.lastLoginAt);

  // The pre-login token does not work on the new session.
  const stale = await request(app.url)
    .post(`/api/conversations/${randomUUID()}/assign`)
    .set({ Cookie: session, 'X-CSRFToken': page.csrf });
  assert.equal(stale.status, 403);
});

test('form login redirects to a same-site `next`; a failure re-renders the page with 401', async () => {
  const a = await newAgent();
  const form = async (fields: Record<string, string>) => {
    const page = await loginPage();
    return request(app.url)
      .post('/auth/login')
      .set({ Cookie: page.cookie, 'X-Forwarded-For': randomIp() })
      .type('form')
      .send({ _csrf: page.csrf, ...fields });
  };
  const ok = await form({ email: a.user.email, password: a.password, next: '/inbox?x=1' });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.location, '/inbox?x=1');
  const session = ok.headers['set-cookie']![0]!.split(';')[0]!;
  const inbox = await request(app.url).get('/inbox').set('Cookie', session);
  assert.equal(inbox.status, 200);
  assert.match(inbox.text, /<meta name="csrf-token" content="[0-9a-f]{64}">/);

  for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
    const res = await form({ email: a.user.email, password: a.password, next });
    assert.equal(res.headers.location, '/inbox', next);
  }
  const bad = await form({ email: a.user.email, password: 'wrong-password' });
  assert.equal(bad.status, 401);
  assert.match(bad.headers['content-type']!, /^text\/html/);
  assert.match(bad.text, /role="alert">Invalid email or password</);
  assert.match(bad.text, /<meta name="csrf-token"/);
});

test('an unknown email, a wrong password and a deactivated account get the same answer', async () => {
  const a = await newAgent();
  const gone = await newAgent();
  await app.database.prisma.user.update({ where: { id: gone.user.id }, data: { status: 'deactivated' } });
  const page = await loginPage();
  const answers = [
    await attempt(page, `nobody-${randomUUID()}@example.com`, a.password),
    await attempt(page, a.user.email, 'not-the-password'),
    await attempt(page, gone.user.email, gone.password),
  ];
  for (const res of answers) {
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: 'auth/unauthenticated', message: 'Invalid email or password' });
    assert.equal(res.headers['set-cookie'], undefined);
  }
});

test('login needs its CSRF token (403 JSON) and names a missing field (400)', async () => {
  const a = await newAgent();
  const page = await loginPage();
  const noToken = await request(app.url)
    .post('/auth/login')
    .set('Cookie', page.cookie)
    .send({ email: a.user.email, password: a.password });
  const wrongToken = await request(app.url)
    .post('/auth/login')
    .set({ Cookie: page.cookie, 'X-CSRFToken': 'f'.repeat(64) })
    .send({ email: a.user.email, password: a.password });
  const noCookie = await request(app.url)
    .post('/auth/login')
    .set('X-CSRFToken', page.csrf)
    .send({ email: a.user.email, password: a.password });
  for (const res of [noToken, wrongToken, noCookie]) {
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'auth/csrf');
    assert.match(res.body.message, /CSRF/);
  }
  const missing = await attempt(page, a.user.email, '');
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error, 'request/invalid');
  assert.match(missing.body.message, /'password'/);
  const noEmail = await request(app.url)
    .post('/auth/login')
    .set({ Cookie: page.cookie, 'X-CSRFToken': page.csrf })
    .send({ password: 'x' });
  assert.match(noEmail.body.message, /'email'/);
});

test('per account and address: 5 failures slow that address down; the right password from another still signs in', async () => {
  const a = await newAgent();
  const page = await loginPage();
  const ip = randomIp();
  for (let i = 0; i < 5; i++) assert.equal((await attempt(page, a.user.email, `wrong-${i}`, ip)).status, 401);
  // The failing address waits, even with the right password (it may be the guesser's).
  const blocked = await attempt(page, a.user.email, a.password, ip);
  assert.equal(blocked.status, 429);
  assert.equal(blocked.body.error, 'auth/rate_limited');
  assert.match(blocked.body.message, /try again in \d+ s/);
  const retry = Number(blocked.headers['retry-after']);
  assert.ok(retry > 0 && retry <= 900, `Retry-After ${retry}`);
  // Failures spread over 5 other addresses lock nobody out either.
  for (let i = 0; i < 5; i++) assert.equal((await attempt(page, a.user.email, `spread-${i}`)).status, 401);
  assert.equal((await attempt(page, a.user.email, a.password, randomIp())).status, 200);

  // An unknown email is limited exactly like a real one: nothing tells them apart.
  const ghost = `ghost-${randomUUID()}@example.com`;
  const again = await loginPage();
  const from = randomIp();
  for (let i = 0; i < 5; i++) assert.equal((await attempt(again, ghost, 'guess', from)).status, 401);
  assert.equal((await attempt(again, ghost, 'guess', from)).status, 429);
});

test('per account and address: a success clears the count', async () => {
  const a = await newAgent();
  const ip = randomIp();
  for (let round = 0; round < 2; round++) {
    // A success replaces the session, so each round starts from the login page.
    const page = await loginPage();
    for (let i = 0; i < 4; i++) assert.equal((await attempt(page, a.user.email, 'wrong', ip)).status, 401);
    assert.equal((await attempt(page, a.user.email, a.password, ip)).status, 200, `round ${round}`);
  }
});

test('a burst of parallel guesses from one address gets no more than 5 tries', async () => {
  const a = await newAgent();
  const page = await loginPage();
  const ip = randomIp();
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => attempt(page, a.user.email, `parallel-${i}`, ip)),
  );
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 401).length, 5, statuses.join());
  assert.equal(statuses.filter((s) => s === 429).length, 7, statuses.join());
});

test('per IP: 30 failures over many accounts slow the address down; other addresses still sign in', async () => {
  const a = await newAgent();
  const page = await loginPage();
  const ip = randomIp();
  for (let i = 0; i < 30; i++) {
    const res = await attempt(page, `spray-${i}-${randomUUID()}@example.com`, 'Winter2026!', ip);
    assert.equal(res.status, 401, `attempt ${i}`);
  }
  const blocked = await attempt(page, a.user.email, a.password, ip);
  assert.equal(blocked.status, 429);
  assert.equal(blocked.body.error, 'auth/rate_limited');
  assert.equal((await attempt(page, a.user.email, a.password, randomIp())).status, 200);
});

test('logout needs the CSRF token, ends the session and clears the cookie; the form redirects', async () => {
  const a = await newAgent();
  const s = await loginAgent(app.url, a.user.email, a.password);
  const noToken = await request(app.url)
    .post('/auth/logout')
    .set('Cookie', s.cookie)
    .set('Accept', 'application/json');
  assert.equal(noToken.status, 403);
  assert.equal(noToken.body.error, 'auth/csrf');
  assert.equal((await request(app.url).get('/auth/me').set('Cookie', s.cookie)).status, 200);

  const out = await request(app.url)
    .post('/auth/logout')
    .set({ Cookie: s.cookie, 'X-CSRFToken': s.csrf, Accept: 'application/json' });
  assert.equal(out.status, 200);
  assert.deepEqual(out.body, { status: 'logged_out' });
  assert.match(out.headers['set-cookie']![0]!, /^session=;.*Expires=Thu, 01 Jan 1970/);
  assert.equal((await request(app.url).get('/auth/me').set('Cookie', s.cookie)).status, 401);
  assert.equal((await request(app.url).get('/api/conversations/').set('Cookie', s.cookie)).status, 401);
  assert.equal(await app.database.prisma.httpSession.count({ where: { id: sidOf(s.cookie) } }), 0);

  const s2 = await loginAgent(app.url, a.user.email, a.password);
  const form = await request(app.url)
    .post('/auth/logout')
    .set('Cookie', s2.cookie)
    .type('form')
    .send({ _csrf: s2.csrf });
  assert.equal(form.status, 303);
  assert.equal(form.headers.location, '/auth/login');
});

test('without a session: every API call is 401 JSON, pages redirect to the login', async () => {
  const id = randomUUID();
  const calls = [
    request(app.url).get('/api/conversations/'),
    request(app.url).get(`/api/conversations/${id}`),
    request(app.url).get(`/api/conversations/${id}/messages`),
    request(app.url).post(`/api/conversations/${id}/assign`),
    request(app.url).post(`/api/conversations/${id}/resolve`).send({}),
    request(app.url)
      .post(`/api/conversations/${id}/tags`)
      .send({ add: ['x'] }),
    request(app.url).get('/api/api-keys'),
    request(app.url).post('/api/api-keys').send({ name: 'x' }),
    request(app.url).delete(`/api/api-keys/${id}`),
    request(app.url).get('/auth/me'),
    // A browser asking for HTML still gets JSON from the API.
    request(app.url).get('/api/conversations/').set('Accept', 'text/html'),
    request(app.url).get('/api/conversations/').set('Cookie', 'session=s%3Aforged.signature'),
  ];
  for (const [i, res] of (await Promise.all(calls)).entries()) {
    assert.equal(res.status, 401, `call ${i}`);
    assert.match(res.headers['content-type']!, /^application\/json/);
    assert.deepEqual(res.body, { error: 'auth/unauthenticated', message: 'Sign in first: no valid session' });
  }
  const page = await request(app.url).get('/inbox');
  assert.equal(page.status, 303);
  assert.equal(page.headers.location, '/auth/login?next=%2Finbox');
});

test('CSRF: every state-changing /api/ call is 403 JSON without a valid X-CSRFToken and changes nothing', async () => {
  const a = await newAgent('admin');
  const other = await newAgent('admin');
  const c = await createConversation(app.services, { organizationId: a.org.id, channelId: a.channelId });
  await app.services.messages.send(
    c.actor,
    message({
      conversation_id: c.conversation.id,
      content: 'hi',
      sender_type: 'end_user',
    }),
  );
  const key = await app.services.apiKeys.create(a.actor, { name: 'existing' });
  const s = await loginAgent(app.url, a.user.email, a.password);
  const otherToken = (await loginAgent(app.url, other.user.email, other.password)).csrf;
  const id = c.conversation.id;

  const writes: [string, string, object | undefined][] = [
    ['post', `/api/conversations/${id}/assign`, undefined],
    ['post', `/api/conversations/${id}/resolve`, { tags: ['x'] }],
    ['post', `/api/conversations/${id}/tags`, { add: ['x'] }],
    ['post', '/api/api-keys', { name: 'forged' }],
    ['delete', `/api/api-keys/${key.id}`, undefined],
  ];
  for (const token of [undefined, '', 'not-the-token', otherToken]) {
    for (const [method, path, body] of writes) {
      let req = request(app.url)[method as 'post' | 'delete'](path).set('Cookie', s.cookie);
      if (token !== undefined) req = req.set('X-CSRFToken', token);
      const res = await (body ? req.send(body) : req);
      const label = `${method} ${path} token=${token === otherToken ? "another session's" : String(token)}`;
      assert.equal(res.status, 403, label);
      assert.deepEqual(
        res.body,
        { error: 'auth/csrf', message: 'Missing or invalid CSRF token (X-CSRFToken)' },
        label,
      );
    }
  }
  const session = await app.database.prisma.conversationSession.findFirstOrThrow({
    where: { conversationId: id },
  });
  assert.deepEqual([session.status, session.assignedAgentId, session.tags], ['open', null, []]);
  const keys = await app.database.prisma.apiKey.findMany({ where: { organizationId: a.org.id } });
  assert.deepEqual(
    keys.map((k) => [k.name, k.revokedAt]),
    [['existing', null]],
  );

  // Reads need no token; with the token the same writes go through.
  assert.equal((await request(app.url).get(`/api/conversations/${id}`).set('Cookie', s.cookie)).status, 200);
  const http = agentHttp(app.url, s);
  assert.equal((await http.post(`/api/conversations/${id}/assign`)).status, 200);
  assert.equal((await http.post('/api/api-keys', { name: 'real' })).status, 201);
});

test('a deactivated agent is signed out on the next request', async () => {
  const a = await newAgent();
  const s = await loginAgent(app.url, a.user.email, a.password);
  assert.equal((await request(app.url).get('/api/conversations/').set('Cookie', s.cookie)).status, 200);
  await app.database.prisma.user.update({ where: { id: a.user.id }, data: { status: 'deactivated' } });
  assert.equal((await request(app.url).get('/api/conversations/').set('Cookie', s.cookie)).status, 401);
});

// The agent is read with the session, in one statement: it must be as current as a read of its own.
test('the next request acts as the agent is now: queues changed, organization suspended', async () => {
  const { org, channelId } = await createOrg(app.services);
  const a = await createAgent(app.services, org.id, { routingKeys: ['billing'] });
  const billing = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    routingKey: 'billing',
  });
  const sales = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    routingKey: 'sales',
  });
  const s = await loginAgent(app.url, a.user.email, a.password);
  const listed = async () => {
    const res = await request(app.url).get('/api/conversations/?filter=all').set('Cookie', s.cookie);
    assert.equal(res.status, 200);
    return (res.body as { id: string }[]).map((c) => c.id).sort();
  };
  assert.deepEqual(await listed(), [billing.conversation.id]);

  await app.database.prisma.user.update({ where: { id: a.user.id }, data: { routingKeys: [] } });
  assert.deepEqual(await listed(), [billing.conversation.id, sales.conversation.id].sort());

  await app.database.prisma.organization.update({ where: { id: org.id }, data: { status: 'suspended' } });
  const res = await request(app.url).get('/api/conversations/?filter=all').set('Cookie', s.cookie);
  assert.equal(res.status, 401);
  assert.equal(res.body.error, 'auth/unauthenticated');
});

for (const redis of [false, true]) {
  test(`sessions live in the database${redis ? ', not in Redis,' : ''} and survive a restart`, async (t) => {
    const first = await startApp(app.database, { redis });
    const a = await newAgent();
    const s = await loginAgent(first.url, a.user.email, a.password);
    const sid = sidOf(s.cookie);
    assert.equal(await app.database.prisma.httpSession.count({ where: { id: sid } }), 1);
    // Nothing of it in Redis: a Redis restart (or flush) cannot log anyone out.
    if (redis) assert.deepEqual(await first.redis!.keys(`*${sid}*`), []);
    await first.stop();

    // A new process (here: a new app) knows the session: nothing was kept in memory.
    const second = await startApp(app.database, { redis });
    t.after(() => second.stop());
    const me = await request(second.url).get('/auth/me').set('Cookie', s.cookie);
    assert.equal(me.status, 200);
    assert.equal(me.body.user.id, a.user.id);
    assert.equal(me.body.csrf_token, s.csrf);
  });
}

test('a session kept in Redis by an earlier version is moved to the database on first use', async (t) => {
  const node = await startApp(app.database, { redis: true });
  t.after(() => node.stop());
  const a = await newAgent();
  const s = await loginAgent(node.url, a.user.email, a.password);
  const sid = sidOf(s.cookie);
  // As an earlier version kept it: in Redis only, as JSON under sb:sess:<sid>.
  const row = await app.database.prisma.httpSession.delete({ where: { id: sid } });
  await node.redis!.set(`sb:sess:${sid}`, JSON.stringify(row.data), 'EX', 600);
  const me = await request(node.url).get('/auth/me').set('Cookie', s.cookie);
  assert.equal(me.status, 200);
  assert.equal(me.body.user.id, a.user.id);
  assert.equal(await app.database.prisma.httpSession.count({ where: { id: sid } }), 1);
  assert.equal(await node.redis!.exists(`sb:sess:${sid}`), 0);
});
