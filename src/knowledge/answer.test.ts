// The console's dry run of the bot (`GET /api/organization/knowledge/answer`): the reply a
// question would get, exactly as the bot sends it to a real visitor afterwards (text, buttons,
// sources), or that it would not answer (best passage under the threshold, nothing found) or
// would hand over; nothing is sent, stored or counted. Admins only, the query validated. The
// shared answer path with a model answerer: its answer, or the extractive one when it fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';
import { createVisitorSession, provisionTenant, SHOP } from '../../test/helpers/relay.js';
import { connectWs, widgetWsUrl, type WsClient } from '../../test/helpers/ws.js';
import { createAnswerPath } from '../bot/answer-path.js';
import { MIN_SCORE, type Answerer, type KnowledgeHit } from '../bot/answerer.js';
import type { AnswerDryRunDto } from './knowledge.dto.js';
import { createDocumentSchema } from './knowledge.schemas.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;
const ANSWER = '/api/organization/knowledge/answer';
const DOCS = [
  {
    title: 'Delivery times and costs',
    url: 'https://help.shop.example/delivery',
    body: 'Orders to Germany, France and Belgium arrive in 2 to 4 working days. Standard delivery costs 4.90 euros and is free from 60 euros.',
  },
  {
    title: 'Returning an item',
    url: 'https://help.shop.example/returns',
    body: 'You can return any item within 30 days of delivery. Refunds reach your card within 5 days of our receiving the parcel.',
  },
  {
    title: 'Livraison',
    url: null,
    language: 'fr',
    body: 'Les commandes pour la France arrivent en 2 à 4 jours ouvrés.',
  },
];

describe('the dry run of the bot on postgres', () => {
  let t: TestApp;
  const clients: WsClient[] = [];
  before(async () => {
    t = await startApp(await dbModes[0]!.open(), { env: { ADMIN_KEY } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.stop();
    await t.database.close();
  });

  async function tenant(docs: Record<string, unknown>[] = DOCS) {
    const tn = await provisionTenant(t.url, ADMIN_KEY, 'Dry run', { allowed_origins: [SHOP] });
    for (const d of docs) await t.services.knowledge.create(tn.id, createDocumentSchema.parse(d));
    const org = await t.database.prisma.organization.findUniqueOrThrow({ where: { id: tn.id } });
    const as = async (role: 'owner' | 'admin' | 'agent') => {
      const a = await createAgent(t.services, tn.id, { role });
      return agentHttp(t.url, await loginAgent(t.url, a.user.email, a.password));
    };
    return { ...tn, pk: org.widgetPublicKey, owner: await as('owner'), as };
  }
  const ask = (api: ReturnType<typeof agentHttp>, q: string, language?: string) =>
    api.get(`${ANSWER}?${new URLSearchParams({ q, ...(language ? { language } : {}) })}`);

  /** What the tenant has stored that a dry run must not add to. */
  const footprint = async (orgId: string) => ({
    conversations: await t.database.prisma.conversation.count({ where: { organizationId: orgId } }),
    messages: await t.database.prisma.message.count({ where: { conversation: { organizationId: orgId } } }),
    tickets: await t.database.prisma.ticket.count({ where: { organizationId: orgId } }),
  });

  test('an answer: the reply exactly as the bot then sends it to a visitor, with its source', async () => {
    const tn = await tenant();
    const question = 'How many days for a delivery to Germany?';
    const before = await footprint(tn.id);
    const res = await ask(tn.owner, question);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const run = res.body as AnswerDryRunDto;
    assert.equal(run.outcome, 'answer');
    assert.equal(run.answerer, 'extractive');
    assert.equal(run.fell_back, false);
    assert.equal(run.min_score, MIN_SCORE);
    assert.equal(
      run.reply!.text,
      `${DOCS[0]!.body}\n\nSource: Delivery times and costs — https://help.shop.example/delivery`,
    );
    assert.deepEqual(run.sources, [
      { title: 'Delivery times and costs', url: 'https://help.shop.example/delivery' },
    ]);
    assert.equal(run.passages[0]!.title, 'Delivery times and costs');
    assert.equal(run.passages[0]!.used, true);
    assert.ok(run.passages[0]!.score >= MIN_SCORE);
    assert.ok(run.passages.slice(1).every((p) => !p.used));
    assert.equal(run.reply!.buttons[0]!.label, 'Talk to a person');
    assert.deepEqual(await footprint(tn.id), before, 'the dry run stored nothing');

    // A real visitor asking the same gets that very message.
    const s = await createVisitorSession(t.url, tn, { locale: 'en' });
    const ws = await connectWs(widgetWsUrl(t.url, { token: s.visitor_token }), { origin: SHOP });
    clients.push(ws);
    assert.equal((await ws.next('welcome')).mode, 'bot');
    ws.send({ type: 'msg', client_msg_id: 'q1', content: question });
    const sent = await ws.next('msg', (f) => f.role === 'bot');
    assert.equal(sent.content, run.reply!.text);
    assert.deepEqual((sent.rich_media as { buttons: unknown[] }).buttons, run.reply!.buttons);
  });

  test('a language: the bot’s words and documents in it', async () => {
    const tn = await tenant();
    const run = (await ask(tn.owner, 'Combien de jours pour une livraison en France ?', 'fr'))
      .body as AnswerDryRunDto;
    assert.equal(run.outcome, 'answer');
    assert.equal(run.reply!.text, `${DOCS[2]!.body}\n\nSource: Livraison`);
    assert.equal(run.reply!.buttons[0]!.label, 'Parler à une personne');
  });

  test('no answer: a best passage under the threshold, or nothing found; asking for a person hands over', async () => {
    // "plants" is in every passage, so it tells them apart by almost nothing: a score under the bar.
    const tn = await tenant(
      Array.from({ length: 40 }, (_, i) => ({
        title: `Office note ${i}`,
        body: `Note ${i}: water the plants on floor ${i}.`,
      })),
    );
    const before = await footprint(tn.id);
    const low = (await ask(tn.owner, 'plants?')).body as AnswerDryRunDto;
    assert.equal(low.outcome, 'no_answer');
    assert.equal(low.reason, 'no_answer');
    assert.ok(low.passages.length > 0, 'passages were found');
    assert.ok(low.passages[0]!.score < MIN_SCORE, `best score ${low.passages[0]!.score}`);
    assert.ok(low.passages.every((p) => !p.used));
    assert.deepEqual(low.reply, {
      text: "Sorry, I couldn't find an answer to that. Could you put it another way?",
      buttons: [{ label: 'Talk to a person', value: 'Talk to a person' }],
    });
    assert.deepEqual(low.sources, []);

    const none = (await ask(tn.owner, 'zebra xylophone')).body as AnswerDryRunDto;
    assert.equal(none.outcome, 'no_answer');
    assert.deepEqual(none.passages, []);

    const human = (await ask(tn.owner, 'I want to talk to a real person')).body as AnswerDryRunDto;
    assert.equal(human.outcome, 'escalate');
    assert.equal(human.reason, 'visitor_request');
    assert.equal(human.reply, null);
    assert.deepEqual(await footprint(tn.id), before, 'nothing stored, no ticket');
  });

  test('admins and owners only; the query is validated, naming the field', async () => {
    const tn = await tenant();
    const admin = await tn.as('admin');
    const agent = await tn.as('agent');
    assert.equal((await ask(admin, 'delivery')).status, 200);
    assert.equal((await ask(agent, 'delivery')).status, 403);
    const missing = await tn.owner.get(ANSWER);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'request/invalid');
    assert.match(JSON.stringify(missing.body), /\bq\b/);
    const blank = await ask(tn.owner, '   ');
    assert.equal(blank.status, 400);
    const long = await ask(tn.owner, 'x'.repeat(1001));
    assert.equal(long.status, 400);
    const lang = await ask(tn.owner, 'delivery', 'french');
    assert.equal(lang.status, 400);
    assert.match(JSON.stringify(lang.body), /language/);
  });
});

describe('the answer path with a model answerer', () => {
  const hit: KnowledgeHit = {
    documentId: 'd1',
    title: 'Delivery',
    url: null,
    heading: null,
    content: 'Parcels arrive in 2 days.',
    score: 0.5,
  };
  const other: KnowledgeHit = {
    ...hit,
    documentId: 'd2',
    title: 'Returns',
    content: 'Return within 30 days.',
  };
  const knowledge = { search: () => Promise.resolve([hit, other]) };

  test('the model composes; the other documents are suggested under the reply', async () => {
    const model: Answerer = {
      name: 'openai',
      answer: () => Promise.resolve({ text: 'Two days.', sources: [{ title: 'Delivery', url: null }] }),
    };
    const run = await createAnswerPath({ knowledge, model }).dryRun('org', 'How long?', null);
    assert.equal(run.outcome, 'answer');
    assert.equal(run.answerer, 'openai');
    assert.deepEqual(run.reply, {
      text: 'Two days.',
      buttons: [
        { label: 'Talk to a person', value: 'Talk to a person' },
        { label: 'Returns', value: 'Returns' },
      ],
    });
    assert.deepEqual(
      run.hits.map((h) => h.used),
      [true, false],
      'the document it cites',
    );
  });

  test('a failing model: the extractive answer, as the bot falls back', async () => {
    const model: Answerer = { name: 'openai', answer: () => Promise.reject(new Error('HTTP 502')) };
    const run = await createAnswerPath({ knowledge, model }).dryRun('org', 'How long?', null);
    assert.equal(run.outcome, 'answer');
    assert.equal(run.answerer, 'extractive');
    assert.equal(run.fellBack, true);
    assert.equal(run.reply?.text, 'Parcels arrive in 2 days.\n\nSource: Delivery');
  });
});
