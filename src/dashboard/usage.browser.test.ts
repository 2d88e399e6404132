// Dashboard → Usage in real headless Chromium, after real relay traffic (visitor sessions, signed
// API calls, end users' messages through the signed API, and the webhooks it made the server
// deliver to a local receiver, signatures verified) whose counts were flushed: an owner reads
// today's values in each chart's table, sees a uPlot canvas per chart sized to its box (desktop and
// phone), the current minute's meters with refusals, a refresh, and 7 days instead of 30. An agent
// gets neither the section nor the API.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import request from 'supertest';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';
import { createTenant, createVisitorSession, signedCall } from '../../test/helpers/relay.js';
import { startWebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { rootDir } from '../shared/paths.js';

const T = 10_000;
const QUOTA = 5;
const artifacts = path.join(rootDir, 'test', 'artifacts');
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(artifacts, name) });
const today = () => new Date().toISOString().slice(0, 10);

type Usage = {
  current_minute: { kind: string; used: number; refused: number; resets_in_s: number }[];
  days: { day: string; sessions: number; messages: number; api_calls: number; webhooks_sent: number }[];
  totals: Record<'sessions' | 'messages' | 'api_calls' | 'webhooks_sent', number>;
};

test('dashboard → Usage: charts with their numbers, the current minute, the period', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database, {
    redis: true,
    // The tenant's webhook receiver is on loopback.
    env: { REALTIME_REDIS_PREFIX: `sb:usage:${randomUUID().slice(0, 8)}`, WEBHOOK_ALLOW_PRIVATE: 'true' },
  });
  // The server process runs the delivery worker (server.ts); the test app is that process here.
  app.webhooks.start();
  const tn = await createTenant(app.services, { rateLimitPerMin: QUOTA });
  const hooks = await startWebhookReceiver({ secrets: (id) => (id === tn.id ? tn.secret : undefined) });
  const owner = await createAgent(app.services, tn.id, { role: 'owner' });
  const agent = await createAgent(app.services, tn.id, { role: 'agent' });
  const ownerSession = await loginAgent(app.url, owner.user.email, owner.password);
  const ownerApi = agentHttp(app.url, ownerSession);

  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await hooks.close();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];

  // Webhooks on, every event, to the receiver.
  const configured = await request(app.url)
    .put('/api/organization/webhooks')
    .set('Cookie', ownerSession.cookie)
    .set('X-CSRFToken', ownerSession.csrf)
    .send({ callback_base_url: hooks.url });
  assert.equal(configured.status, 200, JSON.stringify(configured.body));
  // Real traffic: 3 visitor sessions (3 new visitors), then the backend's signed calls: 2 end-user
  // messages into the first session's conversation and 2 reads.
  const sessions = [];
  for (let i = 0; i < 3; i++) sessions.push(await createVisitorSession(app.url, tn));
  const signed = { id: tn.id, secret: tn.secret };
  const messagesPath = `/api/v1/relay/conversations/${sessions[0]!.conversation_id}/messages`;
  for (const content of ['Where is my parcel?', 'Order 1042']) {
    const res = await signedCall(app.url, signed, 'POST', messagesPath, { role: 'visitor', content });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  for (let i = 0; i < 2; i++) {
    assert.equal((await signedCall(app.url, signed, 'GET', '/api/v1/relay/conversations')).status, 200);
  }
  const SIGNED_CALLS = 4;
  // The webhooks that traffic made, each delivered and verified by the receiver.
  const events = { where: { organizationId: tn.id } };
  const undelivered = { where: { organizationId: tn.id, status: { not: 'delivered' as const } } };
  for (const deadline = Date.now() + 20_000; ;) {
    const made = await database.prisma.webhookEvent.count(events);
    if (made > 0 && (await database.prisma.webhookEvent.count(undelivered)) === 0) break;
    assert.ok(Date.now() < deadline, `webhooks still undelivered: ${made} made`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const WEBHOOKS = await database.prisma.webhookEvent.count(events);
  assert.ok(WEBHOOKS > 0);
  assert.equal(hooks.events().length, WEBHOOKS, 'each one received once, its signature verified');
  assert.ok(hooks.events().every((r) => r.body!.tenant_id === tn.id));
  // The worker counts a delivery once it has recorded it, a moment after the receiver answered
  // (and after the status this test polled): the count catches up.
  let stored: Usage;
  for (const deadline = Date.now() + 5000; ;) {
    await app.usage.flush();
    stored = (await ownerApi.get('/api/organization/usage?days=30')).body as Usage;
    if (stored.days.at(-1)?.webhooks_sent === WEBHOOKS || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const counted = stored.days.at(-1)!;
  assert.equal(counted.day, today());
  assert.deepEqual(
    { ...counted, day: undefined },
    { day: undefined, sessions: 3, messages: 2, api_calls: SIGNED_CALLS, webhooks_sent: WEBHOOKS },
  );

  const { context, page } = await signedIn(browser, app, owner.user.email, owner.password);
  contexts.push(context);
  watch(page, problems, 'owner');
  const card = (metric: string) => page.locator(`.usage-chart[data-metric="${metric}"]`);
  const meterText = (kind: string) => page.locator(`.usage-minute[data-kind="${kind}"] .usage-minute-text`);
  const meterValue = (name: string) =>
    page
      .getByRole('meter', { name, exact: true })
      .evaluate((m) => [(m as HTMLMeterElement).value, (m as HTMLMeterElement).max]);
  /** The chart's table, opened: [day (datetime), value] of each row, newest first. */
  async function numbers(c: Locator) {
    const details = c.locator('details');
    if ((await details.getAttribute('open')) === null) await c.getByText('Show the numbers').click();
    const rows = c.locator('details tbody tr');
    await rows.first().waitFor({ timeout: T });
    const days = await rows.locator('time').evaluateAll((ts) => ts.map((x) => x.getAttribute('datetime')));
    const values = await rows.locator('td:last-child').allTextContents();
    return days.map((d, i) => [d, values[i]] as const);
  }
  /** Every chart's uPlot canvas is drawn and fits its card. */
  async function chartsFit() {
    await page.waitForFunction(
      () => {
        const plots = [...document.querySelectorAll<HTMLElement>('.usage-plot')];
        return (
          plots.length === 4 &&
          plots.every((p) => {
            const canvas = p.querySelector('canvas');
            const box = p.getBoundingClientRect().width;
            return (
              canvas &&
              canvas.getBoundingClientRect().width > 0.8 * box &&
              canvas.getBoundingClientRect().width <= box + 1
            );
          })
        );
      },
      undefined,
      { timeout: T },
    );
  }

  await t.test('the owner opens Usage: four charts, each with its 30-day total and table', async () => {
    await page.goto(`${app.url}/dashboard#usage`);
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor({ timeout: T });
    await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
    assert.equal(await page.locator('.side-nav a[href="#usage"]').getAttribute('aria-current'), 'page');
    assert.deepEqual(await page.locator('.usage-chart h3').allTextContents(), [
      'Sessions',
      'Messages',
      'API calls',
      'Webhooks sent',
    ]);
    await chartsFit();
    assert.equal(await page.locator('.usage-chart .uplot canvas').count(), 4);
    await shot(page, 'dashboard-usage-desktop.png');
    const expected = {
      sessions: '3',
      messages: '2',
      api_calls: String(SIGNED_CALLS),
      webhooks_sent: String(WEBHOOKS),
    };
    for (const [metric, value] of Object.entries(expected)) {
      assert.equal(await card(metric).locator('.usage-total').textContent(), `${value} in the last 30 days`);
      const rows = await numbers(card(metric));
      assert.equal(rows.length, 30, metric);
      assert.deepEqual(rows[0], [today(), value], metric);
      assert.ok(
        rows.slice(1).every(([, v]) => v === '0'),
        `${metric}: nothing before today`,
      );
    }
    // Each chart says what it shows to a screen reader, the numbers being in its table.
    assert.match(
      (await card('sessions').locator('.usage-plot').getAttribute('aria-label'))!,
      /^Sessions per day, 30 days: 3 in all/,
    );
    assert.match(
      (await card('webhooks_sent').locator('.usage-plot').getAttribute('aria-label'))!,
      new RegExp(`^Webhooks sent per day, 30 days: ${WEBHOOKS} in all`),
    );
  });

  await t.test('the current minute: the quota, each kind used of it, refusals, a refresh', async () => {
    await page
      .getByText(`${QUOTA} per minute, each for new visitors, messages and API calls.`)
      .waitFor({ timeout: T });
    assert.deepEqual(await meterValue('New visitors'), [3, QUOTA]);
    assert.deepEqual(await meterValue('API calls'), [SIGNED_CALLS, QUOTA]);
    assert.match(
      (await meterText('visitors').textContent())!,
      new RegExp(`^3 / ${QUOTA} · resets in \\d+ s$`),
    );
    assert.match((await meterText('api_calls').textContent())!, new RegExp(`^${SIGNED_CALLS} / ${QUOTA} `));
    assert.doesNotMatch((await meterText('visitors').textContent())!, /refused/);

    // Two more visitors fill the minute; a third is refused.
    for (let i = 0; i < 2; i++) await createVisitorSession(app.url, tn);
    await assert.rejects(createVisitorSession(app.url, tn), /429/);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await meterText('visitors')
      .filter({ hasText: `${QUOTA} / ${QUOTA} · 1 refused` })
      .waitFor({ timeout: T });
    assert.deepEqual(await meterValue('New visitors'), [QUOTA, QUOTA]);
  });

  await t.test('7 days instead of 30: seven rows, the totals of the week', async () => {
    await app.usage.flush();
    await page.getByLabel('7 days').check();
    const rows = card('sessions').locator('details tbody tr');
    await rows.nth(7).waitFor({ state: 'detached', timeout: T });
    const sessionRows = await numbers(card('sessions'));
    assert.equal(sessionRows.length, 7);
    assert.deepEqual(sessionRows[0], [today(), String(3 + 2)]);
    assert.equal(await card('sessions').locator('.usage-total').textContent(), '5 in the last 7 days');
    assert.equal((await numbers(card('api_calls'))).length, 7);
    await page.getByLabel('90 days').check();
    await rows.nth(89).waitFor({ timeout: T });
    assert.equal(await rows.count(), 90);
    await page.getByLabel('30 days').check();
    await rows.nth(30).waitFor({ state: 'detached', timeout: T });
  });

  await t.test('at a phone’s width the charts are redrawn to fit', async () => {
    const before = await page.locator('.usage-plot canvas').first().boundingBox();
    await page.setViewportSize({ width: 390, height: 844 });
    await chartsFit();
    const after = await page.locator('.usage-plot canvas').first().boundingBox();
    assert.ok(after!.width < before!.width, `${after!.width} < ${before!.width}`);
    assert.ok(after!.width <= 390);
    // Nothing wider than the phone: no sideways scrolling of the page.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390));
    await page.locator('details[open]').evaluateAll((ds) => ds.forEach((d) => d.removeAttribute('open')));
    await page
      .getByRole('heading', { name: 'Per day', level: 2 })
      .evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot(page, 'dashboard-usage-phone.png');
  });

  await t.test('it refreshes itself every 10 s while shown, and stops once another section is', async () => {
    // A context of its own: its clock is Playwright's, moved by the test, never waited on.
    const o = await signedIn(browser, app, owner.user.email, owner.password);
    contexts.push(o.context);
    watch(o.page, problems, 'owner (clock)');
    await o.context.clock.install();
    const asked: string[] = [];
    o.page.on('request', (r) => {
      if (r.url().includes('/api/organization/usage')) asked.push(r.url());
    });
    await o.page.goto(`${app.url}/dashboard#usage`);
    await o.page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor({ timeout: T });
    await o.page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
    // The page's clock runs until paused: on a busy machine "100 ms from now" can be past by the
    // time the call reaches it ("Cannot fast-forward to the past"); then it is read again.
    for (let tries = 1; ; tries++) {
      try {
        await o.page.clock.pauseAt(await o.page.evaluate(() => Date.now() + 100));
        break;
      } catch (err) {
        if (tries >= 5 || !/to the past/.test(String(err))) throw err;
      }
    }
    assert.equal(asked.length, 1);

    // One more signed call; the next tick shows the minute as the server counts it.
    assert.equal((await signedCall(app.url, signed, 'GET', '/api/v1/relay/conversations')).status, 200);
    const answer = o.page.waitForResponse((r) => r.url().includes('/api/organization/usage'));
    await o.page.clock.runFor(10_000);
    const now = ((await (await answer).json()) as Usage).current_minute.find((c) => c.kind === 'api_calls')!;
    assert.ok(now.used >= 1);
    await o.page
      .locator('.usage-minute[data-kind="api_calls"] .usage-minute-text')
      .filter({ hasText: new RegExp(`^${now.used} / ${QUOTA}`) })
      .waitFor({ timeout: T });
    assert.equal(asked.length, 2);

    // Another section: a minute passes without a request; back on Usage, exactly one (its load).
    await o.page.evaluate(() => (location.hash = '#api-keys'));
    await o.page.getByRole('heading', { name: 'API Keys', level: 1 }).waitFor({ timeout: T });
    await o.page.clock.runFor(60_000);
    const back = o.page.waitForResponse((r) => r.url().includes('/api/organization/usage'));
    await o.page.evaluate(() => (location.hash = '#usage'));
    await back;
    await o.page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor({ timeout: T });
    assert.equal(asked.length, 3, asked.join('\n'));
  });

  await t.test('an agent gets neither the section nor the API', async () => {
    const a = await signedIn(browser, app, agent.user.email, agent.password);
    contexts.push(a.context);
    watch(a.page, problems, 'agent');
    await a.page.goto(`${app.url}/dashboard#usage`);
    await a.page.waitForURL(/\/inbox/, { timeout: T });
    assert.equal(await a.page.getByRole('heading', { name: 'Usage' }).count(), 0);
    assert.equal((await agentHttp(app.url, a.session).get('/api/organization/usage?days=30')).status, 403);
  });

  assert.deepEqual(problems, []);
});
