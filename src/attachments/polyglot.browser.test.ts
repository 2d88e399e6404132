// An image that is also an HTML page with a script: the server keeps it as a PNG (its bytes prove
// one), serves it as a download with nosniff and a sandbox, and Chromium still shows it in an
// <img> while opening the link itself runs nothing.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { browserFor, watch } from '../../test/helpers/browser.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { polyglotPngBytes } from './attachments.fixtures.js';

test('a PNG/HTML polyglot is served as an attachment with nosniff, renders in <img>, and never runs', async (tt) => {
  const t = await startApp(await dbModes[0]!.open(), {
    env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-poly-')) },
  });
  const { browser, contexts } = await browserFor(tt, async () => {
    await t.stop();
    await t.database.close();
  });
  const { org, channelId } = await createOrg(t.services);
  const agent = await createAgent(t.services, org.id);
  const session = await loginAgent(t.url, agent.user.email, agent.password);
  const conv = await createConversation(t.services, { organizationId: org.id, channelId });

  const bytes = polyglotPngBytes('pwned');
  assert.ok(bytes.includes(Buffer.from('<script>')), 'the fixture carries a script');
  const up = await fetch(`${t.url}/api/conversations/${conv.conversation.id}/attachments`, {
    method: 'POST',
    headers: {
      cookie: session.cookie,
      'x-csrftoken': session.csrf,
      'x-filename': 'page.html.png',
      'content-type': 'text/html',
    },
    body: new Uint8Array(bytes),
  });
  const body = (await up.json()) as { kind: string; content_type: string; preview_url: string };
  assert.equal(up.status, 201, JSON.stringify(body));
  assert.equal(body.kind, 'image');
  assert.equal(body.content_type, 'image/png');
  const link = `${t.url}${new URL(body.preview_url).pathname}${new URL(body.preview_url).search}`;

  const res = await fetch(link);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.match(res.headers.get('content-disposition')!, /^attachment; filename="page\.html\.png"/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; sandbox");
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'the bytes are served unchanged');

  const context = await browser.newContext({ acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  watch(page, problems, 'page');

  // In an <img> it is a 4×3 picture.
  await page.setContent(`<!doctype html><img id="pic" alt="pic" src="${link}">`);
  await page.waitForFunction(
    "document.getElementById('pic').complete && document.getElementById('pic').naturalWidth > 0",
  );
  assert.deepEqual(
    await page.evaluate(
      "[document.getElementById('pic').naturalWidth, document.getElementById('pic').naturalHeight]",
    ),
    [4, 3],
  );

  // Opened as a page, it is a download: no document of ours, no script run.
  const downloading = page.waitForEvent('download');
  await page.goto(link).catch(() => {}); // "Download is starting" aborts the navigation
  const download = await downloading;
  assert.equal(download.suggestedFilename(), 'page.html.png');
  assert.notEqual(await page.title(), 'pwned');
  assert.equal(await page.evaluate('typeof window.pwned'), 'undefined');
  // And in a frame of the app's own origin nothing runs either.
  await page.goto(`${t.url}/auth/login`);
  const framed = await page.evaluate(`new Promise((resolve) => {
    const f = document.createElement('iframe');
    f.src = ${JSON.stringify(link)};
    f.onload = () => {
      let seen = 'blocked';
      try { seen = String(f.contentWindow.pwned); } catch (e) { seen = 'blocked'; }
      resolve(seen);
    };
    setTimeout(() => resolve('no load'), 3000);
    document.body.appendChild(f);
  })`);
  assert.notEqual(framed, '1');
  assert.deepEqual(
    problems.filter((p) => !/frame|Refused to (frame|display)/i.test(p)),
    [],
  );
});
