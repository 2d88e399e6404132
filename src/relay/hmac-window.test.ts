// HMAC#1's time window is configurable (issue 17, part 1; docs/hmac.md): a node started with
// HMAC_WINDOW_S=30 refuses a timestamp 31 s off either way and accepts one 29 s off.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openPostgres } from '../shared/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { testDatabaseUrl } from '../../test/helpers/db.js';
import { provisionTenant, signedCall } from '../../test/helpers/relay.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

describe('HMAC_WINDOW_S=30', () => {
  // The server's clock, on a whole second, so "31 s off" is exactly that.
  const clock = Math.floor(Date.now() / 1000) * 1000;
  const nowS = clock / 1000;
  let t: TestApp;
  before(async () => {
    t = await startApp(await openPostgres(testDatabaseUrl(), { poolSize: 3 }), {
      env: { ADMIN_KEY, HMAC_WINDOW_S: '30' },
      now: () => clock,
    });
  });
  after(async () => {
    await t.stop();
    await t.database.close();
  });

  test('31 s off either way: 401 hmac/stale_timestamp; 29 s or 30 s off: accepted', async () => {
    assert.equal(t.config.relay.hmacWindowS, 30);
    const tn = await provisionTenant(t.url, ADMIN_KEY, 'Window');
    const usage = (timestamp: number) =>
      signedCall(t.url, tn, 'GET', '/api/v1/relay/usage', undefined, timestamp);
    for (const off of [-31, 31, -300, 299]) {
      const res = await usage(nowS + off);
      assert.equal(res.status, 401, `${off} s: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, 'hmac/stale_timestamp', `${off} s`);
    }
    for (const off of [-29, 29, -30, 30, 0]) {
      const res = await usage(nowS + off);
      assert.equal(res.status, 200, `${off} s: ${JSON.stringify(res.body)}`);
    }
    // A write is held to the same window.
    const stale = await signedCall(
      t.url,
      tn,
      'POST',
      '/api/v1/relay/conversations',
      { visitor_user_id: 'late' },
      nowS - 31,
    );
    assert.equal(stale.status, 401);
    assert.equal(stale.body.error, 'hmac/stale_timestamp');
    const fresh = await signedCall(
      t.url,
      tn,
      'POST',
      '/api/v1/relay/conversations',
      { visitor_user_id: 'late' },
      nowS - 29,
    );
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
  });
});
