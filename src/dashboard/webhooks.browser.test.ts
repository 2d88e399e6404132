// Dashboard → Webhooks in real headless Chromium: an owner points the callback URL at a receiver
// of the test's own, sends a test event and sees it delivered at the first attempt, sees a
// receiver's 500s in the attempts of a failed delivery, and redelivers it once the receiver is
// back; the log pages by cursor. An agent gets neither the section nor the API; without
// WEBHOOK_ALLOW_PRIVATE a loopback URL is refused beside the field.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { launchBrowser, signedIn, watch } from '../../test/helpers/browser.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { agentHttp, type AgentSession } from '../../test/helpers/http.js';
import { parseHmacHeaders, verifyRequest } from '../relay/hmac.js';
import { rootDir } from '../shared/paths.js';

const T = 10_000;
// Deliveries are asynchronous: the worker picks them up, retries back off.
const DELIVERY_T = 30_000;
const EVENTS = [
  'conversation-started',
  'message-received',
  'ticket-created',
  'ticket-assigned',
  'ticket-resolved',
  'escalation-triggered',
  'agent-assigned',
  'agent-released',
  'agent-resolved',
];
const artifacts = path.join(rootDir, 'test', 'artifacts');
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(artifacts, name) });

type Received = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

/** A backend of the tenant's: answers `status.code` to every POST and keeps what it got. */
async function receiver() {
  const got: Received[] = [];
  const status = { code: 200 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const ok = status.code < 300;
      res.writeHead(status.code, { 'content-type': ok ? 'application/json' : 'text/plain' });
      res.end(ok ? '{"received":true}' : 'receiver down for maintenance');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    got,
    status,
    base: `http://127.0.0.1:${port}/hooks`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function openSection(page: Page, app: TestApp) {
  await page.goto(`${app.url}/dashboard#webhooks`);
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor({ timeout: T });
  await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
}

/** PUT with the session and CSRF token (agentHttp has no put). */
const put = (app: TestApp, s: AgentSession, p: string, body: object) =>
  fetch(`${app.url}${p}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', cookie: s.cookie, 'x-csrftoken': s.csrf },
    body: JSON.stringify(body),
  });

/** The log row of the newest delivery of `event`, its cells once `done` holds, clicking Refresh meanwhile. */
async function rowWhen(page: Page, event: string, done: (cells: string[]) => boolean) {
  const row = page.locator('tr.delivery', { hasText: event }).first();
  const deadline = Date.now() + DELIVERY_T;
  for (;;) {
    const cells = (await row.count()) ? await row.locator('td').allTextContents() : [];
    if (cells.length && done(cells)) return { row, cells };
    if (Date.now() > deadline) throw new Error(`the ${event} row never got there: ${JSON.stringify(cells)}`);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(300);
  }
}

/**
 * The attempts table in a row's expander, [attempt, status code, latency, error, excerpt, time][],
 * read in one go (the log redraws while deliveries are pending).
 */
async function attemptsOf(page: Page, row: Locator) {
  const toggle = row.getByRole('button', { name: /^Details of / });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  const read = () =>
    row.evaluate((tr) => {
      const table = document
        .getElementById(tr.querySelector('[aria-controls]')!.getAttribute('aria-controls')!)
        ?.querySelector('table');
      if (!table) return null;
      table.scrollIntoView({ block: 'nearest' });
      return [...table.tBodies[0]!.rows].map((r) => [...r.cells].map((c) => c.textContent ?? ''));
    });
  const deadline = Date.now() + T;
  for (;;) {
    const attempts = await read();
    if (attempts) return attempts;
    if (Date.now() > deadline) throw new Error('the attempts never showed');
    await page.waitForTimeout(100);
  }
}

test('dashboard → Webhooks: callback URL, events, test events, delivery log, redelivery', async (t) => {
  const database = await dbModes[0]!.open();
  const hooks = await receiver();
  const app = await startApp(database, {
    env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_MAX_ATTEMPTS: '3' },
  });
  // The server process starts the delivery worker (server.ts); the test app is that process here.
  app.webhooks.start();
  const { org, tenantSecret } = await createOrg(app.services, 'Webhooks Org');
  const owner = await createAgent(app.services, org.id, { role: 'owner' });
  const agent = await createAgent(app.services, org.id, { role: 'agent' });
  const ownerS = await loginAgent(app.url, owner.user.email, owner.password);
  const ownerApi = agentHttp(app.url, ownerS);

  const launching = launchBrowser();
  const contexts: BrowserContext[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await (await launching.catch(() => undefined))?.close();
    for (const c of cleanups) await c().catch(() => {});
    await app.stop();
    await hooks.close();
    await database.close();
  });
  const browser = await launching;
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  /** What the page and the server say of a delivery, for a failure's message. */
  const explain = async (row: Locator, cells: string[], attempts: string[][]) => {
    const id = await row.getAttribute('data-delivery-id');
    const server = (await ownerApi.get(`/api/organization/webhooks/deliveries/${id}`)).body as {
      status: string;
      attempt_log: { attempt: number; status_code: number | null; at: string }[];
    };
    return JSON.stringify({
      cells,
      attempts,
      server: { status: server.status, attempts: server.attempt_log },
    });
  };
  const settings = async () =>
    (await ownerApi.get('/api/organization/webhooks')).body as {
      callback_base_url: string | null;
      events: string[];
      available_events: string[];
    };

  const { context, page } = await signedIn(browser, app, owner.user.email, owner.password);
  contexts.push(context);
  watch(page, problems, 'owner');
  const form = page.getByRole('form', { name: 'Callback URL and events' });
  const url = form.getByLabel('Callback base URL');
  const save = form.getByRole('button', { name: 'Save' });

  await t.test('the owner finds the section: no URL yet, all nine events ticked', async () => {
    await openSection(page, app);
    assert.equal(await page.locator('.side-nav a[href="#webhooks"]').getAttribute('aria-current'), 'page');
    assert.equal(await url.inputValue(), '');
    assert.equal(
      await page.locator('.endpoint-pattern').textContent(),
      '{base}/api/v1/chat-callbacks/{event}',
    );
    for (const event of EVENTS)
      assert.ok(await form.getByRole('checkbox', { name: event }).isChecked(), event);
    assert.equal(await form.getByRole('checkbox').count(), 9);
    await page.getByText('No deliveries yet').waitFor({ timeout: T });
  });

  await t.test('a test event needs a callback URL first', async () => {
    const send = page.getByRole('form', { name: 'Send a test event' });
    await send.getByRole('button', { name: 'Send test event' }).click();
    await send.getByRole('alert').filter({ hasText: 'Save a callback URL first' }).waitFor({ timeout: T });
  });

  await t.test('a malformed URL is refused beside the field and nothing is stored', async () => {
    await url.fill('not a url');
    await save.click();
    const error = form.locator('.url-error');
    await error.filter({ hasText: /\S/ }).waitFor({ timeout: T });
    assert.equal(await error.textContent(), 'Not a valid URL: must be an absolute URL.');
    assert.equal(await url.getAttribute('aria-invalid'), 'true');
    assert.match(
      (await url.getAttribute('aria-describedby'))!,
      new RegExp(`\\b${await error.getAttribute('id')}\\b`),
    );
    assert.equal((await settings()).callback_base_url, null);
    // Typing again clears the error.
    await url.fill('h');
    assert.equal(await error.textContent(), '');
  });

  await t.test('the owner saves the URL (path prefix kept) and a choice of events', async () => {
    await url.fill(hooks.base);
    assert.equal(
      await page.locator('.endpoint-pattern').textContent(),
      `${hooks.base}/api/v1/chat-callbacks/{event}`,
    );
    await form.getByRole('checkbox', { name: 'agent-released' }).uncheck();
    await save.click();
    await form.getByRole('status').filter({ hasText: 'Saved: 8 of 9 events' }).waitFor({ timeout: T });
    let s = await settings();
    assert.equal(s.callback_base_url, hooks.base);
    assert.deepEqual([...s.events].sort(), EVENTS.filter((e) => e !== 'agent-released').sort());
    assert.deepEqual([...s.available_events].sort(), [...EVENTS].sort());

    // None ticked is refused (the URL is what turns webhooks off).
    for (const event of EVENTS) await form.getByRole('checkbox', { name: event }).uncheck();
    await save.click();
    await form.getByRole('alert').filter({ hasText: 'Tick at least one event' }).waitFor({ timeout: T });
    assert.equal((await settings()).events.length, 8);
    for (const event of EVENTS) await form.getByRole('checkbox', { name: event }).check();
    await save.click();
    await form.getByRole('status').filter({ hasText: 'Saved: 9 of 9 events' }).waitFor({ timeout: T });
    s = await settings();
    assert.equal(s.events.length, 9);
    // A reload shows what is stored.
    await page.reload();
    await openSection(page, app);
    assert.equal(await url.inputValue(), hooks.base);
    await shot(page, 'dashboard-webhooks.png');
  });

  await t.test('a test event is delivered at the first attempt, signed, and logged', async () => {
    const send = page.getByRole('form', { name: 'Send a test event' });
    assert.equal(await send.getByLabel('Event').inputValue(), 'conversation-started');
    await send.getByRole('button', { name: 'Send test event' }).click();
    await send.getByRole('status').filter({ hasText: 'queued' }).waitFor({ timeout: T });
    const { row, cells } = await rowWhen(page, 'conversation-started', (c) => c[1] === 'delivered');
    assert.equal(cells[0], 'conversation-started');
    assert.equal(cells[2], '1', 'one attempt');
    assert.equal(cells[3], '200');
    await page.waitForFunction(
      () => !document.querySelector('tr.delivery .latency')?.textContent?.includes('…'),
    );
    assert.match((await row.locator('.latency').textContent())!, /^\d+ ms$/);
    assert.ok(cells[5]!.length > 0, 'created time shown');

    const attempts = await attemptsOf(page, row);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]![0], '1');
    assert.equal(attempts[0]![1], '200');
    assert.match(attempts[0]![2]!, /^\d+ ms$/);
    assert.match(attempts[0]![4]!, /received/);
    await shot(page, 'dashboard-webhooks-delivered.png');

    // What the receiver got: the contract's path, headers, body and signature.
    const call = hooks.got.find((r) => r.url.endsWith('/conversation-started'));
    assert.ok(call, 'the receiver was called');
    assert.equal(call.method, 'POST');
    assert.equal(call.url, '/hooks/api/v1/chat-callbacks/conversation-started');
    assert.equal(call.headers['x-relay-event'], 'conversation-started');
    assert.equal(call.headers['x-relay-attempt'], '1');
    assert.equal(call.headers['x-relay-tenant'], org.id);
    const body = JSON.parse(call.body) as {
      id: string;
      type: string;
      tenant_id: string;
      data: { test?: boolean };
    };
    assert.equal(body.type, 'conversation-started');
    assert.equal(body.tenant_id, org.id);
    assert.equal(body.data.test, true);
    assert.equal(call.headers['x-relay-event-id'], body.id);
    verifyRequest({
      method: 'POST',
      pathAndQuery: call.url,
      body: call.body,
      headers: parseHmacHeaders(call.headers),
      secrets: [tenantSecret],
      windowS: 300,
      nowMs: Date.now(),
    });
  });

  await t.test('a receiver answering 500 fails the delivery; the attempts say why', async () => {
    hooks.status.code = 500;
    const send = page.getByRole('form', { name: 'Send a test event' });
    await send.getByLabel('Event').selectOption('ticket-created');
    await send.getByRole('button', { name: 'Send test event' }).click();
    const { row, cells } = await rowWhen(page, 'ticket-created', (c) => c[1] === 'failed');
    assert.equal(cells[2], '3', 'WEBHOOK_MAX_ATTEMPTS attempts');
    assert.equal(cells[3], '500');
    const attempts = await attemptsOf(page, row);
    assert.deepEqual(
      attempts.map((a) => a[0]),
      ['1', '2', '3'],
      await explain(row, cells, attempts),
    );
    for (const a of attempts) {
      assert.equal(a[1], '500');
      assert.match(a[4]!, /receiver down for maintenance/);
    }
    await shot(page, 'dashboard-webhooks-failed.png');
    assert.equal(hooks.got.filter((r) => r.url.endsWith('/ticket-created')).length, 3);
  });

  await t.test('once the receiver is back, Redeliver delivers the failed event', async () => {
    hooks.status.code = 200;
    const before = hooks.got.filter((r) => r.url.endsWith('/ticket-created')).length;
    const failed = page.locator('tr.delivery', { hasText: 'ticket-created' }).first();
    await failed.getByRole('button', { name: /^Redeliver / }).click();
    await page.getByText('Redelivery of ticket-created queued').waitFor({ timeout: T });
    const { row, cells } = await rowWhen(page, 'ticket-created', (c) => c[1] === 'delivered');
    assert.equal(cells[3], '200');
    const attempts = await attemptsOf(page, row);
    assert.equal(attempts.at(-1)![1], '200', await explain(row, cells, attempts));
    assert.ok(attempts.slice(0, -1).every((a) => a[1] === '500'));
    const after = hooks.got.filter((r) => r.url.endsWith('/ticket-created'));
    assert.equal(after.length, before + 1);
    // The same event, the same bytes, the next attempt number.
    assert.equal(after.at(-1)!.body, after[0]!.body);
    assert.equal(after.at(-1)!.headers['x-relay-attempt'], String(attempts.length));
    // The other delivery is untouched.
    const first = await rowWhen(page, 'conversation-started', () => true);
    assert.equal(first.cells[1], 'delivered');
    assert.equal(first.cells[2], '1');
    await shot(page, 'dashboard-webhooks-redelivered.png');
  });

  await t.test('the log pages by cursor, newest first', async () => {
    // 20 more test events (the page size) push the first two to the second page.
    for (let i = 0; i < 20; i++) {
      const res = await ownerApi.post('/api/organization/webhooks/test', { event: 'agent-assigned' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('tr.delivery', { hasText: 'agent-assigned' }).nth(19).waitFor({ timeout: T });
    assert.equal(await page.locator('tr.delivery').count(), 20);
    assert.equal(await page.locator('tr.delivery', { hasText: 'ticket-created' }).count(), 0);
    const older = page.getByRole('button', { name: 'Older' });
    const newer = page.getByRole('button', { name: 'Newer' });
    assert.ok(await newer.isDisabled());
    await older.click();
    await page.locator('tr.delivery', { hasText: 'ticket-created' }).waitFor({ timeout: T });
    const events = await page.locator('tr.delivery td:first-child').allTextContents();
    assert.deepEqual(events, ['ticket-created', 'conversation-started']);
    assert.ok(await older.isDisabled());
    await newer.click();
    await page
      .locator('tr.delivery', { hasText: 'ticket-created' })
      .waitFor({ state: 'detached', timeout: T });
    assert.equal(await page.locator('tr.delivery').count(), 20);
    // The status filter: nothing has failed for good any more.
    const filter = page.getByLabel('Status', { exact: true });
    await filter.selectOption('failed');
    await page.getByText('No failed deliveries.', { exact: true }).waitFor({ timeout: T });
    assert.equal(await page.locator('tr.delivery').count(), 0);
    await filter.selectOption('');
    await page.locator('tr.delivery').nth(19).waitFor({ timeout: T });
  });

  await t.test('an agent gets neither the section nor the API', async () => {
    const a = await signedIn(browser, app, agent.user.email, agent.password);
    contexts.push(a.context);
    watch(a.page, problems, 'agent');
    await a.page.goto(`${app.url}/dashboard#webhooks`);
    await a.page.waitForURL(/\/inbox/, { timeout: T });
    assert.equal(await a.page.getByRole('heading', { name: 'Webhooks' }).count(), 0);
    const agentApi = agentHttp(app.url, a.session);
    assert.equal((await agentApi.get('/api/organization/webhooks')).status, 403);
    assert.equal((await agentApi.get('/api/organization/webhooks/deliveries')).status, 403);
    assert.equal((await agentApi.post('/api/organization/webhooks/test', {})).status, 403);
    const refused = await put(app, a.session, '/api/organization/webhooks', { callback_base_url: null });
    assert.equal(refused.status, 403);
    assert.equal((await settings()).callback_base_url, hooks.base);
  });

  await t.test('without WEBHOOK_ALLOW_PRIVATE a loopback URL is refused beside the field', async () => {
    // A second node of its own, not delivering (its worker would refuse this test's receiver).
    const strict = await startApp(database, { env: { WEBHOOK_WORKER: 'off' } });
    cleanups.push(() => strict.stop());
    const other = await createOrg(strict.services, 'Strict Webhooks Org');
    const admin = await createAgent(strict.services, other.org.id, { role: 'admin' });
    const s = await signedIn(browser, strict, admin.user.email, admin.password);
    contexts.push(s.context);
    watch(s.page, problems, 'strict admin');
    await openSection(s.page, strict);
    const f = s.page.getByRole('form', { name: 'Callback URL and events' });
    const error = f.locator('.url-error');
    for (const refusedUrl of ['http://127.0.0.1:8080/hooks', 'http://10.1.2.3', 'http://[::1]:9000']) {
      await f.getByLabel('Callback base URL').fill(refusedUrl);
      await f.getByRole('button', { name: 'Save' }).click();
      await error.filter({ hasText: 'private or loopback addresses are refused' }).waitFor({ timeout: T });
    }
    await shot(s.page, 'dashboard-webhooks-refused.png');
    const stored = await agentHttp(strict.url, s.session).get('/api/organization/webhooks');
    assert.equal((stored.body as { callback_base_url: string | null }).callback_base_url, null);
    // The API says the same.
    const res = await put(strict, s.session, '/api/organization/webhooks', {
      callback_base_url: 'http://localhost:3000',
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'webhook/url_refused');
  });

  assert.deepEqual(problems, []);
});
