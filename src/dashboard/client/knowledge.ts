// Automation → Knowledge base: the documents the bot answers from (a page at a time, by tag or by
// words of the title), a form to add or change one with the server's refusals beside their fields,
// and "Try a question" (knowledge-question.ts).
import { api, ApiError, formatTime, h } from '../../inbox/client/dom.js';
import { tryQuestion } from './knowledge-question.js';
import { confirmButton, errorText, form, labelled, row, section, table, uid } from './ui.js';

type Format = 'text' | 'markdown';
type KnowledgeDocument = {
  id: string;
  title: string;
  body: string;
  format: Format;
  url: string | null;
  tags: string[];
  language: string;
  passages: number;
  created_at: string;
  updated_at: string;
};
type DocumentPage = { items: KnowledgeDocument[]; next_cursor: string | null };

const DOCS = '/api/organization/knowledge/documents';
const PAGE_SIZE = 20;
/** The languages the server stems (others are matched word for word), offered as suggestions. */
const LANGUAGES = ['en', 'fr', 'de', 'es', 'it', 'pt', 'nl'];

const passages = (n: number) => `${n} ${n === 1 ? 'passage' : 'passages'}`;

/** A `request/invalid` refusal as the field it names (`tags.2` → `tags`, the third tag) and why. */
function refusal(e: unknown): { param: string; index: number | null; reason: string } | null {
  if (!(e instanceof ApiError) || e.code !== 'request/invalid') return null;
  const m = /^Invalid parameter '([^']+)': (.+)$/s.exec(e.message);
  if (!m) return null;
  const [param, index] = m[1]!.split('.');
  return { param: param!, index: index === undefined ? null : Number(index), reason: m[2]! };
}

type Editor = {
  el: HTMLFormElement;
  edit: (doc: KnowledgeDocument) => void;
  reset: () => void;
  editing: () => string | null;
};

/** Adds a document, or changes the one `edit` loaded; `onSaved` runs after either. */
function editor(onSaved: () => Promise<void>): Editor {
  const languages = h(
    'datalist',
    { id: uid('kb-languages') },
    ...LANGUAGES.map((l) => h('option', { value: l })),
  );
  const fields = {
    title: labelled(
      'Title',
      h('input', { name: 'title', required: true, maxlength: 300, autocomplete: 'off' }),
    ),
    body: labelled(
      'Body',
      h('textarea', { name: 'body', rows: 12, required: true, maxlength: 100_000 }),
      'Markdown is split into passages at its headings; each passage keeps the heading it sits under.',
    ),
    format: labelled(
      'Format',
      h(
        'select',
        { name: 'format' },
        h('option', { value: 'text' }, 'Plain text'),
        h('option', { value: 'markdown' }, 'Markdown'),
      ),
    ),
    url: labelled(
      'URL (optional)',
      h('input', {
        name: 'url',
        type: 'text',
        inputmode: 'url',
        autocomplete: 'off',
        spellcheck: 'false',
        maxlength: 2048,
        placeholder: 'https://help.example.com/returns',
      }),
      'Where the full article lives; the bot can link to it.',
    ),
    tags: labelled(
      'Tags (optional)',
      h('input', { name: 'tags', autocomplete: 'off', placeholder: 'returns, shipping' }),
      'Separated by commas; at most 20, each up to 50 characters.',
    ),
    language: labelled(
      'Language',
      h('input', { name: 'language', autocomplete: 'off', list: languages.id, value: 'en', size: 4 }),
      'Its ISO 639-1 code (en, fr, de…): questions are matched in the document’s language.',
    ),
  };
  const c = <K extends keyof typeof fields>(k: K) => fields[k].control;
  let editingId: string | null = null;
  const status = h('p', { class: 'muted', role: 'status' });
  const cancel = h('button', { type: 'button', hidden: true }, 'Cancel editing');
  const f = form(
    'Add a document',
    [...Object.values(fields).map((x) => x.el), languages],
    'Add document',
    async () => {
      status.textContent = '';
      for (const x of Object.values(fields)) {
        x.error.textContent = '';
        x.control.removeAttribute('aria-invalid');
      }
      const input = {
        title: c('title').value,
        body: c('body').value,
        format: c('format').value,
        url: c('url').value.trim() || null,
        tags: c('tags')
          .value.split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        language: c('language').value.trim() || undefined,
      };
      let doc: KnowledgeDocument;
      try {
        doc = editingId
          ? await api<KnowledgeDocument>('PATCH', `${DOCS}/${editingId}`, input)
          : await api<KnowledgeDocument>('POST', DOCS, input);
      } catch (e) {
        const r = refusal(e);
        const field = r && r.param in fields ? fields[r.param as keyof typeof fields] : null;
        if (!r || !field) throw e;
        const which = r.index === null ? '' : `“${input.tags[r.index] ?? ''}”: `;
        field.error.textContent = `${which}${r.reason[0]!.toUpperCase()}${r.reason.slice(1)}.`;
        field.control.setAttribute('aria-invalid', 'true');
        field.control.focus();
        return;
      }
      const verb = editingId ? 'Saved' : 'Added';
      reset();
      status.textContent = `${verb} “${doc.title}”: ${passages(doc.passages)}.`;
      await onSaved();
    },
  );
  const heading = f.querySelector('h2')!;
  const submit = f.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  submit.after(' ', cancel);
  f.append(status);

  function mode(doc: KnowledgeDocument | null) {
    editingId = doc?.id ?? null;
    const title = doc ? 'Edit the document' : 'Add a document';
    heading.textContent = doc ? `Edit “${doc.title}”` : title;
    f.setAttribute('aria-label', title);
    submit.textContent = doc ? 'Save changes' : 'Add document';
    cancel.hidden = !doc;
  }
  function reset() {
    f.reset();
    for (const x of Object.values(fields)) {
      x.error.textContent = '';
      x.control.removeAttribute('aria-invalid');
    }
    mode(null);
  }
  cancel.addEventListener('click', () => {
    reset();
    status.textContent = '';
    c('title').focus();
  });
  return {
    el: f,
    edit(doc) {
      reset();
      status.textContent = '';
      mode(doc);
      c('title').value = doc.title;
      c('body').value = doc.body;
      c('format').value = doc.format;
      c('url').value = doc.url ?? '';
      c('tags').value = doc.tags.join(', ');
      c('language').value = doc.language;
      f.scrollIntoView({ block: 'start' });
      c('title').focus();
    },
    reset,
    editing: () => editingId,
  };
}

/** The documents, most recently changed first, paged by cursor, filtered by tag and title words. */
function documentList(onEdit: (id: string) => void, onDeleted: (id: string) => void) {
  // cursors[i] opens page i; the first page has none.
  const cursors: (string | null)[] = [null];
  let pageNo = 0;
  let next: string | null = null;
  const status = h('p', { class: 'muted', role: 'status' });
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const body = h('div', { class: 'kb-documents' });
  const newer = h('button', { type: 'button', disabled: true }, 'Newer');
  const older = h('button', { type: 'button', disabled: true }, 'Older');
  const qId = uid('kb-q');
  const tagId = uid('kb-tag');
  const q = h('input', { id: qId, type: 'search', name: 'q', maxlength: 200, autocomplete: 'off' });
  const tag = h('input', { id: tagId, type: 'search', name: 'tag', maxlength: 50, autocomplete: 'off' });
  const filters = h(
    'form',
    { class: 'inline-form', role: 'search', 'aria-label': 'Find documents' },
    h('label', { for: qId }, 'Title contains'),
    q,
    h('label', { for: tagId }, 'Tag'),
    tag,
    h('button', { type: 'submit' }, 'Filter'),
    h('button', { type: 'reset' }, 'Clear'),
  );
  let note: string | null = null;

  function documentRow(d: KnowledgeDocument): HTMLTableRowElement {
    const tags = d.tags.length
      ? h(
          'ul',
          { class: 'tags' },
          ...d.tags.map((t) =>
            h(
              'li',
              { class: 'tag' },
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Show documents tagged ${t}`,
                  onclick: () => {
                    tag.value = t;
                    first();
                  },
                },
                t,
              ),
            ),
          ),
        )
      : '';
    const edit = h('button', { type: 'button', 'aria-label': `Edit ${d.title}` }, 'Edit');
    edit.addEventListener('click', () => onEdit(d.id));
    const remove = confirmButton('Delete', 'Confirm delete', async () => {
      await api('DELETE', `${DOCS}/${d.id}`);
      onDeleted(d.id);
      note = `Deleted “${d.title}”.`;
      await load(true);
    });
    const tr = row(
      d.title,
      d.language,
      tags,
      String(d.passages),
      formatTime(d.updated_at),
      h('span', { class: 'inline-form' }, edit, remove),
    );
    tr.classList.add('kb-document');
    tr.dataset.documentId = d.id;
    return tr;
  }

  let loading = 0;
  async function reload(): Promise<void> {
    const mine = ++loading;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursors[pageNo]) params.set('cursor', cursors[pageNo]!);
    if (q.value.trim()) params.set('q', q.value.trim());
    if (tag.value.trim()) params.set('tag', tag.value.trim());
    const page = await api<DocumentPage>('GET', `${DOCS}?${params}`);
    if (mine !== loading) return;
    next = page.next_cursor;
    const filtered = params.has('q') || params.has('tag');
    body.replaceChildren(
      table(
        ['Title', 'Language', 'Tags', 'Passages', 'Updated', ''],
        page.items.map(documentRow),
        pageNo
          ? 'No older documents.'
          : filtered
            ? 'No documents match.'
            : 'No documents yet. Add one above: the bot answers from them.',
      ),
    );
    newer.disabled = pageNo === 0;
    older.disabled = !next;
    status.textContent =
      note ??
      (page.items.length
        ? `Page ${pageNo + 1}: ${page.items.length} ${page.items.length === 1 ? 'document' : 'documents'}, most recently changed first.`
        : '');
    note = null;
  }

  /** A load the reader asked for; `keep` stays on the page (after a delete), else page 1. */
  function load(keep = false): Promise<void> {
    alert.textContent = '';
    if (!keep) {
      cursors.length = 1;
      pageNo = 0;
    }
    return reload().catch((e: unknown) => {
      alert.textContent = errorText(e);
    });
  }
  const first = () => void load();

  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    first();
  });
  // After the reset has emptied the inputs.
  filters.addEventListener('reset', () => setTimeout(first));
  newer.addEventListener('click', () => {
    pageNo = Math.max(0, pageNo - 1);
    void load(true);
  });
  older.addEventListener('click', () => {
    if (!next) return;
    cursors[pageNo + 1] = next;
    pageNo += 1;
    void load(true);
  });

  const el = h(
    'section',
    { class: 'panel wide', 'aria-labelledby': 'kb-list-title' },
    h('h2', { id: 'kb-list-title' }, 'Documents'),
    filters,
    status,
    alert,
    body,
    h('div', { class: 'inline-form' }, newer, older),
  );
  /** A failure of something the list started elsewhere (opening a document to edit it). */
  const fail = (e: unknown) => (alert.textContent = errorText(e));
  return { el, reload, load, fail };
}

/** The section: the editor, the documents (first page loaded before it shows), a question to try. */
export async function knowledgeSection(): Promise<HTMLElement> {
  const list = documentList(
    (id) => {
      api<KnowledgeDocument>('GET', `${DOCS}/${id}`)
        .then((doc) => edit.edit(doc))
        .catch((e: unknown) => void list.load(true).then(() => list.fail(e)));
    },
    (id) => {
      if (edit.editing() === id) edit.reset();
    },
  );
  const edit = editor(() => list.load());
  await list.reload();
  return section(
    'Knowledge base',
    'What the bot answers from. Each document is split into passages (Markdown at its headings); a ' +
      'visitor’s question retrieves the passages that match it best, in the document’s language.',
    edit.el,
    list.el,
    ...tryQuestion(),
  );
}
