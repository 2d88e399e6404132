import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { createTenant, createVisitorSession, SHOP, signedCall } from '../../test/helpers/relay.js';
import { connectWs, widgetWsUrl } from '../../test/helpers/ws.js';
import { signRequest } from '../relay/hmac.js';
import { AppError } from '../shared/errors.js';
import { msgFrame } from '../relay/ws/ws.frames.js';
import { pdfBytes, pngBytes } from './attachments.fixtures.js';

type Uploaded = {
  id: string;
  url: string;
  filename: string;
  content_type: string;
  size: number;
  kind: string;
};

const filesIn = (dir: string): string[] => {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => d.name);
  } catch {
    return [];
  }
};

/** A signed link's path and query, on the test server (the stored URL names PUBLIC_URL). */
const onServer = (t: TestApp, url: string) => {
  const u = new URL(url);
  return `${t.url}${u.pathname}${u.search}`;
};

async function post(url: string, bytes: Buffer, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', headers, body: new Uint8Array(bytes) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** An organization with an agent signed in and a visitor's conversation. */
async function setup(t: TestApp, opts: { routingKeys?: string[]; routingKey?: string } = {}) {
  const { org, channelId } = await createOrg(t.services);
  const agent = await createAgent(t.services, org.id, { routingKeys: opts.routingKeys ?? [] });
  const session = await loginAgent(t.url, agent.user.email, agent.password);
  const conv = await createConversation(t.services, {
    organizationId: org.id,
    channelId,
    ...(opts.routingKey ? { routingKey: opts.routingKey } : {}),
  });
  const agentUpload = (conversationId: string, bytes: Buffer, filename: string, extra = {}) =>
    post(`${t.url}/api/conversations/${conversationId}/attachments`, bytes, {
      cookie: session.cookie,
      'x-csrftoken': session.csrf,
      'x-filename': encodeURIComponent(filename),
      'content-type': 'application/octet-stream',
      ...extra,
    });
  return { org, channelId, agent, session, conv, agentUpload };
}

/** The agent's history of the conversation, as the inbox reads it. */
async function history(t: TestApp, s: { cookie: string }, conversationId: string) {
  const res = await fetch(`${t.url}/api/conversations/${conversationId}/messages`, {
    headers: { cookie: s.cookie },
  });
  assert.equal(res.status, 200);
  return (await res.json()) as { content_type: string; rich_media: { url: string } | null }[];
}

for (const mode of dbModes) {
  describe(`attachments (${mode.name})`, () => {
    let t: TestApp;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sb-att-'));
    const stored = () => filesIn(path.join(dataDir, 'attachments'));

    before(async () => {
      t = await startApp(await mode.open(), { env: { DATA_DIR: dataDir } });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    test('an agent uploads an image, sends it, and the history carries a signed link that downloads it (as an attachment)', async () => {
      const { session, conv, agent, agentUpload } = await setup(t);
      const png = pngBytes();
      // The browser's type is only a hint: a PNG claimed as text is still a PNG.
      const up = await agentUpload(conv.conversation.id, png, 'Screen shot ü.png', {
        'content-type': 'text/plain',
      });
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const a = up.body as Uploaded;
      assert.equal(a.kind, 'image');
      assert.equal(a.content_type, 'image/png');
      assert.equal(a.size, png.length);
      assert.equal(a.filename, 'Screen shot ü.png');
      assert.equal(a.url, `${t.config.publicUrl}/files/${a.id}/${encodeURIComponent('Screen shot ü.png')}`);

      // The canonical URL alone downloads nothing.
      const bare = await fetch(onServer(t, a.url));
      assert.equal(bare.status, 403);
      assert.equal(((await bare.json()) as { error: string }).error, 'attachment/signature');
      // The upload's own signed link shows the uploader their file at once.
      const preview = await fetch(onServer(t, (up.body as { preview_url: string }).preview_url));
      assert.equal(preview.status, 200);
      assert.deepEqual(Buffer.from(await preview.arrayBuffer()), png);

      await t.services.messages.send(
        agent.actor,
        message({
          conversation_id: conv.conversation.id,
          sender_type: 'agent',
          content_type: 'image',
          rich_media: { url: a.url, alt: a.filename },
        }),
      );
      const [m] = await history(t, session, conv.conversation.id);
      assert.equal(m!.content_type, 'image');
      const signed = m!.rich_media!.url;
      assert.match(signed, /\?exp=\d+&sig=[\w-]+$/);
      const res = await fetch(onServer(t, signed));
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(png));
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; sandbox");
      assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
      assert.match(
        res.headers.get('content-disposition')!,
        /^attachment; .*filename\*=UTF-8''Screen%20shot%20%C3%BC\.png/,
      );

      // The end user's widget history and the relay frame sign it too.
      const widget = await fetch(
        `${t.url}/chat-widget/history/${conv.conversation.id}?external_id=${encodeURIComponent(conv.externalId)}`,
      );
      const [wm] = (await widget.json()) as { rich_media: { url: string } }[];
      assert.equal((await fetch(onServer(t, wm!.rich_media.url))).status, 200);
      const stored = await t.database.prisma.message.findFirstOrThrow({
        where: { conversationId: conv.conversation.id },
      });
      assert.equal((stored.richMedia as { url: string }).url, a.url, 'the stored URL is the canonical one');
      assert.match(msgFrame(stored).rich_media!.url as string, /\?exp=\d+&sig=/);

      // A carousel card's picture from the same conversation is signed the same way.
      await t.services.messages.send(
        agent.actor,
        message({
          conversation_id: conv.conversation.id,
          sender_type: 'agent',
          content_type: 'carousel',
          rich_media: {
            cards: [{ title: 'Mug', image_url: a.url, buttons: [{ label: 'Buy', value: 'buy' }] }],
          },
        }),
      );
      const carousel = (await history(t, session, conv.conversation.id)).find(
        (x) => x.content_type === 'carousel',
      );
      const card = (carousel!.rich_media as unknown as { cards: { image_url: string }[] }).cards[0]!;
      assert.match(card.image_url, /\?exp=\d+&sig=/);
      assert.equal((await fetch(onServer(t, card.image_url))).status, 200);
    });

    test('documents download as attachments of type application/octet-stream; CSV is accepted as text', async () => {
      const { conv, agentUpload } = await setup(t);
      const pdf = await agentUpload(conv.conversation.id, pdfBytes(), 'invoice.pdf');
      assert.equal(pdf.status, 201);
      assert.equal((pdf.body as Uploaded).kind, 'file');
      assert.equal((pdf.body as Uploaded).content_type, 'application/pdf');
      const csv = await agentUpload(conv.conversation.id, Buffer.from('a,b\n1,2\n'), 'report.csv', {
        'content-type': 'application/json',
      });
      assert.equal(csv.status, 201, JSON.stringify(csv.body));
      assert.equal((csv.body as Uploaded).content_type, 'text/csv');

      const { signUrl } = await import('./urls.js');
      const res = await fetch(onServer(t, signUrl((pdf.body as Uploaded).url)));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      assert.match(res.headers.get('content-disposition')!, /^attachment; filename="invoice.pdf"/);
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; sandbox");
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(pdfBytes()));
    });

    test('a spoofed type (HTML or SVG named .png, an executable) is refused with 415 and nothing is kept', async () => {
      const { conv, agentUpload } = await setup(t);
      const before = stored().length;
      const cases: [string, Buffer][] = [
        ['cat.png', Buffer.from('<!doctype html><script>alert(1)</script>')],
        ['logo.png', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')],
        ['page.html', Buffer.from('<html><body>hi</body></html>')],
        ['notes.txt', Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00])],
      ];
      for (const [name, bytes] of cases) {
        const r = await agentUpload(conv.conversation.id, bytes, name, { 'content-type': 'image/png' });
        assert.equal(r.status, 415, name);
        assert.equal(r.body.error, 'attachment/type', name);
      }
      assert.equal(stored().length, before);
      assert.equal(
        await t.database.prisma.attachment.count({ where: { conversationId: conv.conversation.id } }),
        0,
      );
    });

    test("over the tenant's limit: 413 before or while streaming, nothing stored", async () => {
      const { org, conv, session, agentUpload } = await setup(t);
      await t.database.prisma.organization.update({
        where: { id: org.id },
        data: { config: { attachment_max_bytes: 2048 } },
      });
      const before = stored().length;
      const big = Buffer.concat([pngBytes(), Buffer.alloc(4096)]);
      const declared = await agentUpload(conv.conversation.id, big, 'big.png');
      assert.equal(declared.status, 413);
      assert.equal(declared.body.error, 'attachment/too_large');
      assert.equal(declared.body.max_bytes, 2048);
      // Streamed without a length: refused once the limit is passed.
      const res = await fetch(`${t.url}/api/conversations/${conv.conversation.id}/attachments`, {
        method: 'POST',
        headers: { cookie: session.cookie, 'x-csrftoken': session.csrf, 'x-filename': 'big.png' },
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 8; i++) c.enqueue(new Uint8Array(1024));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(res.status, 413);
      assert.equal(stored().length, before);
      assert.equal(
        await t.database.prisma.attachment.count({ where: { conversationId: conv.conversation.id } }),
        0,
      );
      // Under the limit it goes through.
      assert.equal((await agentUpload(conv.conversation.id, pngBytes(), 'small.png')).status, 201);
      assert.equal(stored().length, before + 1, 'its bytes are in DATA_DIR/attachments');
    });

    test('access: no session, no CSRF, another queue or tenant; the answer names nothing', async () => {
      const a = await setup(t, { routingKeys: ['store-1'] });
      const other = await createConversation(t.services, {
        organizationId: a.org.id,
        channelId: a.channelId,
        routingKey: 'store-2',
      });
      const b = await setup(t);
      const png = pngBytes();
      assert.equal((await a.agentUpload(other.conversation.id, png, 'x.png')).status, 404);
      assert.equal((await a.agentUpload(b.conv.conversation.id, png, 'x.png')).status, 404);
      const noCsrf = await post(`${t.url}/api/conversations/${b.conv.conversation.id}/attachments`, png, {
        cookie: b.session.cookie,
      });
      assert.equal(noCsrf.status, 403);
      const anon = await post(`${t.url}/api/conversations/${b.conv.conversation.id}/attachments`, png, {});
      assert.equal(anon.status, 401);
      assert.equal(
        await t.database.prisma.attachment.count({ where: { organizationId: { in: [a.org.id, b.org.id] } } }),
        0,
      );
    });

    test("another conversation's attachment: no download without a valid signature, and its URL cannot be re-sent", async () => {
      const victim = await setup(t);
      const up = await victim.agentUpload(victim.conv.conversation.id, pngBytes(), 'secret.png');
      const a = up.body as Uploaded;
      const attacker = await setup(t);
      const base = onServer(t, a.url);
      // Forged and expired signatures.
      assert.equal((await fetch(`${base}?exp=9999999999&sig=${'A'.repeat(43)}`)).status, 403);
      const key = createHmac('sha256', t.config.sessionSecret).update('attachment-url').digest();
      const exp = Math.floor(Date.now() / 1000) - 60;
      const sig = createHmac('sha256', key).update(`${a.id}\n${exp}`).digest('base64url');
      const expired = await fetch(`${base}?exp=${exp}&sig=${sig}`);
      assert.equal(expired.status, 403);
      assert.equal(((await expired.json()) as { error: string }).error, 'attachment/signature');
      // The same signature for another id does not open it either.
      const future = Math.floor(Date.now() / 1000) + 600;
      const otherSig = createHmac('sha256', key).update(`${randomUUID()}\n${future}`).digest('base64url');
      assert.equal((await fetch(`${base}?exp=${future}&sig=${otherSig}`)).status, 403);

      // Re-sending the link elsewhere: another tenant's agent, and the victim's own other conversation.
      for (const [actor, conversationId] of [
        [attacker.agent.actor, attacker.conv.conversation.id],
        [attacker.conv.actor, attacker.conv.conversation.id],
      ] as const) {
        await assert.rejects(
          t.services.messages.send(
            actor,
            message({
              conversation_id: conversationId,
              sender_type: actor.kind,
              content_type: 'file',
              rich_media: {
                url: a.url.replace(t.config.publicUrl, 'https://elsewhere.example'),
                filename: 'x.png',
              },
              ...(actor.kind === 'end_user' ? { external_id: actor.externalId } : {}),
            }),
          ),
          (err: unknown) =>
            err instanceof AppError && err.code === 'attachment/forbidden' && err.status === 403,
        );
      }
      // Nor as a carousel card's picture (which would be signed for whoever reads it).
      await assert.rejects(
        t.services.messages.send(
          attacker.agent.actor,
          message({
            conversation_id: attacker.conv.conversation.id,
            sender_type: 'agent',
            content_type: 'carousel',
            rich_media: {
              cards: [{ title: 'Free', image_url: a.url, buttons: [{ label: 'Go', value: 'go' }] }],
            },
          }),
        ),
        (err: unknown) => err instanceof AppError && err.code === 'attachment/forbidden',
      );
      assert.equal(
        await t.database.prisma.message.count({ where: { conversationId: attacker.conv.conversation.id } }),
        0,
      );
    });

    test('a relay visitor uploads with the bearer token, in the envelope; a bad token is 401', async () => {
      const tn = await createTenant(t.services);
      const vs = await createVisitorSession(t.url, tn);
      const png = pngBytes();
      const res = await post(`${t.url}/api/v1/attachments`, png, {
        authorization: `Bearer ${vs.visitor_token}`,
        origin: SHOP,
        'x-filename': 'photo.png',
        'content-type': 'image/png',
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.status_code, 201);
      const a = res.body.data as Uploaded;
      assert.equal(a.kind, 'image');
      const row = await t.database.prisma.attachment.findUniqueOrThrow({ where: { id: a.id } });
      assert.equal(row.conversationId, vs.conversation_id);
      assert.equal(row.uploaderType, 'end_user');

      const bad = await post(`${t.url}/api/v1/attachments`, png, {
        authorization: 'Bearer nope',
        'x-filename': 'a.png',
      });
      assert.equal(bad.status, 401);
      assert.equal(bad.body.error, 'token/invalid');
      assert.equal(bad.body.data, null);
      // CORS: the tenant's site may send the file name header.
      const pre = await fetch(`${t.url}/api/v1/attachments`, {
        method: 'OPTIONS',
        headers: { origin: SHOP, 'access-control-request-method': 'POST' },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), SHOP);
      assert.match(pre.headers.get('access-control-allow-headers')!, /X-Filename/);

      const { signUrl } = await import('./urls.js');
      const dl = await fetch(onServer(t, signUrl(a.url)));
      assert.ok(Buffer.from(await dl.arrayBuffer()).equals(png));
    });

    test("the signed API: the backend uploads (HMAC over the file's bytes) and sends it as the bot", async () => {
      const tn = await createTenant(t.services);
      const vs = await createVisitorSession(t.url, tn);
      const png = pngBytes();
      const path = `/api/v1/relay/conversations/${vs.conversation_id}/attachments`;
      const signedPost = (body: Buffer, secret = tn.secret) =>
        post(`${t.url}${path}`, body, {
          ...signRequest({ method: 'POST', pathAndQuery: path, body, tenantId: tn.id, secret }),
          'x-filename': 'label.png',
          'content-type': 'image/png',
        });
      const before = stored().length;
      // A wrong signature: 401, nothing kept.
      const forged = await signedPost(png, `sk_${'x'.repeat(43)}`);
      assert.equal(forged.status, 401);
      assert.equal(forged.body.error, 'hmac/bad_signature');
      assert.equal(stored().length, before);

      const up = await signedPost(png);
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const a = up.body.data as Uploaded;
      const row = await t.database.prisma.attachment.findUniqueOrThrow({ where: { id: a.id } });
      assert.deepEqual([row.conversationId, row.uploaderType], [vs.conversation_id, 'system']);

      const ws = await connectWs(widgetWsUrl(t.url, { token: vs.visitor_token }), { origin: SHOP });
      try {
        await ws.next('welcome');
        const msgPath = `/api/v1/relay/conversations/${vs.conversation_id}/messages`;
        const sent = await signedCall(t.url, tn, 'POST', msgPath, {
          role: 'bot',
          content_type: 'image',
          rich_media: { url: a.url, alt: 'Your return label' },
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        const frame = await ws.next('msg', (f) => (f as { content_type?: string }).content_type === 'image');
        const url = (frame.rich_media as { url: string }).url;
        assert.match(url, /[?&]sig=/, 'the visitor gets a signed link');
        assert.ok(Buffer.from(await (await fetch(onServer(t, url))).arrayBuffer()).equals(png));
      } finally {
        ws.close();
      }
      // Rich media is checked as on every gateway; another conversation's file is refused.
      const bad = await signedCall(
        t.url,
        tn,
        'POST',
        `/api/v1/relay/conversations/${vs.conversation_id}/messages`,
        {
          role: 'bot',
          content_type: 'image',
          rich_media: { alt: 'no url' },
        },
      );
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /rich_media/);
      const other = await createVisitorSession(t.url, tn);
      const foreign = await signedCall(
        t.url,
        tn,
        'POST',
        `/api/v1/relay/conversations/${other.conversation_id}/messages`,
        {
          role: 'bot',
          content_type: 'image',
          rich_media: { url: a.url },
        },
      );
      assert.equal(foreign.status, 403);
      assert.equal(foreign.body.error, 'attachment/forbidden');
    });

    test('a widget end user uploads with conversation_id and external_id; a wrong one is 403', async () => {
      const { conv } = await setup(t);
      const url = (externalId: string) =>
        `${t.url}/api/widget/attachments?conversation_id=${conv.conversation.id}&external_id=${encodeURIComponent(externalId)}`;
      const ok = await post(url(conv.externalId), pdfBytes(), { 'x-filename': 'a%20b.pdf' });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.equal((ok.body as Uploaded).filename, 'a b.pdf');
      const wrong = await post(url('v_someone-else-entirely-000000000000'), pdfBytes(), {
        'x-filename': 'a.pdf',
      });
      assert.equal(wrong.status, 403);
      const missing = await post(`${t.url}/api/widget/attachments`, pdfBytes(), {});
      assert.equal(missing.status, 400);
      assert.equal(
        await t.database.prisma.attachment.count({ where: { conversationId: conv.conversation.id } }),
        1,
      );
    });
  });
}

describe('attachments on S3 (s3rver)', () => {
  let t: TestApp;
  let s3: S3rver;
  before(async () => {
    s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: mkdtempSync(path.join(tmpdir(), 'sb-s3-')),
      configureBuckets: [{ name: 'sb-attachments' }],
    });
    const { port } = await s3.run();
    t = await startApp(await dbModes[0]!.open(), {
      env: {
        STORAGE_DRIVER: 's3',
        S3_BUCKET: 'sb-attachments',
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        S3_FORCE_PATH_STYLE: 'true',
      },
    });
  });
  after(async () => {
    await t.stop();
    await t.database.close();
    await s3.close();
  });

  test('upload then download through the app, the bytes kept in the bucket', async () => {
    const { conv, agentUpload } = await setup(t);
    const png = pngBytes(16, 16);
    const up = await agentUpload(conv.conversation.id, png, 'bucket.png');
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const a = up.body as Uploaded;
    const row = await t.database.prisma.attachment.findUniqueOrThrow({ where: { id: a.id } });
    const { stream, size } = await t.services.attachments.storage.get(row.storageKey);
    assert.equal(size, png.length);
    stream.resume();
    const { signUrl } = await import('./urls.js');
    const res = await fetch(onServer(t, signUrl(a.url)));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(png));
  });
});
