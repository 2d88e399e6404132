// The attack: every anonymous `GET /auth/login` stored a session row (to hold the form's CSRF
// token) for an hour, with no limit, so a loop of page loads filled `http_sessions`. Now the
// login page stores nothing: its token is bound to a signed cookie, and only signing in stores a
// session. The login form stays CSRF-protected.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { randomIp, sidOf } from '../../test/helpers/http.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

let app: TestApp;
before(async () => {
  app = await startApp(await postgres.open(), { env: { TRUST_PROXY: 'true' } });
});
after(async () => {
  await app.stop();
  await app.database.close();
});

async function loginPage() {
  const res = await request(app.url).get('/auth/login');
  assert.equal(res.status, 200);
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(res.text)![1]!;
  const cookie = ([] as string[])
    .concat(res.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith('session='))!
    .split(';')[0]!;
  return { csrf, cookie, sid: sidOf(cookie) };
}

const stored = (sids: string[]) => app.database.prisma.httpSession.count({ where: { id: { in: sids } } });

async function newAgent() {
  const { org } = await createOrg(app.services);
  return createAgent(app.services, org.id);
}

test('100 anonymous visits to the login page store no session', async () => {
  const pages = await Promise.all(Array.from({ length: 100 }, () => loginPage()));
  const sids = pages.map((p) => p.sid);
  assert.equal(new Set(sids).size, 100, 'each visitor gets a cookie of its own');
  assert.equal(await stored(sids), 0);
  // A failed sign-in (HTML form or JSON) stores nothing either.
  const a = await newAgent();
  const [form, json] = pages;
  const bad = await request(app.url)
    .post('/auth/login')
    .set({ Cookie: form!.cookie, 'X-Forwarded-For': randomIp() })
    .type('form')
    .send({ _csrf: form!.csrf, email: a.user.email, password: 'wrong' });
  assert.equal(bad.status, 401);
  // The re-rendered form carries the same token, and sets no new cookie.
  assert.match(bad.text, new RegExp(`<meta name="csrf-token" content="${form!.csrf}">`));
  assert.equal(bad.headers['set-cookie'], undefined);
  const badJson = await request(app.url)
    .post('/auth/login')
    .set({ Cookie: json!.cookie, 'X-CSRFToken': json!.csrf, 'X-Forwarded-For': randomIp() })
    .send({ email: a.user.email, password: 'wrong' });
  assert.equal(badJson.status, 401);
  assert.equal(await stored(sids), 0);
});

test('a browserless sign-in still works: the login page, then the form or JSON with its token', async () => {
  const a = await newAgent();
  const page = await loginPage();
  const form = await request(app.url)
    .post('/auth/login')
    .set({ Cookie: page.cookie, 'X-Forwarded-For': randomIp() })
    .type('form')
    .send({ _csrf: page.csrf, email: a.user.email, password: a.password, next: '/inbox' });
  assert.equal(form.status, 303);
  assert.equal(form.headers.location, '/inbox');
  const session = form.headers['set-cookie']![0]!.split(';')[0]!;
  // Signing in stores a session, under a new id (no fixation), and it works.
  assert.notEqual(sidOf(session), page.sid);
  assert.equal(await stored([sidOf(session)]), 1);
  assert.equal((await request(app.url).get('/auth/me').set('Cookie', session)).status, 200);

  const again = await loginPage();
  const json = await request(app.url)
    .post('/auth/login')
    .set({ Cookie: again.cookie, 'X-CSRFToken': again.csrf, 'X-Forwarded-For': randomIp() })
    .send({ email: a.user.email, password: a.password });
  assert.equal(json.status, 200);
  assert.match(json.body.csrf_token, /^[0-9a-f]{64}$/);
});

test('the login token is bound to its own cookie: not to another, nor to a forged one', async () => {
  const a = await newAgent();
  const mine = await loginPage();
  const theirs = await loginPage();
  // What a forger could make without the server's secret: an unsigned id and a token for it.
  const forgedToken = createHmac('sha256', 'guess').update(`login-csrf:${mine.sid}`).digest('hex');
  const tries = [
    { cookie: mine.cookie, token: theirs.csrf },
    { cookie: theirs.cookie, token: mine.csrf },
    { cookie: `session=s%3A${mine.sid}.forged`, token: mine.csrf },
    { cookie: `session=${mine.sid}`, token: mine.csrf },
    { cookie: mine.cookie, token: forgedToken },
    { cookie: '', token: mine.csrf },
    { cookie: mine.cookie, token: '' },
  ];
  for (const [i, t] of tries.entries()) {
    const res = await request(app.url)
      .post('/auth/login')
      .set({ Cookie: t.cookie, 'X-CSRFToken': t.token, 'X-Forwarded-For': randomIp() })
      .send({ email: a.user.email, password: a.password });
    assert.equal(res.status, 403, `try ${i}`);
    assert.equal(res.body.error, 'auth/csrf', `try ${i}`);
  }
});

test('requests of a signed-in agent do not each write the session: its expiry moves at most once a minute', async () => {
  const a = await newAgent();
  const page = await loginPage();
  const form = await request(app.url)
    .post('/auth/login')
    .set({ Cookie: page.cookie, 'X-Forwarded-For': randomIp() })
    .type('form')
    .send({ _csrf: page.csrf, email: a.user.email, password: a.password });
  assert.equal(form.status, 303);
  const session = form.headers['set-cookie']![0]!.split(';')[0]!;
  const sid = sidOf(session);
  const expiry = async () =>
    (await app.database.prisma.httpSession.findUniqueOrThrow({ where: { id: sid } })).expiresAt.getTime();
  assert.equal((await request(app.url).get('/auth/me').set('Cookie', session)).status, 200);
  const first = await expiry();
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await request(app.url).get('/auth/me').set('Cookie', session)).status, 200);
  }
  assert.equal(await expiry(), first, 'ten requests within the minute: no write');
  // Signing out still ends it at once.
  const token = (await request(app.url).get('/auth/me').set('Cookie', session)).body.csrf_token as string;
  const out = await request(app.url).post('/auth/logout').set({ Cookie: session, 'X-CSRFToken': token });
  assert.ok(out.status === 200 || out.status === 303 || out.status === 204, String(out.status));
  assert.equal((await request(app.url).get('/auth/me').set('Cookie', session)).status, 401);
});
