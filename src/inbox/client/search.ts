// The inbox's search box: `/` focuses it, typing searches (name, external_id, tag, message text),
// the hits replace the conversation list with their snippet, arrows move through them, Enter
// opens one, "Load more" pages, Escape clears and brings the list back. Snippets are text: their
// match markers become <mark> elements, nothing is ever parsed as HTML.
import { api, ApiError, byId, formatTime, h } from './dom.js';
import type { ConversationDto, SearchHit, SearchPage } from './types.js';
import { visitorLabel } from './conversation-list.js';

/** The server's match markers (search.service.ts MARK_START / MARK_END). */
const MARK_START = '\uE000';
const MARK_END = '\uE001';
const PAGE_SIZE = 20;
/** Keystrokes closer together than this are one search. */
const DEBOUNCE_MS = 200;

type Deps = {
  /** Opens a conversation in the thread, as a click on the list does. */
  open: (id: string) => void;
  /** False while another view (tickets) has the keyboard. */
  enabled: () => boolean;
};

const visitorName = (c: ConversationDto) => visitorLabel(c);

/** `a \uE000b\uE001 c` → text "a ", <mark>b</mark>, text " c". */
export function markedSnippet(snippet: string): (Node | string)[] {
  const parts: (Node | string)[] = [];
  let rest = snippet;
  while (rest) {
    const start = rest.indexOf(MARK_START);
    if (start < 0) {
      parts.push(rest);
      break;
    }
    if (start > 0) parts.push(rest.slice(0, start));
    const end = rest.indexOf(MARK_END, start + 1);
    const marked = rest.slice(start + 1, end < 0 ? undefined : end);
    if (marked) parts.push(h('mark', {}, marked));
    rest = end < 0 ? '' : rest.slice(end + 1);
  }
  return parts;
}

export function mountSearch(d: Deps) {
  const input = byId<HTMLInputElement>('search-input');
  const view = byId('search-view');
  const list = byId<HTMLUListElement>('search-results');
  const status = byId('search-status');
  const more = byId<HTMLButtonElement>('search-more');
  /** Its `searching` class hides the conversation list while the hits show (inbox.css). */
  const pane = view.closest('.list-pane') ?? document.body;
  const state = {
    q: '',
    hits: [] as SearchHit[],
    cursor: null as string | null,
    active: -1,
    /** Only the newest request's answer is shown. */
    seq: 0,
  };
  function show(searching: boolean) {
    pane.classList.toggle('searching', searching);
    view.hidden = !searching;
    input.setAttribute('aria-expanded', String(searching));
  }

  function render() {
    list.replaceChildren(
      ...state.hits.map((hit, i) => {
        const c = hit.conversation;
        const tags = c.active_session?.tags ?? [];
        return h(
          'li',
          {
            id: `search-hit-${i}`,
            role: 'option',
            class: `conv search-hit${i === state.active ? ' active' : ''}`,
            'data-id': c.id,
            'aria-selected': String(i === state.active),
            onclick: () => choose(i),
          },
          h('span', { class: 'conv-name' }, visitorName(c)),
          h(
            'span',
            { class: 'conv-preview search-snippet' },
            ...(hit.snippet ? markedSnippet(hit.snippet) : [c.end_user.external_id]),
          ),
          h(
            'span',
            { class: 'conv-meta' },
            [
              c.routing_key,
              tags.length ? tags.join(', ') : null,
              formatTime(c.last_message_at ?? c.updated_at),
            ]
              .filter(Boolean)
              .join(' · '),
          ),
        );
      }),
    );
    if (state.active >= 0) input.setAttribute('aria-activedescendant', `search-hit-${state.active}`);
    else input.removeAttribute('aria-activedescendant');
    list.querySelector('.active')?.scrollIntoView({ block: 'nearest' });
    more.hidden = !state.cursor;
  }

  async function fetchPage(append: boolean) {
    const seq = ++state.seq;
    const params = new URLSearchParams({ q: state.q, limit: String(PAGE_SIZE) });
    if (append && state.cursor) params.set('cursor', state.cursor);
    status.textContent = 'Searching…';
    try {
      const page = await api<SearchPage>('GET', `/api/conversations/search?${params}`);
      if (seq !== state.seq) return;
      state.hits = append ? [...state.hits, ...page.items] : page.items;
      state.cursor = page.next_cursor;
      if (!append) state.active = -1;
      status.textContent = state.hits.length
        ? `${state.hits.length}${state.cursor ? '+' : ''} result${state.hits.length === 1 ? '' : 's'}`
        : `No conversations match “${state.q}”.`;
      view.classList.toggle('is-empty', state.hits.length === 0);
      render();
    } catch (e) {
      if (seq !== state.seq) return;
      status.textContent = e instanceof ApiError ? e.message : 'Search failed; try again';
    }
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  function search() {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) return clear(false);
    show(true);
    if (q === state.q) return;
    state.q = q;
    timer = setTimeout(() => void fetchPage(false), DEBOUNCE_MS);
  }

  /** Back to the conversation list; with `blur`, the keyboard goes back to the page too. */
  function clear(blur: boolean) {
    clearTimeout(timer);
    state.seq++;
    state.q = '';
    state.hits = [];
    state.cursor = null;
    state.active = -1;
    input.value = '';
    render();
    status.textContent = '';
    show(false);
    if (blur) input.blur();
  }

  function choose(i: number) {
    const hit = state.hits[i];
    if (!hit) return;
    state.active = i;
    render();
    d.open(hit.conversation.id);
  }

  function move(step: number) {
    if (!state.hits.length) return;
    state.active = Math.min(state.hits.length - 1, Math.max(0, state.active + step));
    render();
  }

  input.addEventListener('input', search);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') move(1);
    else if (ev.key === 'ArrowUp') move(-1);
    else if (ev.key === 'Enter') choose(state.active < 0 ? 0 : state.active);
    else if (ev.key === 'Escape') clear(true);
    else return;
    ev.preventDefault();
    // The inbox's own keys (Escape leaves an input) are not for this one.
    ev.stopPropagation();
  });
  byId('search-form').addEventListener('submit', (ev) => ev.preventDefault());
  more.addEventListener('click', () => void fetchPage(true));

  // `/` anywhere but in a field: to the search box.
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey || !d.enabled()) return;
    const t = ev.target as HTMLElement;
    if (t.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]')) return;
    ev.preventDefault();
    input.focus();
    input.select();
  });
}
