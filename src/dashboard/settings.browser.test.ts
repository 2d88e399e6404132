// Dashboard → Widget & origins in real headless Chromium: an owner edits the allowed origins (a bad
// one is refused beside the field and nothing is saved) and the relay follows the saved list; a
// page served from an origin the owner adds then removes loads the widget by its script tag: once
// refused, the relay answers its widget config 403 without CORS permission, the browser does not
// send its visitor-session call (nor can it read the 403 origin/forbidden that call gets when
// another tenant allows the site), and the widget never connects, as the explanation says;
// edits the branding and sees the live preview (<switchboard-chat preview>) change before saving,
// then the widget config carries it; sets the feature flags and new visitor sessions and the widget
// config follow; an admin may not delete the organization; the owner deletes it by typing its
// name. An agent gets neither the section nor the API.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';
import type { Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { agentHttp, type AgentSession } from '../../test/helpers/http.js';
import { createTenant, type Envelope } from '../../test/helpers/relay.js';
import { rootDir } from '../shared/paths.js';

const T = 10_000;
const artifacts = path.join(rootDir, 'test', 'artifacts');
const OLD = 'https://old.example.com';
const KEPT = 'https://www.example.org';
const SHOP = 'https://shop.example.com';
const APP = 'app://shop_app';
const AVATAR = 'https://cdn.example.com/agent.png';
// A 1×1 PNG, served in place of the avatar so the test reaches nothing outside.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

type Org = {
  name: string;
  allowed_origins: string[];
  default_mode: string;
  offline_behaviour: string;
  branding: Record<string, string>;
};

/** A site of the test's own on loopback: serves `html` at `/` (its origin is what it is allowed as, or not). */
async function hostSite() {
  const page = { html: '<!doctype html><title>empty</title>' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page.html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    page,
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function openSection(page: Page, app: TestApp) {
  await page.goto(`${app.url}/dashboard#settings`);
  await page.getByRole('heading', { name: 'Widget & origins', level: 1 }).waitFor({ timeout: T });
  await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
}

function patch(app: TestApp, s: AgentSession, body: object) {
  return request(app.url)
    .patch('/api/organization')
    .set('Cookie', s.cookie)
    .set('X-CSRFToken', s.csrf)
    .send(body);
}

test('dashboard → Widget & origins: origins, branding with a live preview, flags, deletion', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const tn = await createTenant(app.services, { origins: [OLD, KEPT] });
  const owner = await createAgent(app.services, tn.id, { role: 'owner' });
  const admin = await createAgent(app.services, tn.id, { role: 'admin' });
  const agent = await createAgent(app.services, tn.id, { role: 'agent' });
  const ownerApi = agentHttp(app.url, await loginAgent(app.url, owner.user.email, owner.password));
  const adminSession = await loginAgent(app.url, admin.user.email, admin.password);
  const adminApi = agentHttp(app.url, adminSession);

  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  const stored = async () => (await ownerApi.get('/api/organization')).body as Org;

  /** `POST /api/v1/create/visitor-session` as a native app or server would (no Origin header). */
  const visitorSession = async (origin: string) => {
    const res = await fetch(`${app.url}/api/v1/create/visitor-session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant_id: tn.id, widget_public_key: tn.pk, origin }),
    });
    return { status: res.status, body: (await res.json()) as Envelope };
  };
  const widgetConfig = async (origin: string) => {
    const q = new URLSearchParams({ tenant_id: tn.id, widget_public_key: tn.pk, origin });
    const res = await fetch(`${app.url}/api/v1/fetch/widget-config?${q}`);
    return { status: res.status, body: (await res.json()) as Envelope };
  };

  const { context, page } = await signedIn(browser, app, owner.user.email, owner.password);
  contexts.push(context);
  watch(page, problems, 'owner');
  await context.route(AVATAR, (route) => route.fulfill({ contentType: 'image/png', body: PNG }));
  await openSection(page, app);

  const origins = page.getByRole('form', { name: 'Allowed origins' });
  const list = origins.getByRole('list', { name: 'Allowed origins' });
  const originField = origins.getByLabel('Origin to add');
  const listed = async () => (await list.locator('li code').allTextContents()).sort();

  await t.test('the owner edits the allowed origins; a bad one is refused beside the field', async () => {
    assert.deepEqual(await listed(), [KEPT, OLD].sort());

    // A path is refused at once, beside the field, and nothing is added or saved.
    await originField.fill('https://shop.example.com/cart');
    await origins.getByRole('button', { name: 'Add origin' }).click();
    const refusal = origins.getByRole('alert').filter({ hasText: 'has a path' });
    await refusal.waitFor({ timeout: T });
    assert.equal(
      await refusal.textContent(),
      'https://shop.example.com/cart has a path: an origin is only scheme://host[:port]',
    );
    assert.equal(await originField.getAttribute('aria-invalid'), 'true');
    const describedBy = (await originField.getAttribute('aria-describedby'))!.split(' ');
    assert.ok(describedBy.includes((await refusal.getAttribute('id'))!), 'the field names its error');
    assert.deepEqual(await listed(), [KEPT, OLD].sort());
    // A duplicate too (normalised: the trailing slash and capitals make no new origin).
    await originField.fill('https://WWW.example.org/');
    await originField.press('Enter');
    await origins
      .getByRole('alert')
      .filter({ hasText: `${KEPT} is already in the list` })
      .waitFor({ timeout: T });
    assert.deepEqual((await stored()).allowed_origins, [OLD, KEPT], 'nothing was saved');

    // Add a web origin (Enter) and an app scheme (the button), remove the old one, save.
    await originField.fill(`${SHOP}/`);
    await originField.press('Enter');
    await list.locator('li', { hasText: SHOP }).waitFor({ timeout: T });
    assert.equal(await originField.inputValue(), '');
    assert.equal(await originField.getAttribute('aria-invalid'), null);
    await originField.fill(APP);
    await origins.getByRole('button', { name: 'Add origin' }).click();
    await list.locator('li', { hasText: APP }).waitFor({ timeout: T });
    await origins.getByRole('button', { name: `Remove ${OLD}` }).click();
    assert.deepEqual(await listed(), [APP, SHOP, KEPT].sort());
    assert.deepEqual((await stored()).allowed_origins, [OLD, KEPT], 'not saved before Save');
    await origins.getByRole('button', { name: 'Save origins' }).click();
    await origins
      .getByRole('status')
      .filter({ hasText: 'Saved: 3 origins allowed.' })
      .waitFor({ timeout: T });
    assert.deepEqual((await stored()).allowed_origins, [KEPT, SHOP, APP]);

    // The relay follows the saved list.
    const removed = await visitorSession(OLD);
    assert.equal(removed.status, 403);
    assert.equal(removed.body.error, 'origin/forbidden');
    assert.equal(removed.body.status_code, 403);
    assert.equal((await visitorSession('https://unlisted.example.net')).body.error, 'origin/forbidden');
    assert.equal((await widgetConfig(OLD)).body.error, 'origin/forbidden');
    assert.equal((await visitorSession(SHOP)).status, 201);
    assert.equal((await visitorSession(APP)).status, 201);
  });

  await t.test('the server refuses what the browser refuses', async () => {
    // The same rule on the server, for a client that skips the browser's check: a path in the list.
    const res = await patch(app, adminSession, { allowed_origins: ['https://x.example.com/a'] });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'request/invalid');
    assert.deepEqual((await stored()).allowed_origins, [KEPT, SHOP, APP]);
  });

  await t.test('a page on a refused origin: the widget is refused, in a real browser', async () => {
    const site = await hostSite();
    try {
      site.page.html =
        `<!doctype html><html lang="en"><head><title>Shop</title></head><body><h1>Shop</h1>` +
        `<script src="${app.url}/sdk/switchboard-chat.js" defer></script>` +
        `<switchboard-chat tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}"></switchboard-chat>` +
        `</body></html>`;
      const sessionsFrom = (origin: string) =>
        database.prisma.visitorSession.count({ where: { organizationId: tn.id, origin } });
      /**
       * A visitor on the site. What the relay answered its browser (status, CORS permission) is read
       * from Chromium's network log, which has it even when the browser hides it from the page.
       */
      const visit = async () => {
        const ctx = await browser.newContext();
        contexts.push(ctx);
        const v = await ctx.newPage();
        const sent = new Map<string, { method: string; path: string }>();
        const raw = new Map<string, { status: number; acao: string | undefined }>();
        const blocked: string[] = [];
        v.on('console', (m) => {
          if (/blocked by CORS policy/.test(m.text())) blocked.push(m.text());
        });
        v.on('pageerror', (e) => problems.push(`visitor: ${e.message}`));
        const cdp = await ctx.newCDPSession(v);
        cdp.on('Network.requestWillBeSent', (e) =>
          sent.set(e.requestId, { method: e.request.method, path: new URL(e.request.url).pathname }),
        );
        cdp.on('Network.responseReceivedExtraInfo', (e) => {
          const acao = Object.entries(e.headers).find(
            ([k]) => k.toLowerCase() === 'access-control-allow-origin',
          );
          raw.set(e.requestId, { status: e.statusCode, acao: acao?.[1] });
        });
        await cdp.send('Network.enable');
        await v.goto(site.origin);
        /** The relay's answers to the browser for this path, oldest first. */
        const answers = (path: string) =>
          [...sent]
            .filter(([id, r]) => r.path === path && raw.has(id))
            .map(([id, r]) => ({ ...r, ...raw.get(id)! }));
        const answered = async (path: string) => {
          for (const deadline = Date.now() + T; !answers(path).length; await v.waitForTimeout(50))
            assert.ok(Date.now() < deadline, `no answer to ${path}`);
          return answers(path);
        };
        return { v, answers, answered, blocked, widget: v.locator('switchboard-chat') };
      };
      /** The same call as the browser's, its Origin header included, from Node: the code it was given. */
      const codeOf = async (method: 'GET' | 'POST') => {
        const url =
          method === 'GET'
            ? `${app.url}/api/v1/fetch/widget-config?${new URLSearchParams({ tenant_id: tn.id, widget_public_key: tn.pk, origin: site.origin })}`
            : `${app.url}/api/v1/create/visitor-session`;
        const res = await fetch(url, {
          method,
          headers: { origin: site.origin, 'content-type': 'application/json' },
          ...(method === 'POST'
            ? { body: JSON.stringify({ tenant_id: tn.id, widget_public_key: tn.pk, origin: site.origin }) }
            : {}),
        });
        return [res.status, ((await res.json()) as Envelope).error];
      };

      // Allowed: the owner adds the site's origin; its widget opens a session there.
      await originField.fill(site.origin);
      await originField.press('Enter');
      await origins.getByRole('button', { name: 'Save origins' }).click();
      await origins
        .getByRole('status')
        .filter({ hasText: 'Saved: 4 origins allowed.' })
        .waitFor({ timeout: T });
      const ok = await visit();
      await ok.widget.locator('.launcher').click();
      await ok.v.waitForFunction(
        () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
        null,
        { timeout: T },
      );
      assert.equal(await sessionsFrom(site.origin), 1);
      const [config] = await ok.answered('/api/v1/fetch/widget-config');
      assert.deepEqual([config!.status, config!.acao], [200, site.origin]);

      // Refused: the owner removes it. The explanation beside the list says what the visitor gets.
      assert.deepEqual(await origins.locator('.origin-rules li').allTextContents(), [
        'A site not listed is refused: its widget-config call answers 403 origin/forbidden without ' +
          'CORS permission, and the browser does not even send its visitor-session call, so no ' +
          'conversation starts. Its visitors see a launcher without your branding that, opened, keeps ' +
          'saying “Reconnecting…”; the browser’s console says the calls were blocked by CORS policy.',
        'An app or server (no browser) naming an origin not listed gets 403 origin/forbidden when it ' +
          'creates a visitor session.',
        'An empty list allows no site at all.',
      ]);
      await origins.getByRole('button', { name: `Remove ${site.origin}` }).click();
      await origins.getByRole('button', { name: 'Save origins' }).click();
      await origins
        .getByRole('status')
        .filter({ hasText: 'Saved: 3 origins allowed.' })
        .waitFor({ timeout: T });
      assert.deepEqual((await stored()).allowed_origins, [KEPT, SHOP, APP]);
      const refused = await visit();
      // The widget config: 403 (origin/forbidden), without CORS permission, so the page cannot read it.
      const [refusedConfig] = await refused.answered('/api/v1/fetch/widget-config');
      assert.deepEqual([refusedConfig!.status, refusedConfig!.acao], [403, undefined]);
      assert.deepEqual(await codeOf('GET'), [403, 'origin/forbidden']);
      assert.ok(
        refused.blocked.some((m) => /fetch\/widget-config.*No 'Access-Control-Allow-Origin'/.test(m)),
        refused.blocked.join('\n'),
      );
      // Without the branding, and opened it never connects: the browser refuses the session call
      // itself (its CORS preflight gets no permission), so the call never reaches the relay.
      await refused.widget.locator('.launcher').click();
      assert.equal(await refused.widget.locator('.title').textContent(), 'Chat');
      await refused.v.waitForFunction(
        () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'reconnecting',
        null,
        { timeout: T },
      );
      assert.equal(await refused.widget.locator('.status').textContent(), 'Reconnecting…');
      assert.ok(
        refused.blocked.some((m) => /create\/visitor-session.*preflight/.test(m)),
        refused.blocked.join('\n'),
      );
      assert.deepEqual(
        refused.answers('/api/v1/create/visitor-session').filter((a) => a.method === 'POST'),
        [],
        'never sent',
      );
      assert.equal(await sessionsFrom(site.origin), 1, 'no new session');

      // The same site allowed by another tenant: the preflight passes, the session call is sent, and
      // this tenant's relay answers it 403 origin/forbidden, still unreadable by the page.
      await createTenant(app.services, { origins: [site.origin] });
      const other = await visit();
      await other.widget.locator('.launcher').click();
      await other.v.waitForFunction(
        () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'reconnecting',
        null,
        { timeout: T },
      );
      const posts = (await other.answered('/api/v1/create/visitor-session')).filter(
        (a) => a.method === 'POST',
      );
      assert.ok(posts.length > 0, 'sent');
      for (const post of posts) assert.deepEqual([post.status, post.acao], [403, undefined]);
      assert.deepEqual(await codeOf('POST'), [403, 'origin/forbidden']);
      assert.equal(await sessionsFrom(site.origin), 1, 'no new session');
      await other.v.screenshot({ path: path.join(artifacts, 'settings-refused-origin.png') });

      // An empty list allows no site at all.
      assert.equal((await patch(app, adminSession, { allowed_origins: [] })).status, 200);
      assert.equal((await visitorSession(SHOP)).body.error, 'origin/forbidden');
      assert.equal((await patch(app, adminSession, { allowed_origins: [KEPT, SHOP, APP] })).status, 200);
      assert.equal((await visitorSession(SHOP)).status, 201);
    } finally {
      await site.close();
    }
  });

  const preview = page.locator('.settings-preview switchboard-chat');
  const branding = page.getByRole('form', { name: 'Branding' });
  const headerColor = () => preview.locator('header').evaluate((el) => getComputedStyle(el).backgroundColor);

  await t.test(
    'branding: the live preview follows the form before saving, then the widget config',
    async () => {
      // The preview is the real element, in preview mode, drawing the saved values first.
      await preview.locator('.title', { hasText: tn.org.name }).waitFor({ timeout: T });
      assert.equal(await preview.getAttribute('preview'), '');
      assert.equal(await preview.locator('.greeting').count(), 0, 'no greeting yet');

      await branding.getByLabel('Organization name').fill('Acme Shoes');
      await branding.getByLabel('Primary colour (hex)').fill('#c81e3c');
      await branding.getByLabel('Launcher text').fill('Ask Acme');
      await branding.getByLabel('Greeting').fill('Hello from Acme! How can we help?');
      await branding.getByLabel('Offline message').fill('We are away until 9am.');
      await branding.getByLabel('Locale').selectOption('en');
      await branding.getByLabel('Avatar URL').fill(AVATAR);

      await preview.locator('.title', { hasText: 'Acme Shoes' }).waitFor({ timeout: T });
      assert.equal(await preview.locator('.title').textContent(), 'Acme Shoes');
      assert.equal(await headerColor(), 'rgb(200, 30, 60)');
      assert.equal(await preview.locator('.launcher').textContent(), 'Ask Acme');
      assert.equal(await preview.locator('.launcher').isVisible(), true);
      // The greeting is the first bubble, named for screen readers by the widget's title.
      const greeting = preview.locator('.messages li').first();
      assert.equal(await greeting.getAttribute('class'), 'msg bot greeting');
      assert.equal(await greeting.textContent(), 'Acme Shoes: Hello from Acme! How can we help?');
      assert.equal(await preview.locator('header img').getAttribute('src'), AVATAR);
      assert.equal(await preview.locator('header img').getAttribute('alt'), '');
      assert.equal(await preview.locator('.status').textContent(), 'Online');
      assert.equal(await preview.locator('.offline').isVisible(), false);
      // The colour picker follows the hex field.
      assert.equal(await branding.getByLabel('Primary colour (picker)').inputValue(), '#c81e3c');

      // Previewed offline: the offline message shows as a notice.
      await page.getByLabel('Preview while no agent is online').check();
      await preview.locator('.offline', { hasText: 'We are away until 9am.' }).waitFor({ timeout: T });
      assert.equal(await preview.locator('.status').textContent(), 'Offline');

      // Nothing is saved yet.
      const before = await stored();
      assert.equal(before.name, tn.org.name);
      assert.deepEqual(before.branding, {});
      await page.screenshot({ path: path.join(artifacts, 'dashboard-settings-desktop.png') });

      // A bad colour is refused beside its field; the preview keeps the last good one.
      await branding.getByLabel('Primary colour (hex)').fill('#c81e3');
      assert.equal(await headerColor(), 'rgb(37, 99, 235)', 'an unfinished colour previews the default');
      await branding.getByRole('button', { name: 'Save branding' }).click();
      await branding
        .getByRole('alert')
        .filter({ hasText: '#c81e3 is not a hex colour' })
        .waitFor({ timeout: T });
      assert.equal((await stored()).name, tn.org.name);
      await branding.getByLabel('Primary colour (hex)').fill('#c81e3c');

      await branding.getByRole('button', { name: 'Save branding' }).click();
      await branding.getByRole('status').filter({ hasText: 'Saved' }).waitFor({ timeout: T });
      const saved = await stored();
      assert.equal(saved.name, 'Acme Shoes');
      const config = await widgetConfig(SHOP);
      assert.equal(config.status, 200);
      const data = config.body.data as {
        tenant_name: string;
        locale: string;
        branding: Record<string, string>;
      };
      assert.equal(data.tenant_name, 'Acme Shoes');
      assert.equal(data.locale, 'en');
      assert.deepEqual(data.branding, {
        primary_color: '#c81e3c',
        launcher_text: 'Ask Acme',
        greeting: 'Hello from Acme! How can we help?',
        offline_message: 'We are away until 9am.',
        avatar_url: AVATAR,
      });
    },
  );

  await t.test('feature flags: straight to a person, and the launcher hidden while offline', async () => {
    const flags = page.getByRole('form', { name: 'Feature flags' });
    const mode = flags.getByLabel('Bot mode default');
    assert.equal(await mode.inputValue(), 'bot');
    await mode.selectOption('human');
    // Each flag says what it does, for the option chosen.
    const line = flags.locator(`#${(await mode.getAttribute('aria-describedby'))!}`);
    assert.match((await line.textContent())!, /agents’ queue at once/);
    const offline = flags.getByLabel('Offline behaviour');
    await offline.selectOption('hide');
    // The preview (still shown offline) now hides the launcher and shows no notice.
    await preview.locator('.launcher').waitFor({ state: 'hidden', timeout: T });
    assert.equal(await preview.locator('.offline').isVisible(), false);
    // The identity mode is read only here, with a link to where it changes.
    assert.equal(await flags.locator('.identity-mode').textContent(), 'verified');
    assert.equal(
      await flags.getByRole('link', { name: 'change it in Identity' }).getAttribute('href'),
      '#identity',
    );

    await flags.getByRole('button', { name: 'Save flags' }).click();
    await flags
      .getByRole('status')
      .filter({ hasText: 'Saved: Straight to a person; while offline: Hide the launcher.' })
      .waitFor({ timeout: T });
    const created = await visitorSession(SHOP);
    assert.equal(created.status, 201);
    assert.equal(created.body.data!.mode, 'human');
    const config = await widgetConfig(SHOP);
    assert.equal((config.body.data as { offline_behaviour: string }).offline_behaviour, 'hide');
  });

  await t.test('the section on a phone', async () => {
    const phone = await signedIn(browser, app, owner.user.email, owner.password, { width: 390, height: 844 });
    contexts.push(phone.context);
    watch(phone.page, problems, 'phone');
    await phone.context.route(AVATAR, (route) => route.fulfill({ contentType: 'image/png', body: PNG }));
    await openSection(phone.page, app);
    await phone.page
      .locator('.settings-preview switchboard-chat .title', { hasText: 'Acme Shoes' })
      .waitFor({ timeout: T });
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no sideways scrolling (${width}px)`);
    await phone.page.screenshot({
      path: path.join(artifacts, 'dashboard-settings-phone.png'),
      fullPage: true,
    });
  });

  await t.test('an admin may not delete the organization', async () => {
    const a = await signedIn(browser, app, admin.user.email, admin.password);
    contexts.push(a.context);
    watch(a.page, problems, 'admin');
    await openSection(a.page, app);
    const danger = a.page.getByRole('region', { name: 'Danger zone' });
    const button = danger.getByRole('button', { name: 'Delete organization' });
    assert.equal(await button.isDisabled(), true);
    const why = a.page.locator(`#${(await button.getAttribute('aria-describedby'))!}`);
    assert.equal(await why.textContent(), 'Only an owner can delete the organization');
    const res = await adminApi.delete('/api/organization').send({ confirm_name: 'Acme Shoes' });
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'auth/forbidden');
    assert.equal((await stored()).name, 'Acme Shoes', 'nothing was deleted');
    assert.equal((await widgetConfig(SHOP)).status, 200);
  });

  await t.test('an agent gets neither the section nor the API', async () => {
    const a = await signedIn(browser, app, agent.user.email, agent.password);
    contexts.push(a.context);
    watch(a.page, problems, 'agent');
    await a.page.goto(`${app.url}/dashboard#settings`);
    await a.page.waitForURL(/\/inbox/, { timeout: T });
    assert.equal(await a.page.getByRole('heading', { name: 'Widget & origins' }).count(), 0);
    const agentApi = agentHttp(app.url, a.session);
    assert.equal((await agentApi.get('/api/organization')).status, 403);
    assert.equal((await patch(app, a.session, { name: 'Nope' })).status, 403);
    assert.equal((await stored()).name, 'Acme Shoes');
  });

  await t.test(
    'the owner deletes the organization by typing its name, and lands on the sign-in page',
    async () => {
      await page.reload();
      await openSection(page, app);
      const danger = page.getByRole('form', { name: 'Danger zone' });
      const button = danger.getByRole('button', { name: 'Delete organization' });
      const confirm = danger.getByLabel('Type the organization’s name (Acme Shoes) to confirm');
      await confirm.fill('Acme');
      assert.equal(await button.isDisabled(), true, 'only the exact name arms the button');
      assert.equal((await stored()).name, 'Acme Shoes');
      await confirm.fill('Acme Shoes');
      await button.click();
      await page.waitForURL(/\/auth\/login/, { timeout: T });
      const gone = await widgetConfig(SHOP);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.data, null);
      assert.equal((await visitorSession(SHOP)).status, 404);
      assert.equal(
        (await ownerApi.get('/api/organization')).status,
        401,
        'the owner’s other sessions end too',
      );
    },
  );

  await t.test('no CSP violation and no page error', () => {
    assert.deepEqual(problems, []);
  });
});
