// Dashboard → Identity and Tenant keys in real headless Chromium: an owner reads the keys (the
// secret only as its hint), switches the organization's identity mode, sets and clears a channel's
// override, rotates the tenant secret with a grace period and reads the new one once; both secrets
// then sign accepted user_hashes. An admin cannot rotate and is told why; a refusal from the server
// shows in the section.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';
import { rootDir } from '../shared/paths.js';
import { userHash } from '../tenants/identity.js';

const T = 10_000;
const artifacts = path.join(rootDir, 'test', 'artifacts');
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(artifacts, name) });

const HEADINGS = { identity: 'Identity', keys: 'Tenant keys' };

async function openSection(page: Page, app: TestApp, name: keyof typeof HEADINGS = 'identity') {
  await page.goto(`${app.url}/dashboard#${name}`);
  await page.getByRole('heading', { name: HEADINGS[name], level: 1, exact: true }).waitFor({ timeout: T });
  await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
}

test('dashboard → Identity and Tenant keys: modes, channel overrides, secret rotation', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, tenantSecret, botId, channelId: webchatId } = await createOrg(app.services, 'Identity Org');
  const owner = await createAgent(app.services, org.id, { role: 'owner' });
  const admin = await createAgent(app.services, org.id, { role: 'admin' });
  const ownerS = await loginAgent(app.url, owner.user.email, owner.password);
  const ownerApi = agentHttp(app.url, ownerS);
  const mobile = await ownerApi.post('/api/mobile/channels', { bot_id: botId });
  assert.equal(mobile.status, 201);
  const mobileId = (mobile.body as { id: string }).id;

  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  const organization = async () =>
    (await ownerApi.get('/api/organization')).body as {
      identity_mode: string;
      tenant_secret_hint: string;
      previous_secret_valid_until: string | null;
    };
  const channelMode = async (id: string) =>
    (await database.prisma.channel.findUniqueOrThrow({ where: { id } })).identityMode;
  /** Native open as an app would call it, for `user-1` signed with `secret`. */
  const openAs = (secret: string) =>
    fetch(`${app.url}/api/mobile/conversations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        channel_id: mobileId,
        external_id: 'user-1',
        user_hash: userHash(secret, 'user-1'),
      }),
    });
  let newSecret = '';

  const { context, page } = await signedIn(browser, app, owner.user.email, owner.password);
  contexts.push(context);
  watch(page, problems, 'owner');

  await t.test('the owner sees the ids and the hint, never the secret', async () => {
    await openSection(page, app, 'keys');
    assert.equal(await page.locator('.side-nav a[href="#keys"]').getAttribute('aria-current'), 'page');
    assert.equal(await page.locator('.tenant-id').textContent(), org.id);
    assert.equal(await page.locator('.public-key').textContent(), org.widgetPublicKey);
    assert.equal(await page.locator('.secret-hint').textContent(), `sk_…${tenantSecret.slice(-4)}`);
    assert.equal(await page.locator('.grace').count(), 0);
    assert.ok(!(await page.content()).includes(tenantSecret));

    await openSection(page, app);
    assert.equal(await page.locator('.side-nav a[href="#identity"]').getAttribute('aria-current'), 'page');
    // The recipe names the env var and this organization, not the secret.
    const recipe = (await page.locator('.code-block').allTextContents()).join('\n');
    assert.match(recipe, /process\.env\.SWITCHBOARD_TENANT_SECRET/);
    assert.match(recipe, /os\.environ\["SWITCHBOARD_TENANT_SECRET"\]/);
    assert.ok(recipe.includes(org.id));
    assert.ok(!recipe.includes(tenantSecret));
    assert.ok(await page.getByRole('radio', { name: 'Verified' }).isChecked());
    await shot(page, 'dashboard-identity.png');
  });

  await t.test('the organization mode: anonymous, off only once confirmed, back to verified', async () => {
    const modeForm = page.getByRole('form', { name: 'Identity mode' });
    const save = modeForm.getByRole('button', { name: 'Save identity mode' });
    const status = modeForm.getByRole('status');

    await modeForm.getByRole('radio', { name: 'Anonymous' }).check();
    await save.click();
    await status.filter({ hasText: 'anonymous' }).waitFor({ timeout: T });
    assert.equal((await organization()).identity_mode, 'anonymous');
    // The channels' "default" follows the organization's mode.
    assert.equal(
      await page
        .getByLabel('Identity mode of Assistant (Mobile SDK)')
        .locator('option')
        .first()
        .textContent(),
      'Organization default (anonymous)',
    );

    // Off asks first: the warning appears, and saving without "I understand" changes nothing.
    const understand = modeForm.getByRole('checkbox', { name: /I understand/ });
    assert.equal(await understand.isVisible(), false);
    await modeForm.getByRole('radio', { name: 'Off' }).check();
    await understand.waitFor({ state: 'visible', timeout: T });
    await shot(page, 'dashboard-identity-off-confirm.png');
    await save.click();
    assert.equal(await understand.evaluate((el) => (el as HTMLInputElement).validity.valueMissing), true);
    assert.equal((await organization()).identity_mode, 'anonymous');
    // Changing one's mind hides the warning again.
    await modeForm.getByRole('radio', { name: 'Verified' }).check();
    assert.equal(await understand.isVisible(), false);

    await save.click();
    await status.filter({ hasText: 'verified' }).waitFor({ timeout: T });
    assert.equal((await organization()).identity_mode, 'verified');
    const stored = await database.prisma.organization.findUniqueOrThrow({ where: { id: org.id } });
    assert.equal(stored.identityMode, 'verified');
  });

  await t.test('a channel override is set and cleared; off asks in the row first', async () => {
    const mobileSel = page.getByLabel('Identity mode of Assistant (Mobile SDK)');
    const mobileRow = page.getByRole('row', { name: /Mobile SDK/ });
    await mobileSel.selectOption('anonymous');
    await mobileRow.getByRole('status').filter({ hasText: 'Saved: anonymous' }).waitFor({ timeout: T });
    assert.equal(await channelMode(mobileId), 'anonymous');
    await mobileSel.selectOption({ label: 'Organization default (verified)' });
    await mobileRow
      .getByRole('status')
      .filter({ hasText: 'Saved: organization default' })
      .waitFor({ timeout: T });
    assert.equal(await channelMode(mobileId), null);

    const webSel = page.getByLabel('Identity mode of Assistant (Web chat)');
    const webRow = page.getByRole('row', { name: /Web chat/ });
    await webSel.selectOption('off');
    await webRow.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await webSel.inputValue(), '');
    assert.equal(await channelMode(webchatId), null);
    await webSel.selectOption('off');
    await webRow.getByRole('button', { name: 'Turn verification off' }).click();
    await webRow.getByRole('status').filter({ hasText: 'Saved: off' }).waitFor({ timeout: T });
    assert.equal(await channelMode(webchatId), 'off');
    await webSel.selectOption('');
    await webRow
      .getByRole('status')
      .filter({ hasText: 'Saved: organization default' })
      .waitFor({ timeout: T });
    assert.equal(await channelMode(webchatId), null);
  });

  await t.test('the owner rotates with a 1 h grace and reads the new secret once', async () => {
    await openSection(page, app, 'keys');
    const rotate = page.getByRole('form', { name: 'Rotate the tenant secret' });
    await rotate.getByLabel('Grace period for the current secret').selectOption({ label: '1 hour' });
    await rotate.getByRole('button', { name: 'Rotate secret…' }).click();
    // Nothing happens before the confirmation.
    await rotate.getByText(/keeps verifying for 1 hour/).waitFor({ timeout: T });
    await shot(page, 'dashboard-identity-rotate-confirm.png');
    assert.equal((await organization()).tenant_secret_hint, `sk_…${tenantSecret.slice(-4)}`);
    await rotate.getByRole('button', { name: 'Confirm rotation' }).click();

    await page.locator('.secret-value').waitFor({ timeout: T });
    newSecret = (await page.locator('.secret-value').textContent())!;
    assert.match(newSecret, /^sk_/);
    assert.notEqual(newSecret, tenantSecret);
    await page.getByText(/won’t be shown again/).waitFor({ timeout: T });
    assert.equal(await page.locator('.secret').getByRole('button', { name: 'Copy' }).count(), 1);
    await shot(page, 'dashboard-identity-rotated.png');
    assert.equal(await page.locator('.secret-hint').textContent(), `sk_…${newSecret.slice(-4)}`);
    assert.match(
      (await page.locator('.grace').textContent())!,
      /^Previous secret still verifies until .+ \((59 min|1 h 0 min) left\)$/,
    );

    const described = await organization();
    assert.equal(described.tenant_secret_hint, `sk_…${newSecret.slice(-4)}`);
    const until = Date.parse(described.previous_secret_valid_until!);
    assert.ok(Math.abs(until - (Date.now() + 3_600_000)) < 60_000, 'the grace ends in about an hour');
  });

  await t.test('both secrets sign accepted user_hashes during the grace period', async () => {
    const withOld = await openAs(tenantSecret);
    assert.equal(withOld.status, 200, await withOld.text());
    const withNew = await openAs(newSecret);
    assert.equal(withNew.status, 200, await withNew.text());
    const withWrong = await openAs(`sk_${'x'.repeat(43)}`);
    assert.equal(withWrong.status, 403);
    assert.equal(((await withWrong.json()) as { error: string }).error, 'identity/forbidden');
  });

  await t.test('after a reload only the hint is shown', async () => {
    await page.reload();
    await openSection(page, app, 'keys');
    await page.locator('.grace').waitFor({ timeout: T });
    assert.equal(await page.locator('.secret-value').count(), 0);
    assert.equal(await page.locator('.secret-hint').textContent(), `sk_…${newSecret.slice(-4)}`);
    const html = await page.content();
    assert.ok(!html.includes(newSecret));
    assert.ok(!html.includes(tenantSecret));
  });

  await t.test('an admin cannot rotate and sees why', async () => {
    const a = await signedIn(browser, app, admin.user.email, admin.password);
    contexts.push(a.context);
    watch(a.page, problems, 'admin');
    await openSection(a.page, app, 'keys');
    assert.equal(await a.page.locator('.secret-hint').textContent(), `sk_…${newSecret.slice(-4)}`);
    const button = a.page.getByRole('button', { name: 'Rotate secret…' });
    assert.ok(await button.isDisabled());
    assert.equal(
      await a.page.getByText('Only an owner can rotate the tenant secret').isVisible(),
      true,
      'the reason is on the page',
    );
    // The button's description is the reason.
    const why = await button.getAttribute('aria-describedby');
    assert.match((await a.page.locator(`#${why}`).textContent())!, /Only an owner/);
    await button.scrollIntoViewIfNeeded();
    await shot(a.page, 'dashboard-identity-admin.png');
    // The server refuses too, and the mode stays the admins' to change.
    const refused = await agentHttp(app.url, a.session).post('/api/organization/secret/rotate', {
      grace_hours: 0,
    });
    assert.equal(refused.status, 403);
    await openSection(a.page, app);
    assert.equal(await a.page.getByRole('form', { name: 'Identity mode' }).isVisible(), true);
  });

  await t.test('a refusal from the server is shown in the section', async () => {
    // An owner whose role was lowered after the page loaded still sees the button; the 403 shows.
    const other = await createAgent(app.services, org.id, { role: 'owner' });
    const o = await signedIn(browser, app, other.user.email, other.password);
    contexts.push(o.context);
    watch(o.page, problems, 'demoted owner');
    await openSection(o.page, app, 'keys');
    await database.prisma.user.update({ where: { id: other.user.id }, data: { role: 'admin' } });
    const rotate = o.page.getByRole('form', { name: 'Rotate the tenant secret' });
    await rotate.getByRole('button', { name: 'Rotate secret…' }).click();
    await rotate.getByRole('button', { name: 'Confirm rotation' }).click();
    await rotate
      .getByRole('alert')
      .filter({ hasText: /Only owners can rotate/ })
      .waitFor({ timeout: T });
    assert.match((await rotate.getByRole('alert').textContent())!, /owner role/);
    await shot(o.page, 'dashboard-identity-refused.png');
    assert.equal(await o.page.locator('.secret-value').count(), 0);
    assert.equal((await organization()).tenant_secret_hint, `sk_…${newSecret.slice(-4)}`);
  });

  assert.deepEqual(problems, []);
});
