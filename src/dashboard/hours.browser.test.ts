// Dashboard → Widget & origins → Business hours, in real headless Chromium: an admin sets a time
// zone and per-day ranges, and the organization and the widget config follow; a range the editor
// cannot read is shown beside its day and nothing is saved; a time zone the server refuses shows
// the server's reason and nothing is saved; the saved hours come back after a reload; every day
// closed makes the widget closed; "Always open" clears them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import request from 'supertest';
import type { Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { createTenant, SHOP, type Envelope, type Tenant } from '../../test/helpers/relay.js';

const T = 10_000;

async function openSection(page: Page, app: TestApp) {
  await page.goto(`${app.url}/dashboard#settings`);
  await page.getByRole('heading', { name: 'Widget & origins', level: 1 }).waitFor({ timeout: T });
  await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
  await page.getByRole('heading', { name: 'Business hours' }).waitFor({ timeout: T });
}

test('dashboard → Business hours: set, refused, reloaded, closed, always open', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const tn = await createTenant(app.services, { origins: [SHOP] });
  const admin = await createAgent(app.services, tn.id, { role: 'admin' });
  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];
  const { context, page } = await signedIn(browser, app, admin.user.email, admin.password);
  contexts.push(context);
  watch(page, problems, 'admin');

  const stored = async () =>
    (
      (await database.prisma.organization.findUniqueOrThrow({ where: { id: tn.id } })).config as {
        business_hours?: unknown;
      }
    ).business_hours ?? null;
  const isOpen = async (tenant: Tenant) => {
    const res = await request(app.url)
      .get('/api/v1/fetch/widget-config')
      .query({ tenant_id: tenant.id, widget_public_key: tenant.pk, origin: SHOP });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ((res.body as Envelope).data as { is_open: boolean }).is_open;
  };
  const form = page.locator('form.hours');
  const always = form.getByLabel('Always open');
  const zone = form.getByLabel('Time zone');
  const day = (name: string) => form.getByLabel(name, { exact: true });
  const save = form.getByRole('button', { name: 'Save hours' });
  const status = form.locator('p[role="status"]');
  const alertLine = form.locator('p[role="alert"]');

  await openSection(page, app);

  await t.test('always open at first: the day fields are hidden until it is unchecked', async () => {
    assert.equal(await always.isChecked(), true);
    assert.equal(await zone.isVisible(), false);
    assert.equal(await day('Monday').isVisible(), false);
    assert.equal(await isOpen(tn), true);
    await always.uncheck();
    assert.equal(await zone.isVisible(), true);
    // Weekdays start at 09:00-18:00, the weekend closed.
    assert.equal(await day('Monday').inputValue(), '09:00-18:00');
    assert.equal(await day('Sunday').inputValue(), '');
  });

  await t.test('a range it cannot read is shown beside its day; nothing is saved', async () => {
    await zone.fill('Europe/Paris');
    await day('Tuesday').fill('9-5');
    await save.click();
    const err = form.locator(`#${await day('Tuesday').getAttribute('id')}-error`);
    await err
      .filter({ hasText: 'Write ranges as 09:00-18:00, separated by commas (“9-5” is not one)' })
      .waitFor({
        timeout: T,
      });
    assert.equal(await day('Tuesday').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).name), 'hours_tue');
    assert.equal(await stored(), null);
    // Typing clears the error.
    await day('Tuesday').fill('09:00-18:00');
    assert.equal(await err.textContent(), '');
    assert.equal(await day('Tuesday').getAttribute('aria-invalid'), null);
  });

  await t.test('a time zone the server refuses: its reason in the alert; nothing is saved', async () => {
    await zone.fill('Mars/Olympus_Mons');
    await save.click();
    await alertLine.filter({ hasText: /time.?zone/i }).waitFor({ timeout: T });
    assert.equal(await stored(), null);
  });

  await t.test('saved: the organization holds the hours; they come back after a reload', async () => {
    await zone.fill('Europe/Paris');
    await day('Monday').fill('09:00-12:00, 14:00–18:00');
    await day('Saturday').fill('10:00-13:00');
    await save.click();
    await status.filter({ hasText: 'Saved: open in Europe/Paris time.' }).waitFor({ timeout: T });
    assert.equal(await alertLine.textContent(), '');
    assert.deepEqual(await stored(), {
      time_zone: 'Europe/Paris',
      days: {
        mon: [
          ['09:00', '12:00'],
          ['14:00', '18:00'],
        ],
        tue: [['09:00', '18:00']],
        wed: [['09:00', '18:00']],
        thu: [['09:00', '18:00']],
        fri: [['09:00', '18:00']],
        sat: [['10:00', '13:00']],
        sun: [],
      },
    });

    await page.reload();
    await openSection(page, app);
    assert.equal(await always.isChecked(), false);
    assert.equal(await zone.inputValue(), 'Europe/Paris');
    assert.equal(await day('Monday').inputValue(), '09:00-12:00, 14:00-18:00');
    assert.equal(await day('Saturday').inputValue(), '10:00-13:00');
    assert.equal(await day('Sunday').inputValue(), '');
  });

  await t.test('every day emptied: the widget is closed whatever the time', async () => {
    for (const name of ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']) {
      await day(name).fill('');
    }
    await save.click();
    await status.filter({ hasText: 'Saved: open in Europe/Paris time.' }).waitFor({ timeout: T });
    assert.equal(await isOpen(tn), false);
  });

  await t.test('"Always open" clears the hours; the widget is open again', async () => {
    await always.check();
    assert.equal(await zone.isVisible(), false);
    await save.click();
    await status.filter({ hasText: 'Saved: always open.' }).waitFor({ timeout: T });
    assert.equal(await stored(), null);
    assert.equal(await isOpen(tn), true);
  });

  assert.deepEqual(problems, []);
});
