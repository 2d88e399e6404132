// Attachments through the client core against the real server: a visitor uploads a file
// (`ChatClient.uploadAttachment`, Node's fetch) and sends it (`WSClient.sendAttachment`); the
// agent receives an image or file message whose signed link downloads the same bytes; refusals
// are typed errors. It uses the package as built (dist), as a tenant would install it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { ChatApiError, ChatClient, WSClient, type AckFrame, type Attachment } from '@switchboard/client-core';
import { pdfBytes, pngBytes } from '../../../src/attachments/attachments.fixtures.js';
import { loginAgent, startApp, type TestApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant, SHOP } from '../../../test/helpers/relay.js';
import { connectSocket, emitAck, eventually, nextEvent } from '../../../test/helpers/sockets.js';

const MAX_BYTES = 64 * 1024;

type Received = {
  conversation_id: string;
  content: string;
  content_type: string;
  rich_media: { url: string; alt?: string; filename?: string; size?: number; mime_type?: string };
};

describe('attachments through the client core', () => {
  let t: TestApp;
  const sockets: Socket[] = [];
  const clients: WSClient[] = [];

  before(async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-core-att-'));
    t = await startApp(await dbModes[0]!.open(), {
      env: { DATA_DIR: dataDir, ATTACHMENT_MAX_BYTES: String(MAX_BYTES) },
    });
    // Signed links name the public URL: here, this test server.
    t.config.publicUrl = t.url;
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const s of sockets) s.disconnect();
    await t.stop();
    await t.database.close();
  });

  /** A visitor connected over the WebSocket, and an agent who has claimed their conversation. */
  async function conversation() {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const sess = await client.createVisitorSession({ locale: 'en' });
    const acks: AckFrame[] = [];
    const errors: { code: string }[] = [];
    const ws = new WSClient(
      { baseUrl: t.url, visitorToken: sess.visitor_token, WebSocket },
      { onAck: (a) => acks.push(a), onError: (e) => errors.push(e) },
    );
    clients.push(ws);
    ws.connect();
    await eventually(() => ws.state === 'open');

    const a = await createAgent(t.services, tn.id);
    const { cookie } = await loginAgent(t.url, a.user.email, a.password);
    const agent = await connectSocket(t.url, { cookie });
    sockets.push(agent);
    assert.equal((await emitAck(agent, 'join_queue')).ok, true);
    const queued = nextEvent(agent, 'conversation_updated');
    ws.sendMessage('I have a photo of the damage');
    await queued;
    assert.equal(
      (await emitAck(agent, 'claim_conversation', { conversation_id: sess.conversation_id })).ok,
      true,
    );
    return { client, sess, ws, agent, acks, errors };
  }

  test('an image: uploaded, sent, received by the agent, and its signed link downloads the same bytes', async () => {
    const { client, sess, ws, agent, acks } = await conversation();
    const png = pngBytes(8, 6);
    const progress: [number, number][] = [];
    const a: Attachment = await client.uploadAttachment(sess.visitor_token, new Uint8Array(png), {
      filename: 'damage photo é.png',
      onProgress: (loaded, total) => progress.push([loaded, total]),
    });
    assert.equal(a.kind, 'image');
    assert.equal(a.filename, 'damage photo é.png');
    assert.equal(a.content_type, 'image/png');
    assert.equal(a.size, png.length);
    assert.match(a.url, /^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f-]{36}\//);
    assert.deepEqual(progress, [[png.length, png.length]], 'Node reports the whole upload once');

    const received = nextEvent<Received>(agent, 'message_received');
    const id = ws.sendAttachment(a, { alt: 'The dent on the box' });
    const m = await received;
    assert.equal(m.conversation_id, sess.conversation_id);
    assert.equal(m.content_type, 'image');
    assert.equal(m.content, 'The dent on the box');
    assert.equal(m.rich_media.alt, 'The dent on the box');
    assert.match(m.rich_media.url, /\?exp=\d+&sig=/);
    await eventually(() => acks.some((f) => f.client_msg_id === id));

    const res = await fetch(m.rich_media.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(png));
    // The upload's own link is not signed: only what the server sends out is.
    assert.equal((await fetch(a.url)).status, 403);
  });

  test('a PDF from a Blob: a file message with its name, size and type', async () => {
    const { client, sess, ws, agent } = await conversation();
    const pdf = pdfBytes();
    const blob = new Blob([new Uint8Array(pdf)], { type: 'application/pdf' });
    const a = await client.uploadAttachment(sess.visitor_token, blob, { filename: 'invoice.pdf' });
    assert.equal(a.kind, 'file');
    assert.equal(a.content_type, 'application/pdf');

    const received = nextEvent<Received>(agent, 'message_received');
    ws.sendAttachment(a);
    const m = await received;
    assert.equal(m.content_type, 'file');
    assert.equal(m.content, 'invoice.pdf');
    assert.equal(m.rich_media.filename, 'invoice.pdf');
    assert.equal(m.rich_media.size, pdf.length);
    assert.equal(m.rich_media.mime_type, 'application/pdf');
    const res = await fetch(m.rich_media.url);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(pdf));
  });

  test('refusals are ChatApiErrors: too large (413), a type the bytes do not prove (415), a bad token (401)', async () => {
    const { client, sess } = await conversation();
    const refused = (p: Promise<unknown>) =>
      p.then(
        () => assert.fail('the upload was accepted'),
        (e: unknown) => {
          assert.ok(e instanceof ChatApiError, String(e));
          return e;
        },
      );

    const big = await refused(
      client.uploadAttachment(sess.visitor_token, new Uint8Array(MAX_BYTES + 1), { filename: 'big.png' }),
    );
    assert.equal(big.status_code, 413);
    assert.equal(big.code, 'attachment/too_large');

    const html = new TextEncoder().encode('<!doctype html><script>alert(1)</script>');
    const spoofed = await refused(client.uploadAttachment(sess.visitor_token, html, { filename: 'cat.png' }));
    assert.equal(spoofed.status_code, 415);
    assert.equal(spoofed.code, 'attachment/type');

    const noToken = await refused(
      client.uploadAttachment('not-a-token', new Uint8Array(pngBytes()), { filename: 'a.png' }),
    );
    assert.equal(noToken.status_code, 401);
    assert.match(noToken.code, /^token\//);
  });
});
