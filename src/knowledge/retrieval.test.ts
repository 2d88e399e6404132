// The knowledge base (issue 18 point 1, /tmp/wh/kb-contract.md): retrieval quality measured on a
// shop's help centre (test/fixtures/help-centre.json) as recall@3 on both databases, which must
// agree; documents through the signed API (create, list by cursor and tag, update re-splitting
// passages, delete, tenant isolation, bad input) and the console; the passage splitter.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  loadDocuments,
  loadHelpCentre,
  scoreQuestions,
  type RetrievalScore,
} from '../../test/helpers/retrieval.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent } from '../../test/helpers/factories.js';
import { provisionTenant, signedCall, type SignedTenant } from '../../test/helpers/relay.js';
import { MAX_PASSAGE_WORDS, splitDocument, wordCount } from './knowledge.passages.js';
import type { KnowledgeDocumentDto } from './knowledge.dto.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;
/** Measured 0.90 on both databases (80 of 89); a ranking change that costs more than 4 questions fails. */
const RECALL_AT_3_FLOOR = 0.85;
const BASE = '/api/v1/relay/knowledge/documents';

/** A document as the API answers it. */
type Doc = KnowledgeDocumentDto;
type Hit = {
  document_id: string;
  title: string;
  url: string | null;
  heading: string | null;
  content: string;
};

const scores = new Map<string, RetrievalScore>();

/** Words enough to make a passage of their own: `n` sentences about `topic`. */
const sentences = (topic: string, n: number) =>
  Array.from(
    { length: n },
    (_, i) => `Sentence ${i + 1} explains how the ${topic} works for our customers in detail.`,
  ).join(' ');

for (const mode of dbModes) {
  describe(`the knowledge base on ${mode.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), { redis: mode.name === 'postgres', env: { ADMIN_KEY } });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    const provision = () => provisionTenant(t.url, ADMIN_KEY, 'Knowledge');
    const call = (tn: SignedTenant, method: string, path: string, json?: unknown) =>
      signedCall(t.url, tn, method, path, json);
    const create = async (tn: SignedTenant, doc: Record<string, unknown>) => {
      const res = await call(tn, 'POST', BASE, doc);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.data as unknown as Doc;
    };
    const search = async (tn: SignedTenant, q: string, limit = 3) => {
      const res = await call(
        tn,
        'GET',
        `/api/v1/relay/knowledge/search?q=${encodeURIComponent(q)}&limit=${limit}`,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body.data as { items: Hit[] }).items;
    };

    test('recall@3 on the help centre', async (tc) => {
      const fixture = loadHelpCentre();
      assert.ok(fixture.documents.length >= 32 && fixture.questions.length >= 64);
      const tn = await provision();
      const knowledge = t.services.knowledge;
      const keyOf = await loadDocuments(knowledge, tn.id, fixture);
      const score = await scoreQuestions(knowledge, tn.id, fixture, keyOf);
      scores.set(mode.name, score);
      tc.diagnostic(
        `${mode.name}: recall@3 ${score.recallAt3} (${score.results.filter((r) => r.hit).length}/` +
          `${score.questions}), ${score.documents} documents, p50 ${score.p50Ms} ms, p95 ${score.p95Ms} ms`,
      );
      for (const r of score.results.filter((x) => !x.hit)) {
        tc.diagnostic(`missed: "${r.question}" wants ${r.expected}, got ${r.found.join(', ')}`);
      }
      assert.ok(
        score.recallAt3 >= RECALL_AT_3_FLOOR,
        `recall@3 ${score.recallAt3} is under the floor ${RECALL_AT_3_FLOOR}`,
      );
      // Long documents are split; every document has a passage.
      const { items } = (await call(tn, 'GET', `${BASE}?limit=100`)).body.data as { items: Doc[] };
      assert.equal(items.length, fixture.documents.length);
      assert.ok(items.every((d) => d.passages >= 1));
      assert.ok(items.filter((d) => d.passages >= 3).length >= 5);
    });

    test('search: best first, one hit per document, phrases, nothing for stop words', async () => {
      const tn = await provision();
      const returns = await create(tn, {
        title: 'Returns',
        body: '# Returns\n\nYou have 30 days to send items back.\n\n## Shoes\n\nShoes must come back in their box.',
        format: 'markdown',
        url: 'https://help.example.com/returns',
      });
      await create(tn, {
        title: 'Delivery',
        body: 'Parcels arrive in 3 days. Large orders ship in a shoe box.',
      });

      const hits = await search(tn, 'can I send shoes back?', 5);
      assert.equal(hits[0]!.document_id, returns.id);
      assert.equal(hits[0]!.url, 'https://help.example.com/returns');
      assert.ok(hits[0]!.heading?.startsWith('Returns'));
      // Two documents, limit 5: each document's best passage first, then the next best.
      assert.equal(hits.length, 3);
      assert.equal(new Set(hits.slice(0, 2).map((h) => h.document_id)).size, 2);
      const [one] = await search(tn, 'shoes', 1);
      assert.ok(one);

      // Prefix matching: "deliv" finds "Delivery".
      assert.equal((await search(tn, 'deliv'))[0]?.title, 'Delivery');
      // A quoted phrase in order outranks the same words apart.
      const phrase = await search(tn, '"shoe box"');
      assert.equal(phrase[0]?.title, 'Delivery');

      assert.deepEqual(await search(tn, 'what is the'), []);
      assert.deepEqual(await search(tn, '🙂🙂'), []);
      assert.deepEqual(await t.services.knowledge.search(tn.id, 'and or but'), []);

      // French documents are searched in French (stemming): "remboursé" finds "remboursement".
      const fr = await create(tn, {
        title: 'Remboursements',
        body: 'Le remboursement est effectué sous 5 jours ouvrés.',
        language: 'fr',
      });
      assert.equal((await search(tn, 'quand serai-je remboursé ?'))[0]?.document_id, fr.id);
      // `language` prefers documents in that language, and falls back to all of them.
      const inFrench = await t.services.knowledge.search(tn.id, 'jours', { language: 'fr' });
      assert.deepEqual(
        inFrench.map((h) => h.documentId),
        [fr.id],
      );
      const fallback = await t.services.knowledge.search(tn.id, 'shoes', { language: 'fr' });
      assert.ok(fallback.length > 0);

      const bad = await call(tn, 'GET', '/api/v1/relay/knowledge/search?q=');
      assert.equal(bad.status, 400);
      assert.equal((bad.body as { param?: string }).param, 'q');
    });

    test('documents: create, read, list by cursor and tag, update re-splits, delete', async () => {
      const tn = await provision();
      const doc = await create(tn, {
        title: '  Gift cards ',
        body: 'Gift cards last two years.',
        tags: ['payment', 'gifts', 'payment'],
      });
      assert.equal(doc.title, 'Gift cards');
      assert.equal(doc.format, 'text');
      assert.equal(doc.language, 'en');
      assert.equal(doc.url, null);
      assert.deepEqual(doc.tags, ['payment', 'gifts']);
      assert.equal(doc.passages, 1);
      assert.match(doc.created_at, /^\d{4}-\d{2}-\d{2}T/);
      const got = await call(tn, 'GET', `${BASE}/${doc.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.data, doc);

      // Five more; pages of two, newest first, every document once.
      const ids = [doc.id];
      for (let i = 0; i < 5; i++) {
        ids.push((await create(tn, { title: `Doc ${i}`, body: `Body ${i}`, tags: i % 2 ? ['odd'] : [] })).id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const res = await call(tn, 'GET', `${BASE}?limit=2${q}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const data = res.body.data as { items: Doc[]; next_cursor: string | null };
        assert.ok(data.items.length <= 2);
        seen.push(...data.items.map((d) => d.id));
        cursor = data.next_cursor;
        pages += 1;
      } while (cursor && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual([...seen].sort(), [...ids].sort());
      const odd = (await call(tn, 'GET', `${BASE}?tag=odd`)).body.data as { items: Doc[] };
      assert.deepEqual(odd.items.map((d) => d.title).sort(), ['Doc 1', 'Doc 3']);
      const byTitle = (await call(tn, 'GET', `${BASE}?q=gift`)).body.data as { items: Doc[] };
      assert.deepEqual(
        byTitle.items.map((d) => d.id),
        [doc.id],
      );

      // The new body is Markdown with three sections: three passages, the old text gone.
      const body = [
        '# Gift cards',
        sentences('gift card', 4),
        '## Balance',
        sentences('balance check', 3),
        '## Lost cards',
        sentences('replacement', 3),
      ].join('\n\n');
      const patched = await call(tn, 'PATCH', `${BASE}/${doc.id}`, {
        body,
        format: 'markdown',
        url: 'https://help.example.com/gift-cards',
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const updated = patched.body.data as unknown as Doc;
      assert.equal(updated.passages, 3);
      assert.equal(updated.format, 'markdown');
      assert.deepEqual(updated.tags, ['payment', 'gifts']);
      assert.ok(Date.parse(updated.updated_at) >= Date.parse(doc.updated_at));
      const hits = await search(tn, 'replacement');
      assert.equal(hits[0]?.document_id, doc.id);
      assert.equal(hits[0]?.heading, 'Gift cards › Lost cards');
      assert.equal(hits[0]?.url, 'https://help.example.com/gift-cards');
      assert.deepEqual(await search(tn, 'years'), []);
      // `url: null` removes the link.
      const unlinked = await call(tn, 'PATCH', `${BASE}/${doc.id}`, { url: null });
      assert.equal((unlinked.body.data as unknown as Doc).url, null);

      const deleted = await call(tn, 'DELETE', `${BASE}/${doc.id}`);
      assert.equal(deleted.status, 200);
      const gone = await call(tn, 'GET', `${BASE}/${doc.id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error, 'knowledge/not_found');
      assert.deepEqual(await search(tn, 'replacement'), []);
      assert.equal((await call(tn, 'DELETE', `${BASE}/${doc.id}`)).status, 404);
    });

    test("another tenant's document is not found; bad input is 400 naming the parameter", async () => {
      const tn = await provision();
      const doc = await create(tn, { title: 'Store hours', body: 'Open 10am to 6pm.', tags: ['stores'] });
      const other = await provision();
      for (const [method, json] of [
        ['GET', undefined],
        ['PATCH', { title: 'Mine now' }],
        ['DELETE', undefined],
      ] as const) {
        const res = await call(other, method, `${BASE}/${doc.id}`, json);
        assert.equal(res.status, 404, method);
        assert.equal(res.body.error, 'knowledge/not_found');
      }
      assert.deepEqual((await call(other, 'GET', BASE)).body.data, { items: [], next_cursor: null });
      assert.deepEqual(await search(other, 'store hours'), []);

      const bad: [string, string, unknown, string][] = [
        ['POST', BASE, { title: '', body: 'x' }, 'title'],
        ['POST', BASE, { title: 'x'.repeat(301), body: 'x' }, 'title'],
        ['POST', BASE, { title: 'T' }, 'body'],
        ['POST', BASE, { title: 'T', body: '   ' }, 'body'],
        ['POST', BASE, { title: 'T', body: 'x'.repeat(100_001) }, 'body'],
        ['POST', BASE, { title: 'T', body: 'x', format: 'html' }, 'format'],
        ['POST', BASE, { title: 'T', body: 'x', url: 'ftp://files.example.com/a' }, 'url'],
        ['POST', BASE, { title: 'T', body: 'x', url: 'javascript:alert(1)' }, 'url'],
        [
          'POST',
          BASE,
          { title: 'T', body: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) },
          'tags',
        ],
        ['POST', BASE, { title: 'T', body: 'x', tags: ['x'.repeat(51)] }, 'tags.0'],
        ['POST', BASE, { title: 'T', body: 'x', language: 'english' }, 'language'],
        ['POST', BASE, { title: 'T', body: 'x\u0000' }, 'body'],
        // An unknown field: the body is refused, the message names the field.
        ['POST', BASE, { title: 'T', body: 'x', colour: 'red' }, 'body'],
        ['PATCH', `${BASE}/${doc.id}`, {}, 'title'],
        ['PATCH', `${BASE}/${doc.id}`, { title: 'Hours', language: 'fra' }, 'language'],
        ['PATCH', `${BASE}/${doc.id}`, { body: '' }, 'body'],
        ['GET', `${BASE}?limit=0`, undefined, 'limit'],
        ['GET', `${BASE}?limit=101`, undefined, 'limit'],
        ['GET', `${BASE}?cursor=nonsense`, undefined, 'cursor'],
        ['GET', `${BASE}/not-a-uuid`, undefined, 'id'],
        ['GET', '/api/v1/relay/knowledge/search?q=shoes&limit=50', undefined, 'limit'],
      ];
      for (const [method, path, json, param] of bad) {
        const res = await call(tn, method, path, json);
        const what = `${method} ${path} ${JSON.stringify(json)?.slice(0, 80)}`;
        assert.equal(res.status, 400, what);
        assert.equal(res.body.error, 'request/invalid', what);
        assert.equal((res.body as { param?: string }).param, param, what);
        assert.ok(res.body.message.includes(`'${param}'`), what);
      }
      // Nothing changed.
      const after = (await call(tn, 'GET', BASE)).body.data as { items: Doc[] };
      assert.deepEqual(
        after.items.map((d) => [d.id, d.title, d.body, d.language, d.passages]),
        [[doc.id, 'Store hours', 'Open 10am to 6pm.', 'en', 1]],
      );
    });

    test('the console: admins manage the documents with the session and CSRF', async () => {
      const tn = await provision();
      const admin = await createAgent(t.services, tn.id, { role: 'admin' });
      const agent = await createAgent(t.services, tn.id, { role: 'agent' });
      const [adminS, agentS] = await Promise.all([
        loginAgent(t.url, admin.user.email, admin.password),
        loginAgent(t.url, agent.user.email, agent.password),
      ]);
      const as =
        (s: { cookie: string; csrf: string }) =>
        async (method: string, path: string, body?: unknown, csrf = true) => {
          const res = await fetch(`${t.url}${path}`, {
            method,
            headers: {
              accept: 'application/json',
              cookie: s.cookie,
              ...(method !== 'GET' && csrf ? { 'x-csrftoken': s.csrf } : {}),
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          return { status: res.status, body: (await res.json()) as Record<string, unknown> };
        };
      const api = as(adminS);
      const base = '/api/organization/knowledge/documents';

      const noCsrf = await api('POST', base, { title: 'T', body: 'B' }, false);
      assert.equal(noCsrf.status, 403);
      assert.equal(noCsrf.body.error, 'auth/csrf');
      const forbidden = await as(agentS)('GET', base);
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.body.error, 'auth/forbidden');
      const anonymous = await fetch(`${t.url}${base}`, { headers: { accept: 'application/json' } });
      assert.equal(anonymous.status, 401);

      const created = await api('POST', base, {
        title: 'Click & collect',
        body: 'Collect your order in store within 14 days.',
        tags: ['stores'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      assert.equal(created.body.passages, 1);
      // The signed API sees the same document.
      const signedView = await call(tn, 'GET', `${BASE}/${id}`);
      assert.deepEqual(signedView.body.data, created.body);

      const listed = await api('GET', `${base}?tag=stores`);
      assert.deepEqual(
        (listed.body.items as Doc[]).map((d) => d.id),
        [id],
      );
      const patched = await api('PATCH', `${base}/${id}`, { title: 'Collect in store' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.title, 'Collect in store');
      const found = await api(
        'GET',
        `/api/organization/knowledge/search?q=${encodeURIComponent('pick up in store?')}`,
      );
      assert.equal(found.status, 200);
      assert.equal((found.body.items as Hit[])[0]?.document_id, id);
      const invalid = await api('POST', base, { title: 'T', body: 'B', language: 'xyz' });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.param, 'language');
      const removed = await api('DELETE', `${base}/${id}`);
      assert.equal(removed.status, 200);
      const gone = await api('GET', `${base}/${id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error, 'knowledge/not_found');
    });
  });
}

test('both databases retrieve the same passages for every question', () => {
  const [pg, lite] = [scores.get('postgres'), scores.get('pglite')];
  assert.ok(pg && lite, 'both recall runs completed');
  assert.equal(pg.recallAt3, lite.recallAt3);
  assert.deepEqual(
    pg.results.map((r) => r.found),
    lite.results.map((r) => r.found),
  );
});

describe('the passage splitter', () => {
  test('Markdown: by headings, each passage under its heading path; code keeps its #', () => {
    const passages = splitDocument(
      '# Returns\n\nSend it back.\n\n## Shoes\n\nIn the box.\n\n```sh\n# not a heading\n```\n\n# Refunds\n\nIn 5 days.',
      'markdown',
    );
    assert.deepEqual(passages, [
      { heading: 'Returns', content: 'Send it back.' },
      { heading: 'Returns › Shoes', content: 'In the box.\n\n```sh\n# not a heading\n```' },
      { heading: 'Refunds', content: 'In 5 days.' },
    ]);
  });

  test('plain text: paragraphs packed up to the maximum, long ones cut between sentences', () => {
    const short = splitDocument('One.\n\nTwo.\r\n\r\nThree.', 'text');
    assert.deepEqual(short, [{ heading: null, content: 'One.\n\nTwo.\n\nThree.' }]);

    const long = sentences('returns desk', 60); // 600 words in one paragraph
    const pieces = splitDocument(`${long}\n\n${sentences('refund', 5)}`, 'text');
    assert.ok(pieces.length >= 3);
    for (const p of pieces) {
      assert.ok(wordCount(p.content) <= MAX_PASSAGE_WORDS + 80, `${wordCount(p.content)} words`);
      assert.match(p.content, /\.$/, 'ends at the end of a sentence');
      assert.equal(p.heading, null);
    }
    assert.equal(
      pieces
        .map((p) => p.content)
        .join(' ')
        .replace(/\s+/g, ' '),
      `${long} ${sentences('refund', 5)}`,
    );
  });

  test('a document of headings only is one passage of itself', () => {
    assert.deepEqual(splitDocument('# Title\n## Sub', 'markdown'), [
      { heading: null, content: '# Title\n## Sub' },
    ]);
  });
});
