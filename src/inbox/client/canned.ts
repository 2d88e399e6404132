// Canned replies in the inbox composer: `/` at the start of a word opens a completion list
// (ARIA combobox and listbox: arrows move, Enter or Tab inserts, Escape closes), filtered as the
// agent types; the chosen reply's body replaces `/word` with its variables filled in for the open
// conversation (`{{visitor.name}}`, …; unknown ones stay visible). A dialog manages the agent's
// own replies and, for admins, the organization's.
import { fillVariables } from '../../canned/canned.fill.js';
import type { CannedDto } from '../../canned/canned.dto.js';
import { api, ApiError, h } from './dom.js';

const MAX_SHOWN = 8;
/** `/query` ending at the caret, at the start of the text or after white space. */
const TRIGGER = /(^|\s)\/([\w-]*)$/;

type Deps = {
  composer: HTMLFormElement;
  text: HTMLTextAreaElement;
  conversationId: () => string | null;
};

export function attachCanned({ composer, text, conversationId }: Deps) {
  let replies: CannedDto[] | null = null;
  let loading: Promise<CannedDto[]> | null = null;
  const variables = new Map<string, Promise<Record<string, string | null>>>();
  let shown: CannedDto[] = [];
  let active = -1;
  /** Where the `/query` being completed starts in the text. */
  let start = -1;

  const list = h('ul', {
    id: 'canned-list',
    class: 'canned-list',
    role: 'listbox',
    'aria-label': 'Canned replies',
  });
  list.hidden = true;
  // A textarea keeps its textbox role (ARIA allows no combobox on it): it names the list it
  // completes from and, while open, the highlighted option.
  text.setAttribute('aria-autocomplete', 'list');
  text.setAttribute('aria-controls', list.id);
  text.insertAdjacentElement('afterend', list);

  function load(force = false): Promise<CannedDto[]> {
    if (replies && !force) return Promise.resolve(replies);
    loading ??= api<{ items: CannedDto[] }>('GET', '/api/canned-replies')
      .then((r) => (replies = r.items))
      .finally(() => (loading = null));
    return loading;
  }

  function valuesFor(id: string) {
    let v = variables.get(id);
    if (!v) {
      v = api<Record<string, string | null>>(
        'GET',
        `/api/canned-replies/variables?conversation_id=${encodeURIComponent(id)}`,
      ).catch(() => {
        variables.delete(id);
        return {};
      });
      variables.set(id, v);
    }
    return v;
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    shown = [];
    active = -1;
    start = -1;
    text.removeAttribute('aria-activedescendant');
  }

  function highlight(i: number) {
    active = i;
    list.querySelectorAll<HTMLElement>('[role="option"]').forEach((o, n) => {
      o.setAttribute('aria-selected', String(n === i));
    });
    const opt = list.querySelector<HTMLElement>(`#canned-opt-${i}`);
    if (opt) {
      text.setAttribute('aria-activedescendant', opt.id);
      opt.scrollIntoView({ block: 'nearest' });
    }
  }

  function render(query: string) {
    const q = query.toLowerCase();
    // Shortcuts that start with the query first, then titles that contain it; the agent's own
    // reply wins over the organization's of the same shortcut (the list comes in that order).
    const seen = new Set<string>();
    shown = (replies ?? [])
      .filter((r) => r.shortcut.startsWith(q) || r.title.toLowerCase().includes(q))
      .sort((a, b) => Number(!a.shortcut.startsWith(q)) - Number(!b.shortcut.startsWith(q)))
      .filter((r) => (seen.has(r.shortcut) ? false : (seen.add(r.shortcut), true)))
      .slice(0, MAX_SHOWN);
    if (!shown.length) {
      list.replaceChildren(
        h('li', { class: 'canned-empty muted', role: 'presentation' }, 'No canned reply matches'),
      );
      active = -1;
      text.removeAttribute('aria-activedescendant');
    } else {
      list.replaceChildren(
        ...shown.map((r, i) =>
          h(
            'li',
            {
              id: `canned-opt-${i}`,
              role: 'option',
              class: 'canned-option',
              'aria-selected': 'false',
              // Keeps the focus in the composer, so the caret stays where the reply goes.
              onmousedown: (ev) => ev.preventDefault(),
              onclick: () => void insert(i),
            },
            h('span', { class: 'canned-shortcut' }, `/${r.shortcut}`),
            ' ',
            h('span', { class: 'canned-title' }, r.title),
            r.scope === 'tenant' ? h('span', { class: 'muted' }, ' · team') : null,
          ),
        ),
      );
      highlight(0);
    }
    list.hidden = false;
  }

  /** Opens, filters or closes the list for the text before the caret. */
  async function update() {
    const before = text.value.slice(0, text.selectionStart ?? text.value.length);
    const m = TRIGGER.exec(before);
    if (!m || text.selectionStart !== text.selectionEnd) return close();
    start = before.length - m[2]!.length - 1;
    try {
      await load();
    } catch (e) {
      list.replaceChildren(
        h(
          'li',
          { class: 'error-text', role: 'presentation' },
          e instanceof ApiError ? e.message : 'Could not load canned replies',
        ),
      );
      list.hidden = false;
      return;
    }
    const id = conversationId();
    if (id) void valuesFor(id);
    // The text may have moved on while the list loaded.
    const now = TRIGGER.exec(text.value.slice(0, text.selectionStart ?? text.value.length));
    if (!now) return close();
    render(now[2]!);
  }

  async function insert(i: number) {
    const reply = shown[i];
    if (!reply || start < 0) return;
    const from = start;
    const to = text.selectionStart ?? text.value.length;
    close();
    const id = conversationId();
    const body = id ? fillVariables(reply.body, await valuesFor(id)) : reply.body;
    text.setRangeText(body, from, to, 'end');
    text.focus();
    text.dispatchEvent(new Event('input', { bubbles: true }));
  }

  // Captured on the form, so the list's keys win over the composer's own (Enter sends, Escape
  // leaves the composer).
  composer.addEventListener(
    'keydown',
    (ev) => {
      if (ev.target !== text || list.hidden) return;
      const keys: Record<string, () => void> = {
        ArrowDown: () => shown.length && highlight((active + 1) % shown.length),
        ArrowUp: () => shown.length && highlight((active - 1 + shown.length) % shown.length),
        Enter: () => (active >= 0 ? void insert(active) : close()),
        Tab: () => (active >= 0 ? void insert(active) : close()),
        Escape: () => close(),
      };
      const act = keys[ev.key];
      if (!act || ev.shiftKey || ev.isComposing) return;
      // No match: Enter and Tab do what they always do.
      if ((ev.key === 'Enter' || ev.key === 'Tab') && active < 0) return close();
      ev.preventDefault();
      ev.stopPropagation();
      act();
    },
    true,
  );
  text.addEventListener('input', () => void update());
  text.addEventListener('click', () => void update());
  text.addEventListener('blur', () => close());
  composer.addEventListener('reset', () => close());

  return {
    /** The list changed (the manager saved): read it again next time. */
    invalidate: () => {
      replies = null;
    },
    load,
  };
}

/**
 * The canned replies manager: a dialog listing the agent's own and the organization's, with a
 * form to add or edit one and a delete button on each the agent may change. `scopes` are the
 * scopes it offers to create (the dashboard: the organization's only).
 */
type ManagerOptions = { title: string; scopes: ('mine' | 'tenant')[]; changed?: () => void };

export function cannedManager(o: ManagerOptions) {
  // Built on first use: until then the page holds none of its fields.
  let built: ReturnType<typeof buildManager> | null = null;
  return {
    async open() {
      built ??= buildManager(o);
      await built.open();
    },
  };
}

function buildManager(o: ManagerOptions) {
  const error = h('p', { class: 'error-text', role: 'alert' });
  const lists = h('div', { class: 'canned-manage-lists' });
  const shortcut = h('input', {
    name: 'shortcut',
    required: true,
    maxlength: 32,
    autocomplete: 'off',
    id: 'canned-shortcut',
  });
  const title = h('input', {
    name: 'title',
    required: true,
    maxlength: 100,
    autocomplete: 'off',
    id: 'canned-title',
  });
  const body = h('textarea', { name: 'body', required: true, rows: 4, maxlength: 5000, id: 'canned-body' });
  const scope = h(
    'select',
    { name: 'scope', id: 'canned-scope' },
    ...o.scopes.map((s) => h('option', { value: s }, s === 'mine' ? 'Mine' : "The organization's")),
  );
  const legend = h('legend', {}, 'New canned reply');
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const cancelEdit = h('button', { type: 'button', hidden: true }, 'Cancel edit');
  let editing: CannedDto | null = null;
  const form = h(
    'form',
    { class: 'canned-form' },
    h(
      'fieldset',
      {},
      legend,
      h('label', { for: 'canned-shortcut' }, 'Shortcut (typed after /)'),
      shortcut,
      h('label', { for: 'canned-title' }, 'Title'),
      title,
      h(
        'label',
        { for: 'canned-body' },
        'Body ({{visitor.name}}, {{visitor.email}}, {{agent.name}}, {{conversation.id}})',
      ),
      body,
      o.scopes.length > 1 ? h('label', { for: 'canned-scope' }, 'For') : null,
      o.scopes.length > 1 ? scope : null,
      h('div', { class: 'canned-form-actions' }, save, cancelEdit),
    ),
  );
  const close = h('button', { type: 'button', class: 'canned-close' }, 'Close');
  const dialog = h(
    'dialog',
    { class: 'canned-dialog', 'aria-labelledby': 'canned-dialog-title' },
    h('h2', { id: 'canned-dialog-title' }, o.title),
    lists,
    form,
    error,
    close,
  );
  document.body.append(dialog);
  close.addEventListener('click', () => dialog.close());

  function startEdit(c: CannedDto | null) {
    editing = c;
    legend.textContent = c ? `Edit /${c.shortcut}` : 'New canned reply';
    shortcut.value = c?.shortcut ?? '';
    title.value = c?.title ?? '';
    body.value = c?.body ?? '';
    scope.disabled = !!c;
    if (c) scope.value = c.scope;
    cancelEdit.hidden = !c;
    error.textContent = '';
    if (c) shortcut.focus();
  }
  cancelEdit.addEventListener('click', () => startEdit(null));

  function section(name: string, items: CannedDto[]) {
    return h(
      'section',
      { class: 'canned-section', 'aria-label': name },
      h('h3', {}, name),
      items.length
        ? h(
            'ul',
            { class: 'canned-items' },
            ...items.map((c) =>
              h(
                'li',
                { class: 'canned-item', 'data-shortcut': c.shortcut },
                h('span', { class: 'canned-shortcut' }, `/${c.shortcut}`),
                ' ',
                h('span', { class: 'canned-title' }, c.title),
                c.editable
                  ? h(
                      'span',
                      { class: 'canned-item-actions' },
                      h(
                        'button',
                        { type: 'button', 'aria-label': `Edit /${c.shortcut}`, onclick: () => startEdit(c) },
                        'Edit',
                      ),
                      h(
                        'button',
                        {
                          type: 'button',
                          class: 'danger',
                          'aria-label': `Delete /${c.shortcut}`,
                          onclick: () => void remove(c),
                        },
                        'Delete',
                      ),
                    )
                  : null,
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'None yet.'),
    );
  }

  async function refresh() {
    try {
      const { items } = await api<{ items: CannedDto[] }>('GET', '/api/canned-replies');
      lists.replaceChildren(
        ...(o.scopes.includes('mine')
          ? [
              section(
                'Mine',
                items.filter((c) => c.scope === 'mine'),
              ),
            ]
          : []),
        section(
          "The organization's",
          items.filter((c) => c.scope === 'tenant'),
        ),
      );
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : 'Could not load canned replies';
    }
  }

  async function remove(c: CannedDto) {
    if (!confirm(`Delete /${c.shortcut}?`)) return;
    try {
      await api('DELETE', `/api/canned-replies/${c.id}`);
      if (editing?.id === c.id) startEdit(null);
      await refresh();
      o.changed?.();
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : 'Could not delete';
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fields = { shortcut: shortcut.value.trim(), title: title.value.trim(), body: body.value };
    const req = editing
      ? api('PATCH', `/api/canned-replies/${editing.id}`, fields)
      : api('POST', '/api/canned-replies', { ...fields, scope: scope.value || o.scopes[0] });
    req
      .then(async () => {
        startEdit(null);
        await refresh();
        o.changed?.();
      })
      .catch((e: unknown) => (error.textContent = e instanceof ApiError ? e.message : 'Could not save'));
  });

  return {
    element: dialog,
    async open() {
      startEdit(null);
      await refresh();
      dialog.showModal();
      shortcut.focus();
    },
    refresh,
  };
}
