// Issue 14, point 2: `POST /chat-widget/profile` with a public embed token, 500 concurrent posts
// from one IP, made 500 end users and 500 conversations (no rate limit, no origin check).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createEmbedTokenSchema } from '../channels/channels.schemas.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createOrg } from '../../test/helpers/factories.js';

let app: TestApp;
before(async () => {
  // Behind a proxy: each test's client has an address of its own (the limits are per IP).
  app = await startApp(await dbModes[0]!.open(), { redis: true, env: { TRUST_PROXY: 'true' } });
});
after(async () => {
  await app.stop();
  await app.database.close();
});

const newIp = () => `198.19.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;

function post(body: object, headers: Record<string, string>) {
  return fetch(`${app.url}/chat-widget/profile`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

test('500 concurrent profile posts from one IP: the public limit (30 per token and IP a minute) holds, the rest get 429', async () => {
  const { org, embedToken } = await createOrg(app.services);
  const ip = newIp();
  const statuses = await Promise.all(
    Array.from({ length: 500 }, (_, i) =>
      post(
        { embed_token: embedToken, session_id: `v_flood_${i}_${randomUUID()}`, customer_name: 'Flood' },
        { 'x-forwarded-for': ip },
      ).then(async (r) => {
        if (r.status === 429) {
          assert.ok(Number(r.headers.get('retry-after')) >= 1);
          assert.equal(((await r.json()) as { error: string }).error, 'rate_limited');
        }
        return r.status;
      }),
    ),
  );
  assert.equal(statuses.filter((s) => s === 204).length, 30);
  assert.equal(statuses.filter((s) => s === 429).length, 470);
  const users = await app.database.prisma.endUser.count({ where: { organizationId: org.id } });
  const conversations = await app.database.prisma.conversation.count({ where: { organizationId: org.id } });
  assert.equal(users, 30);
  assert.equal(conversations, 30);

  // Another client is not affected.
  const other = await post(
    { embed_token: embedToken, session_id: `v_${randomUUID()}`, customer_name: 'Ann' },
    { 'x-forwarded-for': newIp() },
  );
  assert.equal(other.status, 204);
});

test("the profile post is accepted only from the widget's own origin, or one its token lists", async () => {
  const { org, embedToken: open } = await createOrg(app.services);
  const { token: listed } = await app.services.channels.createEmbedToken(
    createEmbedTokenSchema.parse({ organizationId: org.id, allowedOrigins: ['https://shop.example'] }),
  );
  const ip = newIp();
  const send = (token: string, origin?: string) =>
    post(
      { embed_token: token, session_id: `v_${randomUUID()}`, customer_name: 'Bo' },
      { 'x-forwarded-for': ip, ...(origin ? { origin } : {}) },
    );
  const own = new URL(app.url).origin;

  // The widget page (our origin) and clients that are not browsers (no Origin).
  assert.equal((await send(open, own)).status, 204);
  assert.equal((await send(listed, own)).status, 204);
  assert.equal((await send(open)).status, 204);
  // Another site: refused, even for a token that may be embedded anywhere...
  const evil = await send(open, 'https://evil.example');
  assert.equal(evil.status, 403);
  assert.equal(((await evil.json()) as { error: string }).error, 'origin/forbidden');
  assert.equal((await send(listed, 'https://evil.example')).status, 403);
  assert.equal((await send(open, 'null')).status, 403);
  // ...but accepted from an origin the token lists.
  assert.equal((await send(listed, 'https://shop.example')).status, 204);

  const names = await app.database.prisma.endUser.count({ where: { organizationId: org.id } });
  assert.equal(names, 4, 'nothing was created for the refused posts');
});
