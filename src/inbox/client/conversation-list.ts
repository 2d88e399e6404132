// The inbox's conversation list: one row per conversation (visitor, last message, time, unread,
// assignee, status), virtualised past a couple of hundred rows so long queues scroll smoothly.
// Rows have one fixed height (ROW_PX, matched by inbox.css), so a row's place is index × height.
import { h } from './dom.js';
import type { ConversationDto, LastMessagePreview } from './types.js';

/** Must match `.conversation-list > li` in inbox.css. */
export const ROW_PX = 84;
/** Lists up to this long are drawn whole; longer ones only around what is in view. */
const VIRTUAL_FROM = 200;
/** Rows drawn above and below the visible ones. */
const BUFFER = 8;
/** A page of `GET /api/conversations/` (the server's maximum). */
export const PAGE = 200;

const ADJECTIVES = [
  'Blue', 'Amber', 'Brave', 'Calm', 'Clever', 'Coral', 'Crimson', 'Gentle', 'Golden', 'Green',
  'Happy', 'Jolly', 'Kind', 'Lively', 'Lucky', 'Mellow', 'Misty', 'Noble', 'Olive', 'Quiet',
  'Rapid', 'Rosy', 'Silver', 'Sunny', 'Swift', 'Teal', 'Violet', 'Wise', 'Witty', 'Young',
]; // prettier-ignore
const ANIMALS = [
  'Otter', 'Badger', 'Beaver', 'Crane', 'Dolphin', 'Falcon', 'Fox', 'Gecko', 'Heron', 'Ibis',
  'Koala', 'Lark', 'Lemur', 'Lynx', 'Marten', 'Moose', 'Newt', 'Owl', 'Panda', 'Puffin',
  'Quail', 'Raven', 'Robin', 'Seal', 'Sparrow', 'Swan', 'Tapir', 'Tiger', 'Walrus', 'Wren',
]; // prettier-ignore

/** A friendly name that is the same for a visitor everywhere ("Blue Otter"): FNV-1a of their id. */
export function friendlyName(endUserId: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < endUserId.length; i++) {
    hash ^= endUserId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${ADJECTIVES[hash % ADJECTIVES.length]} ${ANIMALS[Math.floor(hash / ADJECTIVES.length) % ANIMALS.length]}`;
}

/** The visitor's own name, or their friendly one; never the raw `v_…` id. */
export const visitorLabel = (c: Pick<ConversationDto, 'end_user'>) =>
  c.end_user.display_name || friendlyName(c.end_user.id);

const MEDIA: Record<string, string> = {
  image: '📎 image',
  file: '📎 file',
  quick_button: '🔘 buttons',
  carousel: '🔘 cards',
  dropdown: '🔘 choices',
};

/** "3m", "2h", "Mon", "12 Mar": short enough for a row; the exact time goes in the title. */
export function relativeTime(iso: string, now = Date.now()): string {
  const t = new Date(iso);
  const s = Math.max(0, Math.round((now - t.getTime()) / 1000));
  if (s < 60) return 'now';
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  if (s < 7 * 86_400) return t.toLocaleDateString(undefined, { weekday: 'short' });
  return t.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

type Deps = {
  el: HTMLUListElement;
  me: string;
  agentName: (id: string | null | undefined) => string;
  onOpen: (id: string) => void;
  /** The last loaded rows came into view and there are more on the server. */
  onNearEnd: () => void;
};

export type ListView = {
  list: ConversationDto[];
  unread: Map<string, number>;
  current: string | null;
  /** How many the filter holds on the server (`X-Total-Count`). */
  total: number;
};

export function createConversationList(d: Deps) {
  let view: ListView = { list: [], unread: new Map(), current: null, total: 0 };
  let frame = 0;

  function sender(c: ConversationDto, m: LastMessagePreview) {
    if (m.internal) return 'Note: ';
    if (m.sender_type === 'end_user') return `${visitorLabel(c)}: `;
    if (m.sender_type === 'agent') return m.sender_id === d.me ? 'You: ' : `${d.agentName(m.sender_id)}: `;
    return m.sender_type === 'bot' ? 'Bot: ' : '';
  }

  function preview(c: ConversationDto) {
    const m = c.last_message;
    if (!m) return h('span', { class: 'conv-preview muted' }, 'No messages yet');
    const media = MEDIA[m.content_type];
    const body = media ? (m.content ? `${media} · ${m.content}` : media) : m.content;
    return h(
      'span',
      { class: `conv-preview${m.internal ? ' is-note' : ''}` },
      h('span', { class: 'conv-sender' }, sender(c, m)),
      body.replace(/\s+/g, ' '),
    );
  }

  function row(c: ConversationDto, index: number) {
    const unread = view.unread.get(c.id) ?? 0;
    const s = c.active_session;
    const status = !s ? 'Resolved' : c.mode === 'bot' ? 'With the bot' : 'Open';
    const assignee = !s ? null : s.assigned_agent_id ? d.agentName(s.assigned_agent_id) : 'Unassigned';
    const when = c.last_message?.created_at ?? c.last_message_at ?? c.updated_at;
    const active = c.id === view.current;
    return h(
      'li',
      // -1: the size is unknown (past the server's count cap).
      {
        'aria-setsize': view.total > 10_000 ? -1 : Math.max(view.total, view.list.length),
        'aria-posinset': index + 1,
      },
      h(
        'button',
        {
          type: 'button',
          class: `conv${active ? ' active' : ''}${unread ? ' has-unread' : ''}`,
          'data-id': c.id,
          'data-index': index,
          'aria-current': active ? 'true' : null,
          // Only the current row (or the first) is a tab stop; arrows move between rows.
          tabindex: active || (!view.current && index === 0) ? 0 : -1,
          onclick: () => d.onOpen(c.id),
        },
        h('span', { class: 'conv-name' }, visitorLabel(c)),
        h(
          'time',
          { class: 'conv-time', datetime: when, title: new Date(when).toLocaleString() },
          relativeTime(when),
        ),
        preview(c),
        unread ? h('span', { class: 'badge', 'aria-label': `${unread} unread` }, unread) : h('span'),
        h('span', { class: 'conv-meta' }, [status, assignee, c.routing_key].filter(Boolean).join(' · ')),
      ),
    );
  }

  const virtual = () => view.list.length > VIRTUAL_FROM;

  function spacer(rows: number): HTMLElement[] {
    if (!rows) return [];
    const li = document.createElement('li');
    li.className = 'conv-spacer';
    li.setAttribute('aria-hidden', 'true');
    li.style.height = `${rows * ROW_PX}px`;
    return [li];
  }

  /**
   * The list's children made `next`, keeping each drawn element that has not changed. A busy queue
   * redraws the list every second or more often: replacing a row between the mouse going down on it
   * and coming up lost the click (the two landed on different elements), so a row could take
   * several clicks to open.
   */
  function patch(next: HTMLElement[]) {
    next.forEach((node, i) => {
      const have = d.el.children[i];
      if (!have) d.el.append(node);
      else if (!have.isEqualNode(node)) have.replaceWith(node);
    });
    while (d.el.children.length > next.length) d.el.lastElementChild!.remove();
  }

  function draw() {
    frame = 0;
    const focused = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('.conv');
    const focusId = focused && d.el.contains(focused) ? focused.dataset.id : undefined;
    const n = view.list.length;
    let start = 0;
    let end = n;
    if (virtual()) {
      const first = Math.floor(d.el.scrollTop / ROW_PX);
      // Never more than a window's worth, whatever the layout says mid-change.
      const shown = Math.ceil(Math.min(d.el.clientHeight || innerHeight, innerHeight) / ROW_PX);
      start = Math.max(0, first - BUFFER);
      end = Math.min(n, first + shown + BUFFER);
    }
    // Spacers stand in for the rows not drawn, so the scrollbar is the whole list's (not padding:
    // a scroll container is never shorter than its padding, so the list would grow instead).
    patch([
      ...spacer(start),
      ...view.list.slice(start, end).map((c, i) => row(c, start + i)),
      ...spacer(n - end),
    ]);
    if (focusId) d.el.querySelector<HTMLElement>(`.conv[data-id="${focusId}"]`)?.focus();
    if (n && end >= n - BUFFER && view.total > n) d.onNearEnd();
  }

  const schedule = () => (frame ||= requestAnimationFrame(draw));
  d.el.addEventListener('scroll', schedule, { passive: true });
  window.addEventListener('resize', schedule);

  /** Scrolls row `index` into view (drawing it if virtual) and focuses it. */
  function reveal(index: number) {
    const top = index * ROW_PX;
    if (top < d.el.scrollTop) d.el.scrollTop = top;
    else if (top + ROW_PX > d.el.scrollTop + d.el.clientHeight)
      d.el.scrollTop = top + ROW_PX - d.el.clientHeight;
    cancelAnimationFrame(frame);
    draw();
    d.el.querySelector<HTMLElement>(`.conv[data-index="${index}"]`)?.focus();
  }

  // Arrow keys, Home and End move between rows without opening them (Enter or a click opens).
  d.el.addEventListener('keydown', (ev) => {
    const btn = (ev.target as HTMLElement).closest<HTMLElement>('.conv');
    if (!btn) return;
    const i = Number(btn.dataset.index);
    const last = view.list.length - 1;
    const to =
      ev.key === 'ArrowDown'
        ? Math.min(last, i + 1)
        : ev.key === 'ArrowUp'
          ? Math.max(0, i - 1)
          : ev.key === 'Home'
            ? 0
            : ev.key === 'End'
              ? last
              : null;
    if (to === null) return;
    ev.preventDefault();
    reveal(to);
  });

  return {
    render(next: ListView) {
      view = next;
      cancelAnimationFrame(frame);
      draw();
    },
    /** Brings a conversation's row into view and focuses it. */
    focus(id: string) {
      const i = view.list.findIndex((c) => c.id === id);
      if (i >= 0) reveal(i);
    },
  };
}
