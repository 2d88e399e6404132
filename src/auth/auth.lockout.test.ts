// The attack: five wrong passwords locked the account for 15 minutes and the right password then
// got 429 too, so anyone who knew an agent's email could keep them out. Now failures slow down the
// address that makes them (per account and address, and per address), and the agent signing in
// from an address that has not been failing gets in at once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { AppError } from '../shared/errors.js';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { createLoginLimiter, defaultLoginLimits } from './auth.ratelimit.js';
import { randomIp } from '../../test/helpers/http.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

// A node as attacked: PostgreSQL + Redis (the limits shared by every node), behind a trusted
// proxy, so the attacker and the agent speak from addresses of their own (X-Forwarded-For).
let app: TestApp;
before(async () => {
  app = await startApp(await postgres.open(), { redis: true, env: { TRUST_PROXY: 'true' } });
});
after(async () => {
  await app.stop();
  await app.database.close();
});

/** A browserless client: the login page's cookie and token, then JSON sign-ins from `ip`. */
async function client(ip: string) {
  const page = await request(app.url).get('/auth/login').set('X-Forwarded-For', ip);
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)![1]!;
  const cookie = ([] as string[])
    .concat(page.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith('session='))!
    .split(';')[0]!;
  return (email: string, password: string) =>
    request(app.url)
      .post('/auth/login')
      .set({ Cookie: cookie, 'X-CSRFToken': csrf, 'X-Forwarded-For': ip })
      .send({ email, password });
}

async function newAgent() {
  const { org } = await createOrg(app.services);
  return createAgent(app.services, org.id);
}

test('an attacker failing from one address is slowed down; the agent from another signs in at once', async () => {
  const agent = await newAgent();
  const attackerIp = randomIp();
  const attacker = await client(attackerIp);
  for (let i = 0; i < 5; i++) {
    assert.equal((await attacker(agent.user.email, `guess-${i}`)).status, 401, `guess ${i}`);
  }
  const refused = await attacker(agent.user.email, 'guess-5');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error, 'auth/rate_limited');
  const firstWait = Number(refused.headers['retry-after']);
  assert.ok(firstWait >= 1 && firstWait <= defaultLoginLimits.baseDelayS, `Retry-After ${firstWait}`);
  // The attacker's address is refused even with the right password: it may be the guesser's.
  assert.equal((await attacker(agent.user.email, agent.password)).status, 429);

  // The real agent, from an address that has not been failing, is not locked out.
  const real = await client(randomIp());
  const signedIn = await real(agent.user.email, agent.password);
  assert.equal(signedIn.status, 200);
  assert.equal(signedIn.body.user.id, agent.user.id);

  // After the wait the attacker gets one more try, and the next wait is longer (growing delay).
  await sleep(firstWait * 1000 + 100);
  assert.equal((await attacker(agent.user.email, 'guess-6')).status, 401);
  const again = await attacker(agent.user.email, 'guess-7');
  assert.equal(again.status, 429);
  assert.ok(Number(again.headers['retry-after']) > firstWait, `Retry-After ${again.headers['retry-after']}`);
  // Still refused, and the agent still signs in from elsewhere (a second device, a new address).
  assert.equal((await (await client(randomIp()))(agent.user.email, agent.password)).status, 200);
});

test('many attacking addresses slow each other down, never the agent', async () => {
  const agent = await newAgent();
  const attackers = await Promise.all(Array.from({ length: 8 }, () => client(randomIp())));
  for (const attacker of attackers) {
    for (let i = 0; i < 5; i++) assert.equal((await attacker(agent.user.email, `g-${i}`)).status, 401);
    assert.equal((await attacker(agent.user.email, 'g-5')).status, 429);
  }
  const real = await client(randomIp());
  assert.equal((await real(agent.user.email, agent.password)).status, 200);
});

test('the agent who mistypes a few times still signs in, and that clears the count', async () => {
  const agent = await newAgent();
  const ip = randomIp();
  const me = await client(ip);
  for (let i = 0; i < 4; i++) assert.equal((await me(agent.user.email, 'typo')).status, 401);
  assert.equal((await me(agent.user.email, agent.password)).status, 200);
  // A fresh start: 4 more typos are free again.
  const next = await client(ip);
  for (let i = 0; i < 4; i++) assert.equal((await next(agent.user.email, 'typo')).status, 401);
  assert.equal((await next(agent.user.email, agent.password)).status, 200);
});

test('past the account-wide ceiling only addresses the account signed in from may try', async () => {
  // The ceiling is high in production (a distributed guess); a small one shows the rule.
  const limiter = createLoginLimiter(undefined, { ...defaultLoginLimits, accountCeiling: 3 });
  const email = `agent-${randomUUID()}@example.com`;
  const home = randomIp();
  await limiter.attempt(email, home);
  await limiter.succeeded(email, home);
  await sleep(50); // the in-memory store expires keys with timers: let any fire
  for (let i = 0; i < 3; i++) await limiter.attempt(email, randomIp()); // three failures
  await assert.rejects(limiter.attempt(email, randomIp()), (err: unknown) => {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'auth/rate_limited');
    assert.ok(Number(err.details?.retry_after) > 0);
    return true;
  });
  // The agent's own address is known: it is not refused.
  await limiter.attempt(email, home);
  await limiter.succeeded(email, home);
});
