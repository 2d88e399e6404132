// The organization's `rate_limit_per_min` was stored and never enforced: one tenant's visitors
// could create end users and send messages without bound. It now counts, across nodes, the
// tenant's new visitors and its visitors' messages, each per minute.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { createEmbedTokenSchema } from '../channels/channels.schemas.js';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { connectSocket, emitAck } from '../../test/helpers/sockets.js';
import { createOrganizationSchema } from './tenants.schemas.js';

const visitorId = () => `v_${randomBytes(16).toString('hex')}`;
const postgres = dbModes.find((m) => m.name === 'postgres')!;

describe('tenant quota (rate_limit_per_min) on two nodes sharing Redis', () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    const env = { REALTIME_REDIS_PREFIX: `sb:quota:${randomUUID().slice(0, 8)}` };
    a = await startApp(await postgres.open(), { redis: true, env });
    b = await startApp(await postgres.open(), { redis: true, env });
  });
  after(async () => {
    for (const t of [a, b]) {
      await t.stop();
      await t.database.close();
    }
  });

  async function tenant(rateLimitPerMin: number) {
    const { organization } = await a.services.tenants.createOrganization(
      createOrganizationSchema.parse({ name: `Quota ${randomUUID().slice(0, 6)}`, rateLimitPerMin }),
    );
    const { token } = await a.services.channels.createEmbedToken(
      createEmbedTokenSchema.parse({ organizationId: organization.id }),
    );
    return { org: organization, token };
  }

  const page = (t: TestApp, token: string, sid: string) =>
    request(t.url).get('/chat-widget').query({ embed_token: token, session_id: sid });
  const configOf = (html: string) =>
    JSON.parse(/<script type="application\/json" id="cw-config">([^<]*)<\/script>/.exec(html)![1]!) as {
      conversation_id: string;
    };

  test('new visitors: the limit per minute across both nodes; returning visitors never count', async () => {
    const { org, token } = await tenant(4);
    const ids = [visitorId(), visitorId(), visitorId(), visitorId()];
    for (const [i, sid] of ids.entries()) {
      assert.equal((await page(i % 2 ? b : a, token, sid)).status, 200);
    }
    const fifth = await page(b, token, visitorId());
    assert.equal(fifth.status, 429);
    assert.ok(Number(fifth.headers['retry-after']) >= 1);
    assert.equal(await a.database.prisma.endUser.count({ where: { organizationId: org.id } }), 4);
    // A visitor who came before reloads the page: no quota needed.
    assert.equal((await page(a, token, ids[0]!)).status, 200);
    // Another tenant is not affected.
    const other = await tenant(4);
    assert.equal((await page(a, other.token, visitorId())).status, 200);
  });

  test('the quota resets when its window ends', async () => {
    // A 2 s window instead of the minute, so the reset is seen without waiting a minute.
    const short = await startApp(await postgres.open(), {
      redis: true,
      env: { REALTIME_REDIS_PREFIX: `sb:quota:${randomUUID().slice(0, 8)}`, TENANT_QUOTA_WINDOW_S: '2' },
    });
    try {
      const { organization } = await short.services.tenants.createOrganization(
        createOrganizationSchema.parse({ name: 'Reset', rateLimitPerMin: 1 }),
      );
      const { token } = await short.services.channels.createEmbedToken(
        createEmbedTokenSchema.parse({ organizationId: organization.id }),
      );
      assert.equal((await page(short, token, visitorId())).status, 200);
      const over = await page(short, token, visitorId());
      assert.equal(over.status, 429);
      const wait = Number(over.headers['retry-after']);
      assert.ok(wait >= 1 && wait <= 2, `Retry-After ${wait}`);
      await new Promise((r) => setTimeout(r, wait * 1000 + 100));
      assert.equal((await page(short, token, visitorId())).status, 200, 'a new window lets the next one in');
    } finally {
      await short.stop();
      await short.database.close();
    }
  });

  test('visitors’ messages: over the minute they are dropped with retry_after, nothing stored', async () => {
    const { org, token } = await tenant(3);
    const convs = await Promise.all(
      [visitorId(), visitorId()].map(async (sid) => ({
        sid,
        id: configOf((await page(a, token, sid)).text).conversation_id,
      })),
    );
    const sockets = [await connectSocket(a.url), await connectSocket(b.url)];
    const send = (i: number, content: string) =>
      emitAck(sockets[i]!, 'send_message', {
        conversation_id: convs[i]!.id,
        external_id: convs[i]!.sid,
        sender_type: 'end_user',
        content,
        client_msg_id: randomUUID(),
      });
    // The organization's 3 per minute, spent from both nodes.
    assert.equal((await send(0, 'one')).ok, true);
    assert.equal((await send(1, 'two')).ok, true);
    assert.equal((await send(0, 'three')).ok, true);
    const over = await send(1, 'four');
    assert.equal(over.ok, false);
    assert.equal(over.error, 'rate_limited');
    assert.ok(Number(over.retry_after) >= 1 && Number(over.retry_after) <= 60);
    const stored = await a.database.prisma.message.findMany({
      where: { organizationId: org.id },
      select: { content: true },
    });
    assert.deepEqual(stored.map((m) => m.content).sort(), ['one', 'three', 'two']);
    for (const s of sockets) s.disconnect();
  });
});
