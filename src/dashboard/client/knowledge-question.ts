// Automation → Knowledge base, "Try a question": what the bot would do with a visitor's question
// (a dry run of its answer path: the reply exactly as it would be sent, its buttons and sources, or
// that it would not answer or would hand over), and the passages retrieval finds for it, best
// first, with those the answer comes from marked.
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
type DryRun = {
  outcome: 'answer' | 'no_answer' | 'escalate';
  reason: 'visitor_request' | 'no_answer' | null;
  reply: { text: string; buttons: { label: string; value: string }[] } | null;
  sources: { title: string; url: string | null }[];
  passages: (Hit & { used: boolean })[];
  answerer: string | null;
  fell_back: boolean;
  min_score: number | null;
};

const SEARCH = '/api/organization/knowledge/search';
const ANSWER = '/api/organization/knowledge/answer';

const passages = (n: number) => `${n} ${n === 1 ? 'passage' : 'passages'}`;
const usedKey = (p: Pick<Hit, 'document_id' | 'content'>) => `${p.document_id}\n${p.content}`;
const titleOf = (p: Pick<Hit, 'title' | 'heading'>) => (p.heading ? `${p.title} › ${p.heading}` : p.title);

function link(title: string, url: string | null): Node | string {
  const href = safeUrl(url);
  return href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, title) : title;
}

/** The reply as the visitor would read it: paragraphs and line breaks kept (its innerText is the text). */
function replyText(text: string): HTMLElement {
  return h(
    'blockquote',
    { class: 'kb-reply-text' },
    ...text
      .split(/\n{2,}/)
      .map((para) => h('p', {}, ...para.split('\n').flatMap((line, i) => (i ? [h('br'), line] : [line])))),
  );
}

/** Why the bot would say what it says, in a sentence. */
function outcomeText(run: DryRun): string {
  const by =
    run.answerer === 'extractive'
      ? 'the best passage itself (no language model is configured)'
      : `the ${run.answerer ?? 'model'} answerer`;
  if (run.outcome === 'escalate')
    return 'The visitor asks for a person: the bot would not answer, it would hand the conversation to your team.';
  if (run.outcome === 'answer')
    return `The bot would answer, from ${run.fell_back ? 'the best passage (the model failed)' : by}:`;
  const best = run.passages[0];
  const why = !best
    ? 'nothing in the knowledge base matches'
    : run.min_score !== null && best.score < run.min_score
      ? `the best passage scores ${best.score.toFixed(3)}, under the ${run.min_score.toFixed(3)} it needs`
      : 'the passages found do not answer it';
  return (
    `The bot would not answer: ${why}. It would reply as below; a second question in a row ` +
    'without an answer hands the conversation to your team.'
  );
}

/** The dry run: what the bot would say, its buttons, its sources and the passages it used. */
function answerView(run: DryRun): HTMLElement[] {
  const out: HTMLElement[] = [h('p', { class: 'kb-outcome', 'data-outcome': run.outcome }, outcomeText(run))];
  if (!run.reply) return out;
  out.push(replyText(run.reply.text));
  out.push(
    h(
      'p',
      { class: 'kb-buttons' },
      'Buttons under it: ',
      ...run.reply.buttons.flatMap((b, i) => [i ? ', ' : '', h('span', { class: 'tag kb-button' }, b.label)]),
    ),
  );
  if (run.sources.length) {
    out.push(
      h(
        'div',
        { class: 'kb-sources' },
        h('h3', {}, run.sources.length === 1 ? 'Source' : 'Sources'),
        h('ul', {}, ...run.sources.map((s) => h('li', { class: 'kb-source' }, link(s.title, s.url)))),
      ),
    );
  }
  const used = run.passages.filter((p) => p.used);
  if (used.length) {
    out.push(
      h(
        'div',
        { class: 'kb-used' },
        h('h3', {}, used.length === 1 ? 'From the passage' : 'From the passages'),
        h(
          'ul',
          {},
          ...used.map((p) =>
            h(
              'li',
              { class: 'kb-used-passage', 'data-document-id': p.document_id },
              titleOf(p),
              ` (score ${p.score.toFixed(3)})`,
            ),
          ),
        ),
      ),
    );
  }
  return out;
}

/** A question, what the bot would answer to it, and the passages retrieval finds for it. */
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
  const answer = h('div', { class: 'kb-answer' });
  const answerPanel = h(
    'section',
    { class: 'panel wide', hidden: true, 'aria-labelledby': `${id}-answer` },
    h('h2', { id: `${id}-answer` }, 'What the bot would answer'),
    h('p', { class: 'muted' }, 'A dry run: nothing is sent to anyone, nothing is stored.'),
    answer,
  );
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
      answerPanel.hidden = true;
      hits.replaceChildren();
      answer.replaceChildren();
      const lang = d.language?.trim();
      const params = new URLSearchParams({ q: d.q ?? '', ...(lang ? { language: lang } : {}) });
      const [run, { items }] = await Promise.all([
        api<DryRun>('GET', `${ANSWER}?${params}`),
        api<{ items: Hit[] }>('GET', `${SEARCH}?${params}&limit=${encodeURIComponent(d.limit ?? '3')}`),
      ]);
      answer.replaceChildren(...answerView(run));
      answerPanel.hidden = false;
      status.textContent = items.length
        ? `${passages(items.length)}, best first: what the bot would answer from.`
        : 'Nothing matches: the bot has no passage to answer this from.';
      if (!items.length) return;
      const used = new Set(run.passages.filter((p) => p.used).map(usedKey));
      results.hidden = false;
      hits.replaceChildren(
        table(
          ['#', 'Document', 'Heading', 'Passage', 'Score', 'In the answer'],
          items.map((hit, i) => {
            const tr = row(
              String(i + 1),
              link(hit.title, hit.url),
              hit.heading ?? '—',
              hit.content,
              hit.score.toFixed(3),
              used.has(usedKey(hit)) ? 'Used' : '—',
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
  return [f, answerPanel, results];
}
