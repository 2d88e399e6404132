// Dashboard → Knowledge base in real headless Chromium: an owner adds a Markdown document and sees
// it listed with its passage count, edits it, is refused a bad URL beside the field (nothing is
// saved), tries a question and sees what the bot would answer (the reply as the dry-run API gives
// it, its source link, the passage it comes from) and the document's passage first, deletes it; the
// list pages by cursor and filters by tag and title; a question whose best passage scores under
// the bot's threshold shows that the bot would not answer. An agent gets neither the section nor
// the API.
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
import type { AnswerDryRunDto, KnowledgeDocumentDto } from '../knowledge/knowledge.dto.js';
import { MIN_SCORE } from '../bot/answerer.js';

const T = 10_000;
const DOCS = '/api/organization/knowledge/documents';
const artifacts = path.join(rootDir, 'test', 'artifacts');
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(artifacts, name) });

/** A document as the API answers it. */
type Doc = KnowledgeDocumentDto;
type Hit = {
  document_id: string;
  title: string;
  url: string | null;
  heading: string | null;
  content: string;
};

const TITLE = 'Returns and refunds';
const BODY = [
  '# Returns',
  '',
  'You can send a parcel back within 30 days of delivery. Print the prepaid label from your account',
  'and drop the parcel at any post office.',
  '',
  '## Refunds',
  '',
  'Refunds reach your card within 5 business days once the warehouse has scanned the parcel.',
].join('\n');
const REFUNDS = 'Refunds reach your card within 5 business days once the warehouse has scanned the parcel.';
const ANSWER = '/api/organization/knowledge/answer';
const EXCHANGES = '\n\n## Exchanges\n\nWant another size instead? Choose Exchange on the return label page.';

async function openSection(page: Page, app: TestApp) {
  await page.goto(`${app.url}/dashboard#knowledge`);
  await page.getByRole('heading', { name: 'Knowledge base', level: 1 }).waitFor({ timeout: T });
  await page.locator('#dashboard[aria-busy="false"]').waitFor({ timeout: T });
}

test('dashboard → Knowledge base: documents, editing, refusals, a question, paging', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org } = await createOrg(app.services, 'Knowledge Org');
  const owner = await createAgent(app.services, org.id, { role: 'owner' });
  const agent = await createAgent(app.services, org.id, { role: 'agent' });
  const ownerApi = agentHttp(app.url, await loginAgent(app.url, owner.user.email, owner.password));

  const { browser, contexts } = await browserFor(t, async () => {
    await app.stop();
    await database.close();
  });
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  const stored = async () => ((await ownerApi.get(`${DOCS}?limit=100`)).body as { items: Doc[] }).items;

  const { context, page } = await signedIn(browser, app, owner.user.email, owner.password);
  contexts.push(context);
  watch(page, problems, 'owner');
  const editor = page.locator('form.card-form').first();
  const rows = page.locator('tr.kb-document');
  const rowOf = (id: string) => page.locator(`tr.kb-document[data-document-id="${id}"]`);
  const cellsOf = async (id: string) => (await rowOf(id).locator('td').allTextContents()).slice(0, 5);
  let doc!: Doc;

  await t.test('the owner finds the section under Automation, with no documents yet', async () => {
    await openSection(page, app);
    assert.equal(await page.locator('.side-nav a[href="#knowledge"]').getAttribute('aria-current'), 'page');
    await page.getByText('No documents yet').waitFor({ timeout: T });
    assert.equal(await editor.getAttribute('aria-label'), 'Add a document');
  });

  await t.test('the owner adds a Markdown document and sees it listed with its passages', async () => {
    const form = page.getByRole('form', { name: 'Add a document' });
    await form.getByLabel('Title').fill(TITLE);
    await form.getByLabel('Body').fill(BODY);
    await form.getByLabel('Format').selectOption('markdown');
    await form.getByLabel('URL (optional)').fill('https://help.example.com/returns');
    await form.getByLabel('Tags (optional)').fill('returns, billing, returns');
    await form.getByLabel('Language').fill('en');
    await form.getByRole('button', { name: 'Add document' }).click();
    await editor
      .getByRole('status')
      .filter({ hasText: `Added “${TITLE}”: 2 passages.` })
      .waitFor({ timeout: T });
    const docs = await stored();
    assert.equal(docs.length, 1);
    doc = docs[0]!;
    assert.equal(doc.title, TITLE);
    assert.equal(doc.body, BODY);
    assert.equal(doc.format, 'markdown');
    assert.equal(doc.url, 'https://help.example.com/returns');
    assert.deepEqual(doc.tags, ['returns', 'billing']);
    assert.equal(doc.language, 'en');
    assert.equal(doc.passages, 2);
    await rowOf(doc.id).waitFor({ timeout: T });
    const [title, language, tags, passages, updated] = await cellsOf(doc.id);
    assert.deepEqual([title, language, passages], [TITLE, 'en', '2']);
    assert.deepEqual(await rowOf(doc.id).locator('.tag').allTextContents(), ['returns', 'billing']);
    assert.equal(tags, 'returnsbilling');
    assert.ok(updated!.length > 0, 'updated time shown');
    // The form is empty again, ready for the next document.
    assert.equal(await form.getByLabel('Title').inputValue(), '');
    await shot(page, 'dashboard-knowledge.png');
  });

  await t.test('the owner edits it: its passages are split again', async () => {
    await rowOf(doc.id)
      .getByRole('button', { name: `Edit ${TITLE}` })
      .click();
    const form = page.getByRole('form', { name: 'Edit the document' });
    await form.waitFor({ timeout: T });
    assert.equal(await form.getByLabel('Title').inputValue(), TITLE);
    assert.equal(await form.getByLabel('Body').inputValue(), BODY);
    assert.equal(await form.getByLabel('Format').inputValue(), 'markdown');
    assert.equal(await form.getByLabel('Tags (optional)').inputValue(), 'returns, billing');
    await form.getByLabel('Title').fill('Returns, refunds and exchanges');
    await form.getByLabel('Body').fill(BODY + EXCHANGES);
    await form.getByRole('button', { name: 'Save changes' }).click();
    await editor
      .getByRole('status')
      .filter({ hasText: 'Saved “Returns, refunds and exchanges”: 3 passages.' })
      .waitFor({ timeout: T });
    assert.equal(await editor.getAttribute('aria-label'), 'Add a document');
    await rowOf(doc.id).filter({ hasText: 'Returns, refunds and exchanges' }).waitFor({ timeout: T });
    const cells = await cellsOf(doc.id);
    assert.equal(cells[3], '3');
    doc = (await stored())[0]!;
    assert.equal(doc.title, 'Returns, refunds and exchanges');
    assert.equal(doc.passages, 3);
    assert.equal(doc.url, 'https://help.example.com/returns', 'untouched fields kept');
  });

  await t.test('a bad URL is refused beside the URL field and nothing is saved', async () => {
    await rowOf(doc.id)
      .getByRole('button', { name: `Edit ${doc.title}` })
      .click();
    const form = page.getByRole('form', { name: 'Edit the document' });
    const url = form.getByLabel('URL (optional)');
    await form.getByLabel('Title').fill('This title must not be saved');
    await url.fill('ftp://files.example.com/returns.pdf');
    await form.getByRole('button', { name: 'Save changes' }).click();
    const errorId = `${await url.getAttribute('id')}-error`;
    const error = page.locator(`[id="${errorId}"]`);
    await error.filter({ hasText: /\S/ }).waitFor({ timeout: T });
    assert.equal(await error.textContent(), 'Must be an http(s) URL.');
    assert.equal(await url.getAttribute('aria-invalid'), 'true');
    assert.match((await url.getAttribute('aria-describedby'))!, new RegExp(`\\b${errorId}\\b`));
    // The error sits in the URL's own field, and only there.
    assert.equal(
      await url
        .locator('xpath=ancestor::div[contains(@class, "field")][1]')
        .locator('.field-error')
        .textContent(),
      'Must be an http(s) URL.',
    );
    assert.equal((await form.locator('.field-error').allTextContents()).filter(Boolean).length, 1);
    assert.deepEqual(await stored(), [doc]);
    // Typing again clears it; Cancel leaves the document as it was.
    await url.fill('h');
    assert.equal(await error.textContent(), '');
    await form.getByRole('button', { name: 'Cancel editing' }).click();
    await page.getByRole('form', { name: 'Add a document' }).waitFor({ timeout: T });
    assert.deepEqual(await stored(), [doc]);
  });

  await t.test('a question shows what the bot would retrieve: this passage first', async () => {
    const form = page.getByRole('form', { name: 'Try a question' });
    await form.getByLabel('Question', { exact: true }).fill('How long until my refund reaches my card?');
    await form.getByRole('button', { name: 'Try it' }).click();
    await form.getByRole('status').filter({ hasText: 'best first' }).waitFor({ timeout: T });
    const api = (
      await ownerApi.get(
        `/api/organization/knowledge/search?q=${encodeURIComponent('How long until my refund reaches my card?')}`,
      )
    ).body as { items: Hit[] };
    const hits = page.locator('tr.kb-hit');
    assert.equal(await hits.count(), api.items.length);
    const first = hits.first();
    const [rank, title, heading, passage, score] = await first.locator('td').allTextContents();
    assert.equal(rank, '1');
    assert.equal(title, 'Returns, refunds and exchanges');
    assert.equal(heading, 'Returns › Refunds');
    assert.equal(passage, REFUNDS);
    assert.match(score!, /^\d+\.\d{3}$/);
    assert.ok(Number(score) > 0);
    assert.equal(await first.getAttribute('data-document-id'), doc.id);
    assert.equal(api.items[0]!.content, REFUNDS);
    const link = first.getByRole('link', { name: 'Returns, refunds and exchanges' });
    assert.equal(await link.getAttribute('href'), 'https://help.example.com/returns');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');

    // What the bot would answer: the reply exactly as the dry run composes it, its source, its passage.
    const run = (
      await ownerApi.get(`${ANSWER}?q=${encodeURIComponent('How long until my refund reaches my card?')}`)
    ).body as AnswerDryRunDto;
    assert.equal(run.outcome, 'answer');
    const reply = `${REFUNDS}\n\nSource: Returns, refunds and exchanges — https://help.example.com/returns`;
    assert.equal(run.reply!.text, reply);
    const answer = page.getByRole('region', { name: 'What the bot would answer' });
    await answer.waitFor({ timeout: T });
    assert.match(
      (await answer.locator('.kb-outcome').textContent())!,
      /^The bot would answer, from the best passage/,
    );
    assert.equal(await answer.locator('.kb-reply-text').innerText(), reply);
    assert.deepEqual(await answer.locator('.kb-button').allTextContents(), ['Talk to a person']);
    const source = answer.locator('.kb-source').getByRole('link', { name: 'Returns, refunds and exchanges' });
    assert.equal(await source.getAttribute('href'), 'https://help.example.com/returns');
    assert.equal(await source.getAttribute('rel'), 'noopener noreferrer');
    const used = answer.locator('.kb-used-passage');
    assert.equal(await used.count(), 1);
    assert.match(
      (await used.textContent())!,
      /^Returns, refunds and exchanges › Returns › Refunds \(score \d\.\d{3}\)$/,
    );
    assert.equal(await used.getAttribute('data-document-id'), doc.id);
    assert.equal((await first.locator('td').allTextContents())[5], 'Used');
    await answer.scrollIntoViewIfNeeded();
    await shot(page, 'dashboard-knowledge-question.png');

    // Nothing to find is said so.
    await form.getByLabel('Question', { exact: true }).fill('zebra xylophone');
    await form.getByRole('button', { name: 'Try it' }).click();
    await form.getByRole('status').filter({ hasText: 'Nothing matches' }).waitFor({ timeout: T });
    assert.equal(await hits.count(), 0);
    assert.equal(
      await answer.locator('.kb-outcome').textContent(),
      'The bot would not answer: nothing in the knowledge base matches. It would reply as below; a ' +
        'second question in a row without an answer hands the conversation to your team.',
    );
    assert.equal(
      await answer.locator('.kb-reply-text').innerText(),
      "Sorry, I couldn't find an answer to that. Could you put it another way?",
    );
    assert.equal(await answer.locator('.kb-source').count(), 0);

    // Asking for a person: the bot hands over, it says nothing itself.
    await form.getByLabel('Question', { exact: true }).fill('Can I talk to a real person?');
    await form.getByRole('button', { name: 'Try it' }).click();
    await answer.locator('.kb-outcome[data-outcome="escalate"]').waitFor({ timeout: T });
    assert.equal(await answer.locator('.kb-reply-text').count(), 0);
    assert.equal(await page.getByRole('heading', { name: 'What the bot would retrieve' }).count(), 0);
  });

  await t.test('the owner deletes it, after confirming', async () => {
    const remove = rowOf(doc.id).getByRole('button', { name: 'Delete' });
    await remove.click();
    assert.equal(await remove.textContent(), 'Confirm delete');
    assert.equal((await stored()).length, 1, 'the first click only asks');
    await rowOf(doc.id).getByRole('button', { name: 'Confirm delete' }).click();
    await rowOf(doc.id).waitFor({ state: 'detached', timeout: T });
    await page
      .getByRole('status')
      .filter({ hasText: `Deleted “${doc.title}”.` })
      .waitFor({ timeout: T });
    await page.getByText('No documents yet').waitFor({ timeout: T });
    assert.equal((await ownerApi.get(`${DOCS}/${doc.id}`)).status, 404);
  });

  await t.test('the list pages by cursor and filters by tag and by title', async () => {
    for (let i = 0; i < 21; i++) {
      const res = await ownerApi.post(DOCS, {
        title: `Bulk note ${i}`,
        body: `Internal note number ${i} about the office plants.`,
        tags: ['bulk', i % 2 ? 'odd' : 'even'],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const filters = page.getByRole('search', { name: 'Find documents' });
    await filters.getByRole('button', { name: 'Filter' }).click();
    await rows.nth(19).waitFor({ timeout: T });
    assert.equal(await rows.count(), 20);
    const newer = page.getByRole('button', { name: 'Newer' });
    const older = page.getByRole('button', { name: 'Older' });
    assert.ok(await newer.isDisabled());
    await older.click();
    await rows.nth(1).waitFor({ state: 'detached', timeout: T });
    assert.deepEqual(await rows.locator('td:first-child').allTextContents(), ['Bulk note 0']);
    assert.ok(await older.isDisabled());
    await newer.click();
    await rows.nth(19).waitFor({ timeout: T });

    await filters.getByLabel('Tag').fill('odd');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await rows.nth(10).waitFor({ state: 'detached', timeout: T });
    assert.equal(await rows.count(), 10);
    for (const title of await rows.locator('td:first-child').allTextContents())
      assert.ok(Number(title.split(' ').at(-1)) % 2 === 1, title);
    assert.ok(await older.isDisabled());

    await filters.getByLabel('Tag').fill('');
    await filters.getByLabel('Title contains').fill('NOTE 7');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await rows.nth(1).waitFor({ state: 'detached', timeout: T });
    assert.deepEqual(await rows.locator('td:first-child').allTextContents(), ['Bulk note 7']);

    await filters.getByLabel('Title contains').fill('no such title');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No documents match.').waitFor({ timeout: T });

    // Clear shows everything again; a tag chip filters by its tag.
    await filters.getByRole('button', { name: 'Clear' }).click();
    await rows.nth(19).waitFor({ timeout: T });
    await rows.first().getByRole('button', { name: 'Show documents tagged even' }).click();
    await rows.nth(11).waitFor({ state: 'detached', timeout: T });
    assert.equal(await rows.count(), 11);
    assert.equal(await filters.getByLabel('Tag').inputValue(), 'even');
  });

  await t.test('an agent gets neither the section nor the API', async () => {
    const a = await signedIn(browser, app, agent.user.email, agent.password);
    contexts.push(a.context);
    watch(a.page, problems, 'agent');
    await a.page.goto(`${app.url}/dashboard#knowledge`);
    await a.page.waitForURL(/\/inbox/, { timeout: T });
    assert.equal(await a.page.getByRole('heading', { name: 'Knowledge base' }).count(), 0);
    assert.equal(await a.page.locator('a[href$="#knowledge"]').count(), 0);
    const agentApi = agentHttp(app.url, a.session);
    const someId = (await stored())[0]!.id;
    assert.equal((await agentApi.get(DOCS)).status, 403);
    assert.equal((await agentApi.get(`${DOCS}/${someId}`)).status, 403);
    assert.equal((await agentApi.get('/api/organization/knowledge/search?q=plants')).status, 403);
    assert.equal((await agentApi.get(`${ANSWER}?q=plants`)).status, 403);
    assert.equal((await agentApi.post(DOCS, { title: 'Nope', body: 'Nope' })).status, 403);
    assert.equal((await agentApi.delete(`${DOCS}/${someId}`)).status, 403);
    assert.equal((await stored()).length, 21);
  });

  await t.test('a best passage under the score threshold: the bot would not answer', async () => {
    // "plants" is in every one of 41 passages: it tells them apart by almost nothing.
    for (let i = 21; i < 41; i++) {
      const res = await ownerApi.post(DOCS, {
        title: `Bulk note ${i}`,
        body: `Internal note number ${i} about the office plants.`,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const run = (await ownerApi.get(`${ANSWER}?q=plants`)).body as AnswerDryRunDto;
    assert.equal(run.outcome, 'no_answer');
    const best = run.passages[0]!.score;
    assert.ok(best > 0 && best < MIN_SCORE, `best score ${best}`);

    const form = page.getByRole('form', { name: 'Try a question' });
    await form.getByLabel('Question', { exact: true }).fill('plants');
    await form.getByRole('button', { name: 'Try it' }).click();
    await form.getByRole('status').filter({ hasText: 'best first' }).waitFor({ timeout: T });
    const answer = page.getByRole('region', { name: 'What the bot would answer' });
    assert.equal(
      await answer.locator('.kb-outcome').textContent(),
      `The bot would not answer: the best passage scores ${best.toFixed(3)}, under the ` +
        `${MIN_SCORE.toFixed(3)} it needs. It would reply as below; a second question in a row ` +
        'without an answer hands the conversation to your team.',
    );
    assert.equal(
      await answer.locator('.kb-reply-text').innerText(),
      "Sorry, I couldn't find an answer to that. Could you put it another way?",
    );
    assert.deepEqual(await answer.locator('.kb-button').allTextContents(), ['Talk to a person']);
    assert.equal(await answer.locator('.kb-source').count(), 0);
    assert.equal(await answer.locator('.kb-used-passage').count(), 0);
    // The passages are still listed, none of them used.
    const hits = page.locator('tr.kb-hit');
    assert.equal(await hits.count(), 3);
    for (const cells of await Promise.all((await hits.all()).map((r) => r.locator('td').allTextContents())))
      assert.equal(cells[5], '—');
    await answer.scrollIntoViewIfNeeded();
    await shot(page, 'dashboard-knowledge-no-answer.png');
  });

  assert.deepEqual(problems, []);
});
