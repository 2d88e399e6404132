// What an operator reads: one JSON line per request (tenant, request id, method, path, status,
// latency) and per connection and disconnection (Socket.IO and the raw WebSocket), never a
// secret or a visitor's credential, each module at its own level (LOG_LEVEL=info,realtime=debug).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createApp, type App } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { signRequest } from '../src/relay/hmac.js';
import { openPostgres, type Database } from '../src/shared/db.js';
import { createLogger } from '../src/shared/logger.js';
import { testConfig } from './helpers/config.js';
import { testDatabaseUrl } from './helpers/db.js';
import { createAgent, createOrg } from './helpers/factories.js';
import { loginAgent } from './helpers/http.js';
import { createVisitorSession, SHOP } from './helpers/relay.js';
import { connectSocket, eventually } from './helpers/sockets.js';
import { connectWs, widgetWsUrl } from './helpers/ws.js';

type Line = Record<string, unknown>;

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines, parsed: () => lines.map((l) => JSON.parse(l) as Line) };
}

describe('operator logs', () => {
  const ADMIN_KEY = `ak_${randomBytes(24).toString('base64url')}`;
  const out = sink();
  let database: Database;
  let app: App;
  let url: string;
  before(async () => {
    database = openPostgres(testDatabaseUrl(), { poolSize: 4 });
    app = await createApp({
      config: testConfig({ ADMIN_KEY }),
      logger: createLogger('info', out.stream),
      database,
    });
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await new Promise<void>((resolve) => app.server.close(() => resolve()));
    await database.close();
  });

  /** The one access line of the request sent with `X-Request-Id: id` (written once the response is). */
  const accessLine = async (id: string) => {
    const of = () => out.parsed().filter((l) => l.reqId === id && 'status' in l);
    await eventually(() => of().length > 0, 5000);
    const found = of();
    assert.equal(found.length, 1, `access lines for ${id}`);
    return found[0]!;
  };

  test('one line per request with tenant, request id, method, path, status, latency; no secret anywhere', async () => {
    const { org } = await createOrg(app.services);
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const agent = await createAgent(app.services, org.id, { password });
    const secrets: string[] = [password, ADMIN_KEY];

    // A password at login, then a session cookie and CSRF token on a state-changing call.
    const session = await loginAgent(url, agent.user.email, password);
    secrets.push(
      session.cookie.split('=')[1]!,
      decodeURIComponent(session.cookie.split('=')[1]!),
      session.csrf,
    );
    const meId = randomUUID();
    const me = await fetch(`${url}/auth/me`, { headers: { cookie: session.cookie, 'x-request-id': meId } });
    assert.equal(me.status, 200);
    const meLine = await accessLine(meId);
    assert.equal(meLine.tenant_id, org.id);
    assert.equal(meLine.method, 'GET');
    assert.equal(meLine.path, '/auth/me');
    assert.equal(meLine.status, 200);
    assert.equal(typeof meLine.latency_ms, 'number');
    assert.equal(meLine.component, 'http');

    // The admin key (provisioning), then the tenant's own signed call (HMAC#1).
    const provId = randomUUID();
    const prov = await fetch(`${url}/api/v1/provision/tenant`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY, 'x-request-id': provId },
      body: JSON.stringify({ tenant_name: `Logs ${randomUUID().slice(0, 6)}`, allowed_origins: [SHOP] }),
    });
    assert.equal(prov.status, 201);
    const tenant = (
      (await prov.json()) as { data: { tenant_id: string; tenant_secret: string; widget_public_key: string } }
    ).data;
    secrets.push(tenant.tenant_secret);
    assert.equal((await accessLine(provId)).status, 201);
    const badId = randomUUID();
    const wrongKey = `ak_${randomBytes(24).toString('base64url')}`;
    secrets.push(wrongKey);
    await fetch(`${url}/api/v1/provision/tenant`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-key': wrongKey, 'x-request-id': badId },
      body: '{}',
    });
    assert.equal((await accessLine(badId)).status, 401);
    assert.equal((await accessLine(badId)).tenant_id, null);

    const signed = signRequest({
      method: 'GET',
      pathAndQuery: '/api/v1/relay/usage',
      body: undefined,
      tenantId: tenant.tenant_id,
      secret: tenant.tenant_secret,
    });
    secrets.push(signed['X-Relay-Signature'], signed['X-Relay-Signature'].slice(3));
    const usageId = randomUUID();
    const usage = await fetch(`${url}/api/v1/relay/usage`, {
      headers: { ...signed, 'x-request-id': usageId },
    });
    assert.equal(usage.status, 200);
    assert.equal((await accessLine(usageId)).tenant_id, tenant.tenant_id);

    // A visitor token: as a bearer, and in the raw WebSocket's query string.
    const visitor = await createVisitorSession(url, { id: tenant.tenant_id, pk: tenant.widget_public_key });
    secrets.push(visitor.visitor_token);
    const refreshId = randomUUID();
    const refreshed = await fetch(`${url}/api/v1/refresh/visitor-token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${visitor.visitor_token}`, 'x-request-id': refreshId },
    });
    assert.equal(refreshed.status, 200);
    secrets.push(((await refreshed.json()) as { data: { visitor_token: string } }).data.visitor_token);
    assert.equal((await accessLine(refreshId)).tenant_id, tenant.tenant_id);

    const ws = await connectWs(widgetWsUrl(url, { token: visitor.visitor_token }), { origin: SHOP });
    await ws.next('welcome');
    ws.close();
    await ws.closed;
    await eventually(() =>
      out.parsed().some((l) => l.msg === 'websocket disconnected' && l.tenant_id === tenant.tenant_id),
    );
    const wsOpen = out
      .parsed()
      .find((l) => l.msg === 'websocket connected' && l.tenant_id === tenant.tenant_id)!;
    assert.equal(wsOpen.kind, 'websocket');
    assert.equal(wsOpen.path, '/api/v1/ws/widget?token=[redacted]');
    assert.equal(typeof wsOpen.socket_id, 'string');
    assert.equal(typeof wsOpen.ip, 'string');
    const wsClose = out
      .parsed()
      .find((l) => l.msg === 'websocket disconnected' && l.socket_id === wsOpen.socket_id)!;
    assert.equal(typeof wsClose.duration_ms, 'number');

    // Socket.IO: an agent (with the session cookie) and an anonymous visitor.
    const agentSocket = await connectSocket(url, { cookie: session.cookie, origin: new URL(url).origin });
    const visitorSocket = await connectSocket(url);
    const ids = [agentSocket.id!, visitorSocket.id!];
    agentSocket.disconnect();
    visitorSocket.disconnect();
    await eventually(() =>
      ids.every((id) => out.parsed().some((l) => l.msg === 'socket disconnected' && l.socket_id === id)),
    );
    const sio = (msg: string, id: string) => out.parsed().find((l) => l.msg === msg && l.socket_id === id)!;
    assert.equal(sio('socket connected', ids[0]!).kind, 'agent');
    assert.equal(sio('socket connected', ids[0]!).tenant_id, org.id);
    assert.equal(sio('socket connected', ids[1]!).kind, 'visitor');
    assert.equal(sio('socket connected', ids[1]!).tenant_id, null);
    assert.equal(typeof sio('socket disconnected', ids[0]!).duration_ms, 'number');
    assert.equal(sio('socket disconnected', ids[0]!).component, 'realtime');

    const all = out.lines.join('\n');
    for (const s of secrets) assert.ok(!all.includes(s), `a log line holds a secret: ${s.slice(0, 12)}…`);
  });

  test('what the code logs is redacted: headers, tokens, secrets, passwords', () => {
    const o = sink();
    const logger = createLogger('info', o.stream);
    logger.info({
      req: {
        headers: {
          authorization: 'Bearer a1',
          cookie: 'session=b2',
          'x-csrftoken': 'c3',
          'x-admin-key': 'd4',
          'x-relay-signature': 'v1=e5',
        },
      },
      body: { password: 'f6', token: 'g7', tenant_secret: 'h8' },
      user_hash: 'i9',
    });
    const text = o.lines.join('\n');
    for (const s of ['a1', 'b2', 'c3', 'd4', 'e5', 'f6', 'g7', 'h8', 'i9']) assert.ok(!text.includes(s), s);
  });
});

describe('LOG_LEVEL per module', () => {
  test('parsed by the configuration; a bad level names the variable', () => {
    const c = testConfig({ LOG_LEVEL: 'warn,realtime=debug, webhooks=error' });
    assert.equal(c.logLevel, 'warn');
    assert.deepEqual(c.logLevels, { realtime: 'debug', webhooks: 'error' });
    assert.equal(testConfig({ LOG_LEVEL: 'debug' }).logLevel, 'debug');
    assert.throws(
      () =>
        loadConfig({
          DATABASE_URL: 'postgres://x/y',
          SESSION_SECRET: 'x'.repeat(32),
          ENCRYPTION_KEY: '11'.repeat(32),
          LOG_LEVEL: 'info,realtime=loud',
        }),
      (err: unknown) => err instanceof ConfigError && /^LOG_LEVEL: /.test(err.message),
    );
  });

  test("each component's loggers log at its level; the rest at the default", () => {
    const o = sink();
    const root = createLogger('info', o.stream, { realtime: 'debug', webhooks: 'warn' });
    const realtime = root.child({ component: 'realtime' });
    const webhooks = root.child({ component: 'webhooks' });
    root.debug('root-debug');
    root.info('root-info');
    realtime.debug('rt-debug');
    realtime.child({ conn: 1 }).trace('rt-trace');
    webhooks.info('wh-info');
    webhooks.warn('wh-warn');
    root.debug({ component: 'realtime' }, 'rt-inline-debug');
    const msgs = o.parsed().map((l) => l.msg);
    assert.deepEqual(msgs, ['root-info', 'rt-debug', 'wh-warn', 'rt-inline-debug']);
  });

  test('the access log is the `http` module: LOG_LEVEL=info,http=warn silences successful requests', async () => {
    const o = sink();
    const database = openPostgres(testDatabaseUrl(), { poolSize: 2 });
    const app = await createApp({
      config: testConfig(),
      logger: createLogger('info', o.stream, { http: 'warn' }),
      database,
    });
    try {
      await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const id = randomUUID();
      assert.equal((await fetch(`${base}/auth/login`, { headers: { 'x-request-id': id } })).status, 200);
      assert.ok(!o.parsed().some((l) => l.reqId === id));
    } finally {
      await app.close();
      await new Promise<void>((resolve) => app.server.close(() => resolve()));
      await database.close();
    }
  });
});
