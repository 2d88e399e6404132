// Screenshots and an accessibility scan of every page people see, in real headless Chromium at
// 1280×800 and 390×844: the login page, the inbox with a thread showing every rich-media type (and
// the visitor panel where there is one), each dashboard section, the embedded widget (closed and
// open, on a host page of another origin) and <switchboard-chat> (closed and open). Each page's
// screenshot goes to test/artifacts/visual/{page}-{desktop|phone}.png; axe-core finds no violation
// of any impact on any, no page scrolls sideways, and none has a CSP violation or an uncaught error.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { pngBytes } from '../src/attachments/attachments.fixtures.js';
import { rootDir } from '../src/shared/paths.js';
import { startApp, type TestApp } from './helpers/app.js';
import { axControls, axeScan } from './helpers/axe.js';
import { browserFor, signedIn, watch } from './helpers/browser.js';
import { dbModes } from './helpers/db.js';
import { createAgent, createConversation, message } from './helpers/factories.js';
import { loginAgent } from './helpers/http.js';
import { createTenant, createVisitorSession, SHOP, signedCall } from './helpers/relay.js';
import { eventually } from './helpers/sockets.js';

const T = 10_000;
const artifacts = path.join(rootDir, 'test', 'artifacts', 'visual');
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
type Size = keyof typeof SIZES;
const SECTIONS = [
  'api-keys',
  'team',
  'keys',
  'identity',
  'settings',
  'usage',
  'web-chat',
  'mobile-sdk',
  'webhooks',
  'bots',
  'knowledge',
  'canned-replies',
];

/** The customer's site, on an origin of its own: serves the page set for each path. */
async function hostSite() {
  const pages: Record<string, string> = {};
  const server = createServer((req, res) => {
    const html = pages[(req.url ?? '/').split('?')[0]!];
    if (html === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    pages,
    origin: `http://localhost:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const hostPage = (body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>` +
  `<body><main><h1>Shop</h1><p>Things for sale.</p></main>${body}</body></html>`;

/** An agent's file, uploaded as the inbox does. */
async function upload(
  app: TestApp,
  s: { cookie: string; csrf: string },
  convId: string,
  name: string,
  bytes: Buffer,
) {
  const res = await fetch(`${app.url}/api/conversations/${convId}/attachments`, {
    method: 'POST',
    headers: {
      cookie: s.cookie,
      'x-csrftoken': s.csrf,
      'x-filename': name,
      'content-type': 'application/octet-stream',
    },
    body: new Uint8Array(bytes),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { url: string; filename: string; size: number; content_type: string };
}

test('every page: screenshots at two sizes, no accessibility violation, no sideways scroll, no CSP violation', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, { env: { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sb-visual-')) } });
  app.config.publicUrl = app.url;
  const site = await hostSite();
  const tn = await createTenant(app.services, { origins: [site.origin, SHOP] });
  const { browser, contexts } = await browserFor(t, async () => {
    await site.close();
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });

  // An organization at work: its owner and an agent, a channel, conversations with every kind of
  // message, a ticket, a note, a rating, canned replies, documents, a webhook, relay traffic.
  const owner = await createAgent(app.services, tn.id, { role: 'owner' });
  const ann = await createAgent(app.services, tn.id, { role: 'agent' });
  await database.prisma.user.update({ where: { id: owner.user.id }, data: { displayName: 'Olga Owner' } });
  await database.prisma.user.update({ where: { id: ann.user.id }, data: { displayName: 'Ann Agent' } });
  const { token: embedToken, channelId } = await app.services.channels.createEmbedToken({
    organizationId: tn.id,
    name: 'Web chat',
    allowedOrigins: [site.origin],
  });
  const conv = await createConversation(app.services, {
    organizationId: tn.id,
    channelId,
    displayName: 'Vera Visitor',
  });
  const convId = conv.conversation.id;
  const ownerActor = { ...owner.actor, displayName: 'Olga Owner' };
  const say = (m: Record<string, unknown>, actor: typeof conv.actor | typeof ownerActor = ownerActor) =>
    app.services.messages.send(
      actor,
      message({
        conversation_id: convId,
        sender_type: actor === conv.actor ? 'end_user' : 'agent',
        content: '',
        ...m,
      }),
    );
  await say({ content: 'Hello, my parcel has not arrived. Order 1042.' }, conv.actor);
  await app.services.conversations.assign(ownerActor, convId);
  await say({ content: 'Sorry to hear that! Let me look it up.' });
  const session = await loginAgent(app.url, owner.user.email, owner.password);
  const png = await upload(app, session, convId, 'parcel.png', pngBytes(120, 80, [40, 90, 160]));
  await say({ content_type: 'image', rich_media: { url: png.url, alt: 'The parcel label' } });
  const doc = await upload(app, session, convId, 'invoice.txt', Buffer.from('Invoice 1042\nTotal: 12.00\n'));
  await say({
    content: 'Your invoice',
    content_type: 'file',
    rich_media: { url: doc.url, filename: doc.filename, size: doc.size, mime_type: doc.content_type },
  });
  await say({
    content: 'Was this helpful?',
    content_type: 'quick_button',
    rich_media: {
      buttons: [
        { label: 'Yes', value: 'yes' },
        { label: 'No', value: 'no' },
      ],
    },
  });
  await say({
    content: 'Pick a replacement',
    content_type: 'carousel',
    rich_media: {
      cards: [
        {
          image_url: png.url,
          title: 'Blue mug',
          subtitle: '12.00',
          buttons: [{ label: 'Choose', value: 'mug' }],
        },
        { title: 'Red cup', subtitle: '9.50', buttons: [{ label: 'Choose', value: 'cup' }] },
      ],
    },
  });
  await say({
    content: 'Delivery slot',
    content_type: 'dropdown',
    rich_media: {
      placeholder: 'Choose a slot',
      options: [
        { label: 'Morning', value: 'am' },
        { label: 'Afternoon', value: 'pm' },
      ],
    },
  });
  await say({ content: 'Customer is a regular; refund if needed.', internal: true });
  await app.services.tickets.create(
    { organizationId: tn.id, routingKeys: null },
    {
      subject: 'Parcel 1042 lost',
      priority: 'high',
    },
  );
  // A second conversation, resolved and rated.
  const other = await createConversation(app.services, {
    organizationId: tn.id,
    channelId,
    displayName: 'Rui',
  });
  await app.services.messages.send(
    other.actor,
    message({
      conversation_id: other.conversation.id,
      sender_type: 'end_user',
      content: 'Thanks, all sorted!',
    }),
  );
  await database.prisma.conversationSession.updateMany({
    where: { conversationId: other.conversation.id },
    data: { status: 'resolved', resolvedAt: new Date() },
  });
  await app.services.ratings
    .rate(
      { organizationId: tn.id, conversationId: other.conversation.id, endUserId: other.endUser.id },
      { score: 5, comment: 'Quick and kind' },
    )
    .catch((e: unknown) => t.diagnostic(`no rating seeded: ${String(e)}`));
  await app.services.canned.create(ownerActor, {
    scope: 'tenant',
    shortcut: 'hi',
    title: 'Greeting',
    body: 'Hi {{name}}!',
  });
  await app.services.canned.create(ownerActor, {
    scope: 'mine',
    shortcut: 'bye',
    title: 'Bye',
    body: 'Bye!',
  });
  await app.services.knowledge.create(tn.id, {
    title: 'Shipping times',
    body: 'Parcels arrive within 3 working days.',
    format: 'text',
    tags: ['shipping'],
    language: 'en',
  });
  await app.services.webhooks.setConfig(tn.id, {
    callback_base_url: 'https://hooks.example.com/switchboard',
    events: ['conversation-started'],
  });
  const visitor = await createVisitorSession(app.url, tn);
  const sent = await signedCall(
    app.url,
    { id: tn.id, secret: tn.secret },
    'POST',
    `/api/v1/relay/conversations/${visitor.conversation_id}/messages`,
    { role: 'visitor', content: 'Is the shop open on Sunday?' },
  );
  assert.equal(sent.status, 201, JSON.stringify(sent.body));

  const problems: string[] = [];
  const violations: string[] = [];
  const pages = {} as Record<Size, Page>;
  for (const size of Object.keys(SIZES) as Size[]) {
    const s = await signedIn(browser, app, owner.user.email, owner.password, SIZES[size]);
    contexts.push(s.context);
    watch(s.page, problems, size);
    pages[size] = s.page;
  }
  /** Screenshot, then whatever makes the page wider than the screen and every axe finding. */
  const check = async (name: string, size: Size, page: Page, frame?: Frame) => {
    await page.screenshot({ path: path.join(artifacts, `${name}-${size}.png`) });
    // A page wider than the screen: named by the boxes that stick out of it.
    const wider = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    if (wider > 1) {
      const culprits = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('body *')]
          .filter((e) => {
            if (e.getBoundingClientRect().right <= innerWidth + 1) return false;
            // Inside a box that scrolls or clips sideways: that box's business, not the page's.
            for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
              if (getComputedStyle(p).overflowX !== 'visible') return false;
            return true;
          })
          .slice(0, 6)
          .map(
            (e) =>
              `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} w=${Math.round(e.getBoundingClientRect().width)} sw=${e.scrollWidth}`,
          ),
      );
      violations.push(`${name}-${size}: the page scrolls sideways by ${wider}px: ${culprits.join(', ')}`);
    }
    for (const v of await axeScan(frame ?? page, true)) violations.push(`${name}-${size}: ${v}`);
  };

  for (const size of Object.keys(SIZES) as Size[]) {
    const page = pages[size];
    await t.test(`login, inbox, thread, visitor panel (${size})`, async () => {
      const anon = await browser.newContext({ viewport: SIZES[size] });
      contexts.push(anon);
      const login = await anon.newPage();
      watch(login, problems, `login ${size}`);
      await login.goto(`${app.url}/auth/login`);
      await check('login', size, login);

      await page.goto(`${app.url}/inbox`);
      await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
      await page.getByRole('tab', { name: 'All', exact: true }).click();
      await page.locator(`.conv[data-id="${convId}"]`).waitFor({ timeout: T });
      await check('inbox', size, page);
      await page.locator(`.conv[data-id="${convId}"]`).click();
      await page.locator('#message-list .msg', { hasText: 'Delivery slot' }).waitFor({ timeout: T });
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('#message-list img')].every((i) => (i as HTMLImageElement).complete),
        undefined,
        { timeout: T },
      );
      await check('thread', size, page);
      // The visitor panel (beside the thread on a desktop; opened with its button on a phone).
      const panel = page.locator('#visitor-panel');
      if (!(await panel.isVisible())) await page.locator('#visitor-toggle').click();
      await panel.locator('.visitor-facts').waitFor({ timeout: T });
      await check('visitor-panel', size, page);
    });

    await t.test(`every dashboard section (${size})`, async () => {
      for (const name of SECTIONS) {
        await page.goto(`${app.url}/dashboard#${name}`);
        await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
        await page.waitForTimeout(150);
        await check(`dashboard-${name}`, size, page);
      }
    });
  }

  await t.test('the embedded widget and <switchboard-chat>, closed and open, desktop and phone', async () => {
    site.pages['/widget'] = hostPage(
      `<script src="${app.url}/chat-widget/embed.js" data-embed-token="${embedToken}"></script>`,
    );
    site.pages['/element'] = hostPage(
      `<script src="${app.url}/sdk/switchboard-chat.js" defer></script>` +
        `<switchboard-chat tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}" locale="en"></switchboard-chat>`,
    );
    for (const size of Object.keys(SIZES) as Size[]) {
      const ctx = await browser.newContext({ viewport: SIZES[size] });
      contexts.push(ctx);
      const page = await ctx.newPage();
      watch(page, problems, `widget ${size}`);
      await page.goto(`${site.origin}/widget`);
      let frame: Frame | undefined;
      await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))));
      await frame!.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
      await check('widget-closed', size, page);
      // The launcher lives in a closed shadow root axe cannot enter: Chromium's tree can.
      const controls = await axControls(page);
      assert.ok(
        controls.some((c) => c.role === 'button' && c.name === 'Open chat'),
        JSON.stringify(controls),
      );
      for (const c of controls.filter((c) => !c.name))
        violations.push(`widget-closed-${size}: ${c.role} without a name`);
      await page.evaluate(() =>
        (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
      );
      await eventually(async () => (await frame!.frameElement()).isVisible());
      await page.waitForTimeout(300);
      await check('widget-open', size, page, frame);

      const el = await ctx.newPage();
      watch(el, problems, `element ${size}`);
      await el.goto(`${site.origin}/element`);
      const launcher = el.locator('switchboard-chat .launcher');
      await launcher.waitFor({ state: 'visible', timeout: T });
      await check('element-closed', size, el);
      await launcher.click();
      await el.waitForFunction(
        () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
        null,
        { timeout: T },
      );
      await el.waitForTimeout(300);
      await check('element-open', size, el);
    }
  });

  assert.deepEqual(violations, [], `\n${violations.join('\n')}`);
  assert.deepEqual(problems, []);
});
