// Outside business hours and after a resolve, in real headless Chromium: the visitor (a host page
// of another origin with <switchboard-chat>) and the agent (inbox, console) in separate contexts.
// The element shows the offline message and the email form; the email reaches the inbox header;
// the agent resolves; the visitor rates with the keyboard; the inbox and the usage show the rating.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { browserFor, signedIn, watch } from '../../../test/helpers/browser.js';
import { startApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant } from '../../../test/helpers/relay.js';

const T = 10_000;
const bundle = path.join(import.meta.dirname, '..', 'dist', 'switchboard-chat.js');

function startHost(
  files: Record<string, { type: string; body: string }>,
  csp: () => string,
): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type, 'content-security-policy': csp() }).end(f.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('<switchboard-chat> outside business hours: offline message, email to the inbox, a keyboard rating after the resolve', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const files: Record<string, { type: string; body: string }> = {
    '/switchboard-chat.js': { type: 'text/javascript', body: readFileSync(bundle, 'utf8') },
  };
  const ws = app.url.replace(/^http/, 'ws');
  const host = await startHost(
    files,
    () => `default-src 'none'; script-src 'self'; style-src 'self'; connect-src ${app.url} ${ws}`,
  );
  const { browser, contexts } = await browserFor(t, async () => {
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const tn = await createTenant(app.services, { origins: [hostUrl] });
  // Business hours without a single range: closed whatever the time.
  await app.services.tenants.configure(tn.id, {
    offline_message: 'We are closed; we answer on weekdays.',
    business_hours: { time_zone: 'Asia/Tokyo', days: {} },
  });
  files['/'] = {
    type: 'text/html',
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="/switchboard-chat.js" defer></script></head><body><h1>Shop</h1>
<switchboard-chat tenant-id="${tn.id}" widget-key="${tn.pk}" base-url="${app.url}" locale="en" mode="panel"></switchboard-chat>
</body></html>`,
  };
  const problems: string[] = [];

  // The agent (an admin: the console's usage too) has the inbox open: online, yet closed.
  const admin = await createAgent(app.services, tn.id, { role: 'admin' });
  const a = await signedIn(browser, app, admin.user.email, admin.password);
  contexts.push(a.context);
  watch(a.page, problems, 'inbox');
  await a.page.goto(`${app.url}/inbox`);
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });

  const visitorContext = await browser.newContext();
  contexts.push(visitorContext);
  // A slow session (a busy server): the email sent before it exists waits for it, not fails.
  await visitorContext.route('**/api/v1/create/visitor-session', async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  const v = await visitorContext.newPage();
  watch(v, problems, 'visitor');
  await v.goto(`${hostUrl}/`);

  await t.test('outside hours: the offline message and the email form; a bad email is refused', async () => {
    await v
      .getByRole('note')
      .filter({ hasText: 'We are closed; we answer on weekdays.' })
      .waitFor({ timeout: T });
    const email = v.getByRole('textbox', { name: 'Leave your email and we’ll answer there' });
    await email.waitFor({ timeout: T });
    await email.fill('not-an-email');
    await email.press('Enter');
    await v.getByText('Enter a valid email address, such as name@example.com.').waitFor({ timeout: T });
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    const users = await database.prisma.endUser.findMany({ where: { organizationId: tn.id } });
    assert.ok(users.every((u) => !(u.metadata as Record<string, unknown>).email));
    await email.fill('ana@example.com');
    await v.getByRole('button', { name: 'Send email' }).click();
    await v.getByText('Thanks! We’ll answer at ana@example.com.').waitFor({ timeout: T });
    // Messages are still taken: the conversation waits in the queue.
    await v.getByRole('textbox', { name: 'Message' }).fill('Is my order on its way?');
    await v.keyboard.press('Enter');
    await v.locator('switchboard-chat .msg.visitor:not(.pending)').waitFor({ timeout: T });
  });

  await t.test('the inbox header shows the email; the agent resolves', async () => {
    const item = a.page.locator('.conv', { hasText: 'Is my order on its way?' });
    await item.waitFor({ timeout: T });
    await item.click();
    await a.page
      .locator('#thread-extras .contact-email', { hasText: 'ana@example.com' })
      .waitFor({ timeout: T });
    assert.match((await a.page.locator('#thread-extras').textContent())!, /ana@example\.com \(unverified\)/);
    await a.page.getByRole('button', { name: 'Resolve…' }).click();
    await a.page.getByRole('button', { name: 'Resolve', exact: true }).click();
    await a.page.locator('#thread-meta', { hasText: 'Resolved' }).waitFor({ timeout: T });
  });

  await t.test('the visitor rates 4 with a comment, keyboard only; the inbox shows ★ 4', async () => {
    const group = v.getByRole('radiogroup', { name: 'How was this conversation?' });
    await group.waitFor({ timeout: T });
    await v.getByRole('radio', { name: '1 out of 5 stars' }).focus();
    await v.keyboard.press('Space');
    for (let i = 0; i < 3; i++) await v.keyboard.press('ArrowRight');
    assert.equal(await v.getByRole('radio', { name: '4 out of 5 stars' }).isChecked(), true);
    assert.equal(await v.locator('switchboard-chat .star.on').count(), 4);
    await v.keyboard.press('Tab');
    await v.keyboard.type('Quick and kind');
    await v.keyboard.press('Tab');
    await v.keyboard.press('Enter');
    await v.getByText('Thanks for your rating!').waitFor({ timeout: T });

    await a.page
      .locator('#thread-extras .rating-badge', { hasText: '★ 4 — Quick and kind' })
      .waitFor({ timeout: T });
    // After a reload too (read with the conversation).
    await a.page.reload();
    await a.page.getByRole('tab', { name: 'All' }).click();
    const conv = await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: tn.id } });
    await a.page.locator(`.conv[data-id="${conv.id}"]`).click();
    await a.page
      .locator('#thread-extras .rating-badge', { hasText: '★ 4 — Quick and kind' })
      .waitFor({ timeout: T });
  });

  await t.test('the console’s usage shows the rating', async () => {
    await a.page.goto(`${app.url}/dashboard#usage`);
    const card = a.page.locator('.usage-ratings');
    await card
      .locator('.usage-total', { hasText: '★ 4.0 average · 1 rating in the last 30 days' })
      .waitFor({ timeout: T });
    assert.equal(await card.getByRole('meter', { name: '4 stars' }).getAttribute('value'), '1');
    assert.equal(await card.getByRole('meter', { name: '5 stars' }).getAttribute('value'), '0');
  });

  assert.deepEqual(problems, []);
});
