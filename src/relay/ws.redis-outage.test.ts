// The visitor WebSocket when Redis goes away and comes back: the connection lives on, and the
// node tells it to catch up (`resync`), since frames published meanwhile did not reach it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, startServer } from '../../test/helpers/process.js';
import { createVisitorSession, SHOP } from '../../test/helpers/relay.js';
import { connectWs, widgetWsUrl } from '../../test/helpers/ws.js';

const ADMIN_KEY = 'ws-outage-admin-key-ws-outage-admin-key';

test('Redis killed and restarted: the visitor stays connected and is told to resync', async () => {
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
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-ws-outage-'));
  const srv = await startServer({
    DATA_DIR: dataDir,
    REDIS_URL: `redis://127.0.0.1:${port}`,
    ADMIN_KEY,
  });
  try {
    const res = await fetch(`${srv.url}/api/v1/provision/tenant`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
      body: JSON.stringify({ tenant_name: 'Outage Boutique', allowed_origins: [SHOP] }),
    });
    const tenant = ((await res.json()) as { data: { tenant_id: string; widget_public_key: string } }).data;
    const s = await createVisitorSession(srv.url, { id: tenant.tenant_id, pk: tenant.widget_public_key });
    const v = await connectWs(widgetWsUrl(srv.url, { token: s.visitor_token }));
    await v.next('welcome');
    v.send({ type: 'msg', client_msg_id: 'before', content: 'before the outage' });
    const ack = await v.next('ack');

    redis.kill('SIGKILL');
    await once(redis, 'exit');
    await new Promise((r) => setTimeout(r, 1000));
    redis = startRedis();
    assert.deepEqual(await v.next('resync', undefined, 20_000), {
      type: 'resync',
      reason: 'redis_reconnected',
    });
    assert.equal(v.ws.readyState, v.ws.OPEN, 'the connection itself never dropped');
    v.send({ type: 'resume', last_seq: 0 });
    assert.equal((await v.next('msg')).id, ack.id);
    assert.equal((await v.next('resumed')).last_seq, 1);
    v.close();
    assert.equal(await srv.stop(), 0);
  } finally {
    await srv.stop();
    redis.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
