// The inbox's Tickets view in real Chromium: an escalated conversation's ticket and tickets by
// hand are listed; an agent opens one, takes it, moves it open → pending → resolved (a refused
// transition is never offered), filters by status and assignee, pages, sees tickets created and
// changed elsewhere arrive live, and goes to the linked conversation. No CSP violation throughout.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { browserFor, signedIn, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { eventually } from '../../test/helpers/sockets.js';
import { rootDir } from '../shared/paths.js';
import { ticketPriorities, ticketStatuses, ticketTransitions } from '../tickets/tickets.schemas.js';
import * as client from './client/types.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const T = 10_000;

test('the client’s copies of the ticket statuses, transitions and priorities match the server’s', () => {
  assert.deepEqual(client.ticketTransitions, ticketTransitions);
  assert.deepEqual(client.ticketStatusList, ticketStatuses);
  assert.deepEqual(client.ticketPriorityList, ticketPriorities);
});

test('Tickets view: list, detail, assign, open → pending → resolved, filters, paging, live', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, channelId } = await createOrg(app.services, 'Tickets Org');
  const ann = await createAgent(app.services, org.id, { role: 'agent' });
  const bob = await createAgent(app.services, org.id, { role: 'agent' });
  await database.prisma.user.update({ where: { id: ann.user.id }, data: { displayName: 'Ann' } });
  await database.prisma.user.update({ where: { id: bob.user.id }, data: { displayName: 'Bob' } });
  const scope = { organizationId: org.id, routingKeys: null };

  // A visitor asks the bot, then asks for a person: the escalation files ticket #1.
  const conv = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    displayName: 'Esme Visitor',
  });
  await app.services.messages.send(
    conv.actor,
    message({
      conversation_id: conv.conversation.id,
      content: 'Where is my parcel?',
      sender_type: 'end_user',
    }),
  );
  await database.prisma.conversation.update({ where: { id: conv.conversation.id }, data: { mode: 'bot' } });
  const escalated = await app.services.escalations.escalate(org.id, conv.conversation.id, {
    reason: 'visitor_request',
  });
  assert.equal(escalated.escalated, true);
  const escalatedTicket = escalated.ticket!;
  const refund = await app.services.tickets.create(scope, {
    subject: 'Refund for order 1001',
    priority: 'high',
  });
  const printer = await app.services.tickets.create(scope, { subject: 'Printer question', priority: 'low' });

  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];

  const { context, page } = await signedIn(browser, app, ann.user.email, ann.password);
  contexts.push(context);
  watch(page, problems, 'Ann');
  const row = (id: string) => page.locator(`tr[data-ticket="${id}"]`);
  const listed = () => page.locator('tr[data-ticket]').evaluateAll((els) => els.map((e) => e.dataset.ticket));
  const options = (id: string) =>
    page.locator(`#${id} option`).evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
  const ticketRow = (id: string) => database.prisma.ticket.findUniqueOrThrow({ where: { id } });

  await t.test('the switch is a keyboard-reachable link; the list shows the tickets', async () => {
    await page.goto(`${app.url}/inbox`);
    await page.locator('#inbox[aria-busy="false"]').waitFor({ timeout: T });
    const link = page.getByRole('link', { name: 'Tickets' });
    await link.focus();
    await page.keyboard.press('Enter');
    await page.locator('#tickets').waitFor({ state: 'visible', timeout: T });
    assert.equal(await page.locator('#inbox').isHidden(), true);
    assert.equal(await link.getAttribute('aria-current'), 'page');
    assert.equal(new URL(page.url()).hash, '#tickets');
    await row(escalatedTicket.id).waitFor({ timeout: T });
    // Newest first.
    assert.deepEqual(await listed(), [printer.id, refund.id, escalatedTicket.id]);
    const cells = await row(refund.id).locator('td').allTextContents();
    assert.equal(cells[0], `#${refund.number}`);
    assert.deepEqual(cells.slice(1, 5), ['Refund for order 1001', 'Open', 'High', 'Unassigned']);
    assert.ok(cells[5]);
  });

  await t.test('a ticket’s detail: subject, the transcript summary, allowed statuses only', async () => {
    await row(escalatedTicket.id).getByRole('button').click();
    await page.locator('#ticket-title', { hasText: `#${escalatedTicket.number} ` }).waitFor({ timeout: T });
    assert.equal(new URL(page.url()).hash, `#tickets/${escalatedTicket.id}`);
    assert.equal(await page.getByLabel('Subject', { exact: true }).inputValue(), escalatedTicket.subject);
    const summary = (await page.locator('pre#ticket-summary').textContent())!;
    assert.match(summary, /Visitor: Where is my parcel\?/);
    assert.deepEqual(await options('ticket-status'), ['open', 'pending', 'resolved', 'closed']);
    assert.deepEqual(await options('ticket-priority'), ['low', 'normal', 'high', 'urgent']);
    // The team in the picker: nobody yet, Ann (you) and Bob.
    assert.deepEqual(await page.locator('#ticket-assignee option').allTextContents(), [
      'Unassigned',
      'Ann (you)',
      'Bob',
    ]);
    assert.equal(await page.getByRole('button', { name: 'Open conversation' }).isVisible(), true);
  });

  await t.test('assign to me, then pending, then resolved: a refused move is not offered', async () => {
    await page.getByRole('button', { name: 'Assign to me' }).click();
    await eventually(async () => (await ticketRow(escalatedTicket.id)).assigneeId === ann.user.id, T);
    await row(escalatedTicket.id).locator('td', { hasText: 'Ann (you)' }).waitFor({ timeout: T });
    assert.equal(await page.getByLabel('Assignee', { exact: true }).inputValue(), ann.user.id);
    assert.equal(await page.getByRole('button', { name: 'Assign to me' }).isHidden(), true);

    await page.locator('#ticket-status').selectOption('pending');
    await eventually(async () => (await ticketRow(escalatedTicket.id)).status === 'pending', T);
    await row(escalatedTicket.id).locator('td', { hasText: 'Pending' }).waitFor({ timeout: T });
    assert.deepEqual(await options('ticket-status'), ['pending', 'open', 'resolved', 'closed']);

    await page.locator('#ticket-status').selectOption('resolved');
    await eventually(async () => (await ticketRow(escalatedTicket.id)).status === 'resolved', T);
    await page
      .locator('#ticket-status option[value="resolved"]:checked')
      .waitFor({ state: 'attached', timeout: T });
    // resolved → pending is refused by the server, so the select never offers it.
    assert.deepEqual(await options('ticket-status'), ['resolved', 'open', 'closed']);
    assert.match((await page.locator('#ticket-meta').textContent())!, /resolved/);
    await page.screenshot({ path: path.join(artifacts, 'inbox-tickets-detail.png') });
  });

  await t.test('a refused subject says why beside the field; a good one is saved', async () => {
    const subject = page.locator('#ticket-subject');
    await subject.fill('   ');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#ticket-subject-error', { hasText: /must not be empty/ }).waitFor({ timeout: T });
    assert.equal(await page.locator('#ticket-subject-error').getAttribute('aria-live'), 'polite');
    await subject.fill('Parcel lost in transit');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#ticket-title', { hasText: 'Parcel lost in transit' }).waitFor({ timeout: T });
    assert.equal(await page.locator('#ticket-subject-error').textContent(), '');
    await row(escalatedTicket.id)
      .getByRole('button', { name: 'Parcel lost in transit' })
      .waitFor({ timeout: T });
    assert.equal((await ticketRow(escalatedTicket.id)).subject, 'Parcel lost in transit');
  });

  await t.test('filters: status, priority, assigned to me', async () => {
    await page.locator('#tickets-status-filter').selectOption('resolved');
    await row(refund.id).waitFor({ state: 'detached', timeout: T });
    assert.deepEqual(await listed(), [escalatedTicket.id]);
    await page.locator('#tickets-status-filter').selectOption('open');
    await row(refund.id).waitFor({ timeout: T });
    assert.deepEqual(await listed(), [printer.id, refund.id]);
    await page.locator('#tickets-priority-filter').selectOption('high');
    await row(printer.id).waitFor({ state: 'detached', timeout: T });
    assert.deepEqual(await listed(), [refund.id]);
    await page.locator('#tickets-priority-filter').selectOption('');
    await page.locator('#tickets-status-filter').selectOption('');
    await page.getByLabel('Assigned to me').check();
    await row(refund.id).waitFor({ state: 'detached', timeout: T });
    assert.deepEqual(await listed(), [escalatedTicket.id]);
    await page.getByLabel('Assigned to me').uncheck();
    await row(refund.id).waitFor({ timeout: T });
    assert.deepEqual(await listed(), [printer.id, refund.id, escalatedTicket.id]);
  });

  await t.test(
    'live: a new ticket appears; a change elsewhere shows in the list and the detail',
    async () => {
      // A marker a reload would erase: everything here happens on the same page.
      await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
      const fresh = await app.services.tickets.create(scope, {
        subject: 'Gift card balance',
        priority: 'normal',
      });
      await row(fresh.id).waitFor({ timeout: T });
      assert.deepEqual(await listed(), [fresh.id, printer.id, refund.id, escalatedTicket.id]);

      // Bob reopens and bumps the ticket Ann has open.
      await app.services.tickets.update(scope, escalatedTicket.id, { status: 'open', priority: 'urgent' });
      await page
        .locator('#ticket-status option[value="open"]:checked')
        .waitFor({ state: 'attached', timeout: T });
      assert.equal(await page.locator('#ticket-priority').inputValue(), 'urgent');
      assert.deepEqual(await options('ticket-status'), ['open', 'pending', 'resolved', 'closed']);
      await row(escalatedTicket.id).locator('td', { hasText: 'Urgent' }).waitFor({ timeout: T });

      // Under a filter, a ticket that stops matching leaves and one that starts matching comes in.
      await page.locator('#tickets-status-filter').selectOption('pending');
      await row(fresh.id).waitFor({ state: 'detached', timeout: T });
      assert.deepEqual(await listed(), []);
      await app.services.tickets.update(scope, fresh.id, { status: 'pending', assignee_id: bob.user.id });
      await row(fresh.id).locator('td', { hasText: 'Bob' }).waitFor({ timeout: T });
      await page.locator('#tickets-status-filter').selectOption('');
      await row(printer.id).waitFor({ timeout: T });
      assert.equal(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same), true);
    },
  );

  await t.test('paging: twenty a page, then the rest with Load more', async () => {
    for (let i = 1; i <= 18; i++) {
      await app.services.tickets.create(scope, { subject: `Bulk question ${i}`, priority: 'normal' });
    }
    // 22 tickets now: a fresh page load (not just a change of hash) shows the first 20.
    await page.goto(`${app.url}/inbox#tickets`);
    await page.reload();
    await page.locator('tr[data-ticket]').nth(19).waitFor({ timeout: T });
    assert.equal(await page.locator('tr[data-ticket]').count(), 20);
    const more = page.getByRole('button', { name: 'Load more' });
    await more.click();
    await row(escalatedTicket.id).waitFor({ timeout: T });
    assert.equal(await page.locator('tr[data-ticket]').count(), 22);
    assert.equal(await more.isHidden(), true);
    const ids = await listed();
    assert.equal(new Set(ids).size, 22);
  });

  await t.test('j/k move between tickets; the linked conversation opens in Conversations', async () => {
    await page.locator('#tickets-status-filter').selectOption('open');
    await page.locator('#tickets-priority-filter').selectOption('urgent');
    await row(escalatedTicket.id).waitFor({ timeout: T });
    await page.locator('#tickets-status-filter').blur();
    await page.locator('#tickets-priority-filter').blur();
    await page.keyboard.press('j');
    await page.locator('#ticket-title', { hasText: 'Parcel lost in transit' }).waitFor({ timeout: T });
    // The conversations' keys are off while tickets are shown: `c` claims nothing.
    await page.keyboard.press('c');
    await page.getByRole('button', { name: 'Open conversation' }).click();
    await page.locator('#inbox').waitFor({ state: 'visible', timeout: T });
    assert.equal(await page.locator('#tickets').isHidden(), true);
    assert.equal(
      await page.getByRole('link', { name: 'Conversations' }).getAttribute('aria-current'),
      'page',
    );
    await page.locator('#thread-title', { hasText: 'Esme Visitor' }).waitFor({ timeout: T });
    assert.equal(
      await database.prisma.conversationSession.count({
        where: { conversationId: conv.conversation.id, assignedAgentId: ann.user.id },
      }),
      0,
    );
    await page.screenshot({ path: path.join(artifacts, 'inbox-ticket-conversation.png') });
    // And back: the tickets are where they were.
    await page.getByRole('link', { name: 'Tickets' }).click();
    await row(escalatedTicket.id).waitFor({ timeout: T });
    // A ticket's address opens it on a fresh load.
    await page.goto(`${app.url}/inbox#tickets/${refund.id}`);
    await page.reload();
    await page
      .locator('#ticket-title', { hasText: `#${refund.number} Refund for order 1001` })
      .waitFor({ timeout: T });
    assert.equal(await page.locator('#tickets').isVisible(), true);
  });

  assert.deepEqual(problems, []);
});
