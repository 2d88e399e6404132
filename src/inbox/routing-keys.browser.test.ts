// Routing keys in real Chromium: the store-12 operator's inbox never lists a store-7 conversation,
// not even one that arrives live; an admin sees both queues and filters with the queue picker;
// the dashboard edits an agent's queues as chips, and the operator's open inbox follows at once.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const T = 10_000;

test('store-12 never sees store-7 in the inbox; admins filter by queue; dashboard chips edit queues', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, channelId } = await createOrg(app.services, 'Queues Org');
  const admin = await createAgent(app.services, org.id, { role: 'admin' });
  const op7 = await createAgent(app.services, org.id, { routingKeys: ['store-7'] });
  const op12 = await createAgent(app.services, org.id, { routingKeys: ['store-12'] });
  await database.prisma.user.update({ where: { id: op12.user.id }, data: { displayName: 'Olga' } });
  await database.prisma.user.update({ where: { id: op7.user.id }, data: { displayName: 'Sven' } });

  /** A conversation in the queue whose end user has written. */
  const conversation = async (routingKey: string, content: string, name: string) => {
    const c = await createConversation(app.services, {
      organizationId: org.id,
      channelId,
      routingKey,
      displayName: name,
    });
    await app.services.messages.send(
      c.actor,
      message({ conversation_id: c.conversation.id, content, sender_type: 'end_user' }),
    );
    return c.conversation.id;
  };

  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];

  const c7 = await conversation('store-7', 'Parcel for store 7?', 'Seven Sue');
  const c12 = await conversation('store-12', 'Store 12 hours?', 'Twelve Tom');

  const o = await signedIn(browser, app, op12.user.email, op12.password);
  const a = await signedIn(browser, app, admin.user.email, admin.password);
  contexts.push(o.context, a.context);
  watch(o.page, problems, 'store-12 operator');
  watch(a.page, problems, 'admin');
  const item = (p: Page, id: string) => p.locator(`.conv[data-id="${id}"]`);
  const listed = (p: Page) =>
    p.locator('.conv').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')).sort());

  await t.test('the store-12 operator lists only store 12; no picker for one queue', async () => {
    await o.page.goto(`${app.url}/inbox`);
    await item(o.page, c12).waitFor({ timeout: T });
    assert.deepEqual(await listed(o.page), [c12]);
    await eventually(async () => (await o.page.title()) === '(1) Inbox · Switchboard', T);
    assert.equal(await o.page.locator('#queue-picker').isHidden(), true);
    await o.page.getByRole('tab', { name: /All/ }).click();
    await item(o.page, c12).waitFor({ timeout: T });
    assert.deepEqual(await listed(o.page), [c12]);
  });

  await t.test('an admin sees both queues and filters with the picker', async () => {
    await a.page.goto(`${app.url}/inbox`);
    await item(a.page, c7).waitFor({ timeout: T });
    await item(a.page, c12).waitFor({ timeout: T });
    await a.page.locator('#queue-picker').waitFor({ state: 'visible', timeout: T });
    assert.deepEqual(await a.page.locator('#queue-filter option').allTextContents(), [
      'All queues',
      'store-12',
      'store-7',
    ]);
    assert.match((await item(a.page, c7).textContent())!, /store-7/);
    await a.page.getByLabel('Queue').selectOption('store-7');
    await item(a.page, c12).waitFor({ state: 'detached', timeout: T });
    await item(a.page, c7).waitFor({ timeout: T });
    assert.deepEqual(await listed(a.page), [c7]);
    await a.page.locator('[data-count="unassigned"]', { hasText: '1' }).waitFor({ timeout: T });
    await a.page.screenshot({ path: path.join(artifacts, 'inbox-admin-queue-store-7.png') });
    await a.page.getByLabel('Queue').selectOption('');
    await item(a.page, c12).waitFor({ timeout: T });
  });

  let c7live = '';
  let c12live = '';
  await t.test('live: new conversations of both queues; store 7 never shows for store 12', async () => {
    // A marker a reload would erase: everything after happens on the same page.
    await o.page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    c7live = await conversation('store-7', 'Another parcel for 7', 'Seven Sam');
    c12live = await conversation('store-12', 'Another question for 12', 'Twelve Tess');
    await item(a.page, c7live).waitFor({ timeout: T });
    await item(a.page, c12live).waitFor({ timeout: T });
    await item(o.page, c12live).waitFor({ timeout: T });
    // The admin's list has both new ones, so the events went out; give the operator a moment more.
    await o.page.waitForTimeout(500);
    assert.deepEqual(await listed(o.page), [c12, c12live].sort());
    assert.equal(await o.page.evaluate(() => (window as unknown as { __same?: boolean }).__same), true);
    // Unread: only store 12 counts (one message in each of two conversations).
    await eventually(async () => (await o.page.title()) === '(2) Inbox · Switchboard', T);
    assert.ok(!(await o.page.content()).includes('Seven '));
    await o.page.screenshot({ path: path.join(artifacts, 'inbox-store-12-operator.png') });
    await a.page.getByLabel('Queue').selectOption('store-12');
    await item(a.page, c7).waitFor({ state: 'detached', timeout: T });
    await item(a.page, c12live).waitFor({ timeout: T });
    assert.deepEqual(await listed(a.page), [c12, c12live].sort());
  });

  await t.test('the dashboard edits queues as chips; the operator’s open inbox follows', async () => {
    const d = await a.context.newPage();
    watch(d, problems, 'dashboard');
    await d.goto(`${app.url}/dashboard#team`);
    const queues = d.getByRole('list', { name: 'Queues of Olga' });
    await queues.getByText('store-12').waitFor({ timeout: T });
    const input = d.getByLabel('Add to Queues of Olga');
    await input.fill('store-9, store-9');
    await input.press('Enter');
    await queues.getByText('store-9').waitFor({ timeout: T });
    await eventually(async () => {
      const u = await database.prisma.user.findUniqueOrThrow({ where: { id: op12.user.id } });
      return u.routingKeys.join() === 'store-12,store-9';
    }, T);
    await d.getByRole('button', { name: 'Remove store-12' }).click();
    await eventually(async () => {
      const u = await database.prisma.user.findUniqueOrThrow({ where: { id: op12.user.id } });
      return u.routingKeys.join() === 'store-9';
    }, T);
    // Olga's inbox, still open: store 12 is no longer hers, without a reload or a new sign-in.
    await item(o.page, c12).waitFor({ state: 'detached', timeout: T });
    assert.deepEqual(await listed(o.page), []);
    assert.equal(await o.page.evaluate(() => (window as unknown as { __same?: boolean }).__same), true);

    // A refusal puts the chips back and says why.
    await input.fill('k'.repeat(101));
    await input.press('Enter');
    await d
      .getByRole('alert')
      .filter({ hasText: /routing_keys/ })
      .waitFor({ timeout: T });
    assert.equal(await queues.locator('li').count(), 1);

    // A new member with queues from the add form.
    const add = d.getByRole('form', { name: 'Add a team member' });
    await add.getByLabel('Name').fill('Nina');
    await add.getByLabel('Email').fill(`nina.${Date.now()}@example.com`);
    await add.getByLabel(/Initial password/).fill('pa55word!');
    const newQueues = add.getByLabel('Add to Queues of the new member');
    await newQueues.fill('store-3');
    await newQueues.press('Enter');
    await newQueues.fill('store-4');
    await add.getByRole('button', { name: 'Add' }).click();
    await d.getByRole('list', { name: 'Queues of Nina' }).getByText('store-4').waitFor({ timeout: T });
    const nina = await database.prisma.user.findFirstOrThrow({
      where: { organizationId: org.id, displayName: 'Nina' },
    });
    assert.deepEqual(nina.routingKeys, ['store-3', 'store-4']);
    await d.screenshot({ path: path.join(artifacts, 'dashboard-team-queues.png') });
  });

  assert.deepEqual(problems, []);
});
