// The inbox's Tickets view: the organization's tickets (in the queues this agent sees), filtered
// and paged, one ticket's detail with its subject, status, priority and assignee to change, and a
// way back to its conversation. `ticket_updated` keeps both live: the ticket is read again.
import type { Socket } from 'socket.io-client';
import { api, ApiError, byId, formatTime, h } from './dom.js';
import {
  ticketPriorityList,
  ticketStatusList,
  ticketTransitions,
  type ClientToServerEvents,
  type Member,
  type ServerToClientEvents,
  type TicketDto,
  type TicketPage,
  type TicketStatus,
} from './types.js';

type Deps = {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  me: string;
  /** Shows the conversation in the Conversations view (this view has switched there already). */
  openConversation: (id: string) => void;
};

/** A team member as `GET /api/team` gives it: with the queues an agent is restricted to. */
type TeamMember = Member & { routing_keys?: string[] };

const PAGE_SIZE = 20;
const label = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Mounts the view into `#tickets` and the view switch; `active()` says whether it is shown. */
export function mountTickets(d: Deps) {
  const root = byId('tickets');
  const conversationsEl = byId('inbox');
  const switchLinks = [...document.querySelectorAll<HTMLAnchorElement>('[data-view]')];

  const state = {
    active: false,
    items: [] as TicketDto[],
    cursor: null as string | null,
    current: null as TicketDto | null,
    team: [] as TeamMember[],
    /** Events arrived while the view was hidden: read everything again when it is shown. */
    stale: true,
    filters: { status: '', priority: '', mine: false },
  };

  // ---- markup (built once; user text only ever through textContent) ------------------------

  const errorFor = (id: string) => h('p', { id, class: 'error-text', 'aria-live': 'polite' });

  const statusFilter = h(
    'select',
    { id: 'tickets-status-filter' },
    h('option', { value: '' }, 'All statuses'),
    ...ticketStatusList.map((s) => h('option', { value: s }, label(s))),
  );
  const priorityFilter = h(
    'select',
    { id: 'tickets-priority-filter' },
    h('option', { value: '' }, 'All priorities'),
    ...ticketPriorityList.map((p) => h('option', { value: p }, label(p))),
  );
  const mineFilter = h('input', { type: 'checkbox', id: 'tickets-mine' });
  const listError = errorFor('tickets-list-error');
  const rows = h('tbody', {});
  const listEmpty = h('p', { class: 'empty', hidden: true }, 'No tickets here.');
  const more = h('button', { type: 'button', class: 'tickets-more', hidden: true }, 'Load more');

  const title = h('h1', { id: 'ticket-title' });
  const meta = h('p', { class: 'muted', id: 'ticket-meta' });
  const openConv = h('button', { type: 'button', id: 'ticket-conversation' }, 'Open conversation');
  const subjectInput = h('input', {
    id: 'ticket-subject',
    name: 'subject',
    maxlength: 200,
    required: true,
    autocomplete: 'off',
    'aria-describedby': 'ticket-subject-error',
  });
  const subjectError = errorFor('ticket-subject-error');
  const subjectForm = h(
    'form',
    { class: 'ticket-subject', 'aria-label': 'Ticket subject' },
    h('label', { for: 'ticket-subject' }, 'Subject'),
    subjectInput,
    h('button', { type: 'submit' }, 'Save'),
    subjectError,
  );
  const statusSelect = h('select', { id: 'ticket-status', 'aria-describedby': 'ticket-status-error' });
  const statusError = errorFor('ticket-status-error');
  const prioritySelect = h(
    'select',
    { id: 'ticket-priority', 'aria-describedby': 'ticket-priority-error' },
    ...ticketPriorityList.map((p) => h('option', { value: p }, label(p))),
  );
  const priorityError = errorFor('ticket-priority-error');
  const assigneeSelect = h('select', { id: 'ticket-assignee', 'aria-describedby': 'ticket-assignee-error' });
  const assignMe = h('button', { type: 'button', id: 'ticket-assign-me' }, 'Assign to me');
  const assigneeError = errorFor('ticket-assignee-error');
  const summary = h('pre', { class: 'ticket-summary', id: 'ticket-summary', tabindex: 0 });
  const detail = h(
    'div',
    { class: 'ticket', hidden: true },
    h('header', { class: 'ticket-head' }, h('div', {}, title, meta), openConv),
    subjectForm,
    h(
      'div',
      { class: 'ticket-fields' },
      h(
        'div',
        { class: 'ticket-field' },
        h('label', { for: 'ticket-status' }, 'Status'),
        statusSelect,
        statusError,
      ),
      h(
        'div',
        { class: 'ticket-field' },
        h('label', { for: 'ticket-priority' }, 'Priority'),
        prioritySelect,
        priorityError,
      ),
      h(
        'div',
        { class: 'ticket-field' },
        h('label', { for: 'ticket-assignee' }, 'Assignee'),
        h('div', { class: 'ticket-assignee' }, assigneeSelect, assignMe),
        assigneeError,
      ),
    ),
    h('h2', {}, 'Summary'),
    summary,
  );
  const detailEmpty = h('p', { class: 'empty' }, 'Pick a ticket. Keys: j/k move between tickets.');
  const detailError = errorFor('ticket-error');

  root.replaceChildren(
    h(
      'section',
      { class: 'pane tickets-list-pane', 'aria-label': 'Ticket list' },
      h(
        'div',
        { class: 'filters ticket-filters', role: 'group', 'aria-label': 'Filter tickets' },
        h('label', { for: 'tickets-status-filter' }, 'Status'),
        statusFilter,
        h('label', { for: 'tickets-priority-filter' }, 'Priority'),
        priorityFilter,
        h('label', { class: 'check' }, mineFilter, ' Assigned to me'),
      ),
      listError,
      h(
        'div',
        { class: 'tickets-scroll' },
        h(
          'table',
          { class: 'tickets-table' },
          h('caption', { class: 'sr-only' }, 'Tickets, newest first'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Number', 'Subject', 'Status', 'Priority', 'Assignee', 'Updated'].map((c) =>
                h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          rows,
        ),
        listEmpty,
        more,
      ),
    ),
    h('section', { class: 'pane ticket-pane', 'aria-label': 'Ticket' }, detailError, detailEmpty, detail),
  );

  // ---- list ----------------------------------------------------------------------------------

  function assigneeName(t: TicketDto) {
    if (!t.assignee) return 'Unassigned';
    const name = t.assignee.display_name || t.assignee.external_id || 'an agent';
    return t.assignee.id === d.me ? `${name} (you)` : name;
  }

  function matches(t: TicketDto) {
    const f = state.filters;
    return (
      (!f.status || t.status === f.status) &&
      (!f.priority || t.priority === f.priority) &&
      (!f.mine || t.assignee_id === d.me)
    );
  }

  function renderList() {
    rows.replaceChildren(
      ...state.items.map((t) => {
        const current = t.id === state.current?.id;
        return h(
          'tr',
          { class: current ? 'active' : null, 'data-ticket': t.id },
          h('td', { class: 'ticket-number' }, `#${t.number}`),
          h(
            'td',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'ticket-open',
                'data-id': t.id,
                'aria-current': current ? 'true' : null,
                onclick: () => void openTicket(t.id),
              },
              t.subject,
            ),
          ),
          h('td', {}, h('span', { class: `ticket-badge status-${t.status}` }, label(t.status))),
          h('td', {}, h('span', { class: `ticket-badge priority-${t.priority}` }, label(t.priority))),
          h('td', {}, assigneeName(t)),
          h('td', {}, h('time', { datetime: t.updated_at }, formatTime(t.updated_at))),
        );
      }),
    );
    listEmpty.hidden = state.items.length > 0;
    more.hidden = !state.cursor;
  }

  let listSeq = 0;
  /** The first page under the filters, or (`more`) the page after the last one loaded. */
  async function loadList(append = false) {
    const seq = ++listSeq;
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.filters.status) q.set('status', state.filters.status);
    if (state.filters.priority) q.set('priority', state.filters.priority);
    if (state.filters.mine) q.set('assignee_id', d.me);
    if (append && state.cursor) q.set('cursor', state.cursor);
    more.disabled = true;
    try {
      const page = await api<TicketPage>('GET', `/api/tickets?${q}`);
      // An older answer (the filters changed meanwhile) must not overwrite a newer one.
      if (seq !== listSeq) return;
      const seen = new Set(page.items.map((t) => t.id));
      state.items = append ? [...state.items.filter((t) => !seen.has(t.id)), ...page.items] : page.items;
      state.cursor = page.next_cursor;
      listError.textContent = '';
      renderList();
    } catch (e) {
      if (seq === listSeq) listError.textContent = messageOf(e);
    } finally {
      more.disabled = false;
    }
  }

  /** Newest first, as the server orders them (created_at, then id, descending). */
  const newer = (a: TicketDto, b: TicketDto) =>
    a.created_at === b.created_at ? a.id > b.id : a.created_at > b.created_at;

  /** A ticket read again: replaced where it is, placed if it now belongs, dropped if it no longer does. */
  function upsert(t: TicketDto) {
    const i = state.items.findIndex((x) => x.id === t.id);
    if (!matches(t)) {
      if (i >= 0) state.items.splice(i, 1);
    } else if (i >= 0) {
      state.items[i] = t;
    } else {
      const at = state.items.findIndex((x) => newer(t, x));
      // Older than every loaded row with more pages to come: its page will bring it.
      if (at >= 0) state.items.splice(at, 0, t);
      else if (!state.cursor) state.items.push(t);
    }
    renderList();
    if (state.current?.id === t.id) renderDetail(t);
  }

  function drop(id: string) {
    state.items = state.items.filter((t) => t.id !== id);
    renderList();
    if (state.current?.id === id) {
      showDetail(null);
      detailError.textContent = 'That ticket is no longer visible to you.';
    }
  }

  // ---- detail --------------------------------------------------------------------------------

  const messageOf = (e: unknown) => (e instanceof ApiError ? e.message : 'Something went wrong; try again');

  /** Who may hold the ticket: active members who see its queue (the server checks the same). */
  function assignable(t: TicketDto) {
    return state.team.filter(
      (m) =>
        m.status === 'active' &&
        (m.role !== 'agent' ||
          !m.routing_keys?.length ||
          t.routing_key === null ||
          m.routing_keys.includes(t.routing_key)),
    );
  }

  function renderDetail(t: TicketDto) {
    state.current = t;
    title.textContent = `#${t.number} ${t.subject}`;
    meta.textContent = [
      `Opened ${formatTime(t.created_at)}`,
      `updated ${formatTime(t.updated_at)}`,
      t.routing_key ? `queue ${t.routing_key}` : null,
      t.resolved_at ? `resolved ${formatTime(t.resolved_at)}` : null,
      t.closed_at ? `closed ${formatTime(t.closed_at)}` : null,
    ]
      .filter(Boolean)
      .join(' · ');
    openConv.hidden = !t.conversation_id;
    // What the agent is typing is kept when someone else's change arrives.
    if (document.activeElement !== subjectInput || subjectInput.value === t.subject) {
      subjectInput.value = t.subject;
    }
    statusSelect.replaceChildren(
      ...[t.status, ...ticketTransitions[t.status]].map((s) =>
        h('option', { value: s, selected: s === t.status }, label(s)),
      ),
    );
    statusSelect.value = t.status;
    prioritySelect.value = t.priority;
    const members = assignable(t);
    const holder =
      t.assignee && !members.some((m) => m.id === t.assignee_id)
        ? [h('option', { value: t.assignee.id }, assigneeName(t))]
        : [];
    assigneeSelect.replaceChildren(
      h('option', { value: '' }, 'Unassigned'),
      ...holder,
      ...members.map((m) =>
        h('option', { value: m.id }, m.id === d.me ? `${m.display_name} (you)` : m.display_name),
      ),
    );
    assigneeSelect.value = t.assignee_id ?? '';
    assignMe.hidden = t.assignee_id === d.me;
    summary.textContent = t.summary || 'No summary.';
  }

  function showDetail(t: TicketDto | null) {
    for (const el of [subjectError, statusError, priorityError, assigneeError, detailError]) {
      el.textContent = '';
    }
    detail.hidden = !t;
    detailEmpty.hidden = !!t;
    if (t) renderDetail(t);
    else state.current = null;
    if (state.active) history.replaceState(null, '', t ? `#tickets/${t.id}` : '#tickets');
    renderList();
  }

  let openSeq = 0;
  async function openTicket(id: string) {
    const seq = ++openSeq;
    const listed = state.items.find((t) => t.id === id);
    if (listed) showDetail(listed);
    try {
      const t = await api<TicketDto>('GET', `/api/tickets/${id}`);
      if (seq !== openSeq) return;
      if (state.current?.id === id) renderDetail(t);
      else showDetail(t);
    } catch (e) {
      if (seq !== openSeq) return;
      if (e instanceof ApiError && e.status === 404) drop(id);
      else detailError.textContent = messageOf(e);
    }
  }

  /** One change; on a refusal the control shows the ticket as it is, and why, beside it. */
  async function change(body: Record<string, unknown>, control: HTMLElement, error: HTMLElement) {
    const t = state.current;
    if (!t) return;
    error.textContent = '';
    control.setAttribute('aria-busy', 'true');
    try {
      const updated = await api<TicketDto>('PATCH', `/api/tickets/${t.id}`, body);
      // The saved subject as the server keeps it (trimmed), even while the field has focus.
      if (body.subject !== undefined) subjectInput.value = updated.subject;
      upsert(updated);
    } catch (e) {
      if (state.current?.id === t.id) renderDetail(state.current);
      error.textContent = messageOf(e);
      if (e instanceof ApiError && e.status === 404) drop(t.id);
    } finally {
      control.removeAttribute('aria-busy');
    }
  }

  subjectForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void change({ subject: subjectInput.value }, subjectInput, subjectError);
  });
  statusSelect.addEventListener('change', () => {
    void change({ status: statusSelect.value as TicketStatus }, statusSelect, statusError);
  });
  prioritySelect.addEventListener('change', () => {
    void change({ priority: prioritySelect.value }, prioritySelect, priorityError);
  });
  assigneeSelect.addEventListener('change', () => {
    void change({ assignee_id: assigneeSelect.value || null }, assigneeSelect, assigneeError);
  });
  assignMe.addEventListener('click', () => void change({ assignee_id: d.me }, assigneeSelect, assigneeError));
  openConv.addEventListener('click', () => {
    const id = state.current?.conversation_id;
    if (!id) return;
    location.hash = '#conversations';
    d.openConversation(id);
  });

  // ---- filters, paging, keys -----------------------------------------------------------------

  function refilter() {
    state.filters = {
      status: statusFilter.value,
      priority: priorityFilter.value,
      mine: mineFilter.checked,
    };
    state.cursor = null;
    void loadList();
  }
  statusFilter.addEventListener('change', refilter);
  priorityFilter.addEventListener('change', refilter);
  mineFilter.addEventListener('change', refilter);
  more.addEventListener('click', () => void loadList(true));

  document.addEventListener('keydown', (ev) => {
    if (!state.active || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if ((ev.target as HTMLElement).closest('input, textarea, select')) return;
    if (ev.key !== 'j' && ev.key !== 'k') return;
    ev.preventDefault();
    if (!state.items.length) return;
    const i = state.items.findIndex((t) => t.id === state.current?.id);
    const step = ev.key === 'j' ? 1 : -1;
    const next = state.items[Math.min(state.items.length - 1, Math.max(0, i < 0 ? 0 : i + step))];
    if (!next) return;
    void openTicket(next.id);
    root.querySelector<HTMLButtonElement>(`.ticket-open[data-id="${next.id}"]`)?.focus();
  });

  // ---- the view switch (#conversations, #tickets, #tickets/<id>) -----------------------------

  async function loadTeam() {
    state.team = await api<TeamMember[]>('GET', '/api/team');
    if (state.current) renderDetail(state.current);
  }

  /** Reads everything again: after being hidden through events, or a reconnection. */
  function reload() {
    state.stale = false;
    void loadList();
    void loadTeam().catch((e: unknown) => (detailError.textContent = messageOf(e)));
    if (state.current) void openTicket(state.current.id);
  }

  function route() {
    const m = /^#tickets(?:\/([0-9a-f-]{36}))?$/i.exec(location.hash);
    state.active = !!m;
    root.hidden = !state.active;
    conversationsEl.hidden = state.active;
    for (const a of switchLinks) {
      if (a.dataset.view === (state.active ? 'tickets' : 'conversations'))
        a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (!m) return;
    const id = m[1];
    if (state.stale) reload();
    if (id && id !== state.current?.id) void openTicket(id);
  }
  window.addEventListener('hashchange', route);

  d.socket.on('ticket_updated', (e) => {
    if (!state.active) return void (state.stale = true);
    void api<TicketDto>('GET', `/api/tickets/${e.ticket_id}`).then(upsert, (err: unknown) => {
      if (err instanceof ApiError && err.status === 404) drop(e.ticket_id);
    });
  });
  // Whatever was missed while disconnected (or lost between nodes) is read again.
  const catchUp = () => (state.active ? reload() : void (state.stale = true));
  let connected = false;
  // The first connection is not a reconnection: the view has just read everything.
  d.socket.on('connect', () => (connected ? catchUp() : void (connected = true)));
  d.socket.on('resync', catchUp);

  route();
  return { active: () => state.active };
}
