// The embed widget's page in real headless Chromium: the greeting, the offline notice with its
// email form (no agent online), and the keyboard rating after an agent resolves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { browserFor, watch } from '../../test/helpers/browser.js';
import { startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';

const T = 10_000;

test('embed widget: greeting, offline email, keyboard rating after the resolve', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  const o = await createOrg(app.services);
  await app.services.tenants.configure(o.org.id, { greeting: 'Hello! Ask us anything.' });
  const agent = await createAgent(app.services, o.org.id);
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  watch(page, problems, 'widget');
  const sessionId = `v_${randomBytes(16).toString('hex')}`;
  await page.goto(`${app.url}/chat-widget?embed_token=${o.embedToken}&session_id=${sessionId}`);

  await page.locator('.cw-greeting', { hasText: 'Hello! Ask us anything.' }).waitFor({ timeout: T });
  await page.getByRole('note').filter({ hasText: 'No one is available right now' }).waitFor({ timeout: T });
  const email = page.getByRole('textbox', { name: 'Leave your email and we’ll answer there' });
  await email.fill('nope');
  await email.press('Enter');
  await page.getByText('Enter a valid email address').waitFor({ timeout: T });
  await email.fill('eve@example.com');
  await email.press('Enter');
  await page.getByText('Thanks! We’ll answer at eve@example.com.').waitFor({ timeout: T });
  const endUser = await database.prisma.endUser.findFirstOrThrow({ where: { externalId: sessionId } });
  assert.equal((endUser.metadata as Record<string, unknown>).email, 'eve@example.com');

  await page.locator('#cw-input').fill('Anyone there?');
  await page.locator('#cw-input').press('Enter');
  await page
    .locator('.cw-msg--me:not(.cw-msg--pending)', { hasText: 'Anyone there?' })
    .waitFor({ timeout: T });
  const conv = await database.prisma.conversation.findFirstOrThrow({ where: { endUserId: endUser.id } });
  await app.services.conversations.resolve(agent.actor, conv.id, { tags: [] });

  await page.getByRole('radiogroup', { name: 'How was this conversation?' }).waitFor({ timeout: T });
  await page.getByRole('radio', { name: '1 out of 5 stars' }).focus();
  await page.keyboard.press('Space');
  for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Lovely');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByText('Thanks for your rating!').waitFor({ timeout: T });
  const rating = await database.prisma.rating.findFirstOrThrow({ where: { conversationId: conv.id } });
  assert.deepEqual({ score: rating.score, comment: rating.comment }, { score: 5, comment: 'Lovely' });
  assert.deepEqual(problems, []);
});
