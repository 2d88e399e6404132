// The per-tenant attachment limit as an admin sets it through PATCH /api/organization, and as the
// agent's upload and the relay visitor's upload then meet it, on a real server (PostgreSQL).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation } from '../../test/helpers/factories.js';
import type { AgentSession } from '../../test/helpers/http.js';
import { createTenant, createVisitorSession, SHOP } from '../../test/helpers/relay.js';
import { createEmbedTokenSchema } from '../channels/channels.schemas.js';
import { createEventBus } from '../shared/events.js';
import { AppError } from '../shared/errors.js';
import { createTenantService } from '../tenants/tenants.service.js';
import { pngBytes } from './attachments.fixtures.js';

/** A valid PNG padded with trailing bytes to `size` (the sniffer reads only the head). */
const pngOf = (size: number) => {
  const head = pngBytes();
  return Buffer.concat([head, randomBytes(size - head.length)]);
};

const postgres = () => dbModes.find((m) => m.name === 'postgres')!;

describe('the tenant attachment limit, set through PATCH /api/organization', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp(await postgres().open(), {
      env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-limit-')) },
    });
  });
  after(async () => {
    await t.stop();
    await t.database.close();
  });

  const patchOrg = (s: AgentSession, body: unknown) =>
    request(t.url)
      .patch('/api/organization')
      .set('Cookie', s.cookie)
      .set('X-CSRFToken', s.csrf)
      .send(body as object);
  const stored = async (organizationId: string) =>
    ((await t.database.prisma.organization.findUniqueOrThrow({ where: { id: organizationId } })).config as {
      attachment_max_bytes?: unknown;
    }) ?? {};

  async function setup() {
    const tn = await createTenant(t.services);
    const channel = await t.services.channels.createEmbedToken(
      createEmbedTokenSchema.parse({ organizationId: tn.id }),
    );
    const admin = await createAgent(t.services, tn.id, { role: 'admin' });
    const agent = await createAgent(t.services, tn.id);
    const adminSession = await loginAgent(t.url, admin.user.email, admin.password);
    const agentSession = await loginAgent(t.url, agent.user.email, agent.password);
    const conv = await createConversation(t.services, {
      organizationId: tn.id,
      channelId: channel.channelId,
    });
    const agentUpload = (bytes: Buffer) =>
      request(t.url)
        .post(`/api/conversations/${conv.conversation.id}/attachments`)
        .set('Cookie', agentSession.cookie)
        .set('X-CSRFToken', agentSession.csrf)
        .set('X-Filename', 'photo.png')
        .set('Content-Type', 'application/octet-stream')
        .send(bytes);
    const vs = await createVisitorSession(t.url, tn);
    const visitorUpload = (bytes: Buffer) =>
      request(t.url)
        .post('/api/v1/attachments')
        .set('Authorization', `Bearer ${vs.visitor_token}`)
        .set('Origin', SHOP)
        .set('X-Filename', 'photo.png')
        .set('Content-Type', 'application/octet-stream')
        .send(bytes);
    return { tn, adminSession, agentSession, agentUpload, visitorUpload };
  }

  test('an admin sets 4 KB: above it the agent and the visitor get 413, below it passes; null restores the default', async () => {
    const { tn, adminSession, agentUpload, visitorUpload } = await setup();
    // Before: the default (10 MB) lets 8 KB through.
    assert.equal((await agentUpload(pngOf(8192))).status, 201);

    const set = await patchOrg(adminSession, { attachment_max_bytes: 4096 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal((await stored(tn.id)).attachment_max_bytes, 4096);

    const tooBig = await agentUpload(pngOf(4097));
    assert.equal(tooBig.status, 413, JSON.stringify(tooBig.body));
    assert.equal(tooBig.body.error, 'attachment/too_large');
    assert.equal(tooBig.body.max_bytes, 4096);
    const visitorTooBig = await visitorUpload(pngOf(6000));
    assert.equal(visitorTooBig.status, 413, JSON.stringify(visitorTooBig.body));
    assert.equal(visitorTooBig.body.error, 'attachment/too_large');

    assert.equal((await agentUpload(pngOf(4096))).status, 201, 'exactly the limit passes');
    const visitorOk = await visitorUpload(pngOf(3000));
    assert.equal(visitorOk.status, 201, JSON.stringify(visitorOk.body));

    // Cleared: back to the default.
    const cleared = await patchOrg(adminSession, { attachment_max_bytes: null });
    assert.equal(cleared.status, 200);
    assert.equal((await stored(tn.id)).attachment_max_bytes, undefined);
    assert.equal((await agentUpload(pngOf(8192))).status, 201);
  });

  test('bad values are 400 naming the field and change nothing; agents cannot set it', async () => {
    const { tn, adminSession, agentSession, agentUpload } = await setup();
    assert.equal((await patchOrg(adminSession, { attachment_max_bytes: 2048 })).status, 200);
    const configBefore = await stored(tn.id);

    for (const bad of [0, -1, 1023, 2048.5, '4096', true, 1_073_741_825, 2 ** 40, {}]) {
      const res = await patchOrg(adminSession, { attachment_max_bytes: bad });
      assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, 'request/invalid');
      assert.match(res.body.message, /attachment_max_bytes/);
    }
    // A bad limit alongside a good field: the whole patch is refused.
    const mixed = await patchOrg(adminSession, { attachment_max_bytes: 10, greeting: 'Hello there' });
    assert.equal(mixed.status, 400);
    assert.deepEqual(await stored(tn.id), configBefore);

    const forbidden = await patchOrg(agentSession, { attachment_max_bytes: 1_000_000 });
    assert.equal(forbidden.status, 403);
    assert.deepEqual(await stored(tn.id), configBefore);
    // Still 2 KB.
    assert.equal((await agentUpload(pngOf(3000))).status, 413);
    assert.equal((await agentUpload(pngOf(2000))).status, 201);
  });

  test("the service refuses a limit above the platform's cap (ATTACHMENT_MAX_BYTES) and keeps the old one", async () => {
    const { tn, agentUpload } = await setup();
    const tenants = createTenantService({
      db: t.database.prisma,
      encryptionKey: t.config.encryptionKey,
      bus: createEventBus(() => {}),
      attachmentMaxBytes: 1_000_000,
    });
    await tenants.configure(tn.id, { attachment_max_bytes: 1_000_000 });
    assert.equal((await stored(tn.id)).attachment_max_bytes, 1_000_000);
    await assert.rejects(
      tenants.configure(tn.id, { attachment_max_bytes: 1_000_001 }),
      (e: unknown) =>
        e instanceof AppError && e.code === 'request/invalid' && /attachment_max_bytes/.test(e.message),
    );
    assert.equal((await stored(tn.id)).attachment_max_bytes, 1_000_000);
    assert.equal((await agentUpload(pngOf(900_000))).status, 201);
  });
});
