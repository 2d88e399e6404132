// Canned replies and internal notes in real Chromium, an agent and a visitor in separate browser
// contexts and a second agent watching: `/ref` in the composer opens the completion list, the
// keyboard picks a reply, the visitor's name is filled in and the visitor's widget shows it; a note
// reaches the second agent's inbox marked as one and never the visitor's widget (checked after a
// later reply arrived, and again after a reload). No CSP violation or page error throughout.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';

const T = 10_000;

test('canned reply by keyboard with the visitor’s name; a note for agents only', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, embedToken } = await createOrg(app.services, 'Notes Org');
  const ann = await createAgent(app.services, org.id, { role: 'admin' });
  const bob = await createAgent(app.services, org.id);
  await database.prisma.user.update({ where: { id: ann.user.id }, data: { displayName: 'Ann' } });
  await database.prisma.user.update({ where: { id: bob.user.id }, data: { displayName: 'Bob' } });
  const annActor = { ...ann.actor, displayName: 'Ann' };
  await app.services.canned.create(annActor, {
    scope: 'mine',
    shortcut: 'reference',
    title: 'Order reference',
    body: 'Could you give me your order reference?',
  });
  await app.services.canned.create(annActor, {
    scope: 'tenant',
    shortcut: 'refund',
    title: 'Refund issued',
    body: 'Hi {{visitor.name}}, {{agent.name}} here: your refund is on its way ({{order.id}}).',
  });
  await app.services.canned.create(annActor, { scope: 'mine', shortcut: 'bye', title: 'Bye', body: 'Bye!' });

  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];

  // The visitor, in their own context, opens the widget and writes first.
  const v = await browser.newContext({ viewport: { width: 420, height: 700 } });
  contexts.push(v);
  const visitor = await v.newPage();
  watch(visitor, problems, 'visitor');
  const widgetUrl = `${app.url}/chat-widget?embed_token=${embedToken}&session_id=v_${randomUUID()}&customer_name=${encodeURIComponent('Marie Curie')}`;
  await visitor.goto(widgetUrl);
  await visitor.locator('#cw-input').waitFor({ timeout: T });
  await visitor.locator('#cw-input').fill('I would like a refund');
  await visitor.locator('#cw-input').press('Enter');
  await eventually(
    async () => (await database.prisma.message.count({ where: { organizationId: org.id } })) === 1,
    T,
  );
  const conv = await database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } });

  const a = await signedIn(browser, app, ann.user.email, ann.password);
  const b = await signedIn(browser, app, bob.user.email, bob.password);
  contexts.push(a.context, b.context);
  watch(a.page, problems, 'Ann');
  watch(b.page, problems, 'Bob');
  const openThread = async (p: Page) => {
    await p.goto(`${app.url}/inbox`);
    await p.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
    await p.locator(`.conv[data-id="${conv.id}"]`).click();
    await p.locator('#message-list .msg', { hasText: 'I would like a refund' }).waitFor({ timeout: T });
  };
  await openThread(a.page);
  await openThread(b.page);

  await t.test('typing /ref opens the list; arrows and Enter insert the reply, filled in', async () => {
    const text = a.page.locator('#composer-text');
    await text.focus();
    assert.equal(await text.getAttribute('aria-autocomplete'), 'list');
    assert.equal(await text.getAttribute('aria-controls'), 'canned-list');
    assert.equal(await a.page.getByRole('listbox', { name: 'Canned replies' }).isVisible(), false);
    await text.pressSequentially('/ref');
    const listbox = a.page.getByRole('listbox', { name: 'Canned replies' });
    await listbox.waitFor({ timeout: T });
    const options = listbox.getByRole('option');
    await eventually(async () => (await options.count()) === 2, T);
    assert.deepEqual(await options.locator('.canned-shortcut').allTextContents(), ['/reference', '/refund']);
    assert.equal(await text.getAttribute('aria-activedescendant'), await options.nth(0).getAttribute('id'));
    assert.equal(await options.nth(0).getAttribute('aria-selected'), 'true');
    // Filtered as the agent types: /refu leaves one; backspace brings both back.
    await text.press('u');
    await eventually(async () => (await options.count()) === 1, T);
    await text.press('Backspace');
    await eventually(async () => (await options.count()) === 2, T);
    // Escape closes the list and leaves the text alone; typing reopens it.
    await text.press('Escape');
    await listbox.waitFor({ state: 'hidden', timeout: T });
    assert.equal(await text.inputValue(), '/ref');
    await text.press('Backspace');
    await text.press('f');
    await listbox.waitFor({ timeout: T });
    await eventually(async () => (await options.count()) === 2, T);

    await text.press('ArrowDown');
    assert.equal(await options.nth(1).getAttribute('aria-selected'), 'true');
    assert.equal(await text.getAttribute('aria-activedescendant'), await options.nth(1).getAttribute('id'));
    await text.press('Enter');
    await listbox.waitFor({ state: 'hidden', timeout: T });
    const filled = 'Hi Marie Curie, Ann here: your refund is on its way ({{order.id}}).';
    await eventually(async () => (await text.inputValue()) === filled, T);
    // Nothing was sent by that Enter.
    assert.equal(await database.prisma.message.count({ where: { conversationId: conv.id } }), 1);

    // The unknown variable stays visible for the agent to fix before sending.
    await text.fill(filled.replace(' ({{order.id}})', ''));
    await text.press('Enter');
    await visitor
      .locator('.cw-msg', { hasText: 'Hi Marie Curie, Ann here: your refund is on its way.' })
      .waitFor({ timeout: T });
  });

  await t.test('a note reaches the other agent marked, never the visitor', async () => {
    // The Reply/Note switch by keyboard.
    const noteBtn = a.page.getByRole('button', { name: 'Note', exact: true });
    await noteBtn.focus();
    await a.page.keyboard.press('Space');
    assert.equal(await noteBtn.getAttribute('aria-pressed'), 'true');
    assert.equal(
      await a.page.getByRole('button', { name: 'Reply', exact: true }).getAttribute('aria-pressed'),
      'false',
    );
    const text = a.page.locator('#composer-text');
    await text.fill('VIP customer: refund approved by Sam');
    await text.press('Enter');

    const atBob = b.page.locator('#message-list .msg', { hasText: 'VIP customer: refund approved by Sam' });
    await atBob.waitFor({ timeout: T });
    assert.match((await atBob.getAttribute('class'))!, /msg-internal/);
    assert.equal(await atBob.locator('.note-label').textContent(), 'Internal note');
    const normal = b.page.locator('#message-list .msg', { hasText: 'your refund is on its way' });
    const bg = (l: typeof atBob) => l.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.notEqual(await bg(atBob), await bg(normal), 'a note has its own background');
    // Ann's own copy is marked too.
    await a.page.locator('#message-list .msg-internal', { hasText: 'VIP customer' }).waitFor({ timeout: T });

    // Back to replies: the next message goes to the visitor; by then the note would have too.
    await a.page.getByRole('button', { name: 'Reply', exact: true }).click();
    await text.fill('Anything else I can do?');
    await text.press('Enter');
    await visitor.locator('.cw-msg', { hasText: 'Anything else I can do?' }).waitFor({ timeout: T });
    assert.ok(!(await visitor.locator('body').innerText()).includes('VIP'), 'the note reached the widget');
    // A reload reads the history: still no note.
    await visitor.reload();
    await visitor.locator('.cw-msg', { hasText: 'Anything else I can do?' }).waitFor({ timeout: T });
    assert.ok(
      !(await visitor.locator('body').innerText()).includes('VIP'),
      'the note is in the widget history',
    );
    // And Bob, reloading, still sees it marked.
    await b.page.reload();
    await b.page.locator(`.conv[data-id="${conv.id}"]`).click();
    await b.page.locator('#message-list .msg-internal', { hasText: 'VIP customer' }).waitFor({ timeout: T });
  });

  await t.test('the manager dialog adds, edits and deletes my canned replies', async () => {
    await a.page.getByRole('button', { name: 'Canned replies…' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Canned replies' });
    await dialog.waitFor({ timeout: T });
    await dialog.locator('.canned-item[data-shortcut="bye"]').waitFor({ timeout: T });
    await dialog.getByLabel('Shortcut (typed after /)').fill('thanks');
    await dialog.getByLabel('Title').fill('Thanks');
    await dialog.getByLabel(/^Body/).fill('Thanks {{visitor.name}}!');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('.canned-item[data-shortcut="thanks"]').waitFor({ timeout: T });
    // A duplicate is refused with the server's reason.
    await dialog.getByLabel('Shortcut (typed after /)').fill('thanks');
    await dialog.getByLabel('Title').fill('Again');
    await dialog.getByLabel(/^Body/).fill('x');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('.error-text', { hasText: '/thanks is already used' }).waitFor({ timeout: T });
    await dialog.getByRole('button', { name: 'Edit /bye' }).click();
    await dialog.getByLabel('Title').fill('Goodbye');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('.canned-item[data-shortcut="bye"]', { hasText: 'Goodbye' }).waitFor({ timeout: T });
    a.page.once('dialog', (d) => void d.accept());
    await dialog.getByRole('button', { name: 'Delete /bye' }).click();
    await dialog.locator('.canned-item[data-shortcut="bye"]').waitFor({ state: 'detached', timeout: T });
    await dialog.getByRole('button', { name: 'Close' }).click();
    const rows = await database.prisma.cannedReply.findMany({ where: { organizationId: org.id } });
    assert.deepEqual(rows.map((r) => r.shortcut).sort(), ['reference', 'refund', 'thanks']);
    // The new one completes at once.
    const text = a.page.locator('#composer-text');
    await text.fill('');
    await text.pressSequentially('/than');
    await a.page.getByRole('option', { name: /thanks/ }).waitFor({ timeout: T });
    await text.press('Tab');
    await eventually(async () => (await text.inputValue()) === 'Thanks Marie Curie!', T);
  });

  await t.test("the dashboard manages the organization's canned replies", async () => {
    await a.page.goto(`${app.url}/dashboard#canned-replies`);
    await a.page.getByRole('link', { name: 'Canned replies' }).waitFor({ timeout: T });
    assert.equal(
      await a.page.getByRole('link', { name: 'Canned replies' }).getAttribute('aria-current'),
      'page',
    );
    await a.page.locator('tr[data-shortcut="refund"]').waitFor({ timeout: T });
    // Only the organization's: Ann's own are not listed here.
    assert.equal(await a.page.locator('tr[data-shortcut="thanks"]').count(), 0);
    const add = a.page.getByRole('form', { name: 'Add a canned reply' });
    await add.getByLabel('Shortcut (typed after /)').fill('hours');
    await add.getByLabel('Title').fill('Opening hours');
    await add.getByLabel('Text').fill('We answer from 9:00 to 18:00, {{visitor.name}}.');
    await add.getByRole('button', { name: 'Save' }).click();
    await a.page.locator('tr[data-shortcut="hours"]').waitFor({ timeout: T });
    const hours = await database.prisma.cannedReply.findFirstOrThrow({
      where: { organizationId: org.id, shortcut: 'hours' },
    });
    assert.equal(hours.ownerId, null);
    await a.page.getByRole('button', { name: 'Edit /hours' }).click();
    await a.page.getByLabel('Title').fill('Hours');
    await a.page.getByRole('button', { name: 'Save' }).click();
    // Case-sensitive: "Opening hours", the title before, must not count (the cells' text runs
    // together, "/hoursHours…", so no word boundary).
    await a.page.locator('tr[data-shortcut="hours"]', { hasText: /Hours/ }).waitFor({ timeout: T });
    assert.equal(
      (await database.prisma.cannedReply.findUniqueOrThrow({ where: { id: hours.id } })).title,
      'Hours',
    );
    const del = a.page.locator('tr[data-shortcut="hours"]').getByRole('button', { name: 'Delete' });
    await del.click();
    await a.page.locator('tr[data-shortcut="hours"]').getByRole('button', { name: 'Delete /hours?' }).click();
    await a.page.locator('tr[data-shortcut="hours"]').waitFor({ state: 'detached', timeout: T });
    assert.equal(await database.prisma.cannedReply.count({ where: { id: hours.id } }), 0);
  });

  assert.deepEqual(problems, []);
});
