// The embed widget (embed.js on a site of another origin, the widget in its iframe) outside the
// tenant's business hours, with the visitor and the agent in separate Chromium contexts. An agent
// is online (the inbox is open), yet the hours are closed: the widget says so with the tenant's
// offline message and collects an email; the message still reaches the inbox, which shows the
// email; the agent resolves from the inbox; the visitor rates in the widget; the inbox shows the
// rating, live and after a reload.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';

const T = 10_000;
const OFFLINE = 'We are closed right now; we open on weekdays at 9.';

function startHost(appUrl: string, token: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>
<h1>Shop</h1><script src="${appUrl}/chat-widget/embed.js" data-embed-token="${token()}" data-customer-name="Olga"></script></body></html>`,
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The widget's iframe, opened from the launcher. */
async function widgetFrame(page: Page): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))), T);
  await frame!.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
  await page.evaluate(() =>
    (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
  );
  await frame!.locator('#cw-input').waitFor({ state: 'visible', timeout: T });
  return frame!;
}

/** Open one day of the week only, and not today (in UTC): whenever the test runs, it is closed. */
function closedToday() {
  const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
  const other = days[(new Date().getUTCDay() + 3) % 7]!;
  return { time_zone: 'UTC', days: { [other]: [['09:00', '17:00']] } } as {
    time_zone: string;
    days: Partial<Record<(typeof days)[number], [string, string][]>>;
  };
}

test('embed widget outside business hours: says so, takes an email and a rating; the inbox shows both', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org } = await createOrg(app.services, 'Closed Shop');
  let token = '';
  const host = await startHost(app.url, () => token);
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  token = (
    await app.services.channels.createEmbedToken({
      organizationId: org.id,
      name: 'Web chat',
      allowedOrigins: [hostUrl],
    })
  ).token;
  await app.services.tenants.configure(org.id, {
    offline_message: OFFLINE,
    business_hours: closedToday(),
  });
  const agent = await createAgent(app.services, org.id);
  const { browser, contexts } = await browserFor(t, async () => {
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];

  // The agent is online: the inbox is open in their own context.
  const a = await signedIn(browser, app, agent.user.email, agent.password);
  contexts.push(a.context);
  watch(a.page, problems, 'agent');
  await a.page.goto(`${app.url}/inbox`);
  await a.page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });

  const visitorCtx = await browser.newContext();
  contexts.push(visitorCtx);
  const page = await visitorCtx.newPage();
  watch(page, problems, 'visitor');
  await page.goto(`${hostUrl}/`);
  const frame = await widgetFrame(page);

  await t.test('closed: the offline message and the email form, though an agent is online', async () => {
    await frame.getByRole('note').filter({ hasText: OFFLINE }).waitFor({ timeout: T });
    const email = frame.getByRole('textbox', { name: 'Leave your email and we’ll answer there' });
    await email.fill('olga@');
    await email.press('Enter');
    await frame.getByText('Enter a valid email address').waitFor({ timeout: T });
    await email.fill('olga@example.com');
    await email.press('Enter');
    await frame.getByText('Thanks! We’ll answer at olga@example.com.').waitFor({ timeout: T });
    // The conversation still takes messages: it waits in the queue.
    await frame.locator('#cw-input').fill('Can I change my delivery address?');
    await frame.locator('#cw-input').press('Enter');
    await frame
      .locator('.cw-msg--me:not(.cw-msg--pending)', { hasText: 'Can I change my delivery address?' })
      .waitFor({ timeout: T });
  });

  const conv = await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } });

  await t.test('the inbox lists it and shows the email; the agent resolves it', async () => {
    const item = a.page.locator(`.conv[data-id="${conv.id}"]`);
    await item.waitFor({ timeout: T });
    await item.click();
    await a.page
      .locator('#message-list .msg', { hasText: 'Can I change my delivery address?' })
      .waitFor({ timeout: T });
    await a.page
      .locator('#thread-extras .contact-email', { hasText: 'olga@example.com' })
      .waitFor({ timeout: T });
    assert.match((await a.page.locator('#thread-extras').textContent())!, /olga@example\.com \(unverified\)/);
    await a.page.getByRole('button', { name: 'Resolve…' }).click();
    await a.page.getByRole('button', { name: 'Resolve', exact: true }).click();
    await a.page.locator('#thread-meta', { hasText: 'Resolved' }).waitFor({ timeout: T });
  });

  await t.test(
    'the visitor rates in the widget; the inbox shows the rating, live and after a reload',
    async () => {
      await frame.getByRole('radiogroup', { name: 'How was this conversation?' }).waitFor({ timeout: T });
      await frame.getByRole('radio', { name: '1 out of 5 stars' }).focus();
      await page.keyboard.press('Space');
      for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Tab');
      await page.keyboard.type('Helpful even when closed');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await frame.getByText('Thanks for your rating!').waitFor({ timeout: T });
      const rating = await database.prisma.rating.findFirstOrThrow({ where: { conversationId: conv.id } });
      assert.deepEqual(
        { score: rating.score, comment: rating.comment },
        { score: 3, comment: 'Helpful even when closed' },
      );

      await a.page
        .locator('#thread-extras .rating-badge', { hasText: '★ 3 — Helpful even when closed' })
        .waitFor({ timeout: T });
      await a.page.reload();
      await a.page.getByRole('tab', { name: 'All' }).click();
      await a.page.locator(`.conv[data-id="${conv.id}"]`).click();
      await a.page
        .locator('#thread-extras .rating-badge', { hasText: '★ 3 — Helpful even when closed' })
        .waitFor({ timeout: T });
      await a.page
        .locator('#thread-extras .contact-email', { hasText: 'olga@example.com' })
        .waitFor({ timeout: T });
    },
  );

  assert.deepEqual(problems, []);
});
