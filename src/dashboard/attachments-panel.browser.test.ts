// The console's Attachments card (Widget & origins; src/dashboard/client/settings-attachments.ts) in
// real headless Chromium against the real server: a size in MB is saved as bytes and uploads then
// meet it; a size below 1 KB is refused beside the field and nothing is saved; a size over the
// server's bounds is refused with its reason; emptying it restores the default.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { browserFor, watch } from '../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { pngBytes } from '../attachments/attachments.fixtures.js';

const T = 10_000;

test('console → Attachments card: saves the limit in bytes, refuses below 1 KB, empty restores the default', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, { env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-panel-')) } });
  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const { org, channelId } = await createOrg(app.services);
  const admin = await createAgent(app.services, org.id, { role: 'admin' });
  const agent = await createAgent(app.services, org.id);
  const agentSession = await loginAgent(app.url, agent.user.email, agent.password);
  const conv = await createConversation(app.services, { organizationId: org.id, channelId });
  const upload = async (size: number) => {
    const png = pngBytes();
    const res = await fetch(`${app.url}/api/conversations/${conv.conversation.id}/attachments`, {
      method: 'POST',
      headers: {
        cookie: agentSession.cookie,
        'x-csrftoken': agentSession.csrf,
        'x-filename': 'p.png',
        'content-type': 'application/octet-stream',
      },
      body: new Uint8Array(Buffer.concat([png, Buffer.alloc(size - png.length)])),
    });
    return res.status;
  };
  const stored = async () =>
    (
      (await database.prisma.organization.findUniqueOrThrow({ where: { id: org.id } })).config as {
        attachment_max_bytes?: unknown;
      }
    ).attachment_max_bytes;

  const ctx = await browser.newContext();
  contexts.push(ctx);
  const session = await loginAgent(app.url, admin.user.email, admin.password);
  await ctx.addCookies([{ name: 'session', value: session.cookie.slice('session='.length), url: app.url }]);
  const p = await ctx.newPage();
  const problems: string[] = [];
  watch(p, problems, 'admin');
  await p.goto(`${app.url}/dashboard#settings`);
  await p.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
  const card = p.locator('form.attachments');
  const size = card.getByLabel('Largest file (MB)');
  const save = card.getByRole('button', { name: 'Save limit' });
  const status = card.locator('p[role="status"]');

  await t.test('0.5 MB is saved as 524288 bytes; uploads above it are refused', async () => {
    assert.equal(await size.inputValue(), '');
    await size.fill('0.5');
    await save.click();
    await status.filter({ hasText: 'Saved: files up to 0.5 MB.' }).waitFor({ timeout: T });
    assert.equal(await stored(), 524_288);
    assert.equal(await upload(600_000), 413);
    assert.equal(await upload(500_000), 201);
  });

  await t.test('below 1 KB: refused beside the field, nothing saved', async () => {
    await size.fill('0.0001');
    await save.click();
    const err = card.locator(`#${await size.getAttribute('id')}-error`);
    await err.filter({ hasText: 'at least 0.001 MB (1 KB)' }).waitFor({ timeout: T });
    assert.equal(await size.getAttribute('aria-invalid'), 'true');
    assert.equal(await stored(), 524_288);
  });

  await t.test('above the server’s bounds: its reason in the alert, nothing saved', async () => {
    await size.fill('5000');
    await save.click();
    await card.locator('p[role="alert"]', { hasText: 'attachment_max_bytes' }).waitFor({ timeout: T });
    assert.equal(await stored(), 524_288);
  });

  await t.test('emptied: the default again (10 MB)', async () => {
    await size.fill('');
    await save.click();
    await status.filter({ hasText: 'Saved: the default, 10 MB.' }).waitFor({ timeout: T });
    assert.equal(await stored(), undefined);
    assert.equal(await upload(600_000), 201);
  });

  assert.deepEqual(problems, []);
});
