// Visitor → agent attachments with both sides in real headless Chromium, in separate contexts:
// the visitor attaches an image and a PDF from the device (the widget page, as the embed's iframe
// and an app's WebView show it; then <switchboard-chat> on a site of another origin), and the
// agent, in the inbox, sees the image decoded and the file's link, and opens both: each is a
// download of the very bytes the visitor picked.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { BrowserContext, Download, Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { createTenant } from '../../test/helpers/relay.js';
import { eventually } from '../../test/helpers/sockets.js';
import { userHash } from '../tenants/identity.js';
import { pdfBytes, pngBytes } from './attachments.fixtures.js';

const T = 10_000;
const bundle = path.join(
  import.meta.dirname,
  '..',
  '..',
  'packages',
  'chat-element',
  'dist',
  'switchboard-chat.js',
);

async function appWithFiles() {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, { env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-2side-')) } });
  // Signed links name the public URL: here, this test server.
  app.config.publicUrl = app.url;
  return { app, database };
}

/** The next download in this context, whichever page (the link's new tab) it starts in. */
function nextDownload(context: BrowserContext, page: Page): Promise<Download> {
  return new Promise((resolve) => {
    page.once('download', resolve);
    context.once('page', (p) => p.once('download', resolve));
  });
}

/**
 * In the agent's inbox: the conversation opened, the visitor's image decoded at its width and the
 * PDF listed; opening each (a click, as an agent would) downloads the visitor's bytes.
 */
async function agentSeesAndOpens(
  a: { context: BrowserContext; page: Page },
  app: TestApp,
  conversationId: string,
  sent: { image: Buffer; imageName: string; width: number; pdf: Buffer; pdfName: string },
) {
  const { page } = a;
  await page.locator(`.conv[data-id="${conversationId}"]`).click();
  const img = page.locator('#message-list .msg-end_user .msg-media img');
  await img.waitFor({ timeout: T });
  await page.waitForFunction(
    (width) =>
      [...document.querySelectorAll<HTMLImageElement>('#message-list .msg-media img')].some(
        (i) => i.complete && i.naturalWidth === width,
      ),
    sent.width,
    { timeout: T },
  );
  assert.equal(await img.getAttribute('alt'), sent.imageName);
  const fileLink = page.locator('#message-list .msg-end_user .msg-file a', { hasText: sent.pdfName });
  await fileLink.waitFor({ timeout: T });

  // Opening the image: its link (a new tab) is a download of the same bytes.
  const gotImage = nextDownload(a.context, page);
  await img.click();
  const imageDownload = await gotImage;
  assert.equal(imageDownload.suggestedFilename(), sent.imageName);
  assert.ok(readFileSync((await imageDownload.path())!).equals(sent.image), 'the image opens, byte for byte');
  for (const p of a.context.pages()) if (p !== page) await p.close();

  const gotPdf = nextDownload(a.context, page);
  await fileLink.click();
  const pdfDownload = await gotPdf;
  assert.equal(pdfDownload.suggestedFilename(), sent.pdfName);
  assert.ok(readFileSync((await pdfDownload.path())!).equals(sent.pdf), 'the PDF opens, byte for byte');
  for (const p of a.context.pages()) if (p !== page) await p.close();

  // Both are the visitor's, stored in this conversation.
  const rows = await app.database.prisma.attachment.findMany({ where: { conversationId } });
  assert.deepEqual(rows.map((r) => r.uploaderType).sort(), ['end_user', 'end_user']);
}

test('the widget page: the visitor attaches an image and a PDF; the agent sees both in the inbox and opens them', async (t) => {
  const { app, database } = await appWithFiles();
  const { org, embedToken, tenantSecret } = await createOrg(app.services, 'Two-sided widget');
  const agent = await createAgent(app.services, org.id);
  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];

  // The visitor, in the widget page at a phone's size (the WebView's), writes first.
  const visitorCtx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  contexts.push(visitorCtx);
  const visitor = await visitorCtx.newPage();
  watch(visitor, problems, 'visitor');
  const sessionId = `customer-${randomUUID().slice(0, 8)}`;
  await visitor.goto(
    `${app.url}/chat-widget?embed_token=${encodeURIComponent(embedToken)}` +
      `&session_id=${sessionId}&user_hash=${userHash(tenantSecret, sessionId)}&customer_name=Vera`,
  );
  await visitor.locator('#cw-input').fill('Here is the damage');
  await visitor.locator('#cw-send').click();
  await eventually(
    async () => (await database.prisma.message.count({ where: { organizationId: org.id } })) === 1,
    T,
  );
  const conv = await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } });

  // The agent has the inbox open.
  const a = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(a.context);
  watch(a.page, problems, 'agent');
  await a.page.goto(`${app.url}/inbox`);
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });

  // The visitor picks an image, then a PDF, from the device.
  const image = pngBytes(36, 20, [10, 90, 200]);
  const pdf = pdfBytes();
  for (const f of [
    { name: 'damage.png', mimeType: 'image/png', buffer: image },
    { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: pdf },
  ]) {
    const chooser = visitor.waitForEvent('filechooser');
    await visitor.getByRole('button', { name: 'Attach a file' }).click();
    await (await chooser).setFiles(f);
  }
  await visitor.locator('.cw-msg--me img[alt="damage.png"]').waitFor({ timeout: T });
  await visitor.locator('.cw-file', { hasText: 'invoice.pdf' }).waitFor({ timeout: T });

  await agentSeesAndOpens(a, app, conv.id, {
    image,
    imageName: 'damage.png',
    width: 36,
    pdf,
    pdfName: 'invoice.pdf',
  });
  assert.deepEqual(problems, []);
});

function startHost(files: Record<string, { type: string; body: string }>, csp: string): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type, 'content-security-policy': csp }).end(f.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('<switchboard-chat>: the visitor attaches an image and a PDF; the agent sees both in the inbox and opens them', async (t) => {
  const { app, database } = await appWithFiles();
  const ws = app.url.replace(/^http/, 'ws');
  const files: Record<string, { type: string; body: string }> = {
    '/switchboard-chat.js': { type: 'text/javascript', body: readFileSync(bundle, 'utf8') },
  };
  const host = await startHost(
    files,
    `default-src 'none'; script-src 'self'; style-src 'self'; connect-src ${app.url} ${ws}; img-src ${app.url}`,
  );
  const { browser, contexts } = await browserFor(t, async () => {
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const tn = await createTenant(app.services, { origins: [hostUrl] });
  files['/'] = {
    type: 'text/html',
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="/switchboard-chat.js" defer></script></head><body>
<switchboard-chat tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}" locale="en" mode="panel"></switchboard-chat>
</body></html>`,
  };
  const agent = await createAgent(app.services, tn.id);
  const problems: string[] = [];

  const a = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(a.context);
  watch(a.page, problems, 'agent');
  await a.page.goto(`${app.url}/inbox`);
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });

  const visitorCtx = await browser.newContext();
  contexts.push(visitorCtx);
  const v = await visitorCtx.newPage();
  watch(v, problems, 'visitor');
  await v.goto(hostUrl);
  await v.waitForFunction(
    () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
    undefined,
    { timeout: T },
  );
  await v.getByRole('textbox', { name: 'Message' }).fill('Photo of the parcel coming');
  await v.keyboard.press('Enter');
  await eventually(
    async () => (await database.prisma.message.count({ where: { organizationId: tn.id } })) === 1,
    T,
  );
  const conv = await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: tn.id } });

  const image = pngBytes(44, 18, [200, 120, 0]);
  const pdf = pdfBytes();
  for (const f of [
    { name: 'parcel.png', mimeType: 'image/png', buffer: image },
    { name: 'receipt.pdf', mimeType: 'application/pdf', buffer: pdf },
  ]) {
    const chooser = v.waitForEvent('filechooser');
    await v.getByRole('button', { name: 'Attach a file' }).click();
    await (await chooser).setFiles(f);
  }
  await eventually(
    async () => (await database.prisma.message.count({ where: { conversationId: conv.id } })) === 3,
    T,
  );

  await agentSeesAndOpens(a, app, conv.id, {
    image,
    imageName: 'parcel.png',
    width: 44,
    pdf,
    pdfName: 'receipt.pdf',
  });
  assert.deepEqual(problems, []);
});
