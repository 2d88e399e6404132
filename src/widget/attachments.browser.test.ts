// Attachments in the embed widget (the iframe page, also the mobile WebView's), in real headless
// Chromium under the page's own strict CSP: the visitor attaches an image with the file chooser,
// sees the progress and the image; the agent's Socket.IO client receives it and its signed link
// downloads the same bytes; the agent's image loads in the widget and their file is a download
// link; a dropped file and a pasted image are sent; a refused file shows the error, sends nothing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { pdfBytes, pngBytes } from '../attachments/attachments.fixtures.js';
import { browserFor, watch } from '../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { connectSocket, emitAck, eventually, nextEvent, record } from '../../test/helpers/sockets.js';
import { rootDir } from '../shared/paths.js';

const T = 10_000;
const artifacts = path.join(rootDir, 'test', 'artifacts');
const MAX_BYTES = 64 * 1024;

type Received = {
  conversation_id: string;
  sender_type: string;
  content: string;
  content_type: string;
  rich_media: { url?: string; alt?: string } | null;
};

function startHost(appUrl: string, token: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>
<h1>Shop</h1><script src="${appUrl}/chat-widget/embed.js" data-embed-token="${token()}"></script></body></html>`,
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function widgetFrame(page: Page): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))), T);
  await frame!.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
  await page.evaluate(() =>
    (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
  );
  await frame!.locator('#cw-input').waitFor({ state: 'visible', timeout: T });
  return frame!;
}

/** Whether the widget shows this image, decoded (`naturalWidth`). */
const loaded = (frame: Frame, selector: string, width: number) =>
  frame.waitForFunction(
    ({ selector, width }) => {
      const i = document.querySelector<HTMLImageElement>(selector);
      return !!i && i.complete && i.naturalWidth === width;
    },
    { selector, width },
    { timeout: T },
  );

/** A file dropped on the chat, or an image pasted into the message field. */
function dropFile(frame: Frame, how: 'drop' | 'paste', name: string, bytes: number[]) {
  return frame.evaluate(
    ({ how, name, bytes }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
      const init = { dataTransfer: dt, clipboardData: dt, bubbles: true, cancelable: true };
      if (how === 'paste')
        document.getElementById('cw-input')!.dispatchEvent(new ClipboardEvent('paste', init));
      else {
        const zone = document.querySelector('.cw-log')!;
        zone.dispatchEvent(new DragEvent('dragover', init));
        zone.dispatchEvent(new DragEvent('drop', init));
      }
    },
    { how, name, bytes },
  );
}

test('embed widget attachments: attach, progress, the image both ways, drop and paste, refusals', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, {
    env: {
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-widget-att-')),
      ATTACHMENT_MAX_BYTES: String(MAX_BYTES),
    },
  });
  // Signed links name the public URL: here, this test server.
  app.config.publicUrl = app.url;
  const { org } = await createOrg(app.services);
  const { user, password } = await createAgent(app.services, org.id, { role: 'admin' });
  const session = await loginAgent(app.url, user.email, password);
  const agent = await connectSocket(app.url, { cookie: session.cookie });
  let token = '';
  const host = await startHost(app.url, () => token);
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  token = (
    await app.services.channels.createEmbedToken({
      organizationId: org.id,
      name: 'Web chat',
      allowedOrigins: [hostUrl],
    })
  ).token;

  const { browser, contexts } = await browserFor(t, async () => {
    agent.close();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  watch(page, problems, 'widget');

  await page.goto(`${hostUrl}/`);
  const frame = await widgetFrame(page);
  const conversationId = (
    await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } })
  ).id;
  assert.equal((await emitAck(agent, 'join_conversation', { conversation_id: conversationId })).ok, true);
  const received = record<Received>(agent, 'message_received');
  const attach = frame.getByRole('button', { name: 'Attach a file' });

  await t.test(
    'the file chooser: progress while it uploads, the image in the thread, the same bytes at the agent',
    async () => {
      const png = pngBytes(40, 30, [20, 160, 60]);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await context.route('**/api/widget/attachments?*', async (route) => {
        await held;
        await route.continue();
      });
      const got = nextEvent<Received>(agent, 'message_received', (m) => m.content_type === 'image');
      const chooser = page.waitForEvent('filechooser');
      await attach.click();
      await (await chooser).setFiles({ name: 'parcel.png', mimeType: 'image/png', buffer: png });

      const progress = frame.getByRole('progressbar', { name: 'Uploading parcel.png' });
      await progress.waitFor({ state: 'visible', timeout: T });
      assert.match((await progress.getAttribute('aria-valuenow'))!, /^\d{1,3}$/);
      release();
      await progress.waitFor({ state: 'hidden', timeout: T });
      await context.unrouteAll();

      const m = await got;
      assert.equal(m.conversation_id, conversationId);
      assert.equal(m.sender_type, 'end_user');
      assert.equal(m.rich_media?.alt, 'parcel.png');
      assert.match(m.rich_media!.url!, /\/files\/[0-9a-f-]{36}\/parcel\.png\?exp=\d+&sig=/);
      const res = await fetch(m.rich_media!.url!);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(png));

      // The visitor's stored message replaces the "Sending…" row: the image, loaded.
      await frame.getByRole('img', { name: 'parcel.png' }).waitFor({ timeout: T });
      await loaded(frame, '.cw-msg--me img[alt="parcel.png"]', 40);
      assert.equal(await frame.locator('.cw-msg--pending').count(), 0);
    },
  );

  await t.test(
    "the agent's image loads in the widget (naturalWidth > 0) and their file is a download link",
    async () => {
      const upload = async (bytes: Buffer, filename: string) => {
        const res = await fetch(`${app.url}/api/conversations/${conversationId}/attachments`, {
          method: 'POST',
          headers: {
            cookie: session.cookie,
            'x-csrftoken': session.csrf,
            'x-filename': encodeURIComponent(filename),
            'content-type': 'application/octet-stream',
          },
          body: new Uint8Array(bytes),
        });
        assert.equal(res.status, 201);
        return (await res.json()) as { url: string; size: number };
      };
      const says = async (m: Record<string, unknown>) => {
        const ack = await emitAck(agent, 'send_message', {
          conversation_id: conversationId,
          sender_type: 'agent',
          ...m,
        });
        assert.equal(ack.ok, true, JSON.stringify(ack));
      };
      const image = await upload(pngBytes(24, 12, [0, 0, 200]), 'label.png');
      await says({
        content: '',
        content_type: 'image',
        rich_media: { url: image.url, alt: 'Shipping label' },
      });
      const pdf = await upload(pdfBytes(), 'invoice.pdf');
      await says({
        content: 'invoice.pdf',
        content_type: 'file',
        rich_media: { url: pdf.url, filename: 'invoice.pdf', size: pdf.size },
      });

      await frame.getByRole('img', { name: 'Shipping label' }).waitFor({ timeout: T });
      await loaded(frame, '.cw-msg--them img[alt="Shipping label"]', 24);
      const link = frame.getByRole('link', { name: /^Download invoice\.pdf/ });
      await link.waitFor({ timeout: T });
      const res = await fetch((await link.getAttribute('href'))!);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(pdfBytes()));
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, 'widget-attachments.png') });
    },
  );

  await t.test('a file dropped on the chat and an image pasted into the field are sent', async () => {
    const dropped = nextEvent<Received>(agent, 'message_received', (m) => m.content === 'dropped.png');
    await dropFile(frame, 'drop', 'dropped.png', [...pngBytes(5, 5)]);
    assert.equal((await dropped).content_type, 'image');
    const pasted = nextEvent<Received>(agent, 'message_received', (m) => m.content === 'pasted.png');
    await dropFile(frame, 'paste', 'pasted.png', [...pngBytes(6, 6)]);
    assert.equal((await pasted).content_type, 'image');
    await loaded(frame, '.cw-msg--me img[alt="pasted.png"]', 6);
  });

  await t.test('too large, or a type the server refuses: the error shows and nothing is sent', async () => {
    const before = received.length;
    const alert = frame.getByRole('alert');

    let chooser = page.waitForEvent('filechooser');
    await attach.click();
    await (
      await chooser
    ).setFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(MAX_BYTES + 1) });
    await alert.filter({ hasText: 'This file is too large to send.' }).waitFor({ timeout: T });

    chooser = page.waitForEvent('filechooser');
    await attach.click();
    await (
      await chooser
    ).setFiles({
      name: 'cat.png',
      mimeType: 'image/png',
      buffer: Buffer.from('<!doctype html><script>alert(1)</script>'),
    });
    await alert.filter({ hasText: 'This type of file cannot be sent.' }).waitFor({ timeout: T });

    // A text sent after them is the next message the agent gets: the refused files never went.
    const next = nextEvent<Received>(agent, 'message_received', (m) => m.content === 'after the refusals');
    await frame.getByRole('textbox', { name: 'Your message' }).fill('after the refusals');
    await frame.getByRole('textbox', { name: 'Your message' }).press('Enter');
    await next;
    assert.deepEqual(
      received.slice(before).map((m) => m.content),
      ['after the refusals'],
    );
    assert.equal(await frame.locator('.cw-msg', { hasText: /huge\.png|cat\.png/ }).count(), 0);
    assert.deepEqual(problems, []);
  });
});
