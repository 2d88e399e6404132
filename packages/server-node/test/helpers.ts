// The real relay in this process for the SDK's tests: the app over the test database, a tenant
// provisioned through the admin API, and a client of the built package for it.
import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RelayClient } from '@switchboard/server-node';
import { startApp, type TestApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { provisionTenant, SHOP } from '../../../test/helpers/relay.js';
import type { Database } from '../../../src/shared/db.js';

export { SHOP };
export const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The relay on a free port, its webhook worker running (it does not start by itself in tests). */
export async function startRelay(database?: Database): Promise<TestApp> {
  const t = await startApp(database ?? (await dbModes[0]!.open()), {
    env: { ADMIN_KEY, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '50' },
  });
  t.webhooks.start();
  return t;
}

export async function stopRelay(t: TestApp | undefined) {
  await t?.stop();
  await t?.database.close();
}

/** A new tenant (any origin of `SHOP`, a generous quota) and its credentials. */
export async function newTenant(baseUrl: string, extra: Record<string, unknown> = {}) {
  return provisionTenant(baseUrl, ADMIN_KEY, 'SDK', {
    allowed_origins: [SHOP],
    rate_limit_per_min: 1_000_000,
    ...extra,
  });
}

/** A client of a new tenant. */
export async function newClient(t: TestApp, extra: Record<string, unknown> = {}) {
  const tn = await newTenant(t.url, extra);
  return new RelayClient({ baseUrl: t.url, tenantId: tn.id, tenantSecret: tn.secret });
}

/** A node:http server on a free loopback port. */
export async function listen(
  listener: RequestListener,
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer(listener);
  server.keepAliveTimeout = 500;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves once `check` holds (polled), or fails after `timeoutMs`. */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
