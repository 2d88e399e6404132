// <switchboard-chat> in real headless Chromium, from one script tag on a host page of another
// origin (with a strict CSP), against the real server: the three modes, keyboard and focus, a
// message to an agent and the reply announced, quick buttons, a reload, theming.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { launchBrowser, watch } from '../../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant } from '../../../test/helpers/relay.js';
import { connectSocket, emitAck, nextEvent } from '../../../test/helpers/sockets.js';
import type { OrganizationPatch } from '../../../src/tenants/tenants.schemas.js';

const T = 10_000;
const bundle = path.join(import.meta.dirname, '..', 'dist', 'switchboard-chat.js');
const artifacts = path.join(import.meta.dirname, '..', '..', '..', 'test', 'artifacts');

function startHost(
  files: Record<string, { type: string; body: string | Buffer }>,
  csp: () => string,
): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type, 'content-security-policy': csp() }).end(f.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The element of the page as the quick start writes it: one script tag and the tag. */
const page = (attrs: string, wrap = (x: string) => x) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<link rel="stylesheet" href="/host.css">
<script src="/switchboard-chat.js" defer></script></head>
<body><h1>Shop</h1><a href="#top" id="before">A link before the chat</a>
${wrap(`<switchboard-chat ${attrs}></switchboard-chat>`)}
</body></html>`;

/** The element's shadow root's focused element, as a short description. */
const focused = (p: Page) =>
  p.evaluate(() => {
    const host = document.querySelector('switchboard-chat');
    const a = host?.shadowRoot?.activeElement;
    return document.activeElement === host && a ? `${a.tagName.toLowerCase()}.${a.className}` : 'outside';
  });

const styleOf = (l: Locator, prop: string) =>
  l.evaluate((el, p) => getComputedStyle(el).getPropertyValue(p), prop);

test('<switchboard-chat>: one script tag, three modes, keyboard, a conversation with an agent, theming', async (t) => {
  mkdirSync(artifacts, { recursive: true });
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const files: Record<string, { type: string; body: string }> = {
    '/switchboard-chat.js': { type: 'text/javascript', body: readFileSync(bundle, 'utf8') },
    '/host.css': {
      type: 'text/css',
      body: `.themed { --sb-accent: rgb(200, 30, 60); --sb-bg: rgb(250, 245, 230); --sb-radius: 3px; --sb-font: Georgia, serif; }
.box { height: 400px; width: 300px; }`,
    },
  };
  // A strict CSP: scripts and styles of the host's own, connections to the chat server only.
  const ws = app.url.replace(/^http/, 'ws');
  const host = await startHost(
    files,
    () => `default-src 'none'; script-src 'self'; style-src 'self'; connect-src ${app.url} ${ws}`,
  );
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const tn = await createTenant(app.services, { origins: [hostUrl] });
  const attrs = `tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}" locale="en"`;
  files['/launcher'] = { type: 'text/html', body: page(attrs) };
  files['/panel'] = { type: 'text/html', body: page(`${attrs} mode="panel" class="themed"`) };
  files['/thread'] = {
    type: 'text/html',
    body: page(`${attrs} mode="thread"`, (x) => `<div class="box">${x}</div>`),
  };

  const agentUser = await createAgent(app.services, tn.id);
  const { cookie } = await loginAgent(app.url, agentUser.user.email, agentUser.password);
  const agent = await connectSocket(app.url, { cookie });
  assert.equal((await emitAck(agent, 'join_queue')).ok, true);

  const launching = launchBrowser();
  t.after(async () => {
    agent.disconnect();
    await (await launching.catch(() => undefined))?.close();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const browser = await launching;
  const problems: string[] = [];
  const context = await browser.newContext();
  const p = await context.newPage();
  watch(p, problems, 'host');

  await t.test(
    'launcher: keyboard opens and closes it, focus moves, a message reaches the agent and the reply is announced',
    async () => {
      await p.goto(`${hostUrl}/launcher`);
      const launcher = p.getByRole('button', { name: 'Open chat' });
      await launcher.waitFor({ timeout: T });
      const panel = p.locator('switchboard-chat .panel');
      assert.equal(await panel.isVisible(), false);
      // Keyboard only: Tab past the link to the launcher, Enter opens, focus goes to the field.
      await p.locator('#before').focus();
      await p.keyboard.press('Tab');
      assert.equal(await focused(p), 'button.launcher');
      await p.keyboard.press('Enter');
      await panel.waitFor({ state: 'visible', timeout: T });
      assert.equal(await focused(p), 'textarea.');
      assert.equal(await launcher.count(), 0, 'the launcher is now labelled "Close chat"');
      assert.equal(
        await p.getByRole('button', { name: 'Close chat' }).first().getAttribute('aria-expanded'),
        'true',
      );
      await p.waitForFunction(
        () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
        null,
        {
          timeout: T,
        },
      );
      assert.equal(await p.getByRole('dialog').getAttribute('aria-label'), tn.org.name);

      // A message typed and sent with Enter reaches the agent.
      const queued = nextEvent(agent, 'conversation_updated');
      await p.getByRole('textbox', { name: 'Message' }).fill('Where is my order?');
      await p.keyboard.press('Enter');
      const update = await queued;
      assert.equal(update.content, 'Where is my order?');
      const conversationId = update.conversation_id as string;
      await p.locator('.msg.visitor:not(.pending)').waitFor({ timeout: T });

      // The agent types, then answers: the reply appears and the live region announces it.
      await emitAck(agent, 'claim_conversation', { conversation_id: conversationId });
      await emitAck(agent, 'user_typing', { conversation_id: conversationId, sender_type: 'agent' });
      await p.locator('switchboard-chat .typing').waitFor({ state: 'visible', timeout: T });
      await emitAck(agent, 'send_message', {
        conversation_id: conversationId,
        content: 'It ships today',
        sender_type: 'agent',
      });
      await p.locator('.msg.agent', { hasText: 'It ships today' }).waitFor({ timeout: T });
      await p
        .locator('[aria-live="polite"]', { hasText: 'Agent: It ships today' })
        .waitFor({ state: 'attached', timeout: T });
      assert.equal(await p.locator('switchboard-chat .typing').isVisible(), false);

      // Quick buttons: tapping one sends its label.
      const got = nextEvent(agent, 'message_received', (m) => m.content === 'Yes please');
      await emitAck(agent, 'send_message', {
        conversation_id: conversationId,
        content: 'Track it?',
        content_type: 'quick_button',
        rich_media: {
          buttons: [
            { label: 'Yes please', value: 'yes' },
            { label: 'No', value: 'no' },
          ],
        },
        sender_type: 'agent',
      });
      await p.getByRole('button', { name: 'Yes please' }).click();
      await got;
      await p.locator('.msg.visitor', { hasText: 'Yes please' }).waitFor({ timeout: T });

      // Escape closes the panel and gives focus back to the launcher.
      await p.getByRole('textbox', { name: 'Message' }).focus();
      await p.keyboard.press('Escape');
      await panel.waitFor({ state: 'hidden', timeout: T });
      assert.equal(await focused(p), 'button.launcher');
      assert.equal(await launcher.getAttribute('aria-expanded'), 'false');

      // A reload keeps the session (the token in sessionStorage): the same conversation, its history.
      await p.reload();
      await p.getByRole('button', { name: 'Open chat' }).click();
      await p.locator('.msg.agent', { hasText: 'It ships today' }).waitFor({ timeout: T });
      const stored = await p.evaluate(
        () => Object.keys(sessionStorage).filter((k) => k.startsWith('switchboard-chat:')).length,
      );
      assert.equal(stored, 1);
      const after = nextEvent(agent, 'message_received', (m) => m.content === 'after reload');
      await p.getByRole('textbox', { name: 'Message' }).fill('after reload');
      await p.getByRole('button', { name: 'Send' }).click();
      assert.equal((await after).conversation_id, conversationId);
      await p.screenshot({ path: path.join(artifacts, 'chat-element-launcher.png') });
    },
  );

  await t.test('panel: docked, visible at once, themed by CSS custom properties', async () => {
    await p.goto(`${hostUrl}/panel`);
    const panel = p.locator('switchboard-chat .panel');
    await panel.waitFor({ state: 'visible', timeout: T });
    assert.equal(await p.locator('switchboard-chat .launcher').isVisible(), false);
    // The region takes the tenant's name once the widget configuration has arrived.
    await p.getByRole('region', { name: tn.org.name }).waitFor({ state: 'visible', timeout: T });
    await p.waitForFunction(
      () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
      null,
      {
        timeout: T,
      },
    );
    const send = p.getByRole('button', { name: 'Send' });
    assert.equal(await styleOf(send, 'background-color'), 'rgb(200, 30, 60)');
    assert.equal(await styleOf(panel, 'background-color'), 'rgb(250, 245, 230)');
    assert.equal(await styleOf(panel, 'border-top-left-radius'), '3px');
    assert.match(await styleOf(panel, 'font-family'), /Georgia/);
    // Changed at run time, the look follows.
    await p.evaluate(() =>
      document.querySelector('switchboard-chat')!.style.setProperty('--sb-accent', 'rgb(0, 128, 0)'),
    );
    assert.equal(await styleOf(send, 'background-color'), 'rgb(0, 128, 0)');
    await p.screenshot({ path: path.join(artifacts, 'chat-element-panel.png') });
  });

  await t.test('thread: chromeless, fills its container, sends and receives', async () => {
    await p.goto(`${hostUrl}/thread`);
    const panel = p.locator('switchboard-chat .panel');
    await panel.waitFor({ state: 'visible', timeout: T });
    assert.equal(await p.locator('switchboard-chat header').isVisible(), false);
    assert.equal(await p.locator('switchboard-chat .launcher').isVisible(), false);
    const box = await panel.boundingBox();
    assert.equal(Math.round(box!.height), 400);
    assert.equal(Math.round(box!.width), 300);
    await p.waitForFunction(
      () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
      null,
      {
        timeout: T,
      },
    );
    const got = nextEvent(agent, 'message_received', (m) => m.content === 'from the thread');
    await p.getByRole('textbox', { name: 'Message' }).fill('from the thread');
    await p.keyboard.press('Enter');
    const m = await got;
    await emitAck(agent, 'send_message', {
      conversation_id: m.conversation_id,
      content: 'Seen',
      sender_type: 'agent',
    });
    await p.locator('.msg.agent', { hasText: 'Seen' }).waitFor({ timeout: T });
    await p
      .locator('[aria-live="polite"]', { hasText: 'Agent: Seen' })
      .waitFor({ state: 'attached', timeout: T });
  });

  await t.test('created by script, attributes set after it is in the page: it still starts', async () => {
    await p.goto(`${hostUrl}/thread`);
    await p.evaluate(
      ({ id, pk, base }) => {
        document.querySelector('switchboard-chat')!.remove();
        const el = document.createElement('switchboard-chat');
        document.querySelector('.box')!.append(el);
        el.setAttribute('mode', 'panel');
        el.setAttribute('base-url', base);
        el.setAttribute('tenant-id', id);
        el.setAttribute('widget-key', pk);
      },
      { id: tn.id, pk: tn.pk, base: app.url },
    );
    await p.waitForFunction(
      () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
      null,
      {
        timeout: T,
      },
    );
    await p.locator('.msg.agent', { hasText: 'Seen' }).waitFor({ timeout: T });
  });

  await t.test('no CSP violation and no page error', () => {
    assert.deepEqual(problems, []);
  });
});

// A 1×1 PNG, the tenant's avatar as the host serves it.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

test('<switchboard-chat>: greeting, avatar, offline notice, hidden launcher, preview mode', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const files: Record<string, { type: string; body: string | Buffer }> = {
    '/switchboard-chat.js': { type: 'text/javascript', body: readFileSync(bundle, 'utf8') },
    '/host.css': { type: 'text/css', body: '.box { height: 400px; width: 320px; }' },
    '/avatar.png': { type: 'image/png', body: PNG },
  };
  const ws = app.url.replace(/^http/, 'ws');
  let connectSrc = `${app.url} ${ws}`;
  const host = await startHost(
    files,
    () =>
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src ${connectSrc}`,
  );
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const tn = await createTenant(app.services, { origins: [hostUrl] });
  const attrs = `tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}"`;
  const configure = (patch: OrganizationPatch) => app.services.tenants.configure(tn.id, patch);
  files['/panel'] = {
    type: 'text/html',
    body: page(`${attrs} locale="en" mode="panel"`, (x) => `<div class="box">${x}</div>`),
  };
  files['/panel-fr'] = {
    type: 'text/html',
    body: page(`${attrs} locale="fr" mode="panel"`, (x) => `<div class="box">${x}</div>`),
  };
  files['/launcher'] = { type: 'text/html', body: page(`${attrs} locale="en"`) };
  files['/preview'] = {
    type: 'text/html',
    body: page(`${attrs} preview mode="panel" locale="en"`, (x) => `<div class="box">${x}</div>`),
  };

  const launching = launchBrowser();
  t.after(async () => {
    await (await launching.catch(() => undefined))?.close();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const browser = await launching;
  const problems: string[] = [];
  const context = await browser.newContext();
  // Each case in a tab of its own: sessionStorage (the visitor's token) is per tab, and a closing
  // session of the case before may still write to it.
  let p!: Page;
  let chat!: Locator;
  const fresh = async () => {
    await p?.close();
    p = await context.newPage();
    watch(p, problems, 'host');
    chat = p.locator('switchboard-chat');
  };
  const waitOpen = () =>
    p.waitForFunction(
      () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
      null,
      {
        timeout: T,
      },
    );

  await t.test(
    'the greeting is the first bubble of an empty conversation, never sent nor stored',
    async () => {
      await configure({
        greeting: 'Hi! Ask us anything.',
        avatar_url: `${hostUrl}/avatar.png`,
        launcher_text: 'Ask us',
      });
      await fresh();
      await p.goto(`${hostUrl}/panel`);
      const greeting = chat.locator('.messages li').first();
      await greeting.waitFor({ timeout: T });
      await waitOpen();
      assert.equal(await greeting.getAttribute('class'), 'msg bot greeting');
      assert.equal(await greeting.textContent(), `${tn.org.name}: Hi! Ask us anything.`);
      assert.equal(await chat.locator('.messages li').count(), 1);
      // The avatar is in the header, decorative (alt=""), loaded from the tenant's http(s) URL.
      const img = chat.locator('header img');
      assert.equal(await img.getAttribute('src'), `${hostUrl}/avatar.png`);
      assert.equal(await img.getAttribute('alt'), '');
      await p.waitForFunction(
        () =>
          (
            document
              .querySelector('switchboard-chat')!
              .shadowRoot!.querySelector('header img') as HTMLImageElement
          ).naturalWidth === 1,
        null,
        { timeout: T },
      );
      // The visitor writes: the greeting stays first; after a reload the history has only the
      // visitor's message (the greeting was not stored), and a conversation with history has none.
      await p.getByRole('textbox', { name: 'Message' }).fill('Do you ship to Norway?');
      await p.keyboard.press('Enter');
      await chat.locator('.msg.visitor:not(.pending)').waitFor({ timeout: T });
      assert.deepEqual(await chat.locator('.messages li').evaluateAll((l) => l.map((e) => e.className)), [
        'msg bot greeting',
        'msg visitor',
      ]);
      await p.reload();
      await chat.locator('.msg.visitor', { hasText: 'Do you ship to Norway?' }).waitFor({ timeout: T });
      assert.equal(await chat.locator('.messages li').count(), 1);
      assert.equal(await chat.locator('.greeting').count(), 0);
    },
  );

  await t.test('offline with "message": the tenant’s offline message, else the element’s own', async () => {
    // No agent is online in this test: the widget config says is_online false.
    await configure({ offline_message: 'Back at 9am: leave us a note.', offline_behaviour: 'message' });
    await fresh();
    await p.goto(`${hostUrl}/panel`);
    const notice = chat.locator('.offline');
    await notice.waitFor({ state: 'visible', timeout: T });
    assert.equal(await notice.textContent(), 'Back at 9am: leave us a note.');
    assert.equal(await notice.getAttribute('role'), 'note');
    await configure({ offline_message: null });
    await p.goto(`${hostUrl}/panel-fr`);
    await notice.waitFor({ state: 'visible', timeout: T });
    assert.equal(
      await notice.textContent(),
      'Personne n’est disponible pour le moment. Laissez un message, nous vous répondrons dès que possible.',
    );
    await p.goto(`${hostUrl}/panel`);
    await notice.filter({ hasText: 'No one is available right now' }).waitFor({ timeout: T });
  });

  await t.test(
    'offline with "hide": no launcher, unless the visitor already has a conversation',
    async () => {
      await configure({ offline_behaviour: 'hide' });
      await fresh();
      await p.goto(`${hostUrl}/launcher`);
      const launcher = chat.locator('.launcher');
      // Once the config has arrived (its launcher text is in place), the launcher is hidden.
      await p.waitForFunction(
        () =>
          document.querySelector('switchboard-chat')?.shadowRoot?.querySelector('.launcher')?.textContent ===
          'Ask us',
        null,
        { timeout: T },
      );
      assert.equal(await launcher.isVisible(), false);
      assert.equal(await p.getByRole('button', { name: 'Open chat' }).count(), 0);
      assert.equal(await chat.locator('.offline').isVisible(), false);
      // A visitor with a conversation in this tab (a stored token) keeps the launcher.
      const res = await fetch(`${app.url}/api/v1/create/visitor-session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tenant_id: tn.id, widget_public_key: tn.pk, origin: hostUrl }),
      });
      assert.equal(res.status, 201);
      const { data } = (await res.json()) as { data: { visitor_token: string } };
      await p.evaluate(({ key, token }) => sessionStorage.setItem(key, JSON.stringify({ token })), {
        key: `switchboard-chat:${tn.id}:${tn.pk}`,
        token: data.visitor_token,
      });
      await p.reload();
      await chat.locator('.launcher', { hasText: 'Ask us' }).waitFor({ state: 'visible', timeout: T });
      await p.getByRole('button', { name: 'Open chat' }).click();
      await chat.locator('.panel').waitFor({ state: 'visible', timeout: T });
      await waitOpen();
      // "hide" shows no notice: the visitor continues the conversation.
      assert.equal(await chat.locator('.offline').isVisible(), false);
    },
  );

  await t.test('preview: draws the config given, makes no request at all', async () => {
    await fresh();
    const requests: string[] = [];
    p.on('request', (r) => requests.push(r.url()));
    connectSrc = "'none'"; // a request would be refused and reported too
    await p.goto(`${hostUrl}/preview`);
    await p.evaluate(() => customElements.whenDefined('switchboard-chat'));
    const title = chat.locator('.title');
    assert.equal(await title.textContent(), 'Chat', 'nothing fetched: the default title');
    await p.evaluate(
      (avatar) =>
        (document.querySelector('switchboard-chat') as HTMLElement & { preview(c: unknown): void }).preview({
          tenant_id: '',
          tenant_name: 'Preview Shop',
          is_online: true,
          locale: 'en',
          branding: {
            primary_color: '#c81e3c',
            launcher_text: 'Talk to us',
            greeting: 'Welcome!',
            avatar_url: avatar,
          },
          offline_behaviour: 'message',
        }),
      `${hostUrl}/avatar.png`,
    );
    assert.equal(await title.textContent(), 'Preview Shop');
    assert.equal(
      await chat.locator('header').evaluate((e) => getComputedStyle(e).backgroundColor),
      'rgb(200, 30, 60)',
    );
    assert.equal(await chat.locator('.launcher').textContent(), 'Talk to us');
    assert.equal(await chat.locator('.launcher').isVisible(), true, 'a panel preview shows its launcher too');
    assert.equal(await chat.locator('.greeting').textContent(), 'Preview Shop: Welcome!');
    assert.equal(await chat.locator('header img').getAttribute('src'), `${hostUrl}/avatar.png`);
    assert.equal(await chat.locator('.status').textContent(), 'Online');
    assert.equal(await chat.locator('.offline').isVisible(), false);
    // Offline, an unsafe avatar, no colour: the offline look, no image, the default accent.
    await p.evaluate(() =>
      (document.querySelector('switchboard-chat') as HTMLElement & { preview(c: unknown): void }).preview({
        tenant_id: '',
        tenant_name: 'Preview Shop',
        is_online: false,
        locale: 'en',
        branding: { avatar_url: 'javascript:alert(1)', offline_message: 'Closed today' },
        offline_behaviour: 'message',
      }),
    );
    assert.equal(await chat.locator('.status').textContent(), 'Offline');
    assert.equal(await chat.locator('.offline').textContent(), 'Closed today');
    assert.equal(await chat.locator('header img').isVisible(), false);
    assert.equal(await chat.locator('header img').getAttribute('src'), null);
    assert.equal(
      await chat.locator('header').evaluate((e) => getComputedStyle(e).backgroundColor),
      'rgb(37, 99, 235)',
    );
    assert.equal(await chat.locator('.greeting').count(), 0);
    // Typing and sending in a preview sends nothing either.
    await p.getByRole('textbox', { name: 'Message' }).fill('hello?');
    await p.getByRole('button', { name: 'Send' }).click();
    assert.equal(await chat.getAttribute('data-state'), 'closed');
    assert.deepEqual(
      requests.filter((u) => !u.startsWith(hostUrl)),
      [],
      'the preview reached nothing but its own page',
    );
    assert.deepEqual([...new Set(requests.map((u) => new URL(u).pathname))].sort(), [
      '/avatar.png',
      '/host.css',
      '/preview',
      '/switchboard-chat.js',
    ]);
    assert.equal(await p.evaluate(() => sessionStorage.length), 0);
    await p.screenshot({ path: path.join(artifacts, 'chat-element-preview.png') });
  });

  await t.test('no CSP violation and no page error', () => {
    assert.deepEqual(problems, []);
  });
});
