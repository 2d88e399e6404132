// The inbox composer sends every documented message type, each previewed before it goes; the
// visitor's widget shows them, and the visitor's answers (a quick button, a dropdown option, a
// carousel button) come back as their labels, with the values stored alongside.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Frame } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const T = 10_000;

function startHost(html: () => string): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('the inbox composer: every type with a preview, and the visitor answers with labels', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  let html = '';
  const host = await startHost(() => html);
  const { browser, contexts } = await browserFor(t, async () => {
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const { org } = await createOrg(app.services);
  const agent = await createAgent(app.services, org.id, { role: 'agent' });
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const { token } = await app.services.channels.createEmbedToken({
    organizationId: org.id,
    name: 'Web chat',
    allowedOrigins: [hostUrl],
  });
  html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop</h1><script src="${app.url}/chat-widget/embed.js" data-embed-token="${token}"></script></body></html>`;
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];

  // The visitor starts the conversation.
  const v = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(v);
  const visitor = await v.newPage();
  watch(visitor, problems, 'visitor');
  await visitor.goto(hostUrl);
  let frame: Frame | undefined;
  await eventually(() => !!(frame = visitor.frames().find((f) => f.url().includes('/chat-widget?'))), T);
  const w = frame!;
  await w.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
  await visitor.evaluate(() =>
    (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
  );
  await w.locator('#cw-input').fill('Hello, a question');
  await w.locator('#cw-input').press('Enter');
  const conv = await eventually(
    async () => (await database.prisma.conversation.count({ where: { organizationId: org.id } })) === 1,
    T,
  ).then(() => database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } }));

  // The agent opens and claims it.
  const a = await signedIn(browser, app, agent.user.email, agent.password, { width: 1280, height: 900 });
  contexts.push(a.context);
  const page = a.page;
  watch(page, problems, 'agent');
  await page.goto(`${app.url}/inbox`);
  await page.locator(`.conv[data-id="${conv.id}"]`).click();
  await page.locator('#message-list .msg', { hasText: 'Hello, a question' }).waitFor({ timeout: T });
  await page.getByRole('button', { name: 'Claim' }).click();
  await page.locator('#thread-meta', { hasText: 'assigned to you' }).waitFor({ timeout: T });

  const composer = page.locator('#composer');
  const preview = composer.getByRole('region', { name: 'Preview' });
  const text = page.locator('#composer-text');
  const kind = (name: string) => composer.getByRole('radio', { name, exact: true }).check();
  const send = () => composer.getByRole('button', { name: 'Send', exact: true }).click();
  const seenByVisitor = (s: string) => w.locator('.cw-msg--them', { hasText: s }).waitFor({ timeout: T });

  await t.test('text', async () => {
    await kind('Text');
    await text.fill('Happy to help');
    assert.equal(await preview.isVisible(), false, 'plain text needs no preview');
    await send();
    await seenByVisitor('Happy to help');
  });

  await t.test('image and file, previewed', async () => {
    await kind('Image');
    await composer.getByLabel('URL', { exact: true }).fill(`${app.url}/static/photo.png`);
    await text.fill('The photo');
    await preview.locator('img[alt="The photo"]').waitFor({ timeout: T });
    await send();
    await w.locator('.cw-msg--them img[alt="The photo"]').waitFor({ state: 'attached', timeout: T });

    await kind('File');
    await composer.getByLabel('URL', { exact: true }).fill(`${app.url}/static/invoice.pdf`);
    await composer.getByLabel('File name').fill('invoice.pdf');
    await preview.getByRole('link', { name: 'invoice.pdf' }).waitFor({ timeout: T });
    await send();
    await w.getByRole('link', { name: /Download invoice\.pdf/ }).waitFor({ timeout: T });
  });

  await t.test('the server refuses what it does not accept, and says why', async () => {
    await kind('Image');
    await composer.getByLabel('URL', { exact: true }).fill('ftp://files.example.com/a.png');
    await send();
    await page.locator('#composer-error', { hasText: /http\(s\)/ }).waitFor({ timeout: T });
  });

  await t.test('quick buttons, carousel and dropdown, previewed, then sent', async () => {
    await kind('Quick buttons');
    await text.fill('Track your order?');
    await composer.getByLabel(/Buttons, one per line/).fill('Yes please=yes-1e5570\nNo=no');
    await preview.locator('.choices li', { hasText: 'Yes please' }).waitFor({ timeout: T });
    assert.equal(
      await preview.locator('.choices li', { hasText: 'Yes please' }).getAttribute('title'),
      'yes-1e5570',
    );
    await send();
    await seenByVisitor('Track your order?');

    await kind('Carousel');
    await text.fill('Our picks');
    await composer.getByLabel(/Cards, one per line/).fill('Product A | Short description | | Buy now=buy_A');
    await preview.getByText('Product A').waitFor({ timeout: T });
    await preview.getByText('Buy now').waitFor({ timeout: T });
    await send();
    await seenByVisitor('Product A');

    await kind('Dropdown');
    await text.fill('Select your region:');
    await composer.getByLabel('Placeholder').fill('-- pick one --');
    await composer.getByLabel(/Options, one per line/).fill('Asia Pacific=apac\nEurope=eu');
    await preview.locator('.choices li', { hasText: 'Europe' }).waitFor({ timeout: T });
    await page.screenshot({ path: path.join(artifacts, 'inbox-rich-composer.png') });
    await send();
    await seenByVisitor('Select your region:');
    await preview.waitFor({ state: 'hidden', timeout: T });
  });

  await t.test(
    'the visitor answers with a tap and a choice: labels in both threads, values stored',
    async () => {
      await w.getByRole('button', { name: 'Yes please' }).click();
      await w.locator('.cw-msg--me', { hasText: 'Yes please' }).waitFor({ timeout: T });
      await w.getByRole('button', { name: 'Buy now' }).click();
      await w.getByLabel('Select your region:').selectOption({ label: 'Europe' });
      await w.locator('.cw-dropdown').getByRole('button', { name: 'Send' }).click();
      await w.locator('.cw-msg--me', { hasText: 'Europe' }).waitFor({ timeout: T });
      assert.equal(await w.locator('.cw-msg--me', { hasText: 'yes-1e5570' }).count(), 0);

      const answer = (label: string) => page.locator('#message-list .msg-end_user', { hasText: label });
      for (const [label, value] of [
        ['Yes please', 'yes-1e5570'],
        ['Buy now', 'buy_A'],
        ['Europe', 'eu'],
      ] as const) {
        await answer(label).waitFor({ timeout: T });
        assert.equal(await answer(label).locator('.msg-reply').getAttribute('title'), `Value: ${value}`);
        const stored = await database.prisma.message.findFirstOrThrow({
          where: { conversationId: conv.id, senderType: 'end_user', content: label },
        });
        assert.equal(stored.contentType, 'text');
        assert.deepEqual(stored.richMedia, { value });
      }
      assert.equal(
        await database.prisma.message.count({ where: { conversationId: conv.id, content: 'yes-1e5570' } }),
        0,
      );
    },
  );

  assert.deepEqual(problems, []);
});
