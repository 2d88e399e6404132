// The tenant console in real headless Chromium, as an owner runs it: rotates the tenant secret from
// Tenant keys and the old one keeps signing until its grace period ends (the app's clock is moved,
// not slept); rotates the widget key and each snippet carries the tenant id, the new key and the
// server's address in its own places (never the secret); pastes the script-tag snippet into a page
// of an allowed site and the widget there opens a session; runs the client-core snippet, as shown,
// in Node against the server (a session from an allowed origin, a message sent); adds an operator restricted to a
// queue and sees a delegated operator marked as such; and every section renders at 1280×800 and
// 390×844 without a CSP violation (screenshots in test/artifacts, not committed).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { createTenant, signedCall } from '../../test/helpers/relay.js';
import { rootDir } from '../shared/paths.js';

const T = 10_000;
const HOUR = 3_600_000;
const artifacts = path.join(rootDir, 'test', 'artifacts');
const SECTIONS: [string, string][] = [
  ['api-keys', 'API Keys'],
  ['team', 'Team'],
  ['keys', 'Tenant keys'],
  ['identity', 'Identity'],
  ['settings', 'Widget & origins'],
  ['usage', 'Usage'],
  ['web-chat', 'Web Chat'],
  ['mobile-sdk', 'Mobile SDK'],
  ['webhooks', 'Webhooks'],
  ['bots', 'Bots'],
  ['knowledge', 'Knowledge base'],
];

async function openSection(page: Page, app: TestApp, name: string) {
  const heading = SECTIONS.find(([n]) => n === name)![1];
  await page.goto(`${app.url}/dashboard#${name}`);
  await page.getByRole('heading', { name: heading, level: 1, exact: true }).waitFor({ timeout: T });
  await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
}

/** A tenant's own site: serves `html` at `/`, on a port of its own (its origin is what it is allowed as). */
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

test('the tenant console: keys and their rotation, snippets that work, operators, every page', async (t) => {
  let offset = 0;
  const database = await dbModes[0]!.open();
  const app = await startApp(database, { now: () => Date.now() + offset });
  const site = await hostSite();
  const tn = await createTenant(app.services, { origins: [site.origin] });
  const owner = await createAgent(app.services, tn.id, { role: 'owner' });

  const { browser, contexts } = await browserFor(t, async () => {
    await site.close();
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  const { context, page } = await signedIn(browser, app, owner.user.email, owner.password);
  contexts.push(context);
  watch(page, problems, 'owner');
  /** A signed call with `secret`, at the app's (moved) time. */
  const signedWith = (secret: string) =>
    signedCall(
      app.url,
      { id: tn.id, secret },
      'GET',
      '/api/v1/relay/conversations',
      undefined,
      Math.floor((Date.now() + offset) / 1000),
    );
  let newSecret = '';
  let locale = '';
  /** The code of the snippet with this caption, as the page shows it. */
  const snippet = async (caption: string) =>
    (await page
      .locator('.snippets figure.code-block')
      .filter({ has: page.locator('figcaption strong', { hasText: caption }) })
      .locator('pre')
      .textContent())!;

  await t.test('the owner rotates the secret; the old one signs until the grace period ends', async () => {
    assert.equal((await signedWith(tn.secret)).status, 200);
    await openSection(page, app, 'keys');
    const rotate = page.getByRole('form', { name: 'Rotate the tenant secret' });
    await rotate.getByLabel('Grace period for the current secret').selectOption({ label: '1 hour' });
    await rotate.getByRole('button', { name: 'Rotate secret…' }).click();
    await rotate.getByText(/keeps verifying for 1 hour, then stops/).waitFor({ timeout: T });
    await rotate.getByRole('button', { name: 'Confirm rotation' }).click();
    await page.locator('.secret-value').waitFor({ timeout: T });
    newSecret = (await page.locator('.secret-value').textContent())!;
    assert.match(newSecret, /^sk_/);
    await page.locator('.grace').waitFor({ timeout: T });
    assert.match((await page.locator('.grace').textContent())!, /still verifies until .+ left\)$/);
    await page.screenshot({ path: path.join(artifacts, 'console-keys-rotated.png'), fullPage: true });

    assert.equal((await signedWith(tn.secret)).status, 200, 'the old secret, right after');
    assert.equal((await signedWith(newSecret)).status, 200, 'the new secret');
    offset = HOUR - 60_000;
    assert.equal((await signedWith(tn.secret)).status, 200, 'the old secret, a minute before the end');
    await page.reload();
    await openSection(page, app, 'keys');
    assert.match((await page.locator('.grace').textContent())!, /\(1 min left\)$/);

    offset = HOUR + 60_000;
    const late = await signedWith(tn.secret);
    assert.equal(late.status, 401, 'the old secret, a minute after');
    assert.equal(late.body.error, 'hmac/bad_signature');
    assert.equal((await signedWith(newSecret)).status, 200);
    await page.reload();
    await openSection(page, app, 'keys');
    assert.equal(await page.locator('.grace').count(), 0, 'the grace notice is gone');
  });
  offset = 0;

  await t.test('the widget key rotates and the snippets carry the new one', async () => {
    const before = (await page.locator('.public-key').textContent())!;
    assert.equal(before, tn.pk);
    const rotate = page.getByRole('form', { name: 'Rotate the widget key' });
    await rotate.getByRole('button', { name: 'Rotate widget key…' }).click();
    await rotate.getByText(/stops working now/).waitFor({ timeout: T });
    await rotate.getByRole('button', { name: 'Confirm new widget key' }).click();
    await page.getByRole('status').filter({ hasText: 'New widget public key' }).waitFor({ timeout: T });
    const pk = (await page.locator('.public-key').textContent())!;
    assert.notEqual(pk, before);
    const all = (await page.locator('.snippets .code-block pre').allTextContents()).join('\n');
    assert.ok(!all.includes(before), 'not the old key');
    assert.ok(!all.includes(newSecret) && !all.includes(tn.secret), 'never the secret');

    // Each snippet, its values in their own places.
    locale = ((await (await page.request.get(`${app.url}/api/organization`)).json()) as { locale: string })
      .locale;
    const tag = await snippet('Script tag (any site)');
    assert.ok(tag.includes(`<script src="${app.url}/sdk/switchboard-chat.js" defer></script>`), tag);
    assert.ok(tag.includes(`<switchboard-chat tenant-id="${tn.id}" widget-key="${pk}"`), tag);
    assert.ok(tag.includes(`base-url="${app.url}" locale="${locale}"></switchboard-chat>`), tag);

    const core = await snippet('Client core (TypeScript, browsers and Node)');
    assert.ok(core.startsWith("import { ChatClient, WSClient } from '@switchboard/client-core';"), core);
    const client = core.slice(core.indexOf('new ChatClient({'), core.indexOf('});'));
    assert.ok(client.includes(`  baseUrl: '${app.url}',\n`), client);
    assert.ok(client.includes(`  tenantId: '${tn.id}',\n`), client);
    assert.ok(client.includes(`  widgetPublicKey: '${pk}',\n`), client);
    // In Node, the tenant's allowed origin (a browser sends its page's).
    assert.ok(client.includes(`.location?.origin ?? '${site.origin}',\n`), client);
    const socket = core.slice(core.indexOf('new WSClient('));
    assert.ok(socket.includes(`    baseUrl: '${app.url}',\n`), socket);

    const angular = await snippet('Angular provider');
    assert.ok(angular.startsWith("import { provideSwitchboardChat } from '@switchboard/angular';"), angular);
    assert.ok(angular.includes(`      tenantId: '${tn.id}',\n`), angular);
    assert.ok(angular.includes(`      publicKey: '${pk}',\n`), angular);
    assert.ok(angular.includes(`      baseUrl: '${app.url}',\n`), angular);

    const env = (await snippet('Server SDK environment (Node and Python)')).split('\n');
    assert.equal(env[0], `SWITCHBOARD_BASE_URL=${app.url}`);
    assert.equal(env[1], `SWITCHBOARD_TENANT_ID=${tn.id}`);
    assert.match(
      env[2]!,
      new RegExp(
        `^SWITCHBOARD_TENANT_SECRET=sk_\\.\\.\\. +# the secret ending in ${newSecret.slice(-4)}: server-side only$`,
      ),
    );
    assert.ok(!env.join('\n').includes(pk), 'no widget key on the server side');
    const stored = await database.prisma.organization.findUniqueOrThrow({ where: { id: tn.id } });
    assert.equal(stored.widgetPublicKey, pk);
  });

  await t.test('the script-tag snippet, pasted into an allowed site, opens the chat there', async () => {
    const block = page.locator('.snippets .code-block').filter({ hasText: 'switchboard-chat.js' });
    const snippet = (await block.locator('pre, code').first().textContent())!;
    site.page.html = `<!doctype html><html lang="en"><head><title>Shop</title></head><body><h1>Shop</h1>${snippet}</body></html>`;
    const visitor = await browser.newContext({ viewport: { width: 390, height: 844 } });
    contexts.push(visitor);
    const v = await visitor.newPage();
    watch(v, problems, 'visitor');
    await v.goto(site.origin);
    const launcher = v.locator('switchboard-chat .launcher');
    await launcher.waitFor({ state: 'visible', timeout: T });
    await launcher.click();
    await v.waitForFunction(
      () => document.querySelector('switchboard-chat')?.getAttribute('data-state') === 'open',
      null,
      { timeout: T },
    );
    const sessions = await database.prisma.visitorSession.findMany({ where: { organizationId: tn.id } });
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.origin, site.origin);
    await v.screenshot({ path: path.join(artifacts, 'console-snippet-site-phone.png') });
  });

  await t.test('the client-core snippet, run as shown in Node, opens a session and sends', async () => {
    const core = await snippet('Client core (TypeScript, browsers and Node)');
    // Node 20: the snippet's own instruction, followed (Node 22+ has a WebSocket of its own).
    const node20 = Number(process.versions.node.split('.')[0]) < 22;
    const code = node20
      ? `import { WebSocket } from 'ws';\n${core.replace('const ws = new WSClient(\n  {\n', '$&    WebSocket,\n')}`
      : core;
    if (node20) assert.ok(code.includes('    WebSocket,\n    baseUrl'), 'WebSocket passed to WSClient');
    // Beside the project's node_modules, where @switchboard/client-core and ws resolve.
    const file = path.join(artifacts, 'snippet-client-core.mts');
    writeFileSync(file, code);
    // It type-checks, strictly, as a Node project's TypeScript would.
    const tsc = spawnSync(
      process.execPath,
      [
        path.join(rootDir, 'node_modules', 'typescript', 'bin', 'tsc'),
        ...['--ignoreConfig', '--noEmit', '--strict', '--skipLibCheck', '--types', 'node'],
        ...['--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', file],
      ],
      { cwd: rootDir, encoding: 'utf8' },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: rootDir });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const deadline = Date.now() + 20_000;
      let sent = null;
      while (!sent && Date.now() < deadline) {
        sent = await database.prisma.message.findFirst({
          where: { conversation: { organizationId: tn.id }, senderType: 'end_user', content: 'Hello!' },
          include: { conversation: true },
        });
        if (!sent) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(sent, `the snippet's message reached the server; its output: ${output}`);
      const session = await database.prisma.visitorSession.findFirstOrThrow({
        where: { organizationId: tn.id, conversationId: sent.conversationId },
      });
      assert.equal(session.origin, site.origin, 'the allowed origin the snippet names');
      assert.equal(session.locale, locale, "the tenant's locale the snippet asks for");
      assert.doesNotMatch(output, /Error/);
    } finally {
      child.kill();
      await exited;
    }
  });

  await t.test('team: an operator restricted to a queue; a delegated operator marked', async () => {
    const made = await signedCall(
      app.url,
      { id: tn.id, secret: newSecret },
      'POST',
      '/api/v1/relay/operators',
      {
        external_id: 'pos-user-77',
        display_name: 'Till 77',
        routing_keys: ['store-77'],
      },
    );
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await openSection(page, app, 'team');
    const add = page.getByRole('form', { name: 'Add a team member' });
    await add.getByLabel('Name').fill('Rosa');
    await add.getByLabel('Email').fill(`rosa.${Date.now()}@example.com`);
    await add.getByLabel(/Initial password/).fill('pa55word!');
    const queues = add.getByLabel('Add to Queues of the new member');
    await queues.fill('store-12');
    await queues.press('Enter');
    await add.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('list', { name: 'Queues of Rosa' }).getByText('store-12').waitFor({ timeout: T });
    const rosa = await database.prisma.user.findFirstOrThrow({
      where: { organizationId: tn.id, displayName: 'Rosa' },
    });
    assert.deepEqual(rosa.routingKeys, ['store-12']);
    assert.equal(rosa.role, 'agent');

    const till = page.getByRole('row', { name: /Till 77/ });
    await till.getByText('Delegated · pos-user-77').waitFor({ timeout: T });
    assert.match((await till.textContent())!, /signs in through your app/);
    assert.equal(
      await page.getByRole('list', { name: 'Queues of Till 77' }).getByText('store-77').count(),
      1,
    );
    assert.equal(
      await page
        .getByRole('row', { name: /Rosa/ })
        .getByText(/Delegated/)
        .count(),
      0,
    );
  });

  await t.test('every section renders at 1280×800 and 390×844', async () => {
    const phone = await signedIn(browser, app, owner.user.email, owner.password, { width: 390, height: 844 });
    contexts.push(phone.context);
    watch(phone.page, problems, 'owner (phone)');
    for (const [name] of SECTIONS) {
      for (const [p, size] of [
        [page, 'desktop'],
        [phone.page, 'phone'],
      ] as const) {
        await openSection(p, app, name);
        assert.equal(
          await p
            .getByRole('alert')
            .filter({ hasText: /Failed|went wrong/ })
            .count(),
          0,
          name,
        );
        await p.screenshot({ path: path.join(artifacts, `console-${name}-${size}.png`), fullPage: true });
      }
    }
    // Nothing wider than the phone's screen forces a sideways scroll of the page.
    await openSection(phone.page, app, 'keys');
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert.ok(overflow <= 1, `the keys page scrolls sideways by ${overflow}px on a phone`);
  });

  assert.deepEqual(problems, []);
});
