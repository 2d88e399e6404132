// The product as an operator runs it: a real server process, started, probed, stopped, restarted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { userHash } from '../src/tenants/identity.js';
import { openEmbedded, openPostgres } from '../src/shared/db.js';
import { freshPostgresDatabase } from './helpers/db.js';
import { entryArgs, freePort, run, startServer } from './helpers/process.js';
import { connectSocket } from './helpers/sockets.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'srv-'));
const secrets = { SESSION_SECRET: 'server-test-secret-server-test-secret', ENCRYPTION_KEY: '33'.repeat(32) };
const BANNER = /Password: {3}(\S+)/;

async function waitFor(check: () => boolean, what: string, ms = 3000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('server process', () => {
  test('embedded: first run prints credentials once; data survives a restart; SIGTERM exits 0', async () => {
    const dataDir = tmp();
    const first = await startServer({ DATA_DIR: dataDir });
    const out = first.stdout();
    const password = BANNER.exec(out)?.[1];
    assert.ok(password, `credentials printed on first run:\n${out}`);
    assert.match(out, /Inbox: +http:\/\/localhost:\d+\/inbox/);
    assert.match(out, /Email: +admin@example\.com/);
    const demo = /Demo page: +(\S+)/.exec(out)?.[1];
    assert.ok(demo);
    const page = await fetch(new URL(new URL(demo).pathname + new URL(demo).search, first.url));
    assert.equal(page.status, 200);
    assert.match(
      await page.text(),
      /<script src="\/chat-widget\/embed\.js" data-embed-token="ew_[\w-]+"><\/script>/,
    );

    // The tenant secret is printed once too, and it signs user ids: a signed-in user of the demo
    // site opens the widget with the hash, and without it is refused.
    const secret = /Tenant secret: +(sk_[\w-]+)/.exec(out)?.[1];
    assert.ok(secret, 'tenant secret printed on first run');
    assert.match(out, /Widget public key: +pk_[\w-]+/);
    const token = new URL(demo).searchParams.get('embed_token')!;
    const widget = (q: string) =>
      fetch(`${first.url}/chat-widget?embed_token=${token}&session_id=user-7${q}`);
    assert.equal((await widget('')).status, 403);
    assert.equal((await widget(`&user_hash=${userHash(secret, 'user-7')}`)).status, 200);

    // The relay's admin key, generated and printed once too, provisions tenants.
    const adminKey = /Admin key \(X-Admin-Key for \/api\/v1\/provision\/tenant\): +(\S+)/.exec(out)?.[1];
    assert.ok(adminKey, 'admin key printed on first run');
    const provision = (key: string) =>
      fetch(`${first.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': key },
        body: JSON.stringify({ tenant_name: 'First Run Shop' }),
      });
    const provisioned = await provision(adminKey);
    assert.equal(provisioned.status, 201);
    assert.match(
      ((await provisioned.json()) as { data: { tenant_secret: string } }).data.tenant_secret,
      /^sk_/,
    );
    assert.equal((await provision(`${adminKey}x`)).status, 401);

    // A second process on the same DATA_DIR is refused with a clear message.
    const second = await run(entryArgs('server'), { DATA_DIR: dataDir, PORT: '0' });
    assert.equal(second.code, 1);
    assert.match(second.stderr, /embedded database in .* is in use by process \d+/);

    assert.equal(await first.stop(), 0);
    assert.match(first.stdout(), /"msg":"shutdown complete"/);

    const again = await startServer({ DATA_DIR: dataDir });
    assert.doesNotMatch(again.stdout(), BANNER, 'no credentials on later starts');
    assert.doesNotMatch(again.stdout(), /sk_/, 'the tenant secret is never printed again');
    assert.doesNotMatch(again.stdout(), /Admin key/, 'nor the admin key');
    assert.ok(!again.stdout().includes(adminKey), 'the admin key appears nowhere in later output');
    assert.equal(await again.stop(), 0);

    const db = await openEmbedded(dataDir);
    try {
      // Beside the tenant provisioned above.
      const orgs = await db.prisma.organization.findMany({
        where: { name: 'Demo Company' },
        include: { users: true, embedTokens: true },
      });
      assert.equal(orgs.length, 1, 'the demo organization was created once and kept');
      assert.equal(orgs[0]!.users[0]!.email, 'admin@example.com');
      assert.equal(orgs[0]!.users[0]!.role, 'owner');
      assert.equal(orgs[0]!.embedTokens.length, 1);
    } finally {
      await db.close();
    }
  });

  test('PostgreSQL: migrates at start-up, first run once, data survives a restart', async () => {
    const fresh = await freshPostgresDatabase();
    try {
      const env = { DATABASE_URL: fresh.url, ...secrets };
      const first = await startServer(env);
      assert.match(first.stdout(), /"msg":"migrations applied"/);
      assert.match(first.stdout(), BANNER);
      // ADMIN_KEY is the operator's to set with DATABASE_URL: none is invented or printed.
      assert.doesNotMatch(first.stdout(), /Admin key/);
      assert.equal(await first.stop(), 0);
      const again = await startServer(env);
      assert.doesNotMatch(again.stdout(), BANNER);
      assert.doesNotMatch(again.stdout(), /migrations applied/);
      assert.equal(await again.stop(), 0);
      const db = openPostgres(fresh.url, { poolSize: 1 });
      try {
        assert.equal(await db.prisma.organization.count(), 1);
        assert.equal(await db.prisma.user.count({ where: { email: 'admin@example.com' } }), 1);
      } finally {
        await db.close();
      }
    } finally {
      await fresh.drop();
    }
  });

  test('probes, request ids, JSON errors, security headers', async () => {
    const srv = await startServer({ DATA_DIR: tmp() });
    try {
      const health = await fetch(`${srv.url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const ready = await fetch(`${srv.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ok', checks: { database: 'ok' } });

      const given = await fetch(`${srv.url}/healthz`, { headers: { 'X-Request-Id': 'trace-123' } });
      assert.equal(given.headers.get('x-request-id'), 'trace-123');
      const made = await fetch(`${srv.url}/nowhere`);
      assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(made.status, 404);
      assert.deepEqual(await made.json(), { error: 'not_found', message: 'No route for GET /nowhere' });
      await waitFor(
        () => /"reqId":"[0-9a-f-]{36}".*"url":"\/nowhere"/.test(srv.stdout()),
        'request logs carry the request id',
      );

      const bad = await fetch(`${srv.url}/anything`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"broken',
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(await bad.json(), { error: 'request/invalid', message: 'Malformed JSON body' });

      const badDemo = await fetch(`${srv.url}/demo?embed_token=%3Cscript%3E`);
      assert.equal(badDemo.status, 400);
      const body = (await badDemo.json()) as { message: string; param: string };
      assert.equal(body.param, 'embed_token');
      assert.match(body.message, /embed_token/);

      const demo = await fetch(`${srv.url}/demo?embed_token=ew_abcdefghijklmnop`);
      assert.match(demo.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.equal(demo.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(demo.headers.get('x-powered-by'), null);
    } finally {
      await srv.stop();
    }
  });

  test('readiness turns 503 naming Redis when Redis goes away', async () => {
    const port = await freePort();
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const srv = await startServer({ DATA_DIR: tmp(), REDIS_URL: `redis://127.0.0.1:${port}` });
      try {
        assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
        redis.kill('SIGKILL');
        await once(redis, 'exit');
        const res = await fetch(`${srv.url}/readyz`);
        assert.equal(res.status, 503);
        const body = (await res.json()) as {
          status: string;
          message: string;
          checks: Record<string, string>;
        };
        assert.equal(body.status, 'unavailable');
        assert.equal(body.checks.database, 'ok');
        assert.match(body.checks.redis!, /^error: /);
        assert.match(body.message, /redis/);
        assert.equal((await fetch(`${srv.url}/healthz`)).status, 200, 'the process itself is still alive');
        assert.equal(await srv.stop(), 0, 'it still shuts down cleanly without Redis');
      } finally {
        await srv.stop();
      }
    } finally {
      redis.kill('SIGKILL');
    }
  });

  test('a node starts while Redis is down, says so on /readyz, and is ready once Redis comes up', async () => {
    const port = await freePort();
    const srv = await startServer({ DATA_DIR: tmp(), REDIS_URL: `redis://127.0.0.1:${port}` });
    let redis: ReturnType<typeof spawn> | undefined;
    try {
      const down = await fetch(`${srv.url}/readyz`);
      assert.equal(down.status, 503);
      assert.match(((await down.json()) as { message: string }).message, /redis/);
      redis = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await fetch(`${srv.url}/readyz`)).status;
      }
      assert.equal(status, 200, 'ready once Redis answers, without a restart');
      assert.equal(srv.proc.exitCode, null);
    } finally {
      await srv.stop();
      redis?.kill('SIGKILL');
    }
  });

  test('Redis killed and restarted empty: the node lives on and tells its sockets to resync', async () => {
    const port = await freePort();
    const startRedis = () =>
      spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
    let redis = startRedis();
    await new Promise((r) => setTimeout(r, 300));
    const srv = await startServer({ DATA_DIR: tmp(), REDIS_URL: `redis://127.0.0.1:${port}` });
    const socket = await connectSocket(srv.url);
    try {
      const resync = new Promise((resolve) => socket.once('resync', resolve));
      redis.kill('SIGKILL');
      await once(redis, 'exit');
      // Longer than every Redis timeout (5 s), so a command timing out would have surfaced.
      await new Promise((r) => setTimeout(r, 6000));
      assert.equal(srv.proc.exitCode, null, 'still running');
      assert.equal((await fetch(`${srv.url}/readyz`)).status, 503);
      redis = startRedis();
      assert.deepEqual(await resync, { reason: 'redis_reconnected' });
      assert.equal(socket.connected, true, 'the socket itself never dropped');
      assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
      assert.equal(await srv.stop(), 0);
    } finally {
      socket.disconnect();
      await srv.stop();
      redis.kill('SIGKILL');
    }
  });

  test('a bad setting stops start-up with one line naming the variable', async () => {
    for (const [env, re] of [
      [{ PORT: 'eighty' }, /^switchboard: invalid configuration: PORT: /],
      [
        { DATABASE_URL: 'postgres://127.0.0.1/x' },
        /^switchboard: invalid configuration: SESSION_SECRET: required/,
      ],
    ] as const) {
      const r = await run(entryArgs('server'), { DATA_DIR: tmp(), ...env });
      assert.equal(r.code, 1, JSON.stringify(env));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  test('SIGTERM lets a request under way finish, then refuses new connections and exits 0', async () => {
    const srv = await startServer({ DATA_DIR: tmp() });
    // A request whose body is still arriving when the signal comes.
    const sock = connect({ port: srv.port, host: '127.0.0.1' });
    await once(sock, 'connect');
    sock.write(
      'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"a":',
    );
    await new Promise((r) => setTimeout(r, 200));
    srv.proc.kill('SIGTERM');
    // The listener closes as the signal is handled (later on a loaded machine): new connections
    // are refused from then on, while the request under way still waits for its body.
    let refused = false;
    for (const deadline = Date.now() + 10_000; !refused && Date.now() < deadline;) {
      // A fresh TCP connection each time (a pooled keep-alive socket would say nothing).
      const probe = connect({ port: srv.port, host: '127.0.0.1' });
      refused = await once(probe, 'connect').then(
        () => false,
        () => true,
      );
      probe.destroy();
      if (!refused) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(refused, 'no new connections after SIGTERM');
    let reply = '';
    sock.on('data', (d: Buffer) => (reply += d.toString()));
    sock.write('"done"}');
    const [code] = (await once(srv.proc, 'exit')) as [number];
    assert.match(reply, /^HTTP\/1\.1 404/, 'the request under way got its answer');
    assert.equal(code, 0);
    sock.destroy();
  });
});
