// Attachments in <switchboard-chat>, in real headless Chromium on a host page of another origin
// with a strict CSP, against the real server: the visitor attaches an image with the file
// chooser, sees the upload's progress and the image; the agent's Socket.IO client receives it
// and its signed link downloads the same bytes; an image and a file from the agent show in the
// thread; drag and drop and a pasted image send too; a file too large or of a refused type shows
// the error and sends nothing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { pdfBytes, pngBytes } from '../../../src/attachments/attachments.fixtures.js';
import { browserFor, watch } from '../../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant } from '../../../test/helpers/relay.js';
import { connectSocket, emitAck, nextEvent, record } from '../../../test/helpers/sockets.js';

const T = 10_000;
const MAX_BYTES = 64 * 1024;
const bundle = path.join(import.meta.dirname, '..', 'dist', 'switchboard-chat.js');
const artifacts = path.join(import.meta.dirname, '..', '..', '..', 'test', 'artifacts');

type Received = {
  conversation_id: string;
  sender_type: string;
  content: string;
  content_type: string;
  rich_media: { url?: string; alt?: string; filename?: string } | null;
};

function startHost(files: Record<string, { type: string; body: string }>, csp: string): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type, 'content-security-policy': csp }).end(f.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Drops (or pastes) a file built in the page, as a user's drag from the desktop would. */
function dropFile(p: Page, how: 'drop' | 'paste', name: string, bytes: number[]) {
  return p.evaluate(
    ({ how, name, bytes }) => {
      const root = document.querySelector('switchboard-chat')!.shadowRoot!;
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
      if (how === 'paste') {
        root
          .querySelector('#input')!
          .dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      } else {
        const panel = root.querySelector('.panel')!;
        panel.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        panel.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    },
    { how, name, bytes },
  );
}

test('<switchboard-chat> attachments: attach, progress, the image both ways, drop and paste, refusals', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, {
    env: {
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-el-att-')),
      ATTACHMENT_MAX_BYTES: String(MAX_BYTES),
    },
  });
  // Signed links name the public URL: here, this test server.
  app.config.publicUrl = app.url;
  const ws = app.url.replace(/^http/, 'ws');
  const files: Record<string, { type: string; body: string }> = {
    '/switchboard-chat.js': { type: 'text/javascript', body: readFileSync(bundle, 'utf8') },
  };
  // Strict: the chat server's connections and images only (the visitor's own file too: its signed link).
  const host = await startHost(
    files,
    `default-src 'none'; script-src 'self'; style-src 'self'; connect-src ${app.url} ${ws}; img-src ${app.url}`,
  );
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const tn = await createTenant(app.services, { origins: [hostUrl] });
  files['/'] = {
    type: 'text/html',
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="/switchboard-chat.js" defer></script></head><body>
<switchboard-chat tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}" locale="en" mode="panel"></switchboard-chat>
</body></html>`,
  };

  const agentUser = await createAgent(app.services, tn.id);
  const session = await loginAgent(app.url, agentUser.user.email, agentUser.password);
  const agent = await connectSocket(app.url, { cookie: session.cookie });
  assert.equal((await emitAck(agent, 'join_queue')).ok, true);

  const { browser, contexts } = await browserFor(t, async () => {
    agent.disconnect();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const context = await browser.newContext();
  contexts.push(context);
  const p = await context.newPage();
  const problems: string[] = [];
  watch(p, problems, 'visitor');

  await p.goto(hostUrl);
  await p.waitForFunction(
    () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
    null,
    {
      timeout: T,
    },
  );
  const queued = nextEvent(agent, 'conversation_updated');
  await p.getByRole('textbox', { name: 'Message' }).fill('Hello, I have a photo');
  await p.keyboard.press('Enter');
  const conversationId = (await queued).conversation_id as string;
  assert.equal((await emitAck(agent, 'claim_conversation', { conversation_id: conversationId })).ok, true);
  const received = record<Received>(agent, 'message_received');

  await t.test(
    'the file chooser: progress while it uploads, the image in the thread, the same bytes at the agent',
    async () => {
      const png = pngBytes(40, 30, [20, 160, 60]);
      // The upload is held until the progress bar has been seen.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await p.route(`${app.url}/api/v1/attachments`, async (route) => {
        if (route.request().method() === 'POST') await held;
        await route.continue();
      });
      const got = nextEvent<Received>(agent, 'message_received', (m) => m.content_type === 'image');
      const chooser = p.waitForEvent('filechooser');
      await p.getByRole('button', { name: 'Attach a file' }).click();
      await (await chooser).setFiles({ name: 'parcel.png', mimeType: 'image/png', buffer: png });

      const progress = p.getByRole('progressbar', { name: 'Uploading parcel.png' });
      await progress.waitFor({ state: 'visible', timeout: T });
      assert.match((await progress.getAttribute('aria-valuenow'))!, /^\d{1,3}$/);
      release();
      await progress.waitFor({ state: 'hidden', timeout: T });
      await p.unroute(`${app.url}/api/v1/attachments`);

      const img = p.locator('switchboard-chat .msg.visitor img[alt="parcel.png"]');
      await img.waitFor({ timeout: T });
      await p.waitForFunction(
        () => {
          const i = document
            .querySelector('switchboard-chat')!
            .shadowRoot!.querySelector<HTMLImageElement>('.msg.visitor img');
          return !!i && i.complete && i.naturalWidth === 40;
        },
        null,
        { timeout: T },
      );
      await p.locator('switchboard-chat .msg.visitor:not(.pending) img').waitFor({ timeout: T });

      const m = await got;
      assert.equal(m.conversation_id, conversationId);
      assert.equal(m.sender_type, 'end_user');
      assert.equal(m.rich_media?.alt, 'parcel.png');
      assert.match(m.rich_media!.url!, /\/files\/[0-9a-f-]{36}\/parcel\.png\?exp=\d+&sig=/);
      const res = await fetch(m.rich_media!.url!);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(png));
    },
  );

  await t.test(
    "the agent's image and file show in the thread: an <img> that loads and a download link",
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
      const image = await upload(pngBytes(24, 12, [0, 0, 200]), 'label.png');
      assert.equal(
        (
          await emitAck(agent, 'send_message', {
            conversation_id: conversationId,
            content: 'Here is the label',
            content_type: 'image',
            rich_media: { url: image.url, alt: 'Shipping label' },
            sender_type: 'agent',
          })
        ).ok,
        true,
      );
      const pdf = await upload(pdfBytes(), 'invoice.pdf');
      assert.equal(
        (
          await emitAck(agent, 'send_message', {
            conversation_id: conversationId,
            content: 'invoice.pdf',
            content_type: 'file',
            rich_media: { url: pdf.url, filename: 'invoice.pdf', size: pdf.size },
            sender_type: 'agent',
          })
        ).ok,
        true,
      );

      await p.getByRole('img', { name: 'Shipping label' }).waitFor({ timeout: T });
      await p.waitForFunction(
        () => {
          const i = document
            .querySelector('switchboard-chat')!
            .shadowRoot!.querySelector<HTMLImageElement>('.msg.agent img[alt="Shipping label"]');
          return !!i && i.complete && i.naturalWidth === 24;
        },
        null,
        { timeout: T },
      );
      const link = p.getByRole('link', { name: /^Download invoice\.pdf/ });
      await link.waitFor({ timeout: T });
      const href = (await link.getAttribute('href'))!;
      assert.match(href, /\?exp=\d+&sig=/);
      const res = await fetch(href);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(pdfBytes()));
      mkdirSync(artifacts, { recursive: true });
      await p.screenshot({ path: path.join(artifacts, 'chat-element-attachments.png') });
    },
  );

  await t.test('a file dropped on the panel and an image pasted into the field are sent', async () => {
    const dropped = nextEvent<Received>(agent, 'message_received', (m) => m.content === 'dropped.png');
    await dropFile(p, 'drop', 'dropped.png', [...pngBytes(5, 5)]);
    assert.equal((await dropped).content_type, 'image');
    const pasted = nextEvent<Received>(agent, 'message_received', (m) => m.content === 'pasted.png');
    await dropFile(p, 'paste', 'pasted.png', [...pngBytes(6, 6)]);
    assert.equal((await pasted).content_type, 'image');
    await p.locator('switchboard-chat .msg.visitor img[alt="pasted.png"]').waitFor({ timeout: T });
  });

  await t.test('too large, or a type the server refuses: the error shows and nothing is sent', async () => {
    const before = received.length;
    const alert = p.getByRole('alert');

    let chooser = p.waitForEvent('filechooser');
    await p.getByRole('button', { name: 'Attach a file' }).click();
    await (
      await chooser
    ).setFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(MAX_BYTES + 1) });
    await alert.filter({ hasText: 'This file is too large to send.' }).waitFor({ timeout: T });

    chooser = p.waitForEvent('filechooser');
    await p.getByRole('button', { name: 'Attach a file' }).click();
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
    await p.getByRole('textbox', { name: 'Message' }).fill('after the refusals');
    await p.keyboard.press('Enter');
    await next;
    assert.deepEqual(
      received.slice(before).map((m) => m.content),
      ['after the refusals'],
    );
    assert.equal(
      await p.locator('switchboard-chat img[alt="huge.png"], switchboard-chat img[alt="cat.png"]').count(),
      0,
    );
    assert.deepEqual(problems, []);
  });
});
