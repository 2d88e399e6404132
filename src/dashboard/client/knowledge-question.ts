// Automation → Knowledge base, "Try a question": what retrieval finds for a question, that is the
// passages the bot would answer from, best first, with their headings, scores and links.
import { api, h, safeUrl } from '../../inbox/client/dom.js';
import { form, row, select, table, uid } from './ui.js';

type Hit = {
  document_id: string;
  title: string;
  url: string | null;
  heading: string | null;
  content: string;
  score: number;
};

const SEARCH = '/api/organization/knowledge/search';

const passages = (n: number) => `${n} ${n === 1 ? 'passage' : 'passages'}`;

/** A question and what retrieval finds for it: the bot's passages, best first, with their scores. */
export function tryQuestion(): HTMLElement[] {
  const id = uid('kb-question');
  const question = h('input', {
    id,
    name: 'q',
    required: true,
    maxlength: 1000,
    autocomplete: 'off',
    placeholder: 'How do I return a parcel?',
  });
  const language = h('input', { id: `${id}-lang`, name: 'language', size: 4, autocomplete: 'off' });
  const status = h('p', { class: 'muted', role: 'status' });
  const hits = h('div', { class: 'kb-hits' });
  const results = h(
    'section',
    { class: 'panel wide', hidden: true, 'aria-labelledby': `${id}-hits` },
    h('h2', { id: `${id}-hits` }, 'What the bot would retrieve'),
    hits,
  );
  const f = form(
    'Try a question',
    [
      h('div', { class: 'field' }, h('label', { for: id }, 'Question'), question),
      h(
        'div',
        { class: 'field' },
        h('label', { for: `${id}-lang` }, 'Language (optional, e.g. fr)'),
        language,
      ),
      select(
        'Passages',
        'limit',
        ['1', '3', '5', '10'].map((n) => [n, n]),
        '3',
      ),
    ],
    'Try it',
    async (d) => {
      status.textContent = '';
      results.hidden = true;
      hits.replaceChildren();
      const params = new URLSearchParams({ q: d.q ?? '', limit: d.limit ?? '3' });
      if (d.language?.trim()) params.set('language', d.language.trim());
      const { items } = await api<{ items: Hit[] }>('GET', `${SEARCH}?${params}`);
      status.textContent = items.length
        ? `${passages(items.length)}, best first: what the bot would answer from.`
        : 'Nothing matches: the bot has no passage to answer this from.';
      if (!items.length) return;
      results.hidden = false;
      hits.replaceChildren(
        table(
          ['#', 'Document', 'Heading', 'Passage', 'Score'],
          items.map((hit, i) => {
            const href = safeUrl(hit.url);
            const tr = row(
              String(i + 1),
              href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, hit.title) : hit.title,
              hit.heading ?? '—',
              hit.content,
              hit.score.toFixed(3),
            );
            tr.classList.add('kb-hit');
            tr.dataset.documentId = hit.document_id;
            return tr;
          }),
          '',
        ),
      );
    },
  );
  f.append(status);
  return [f, results];
}
