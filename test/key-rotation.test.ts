// Rotating each deployment secret without downtime: for a while a node holds the new value and
// the previous one; what the previous one made keeps working, what is made now uses the new one,
// and once the previous value is removed only the new one counts.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { decryptSecret, encryptSecret } from '../src/shared/crypto.js';
import { openPostgres, type Database } from '../src/shared/db.js';
import { startApp, type TestApp } from './helpers/app.js';
import { freshPostgresDatabase, testDatabaseUrl } from './helpers/db.js';
import { createAgent, createOrg } from './helpers/factories.js';
import { cookieOf, loginAgent, sidOf } from './helpers/http.js';
import { entryArgs, lastJsonLine, run } from './helpers/process.js';
import {
  createTenant,
  createVisitorSession,
  provisionTenant,
  refreshVisitorToken,
  signedCall,
} from './helpers/relay.js';

const hexKey = () => randomBytes(32).toString('hex');
const secret = () => randomBytes(32).toString('base64url');

/** Starts an app on `database` with `env`, runs `work`, stops it. */
async function withApp<T>(
  database: Database,
  env: Record<string, string>,
  work: (app: TestApp) => Promise<T>,
) {
  const app = await startApp(database, { env });
  try {
    return await work(app);
  } finally {
    await app.stop();
  }
}

describe('ENCRYPTION_KEY rotation', () => {
  // Its own database: the CLI re-seals every row, and other files' rows use other keys.
  let db: { url: string; drop: () => Promise<void> };
  let database: Database;
  before(async () => {
    db = await freshPostgresDatabase();
    database = openPostgres(db.url, { poolSize: 4 });
    await database.migrate();
  });
  after(async () => {
    await database.close();
    await db.drop();
  });

  test('sealed with the old key: works with CURRENT=new, PREVIOUS=old; after the CLI, with the new key alone', async () => {
    const oldKey = hexKey();
    const newKey = hexKey();
    const sessionSecret = secret();
    const base = { SESSION_SECRET: sessionSecret };

    // Before: a tenant (its secret sealed with the old key) and a push credential row.
    const { tenant, credentialId } = await withApp(
      database,
      { ...base, ENCRYPTION_KEY: oldKey },
      async (app) => {
        const tn = await createTenant(app.services);
        assert.equal((await signedCall(app.url, tn, 'GET', '/api/v1/relay/usage')).status, 200);
        const org = await createOrg(app.services);
        const cred = await database.prisma.pushCredential.create({
          data: {
            organizationId: org.org.id,
            channelId: org.channelId,
            provider: 'fcm',
            secretEnc: encryptSecret(Buffer.from(oldKey, 'hex'), JSON.stringify({ project_id: 'p1' })),
          },
        });
        return { tenant: tn, credentialId: cred.id };
      },
    );

    // During: the new key encrypts, the old one still decrypts.
    await withApp(
      database,
      { ...base, ENCRYPTION_KEY: newKey, ENCRYPTION_KEY_PREVIOUS: oldKey },
      async (app) => {
        assert.equal((await signedCall(app.url, tenant, 'GET', '/api/v1/relay/usage')).status, 200);
        const fresh = await createTenant(app.services);
        const row = await database.prisma.organization.findUniqueOrThrow({ where: { id: fresh.id } });
        assert.equal(decryptSecret(Buffer.from(newKey, 'hex'), row.tenantSecretEnc), fresh.secret);
      },
    );
    // A node with only the new key cannot open the old rows yet (the server's fault: a 500).
    await withApp(database, { ...base, ENCRYPTION_KEY: newKey }, async (app) => {
      assert.equal((await signedCall(app.url, tenant, 'GET', '/api/v1/relay/usage')).status, 500);
    });

    const env = {
      DATABASE_URL: db.url,
      SESSION_SECRET: sessionSecret,
      ENCRYPTION_KEY: newKey,
      ENCRYPTION_KEY_PREVIOUS: oldKey,
    };
    const cli = await run([...entryArgs('cli'), 'rotate-encryption-key', '--json'], env);
    assert.equal(cli.code, 0, cli.stderr);
    const out = lastJsonLine(cli.stdout) as { reencrypted: number; already_current: number };
    assert.ok(out.reencrypted >= 2, JSON.stringify(out));
    // Run again: nothing left to do.
    const again = await run([...entryArgs('cli'), 'rotate-encryption-key', '--json'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((lastJsonLine(again.stdout) as { reencrypted: number }).reencrypted, 0);

    // After: every sealed value opens with the new key alone.
    const only = Buffer.from(newKey, 'hex');
    const org = await database.prisma.organization.findUniqueOrThrow({ where: { id: tenant.id } });
    assert.equal(decryptSecret(only, org.tenantSecretEnc), tenant.secret);
    const cred = await database.prisma.pushCredential.findUniqueOrThrow({ where: { id: credentialId } });
    assert.deepEqual(JSON.parse(decryptSecret(only, cred.secretEnc)), { project_id: 'p1' });
    await withApp(database, { ...base, ENCRYPTION_KEY: newKey }, async (app) => {
      assert.equal((await signedCall(app.url, tenant, 'GET', '/api/v1/relay/usage')).status, 200);
    });
  });

  test('the CLI refuses to finish when a secret opens with neither key', async () => {
    const stray = await freshPostgresDatabase();
    const strayDb = openPostgres(stray.url, { poolSize: 2 });
    try {
      await strayDb.migrate();
      const sessionSecret = secret();
      await withApp(strayDb, { SESSION_SECRET: sessionSecret, ENCRYPTION_KEY: hexKey() }, (app) =>
        createTenant(app.services),
      );
      const cli = await run([...entryArgs('cli'), 'rotate-encryption-key', '--json'], {
        DATABASE_URL: stray.url,
        SESSION_SECRET: sessionSecret,
        ENCRYPTION_KEY: hexKey(),
        ENCRYPTION_KEY_PREVIOUS: hexKey(),
      });
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /1 secret\(s\) open with neither/);
    } finally {
      await strayDb.close();
      await stray.drop();
    }
  });
});

describe('SESSION_SECRET, ADMIN_KEY and the derived visitor-token key', () => {
  let database: Database;
  before(() => {
    database = openPostgres(testDatabaseUrl(), { poolSize: 4 });
  });
  after(() => database.close());

  test('a cookie signed with the old secret still signs in; new cookies use the new one; then only the new', async () => {
    const oldSecret = secret();
    const newSecret = secret();
    const { session, loginPage, visitor, tenant } = await withApp(
      database,
      { SESSION_SECRET: oldSecret },
      async (app) => {
        const org = await createOrg(app.services);
        const agent = await createAgent(app.services, org.org.id);
        const session = await loginAgent(app.url, agent.user.email, agent.password);
        // The login page (stateless CSRF) as a browser had it open across the switch.
        const page = await fetch(`${app.url}/auth/login`);
        const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(await page.text())![1]!;
        const tenant = await createTenant(app.services);
        // The visitor-token key is derived from SESSION_SECRET when VISITOR_TOKEN_SECRET is unset.
        const visitor = await createVisitorSession(app.url, tenant);
        return {
          session,
          loginPage: { cookie: cookieOf(page), csrf, email: agent.user.email, password: agent.password },
          visitor,
          tenant,
        };
      },
    );

    await withApp(
      database,
      { SESSION_SECRET: newSecret, SESSION_SECRET_PREVIOUS: oldSecret },
      async (app) => {
        const me = await request(app.url).get('/auth/me').set('Cookie', session.cookie);
        assert.equal(me.status, 200);
        // A state-changing call with the old cookie and its CSRF token.
        const out = await request(app.url)
          .post('/auth/logout')
          .set('Cookie', session.cookie)
          .set('X-CSRFToken', session.csrf);
        assert.ok(out.status < 400, `logout: ${out.status}`);
        // The login form opened before the switch still submits.
        const res = await fetch(`${app.url}/auth/login`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            cookie: loginPage.cookie,
            'x-csrftoken': loginPage.csrf,
          },
          body: JSON.stringify({ email: loginPage.email, password: loginPage.password }),
        });
        assert.equal(res.status, 200);
        const fresh = cookieOf(res);
        const signed = decodeURIComponent(fresh.split('=')[1]!);
        const sig = createHmac('sha256', newSecret).update(sidOf(fresh)).digest('base64').replace(/=+$/, '');
        assert.equal(signed, `s:${sidOf(fresh)}.${sig}`, 'new cookies are signed with the new secret');
        // Visitor tokens from the old derived key still refresh, into tokens of the new key.
        const refreshed = await refreshVisitorToken(app.url, visitor.visitor_token);
        assert.equal(refreshed.session_id, visitor.session_id);
        session.cookie = fresh;
      },
    );

    await withApp(database, { SESSION_SECRET: newSecret }, async (app) => {
      assert.equal((await request(app.url).get('/auth/me').set('Cookie', session.cookie)).status, 200);
      const old = await loginAgent(app.url, loginPage.email, loginPage.password).catch(() => undefined);
      assert.ok(old, 'signing in works');
      // The old secret's visitor token is no longer accepted.
      const res = await fetch(`${app.url}/api/v1/refresh/visitor-token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${visitor.visitor_token}` },
      });
      assert.equal(res.status, 401);
      void tenant;
    });
    await withApp(database, { SESSION_SECRET: newSecret }, async (app) => {
      // A cookie signed with the old secret alone is refused once the previous secret is removed.
      const agent = await createAgent(app.services, (await createOrg(app.services)).org.id);
      const oldSigned = await withApp(database, { SESSION_SECRET: oldSecret }, (o) =>
        loginAgent(o.url, agent.user.email, agent.password),
      );
      assert.equal((await request(app.url).get('/auth/me').set('Cookie', oldSigned.cookie)).status, 401);
    });
  });

  test('ADMIN_KEY_PREVIOUS is accepted for provisioning until removed', async () => {
    const oldKey = `ak_${secret()}`;
    const newKey = `ak_${secret()}`;
    const provision = async (url: string, key: string) =>
      (
        await fetch(`${url}/api/v1/provision/tenant`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-admin-key': key },
          body: JSON.stringify({ tenant_name: `Rotation ${randomBytes(3).toString('hex')}` }),
        })
      ).status;
    await withApp(database, { ADMIN_KEY: newKey, ADMIN_KEY_PREVIOUS: oldKey }, async (app) => {
      assert.equal(await provision(app.url, newKey), 201);
      assert.equal(await provision(app.url, oldKey), 201);
      assert.equal(await provision(app.url, `ak_${secret()}`), 401);
      assert.ok((await provisionTenant(app.url, oldKey, 'Rotation')).id);
    });
    await withApp(database, { ADMIN_KEY: newKey }, async (app) => {
      assert.equal(await provision(app.url, newKey), 201);
      assert.equal(await provision(app.url, oldKey), 401);
    });
  });
});
