// Issue 14, point 3: under a flood /readyz answered 503 "database: no answer in 2000 ms": its ping
// waited behind a pool saturated by traffic, so a busy database looked dead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startApp } from '../../test/helpers/app.js';
import { testDatabaseUrl } from '../../test/helpers/db.js';
import { openPostgres } from '../shared/db.js';

type Ready = { status: string; checks: Record<string, string> };

test('a saturated pool reads "busy" with 200; the probe does not wait behind it', async () => {
  const database = openPostgres(testDatabaseUrl(), { poolSize: 2 });
  const app = await startApp(database);
  try {
    // Every pooled connection busy for 1.5 s, and more queries waiting for one.
    const hogs = Array.from({ length: 6 }, () => database.query('hog', 'SELECT pg_sleep(1.5)', []));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const res = await fetch(`${app.url}/readyz`);
    const ms = performance.now() - t0;
    const body = (await res.json()) as Ready;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.match(body.checks.database!, /^busy \(pool saturated, [1-9]\d* waiting\)$/);
    // It answered before the pool freed up (the first hogs end 1.5 s in); loose for loaded CI.
    assert.ok(ms < 1200, `/readyz took ${ms.toFixed(0)} ms`);
    await Promise.all(hogs);
    const idle = (await (await fetch(`${app.url}/readyz`)).json()) as Ready;
    assert.equal(idle.checks.database, 'ok');
  } finally {
    await app.stop();
    await database.close();
  }
});

test('a database that does not answer is unreachable: 503 naming it', async () => {
  // Nothing listens on port 1.
  const url = Object.assign(new URL(testDatabaseUrl()), { port: '1' }).toString();
  const database = openPostgres(url, { poolSize: 2 });
  const app = await startApp(database);
  try {
    const res = await fetch(`${app.url}/readyz`);
    const body = (await res.json()) as Ready;
    assert.equal(res.status, 503);
    assert.match(body.checks.database!, /^error: /);
    assert.equal(body.status, 'unavailable');
  } finally {
    await app.stop();
    await database.close();
  }
});
