// Attachments in real Chromium: an agent attaches an image with the file chooser, sees its upload
// progress and the image in the thread; the visitor, in the widget page (as a site's iframe or an
// app's WebView shows it), receives it and the image loads. No CSP violation throughout.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import { pdfBytes, pngBytes } from '../attachments/attachments.fixtures.js';
import { userHash } from '../tenants/identity.js';

const T = 10_000;

test('an agent attaches an image from the device; the visitor receives it and it loads', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, { env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-att-b-')) } });
  // Links name the public URL: here, the test server itself.
  app.config.publicUrl = app.url;
  const { org, embedToken, tenantSecret } = await createOrg(app.services, 'Attach Org');
  const agent = await createAgent(app.services, org.id);
  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];

  // The visitor opens the widget page and writes first.
  const visitorCtx = await browser.newContext({ viewport: { width: 420, height: 800 } });
  contexts.push(visitorCtx);
  const visitor = await visitorCtx.newPage();
  watch(visitor, problems, 'visitor');
  const sessionId = `customer-${randomUUID().slice(0, 8)}`;
  await visitor.goto(
    `${app.url}/chat-widget?embed_token=${encodeURIComponent(embedToken)}` +
      `&session_id=${sessionId}&user_hash=${userHash(tenantSecret, sessionId)}&customer_name=Vera`,
  );
  await visitor.locator('#cw-input').fill('Can you show me where it is?');
  await visitor.locator('#cw-send').click();
  const conv = await eventually(
    async () => (await database.prisma.message.count({ where: { organizationId: org.id } })) === 1,
    T,
  ).then(() => database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } }));

  // The agent opens it in the inbox.
  const a = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(a.context);
  watch(a.page, problems, 'agent');
  await a.page.goto(`${app.url}/inbox`);
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
  await a.page.locator(`.conv[data-id="${conv.id}"]`).click();
  await a.page
    .locator('#message-list .msg', { hasText: 'Can you show me where it is?' })
    .waitFor({ timeout: T });

  // What the progress list shows, as it changes (a small file may be up within one frame).
  await a.page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { __uploads: string[] }).__uploads = seen;
    new MutationObserver((records) => {
      for (const r of records) {
        if (!(r.target instanceof Element ? r.target : r.target.parentElement)?.closest('.attach-progress'))
          continue;
        for (const n of r.addedNodes) seen.push(n.textContent ?? '');
      }
    }).observe(document.body, { subtree: true, childList: true });
  });

  const chooser = a.page.waitForEvent('filechooser');
  await a.page.getByRole('button', { name: 'Attach files' }).click();
  await (await chooser).setFiles({ name: 'where.png', mimeType: 'image/png', buffer: pngBytes(40, 30) });

  // The agent's thread shows the image, decoded.
  const agentImg = a.page.locator('#message-list .msg-agent .msg-media img');
  await agentImg.waitFor({ timeout: T });
  await a.page.waitForFunction(
    () =>
      (document.querySelector('#message-list .msg-agent .msg-media img') as HTMLImageElement | null)
        ?.naturalWidth === 40,
    undefined,
    { timeout: T },
  );
  const seen = await a.page.evaluate(() => (window as unknown as { __uploads: string[] }).__uploads);
  // A bar with the file's name at 0%, then the upload's progress up to 100% (the spec fires the last one).
  assert.ok(
    seen.some((s) => s.trim() === 'where.png — 0%'),
    `progress shown: ${JSON.stringify(seen)}`,
  );
  assert.ok(seen.includes('where.png — 100%'), `completion shown: ${JSON.stringify(seen)}`);
  await a.page.locator('.attach-progress li').waitFor({ state: 'detached', timeout: T });
  assert.equal(await a.page.locator('#composer-error').textContent(), '');

  // Stored as an image message with the canonical link; the attachment is this conversation's.
  const stored = await database.prisma.message.findFirstOrThrow({
    where: { conversationId: conv.id, contentType: 'image' },
  });
  const att = await database.prisma.attachment.findFirstOrThrow({ where: { conversationId: conv.id } });
  assert.equal((stored.richMedia as { url: string }).url, `${app.url}/files/${att.id}/where.png`);
  assert.equal(att.contentType, 'image/png');

  // The visitor receives it live, and the image loads.
  await visitor.locator('img.cw-img').waitFor({ state: 'attached', timeout: T });
  await visitor.waitForFunction(
    () => (document.querySelector('img.cw-img') as HTMLImageElement | null)?.naturalWidth === 40,
    undefined,
    { timeout: T },
  );

  // A document dropped on the thread and a screenshot pasted into the reply go the same way.
  const pdf = pdfBytes().toString('base64');
  const png = pngBytes(24, 12).toString('base64');
  // (No named helpers inside: the test's compiler would wrap them in a helper the page lacks.)
  await a.page.evaluate(
    ({ pdf, png }) => {
      const [drop, paste] = [
        [pdf, 'manual.pdf', 'application/pdf'],
        [png, 'image.png', 'image/png'],
      ].map(([b64, name, type]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([Uint8Array.from(atob(b64!), (c) => c.charCodeAt(0))], name!, { type: type! }));
        return dt;
      });
      document
        .getElementById('messages')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: drop!, bubbles: true, cancelable: true }));
      document
        .getElementById('composer-text')!
        .dispatchEvent(
          new ClipboardEvent('paste', { clipboardData: paste!, bubbles: true, cancelable: true }),
        );
    },
    { pdf, png },
  );
  await a.page
    .locator('#message-list .msg-agent .msg-file a', { hasText: 'manual.pdf' })
    .waitFor({ timeout: T });
  await a.page.waitForFunction(
    () =>
      [...document.querySelectorAll<HTMLImageElement>('#message-list .msg-agent .msg-media img')].some(
        (i) => i.naturalWidth === 24,
      ),
    undefined,
    { timeout: T },
  );
  await visitor.locator('.cw-file', { hasText: 'manual.pdf' }).waitFor({ timeout: T });
  assert.equal(await database.prisma.attachment.count({ where: { conversationId: conv.id } }), 3);

  // A refused file shows why in the composer.
  const chooser2 = a.page.waitForEvent('filechooser');
  await a.page.getByRole('button', { name: 'Attach files' }).click();
  await (
    await chooser2
  ).setFiles({ name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<h1>x</h1>') });
  await a.page.locator('#composer-error', { hasText: /cannot be sent/ }).waitFor({ timeout: T });
  assert.equal(await database.prisma.attachment.count({ where: { conversationId: conv.id } }), 3);

  assert.deepEqual(problems, []);
});
