// The Python SDK (sdk/python, package `switchboard_relay`) against the real relay: the app runs in
// this process with its webhook worker, a tenant is provisioned, and Python's `unittest` runs
// sdk/python/tests with the tenant in its environment. The Python tests do the asserting.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { rootDir } from '../../test/helpers/process.js';
import { SHOP, provisionTenant } from '../../test/helpers/relay.js';

// Debian's interpreter: the SDK uses only what Debian packages (httpx, pydantic, fastapi, django).
const PYTHON = '/usr/bin/python3';
const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

let app: TestApp;
before(async () => {
  app = await startApp(await dbModes[0]!.open(), {
    env: { ADMIN_KEY, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '50' },
  });
  app.webhooks.start();
});
after(async () => {
  await app.stop();
  await app.database.close();
});

test('the Python SDK passes its unittest suite against the relay', { timeout: 240_000 }, async () => {
  const tenant = await provisionTenant(app.url, ADMIN_KEY, 'Python SDK', {
    allowed_origins: [SHOP, 'app://my_shop_app'],
    rate_limit_per_min: 100_000,
  });
  const sdk = path.join(rootDir, 'sdk/python');
  const py = spawn(
    PYTHON,
    ['-m', 'unittest', 'discover', '-s', 'sdk/python/tests', '-t', 'sdk/python', '-v'],
    {
      cwd: rootDir,
      env: {
        ...process.env,
        PYTHONPATH: sdk,
        PYTHONDONTWRITEBYTECODE: '1',
        // Debian's Django 3.2 imports `cgi`; its deprecation warnings are not ours.
        PYTHONWARNINGS: 'ignore::DeprecationWarning',
        SWITCHBOARD_BASE_URL: app.url,
        SWITCHBOARD_TENANT_ID: tenant.id,
        SWITCHBOARD_TENANT_SECRET: tenant.secret,
        SWITCHBOARD_TEST_ADMIN_KEY: ADMIN_KEY,
        SWITCHBOARD_TEST_ORIGIN: SHOP,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  py.stdout.on('data', (d: Buffer) => (out += d.toString()));
  py.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(py, 'exit')) as [number | null];
  if (code !== 0) console.log(out);
  assert.equal(code, 0, 'python -m unittest failed (its output is above)');
  assert.match(out, /\nOK\n/);
  assert.doesNotMatch(out, /skipped/, 'every Python test must run against the relay');
});
