// The agent inbox: the conversation list kept live from the org queue room, the thread with
// paged history, the composer, typing both ways, team presence, claim, release, transfer, tags
// and resolve.
import { io, type Socket } from 'socket.io-client';
import { api, ApiError, byId, h } from './dom.js';
import { createConversationList, PAGE } from './conversation-list.js';
import { mountVisitorPanel } from './visitor-panel.js';
import { createHandover } from './handover.js';
import { mountNotify } from './notify.js';
import { previewText } from '../../conversations/preview.js';
import { mountSearch } from './search.js';
import { createThread } from './thread.js';
import { mountTickets } from './tickets.js';
import type {
  ClientToServerEvents,
  ConversationActivityBatch,
  ConversationDto,
  Member,
  MessageDto,
  ServerToClientEvents,
} from './types.js';

type Filter = 'unassigned' | 'mine' | 'all';

const me = document.body.dataset.userId ?? '';
const role = document.body.dataset.userRole ?? 'agent';
const state = {
  filter: 'unassigned' as Filter,
  /** One queue (routing key) only, from the picker; '' for every queue the agent sees. */
  queue: '',
  list: [] as ConversationDto[],
  unread: new Map<string, number>(),
  team: new Map<string, Member & { online: boolean }>(),
  current: null as string | null,
  /** Sizes of the Unassigned and Mine lists, shown on their tabs. */
  totals: { unassigned: 0, mine: 0 },
  /** How many the current filter holds on the server. */
  total: 0,
};

const listEl = byId<HTMLUListElement>('conversation-list');
const emptyEl = byId('list-empty');
const connEl = byId('connection');

// The queue's activity in batches (every 100 ms at most), not an event per message per agent.
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({
  withCredentials: true,
  auth: { activity: 'batch' },
});

export const nameOfAgent = (id: string | null | undefined) =>
  id ? (id === me ? 'you' : (state.team.get(id)?.display_name ?? 'another agent')) : 'nobody';

const handover = createHandover({
  socket,
  me,
  isAdmin: role === 'admin' || role === 'owner',
  team: () => [...state.team.values()],
  onChanged: () => changedHere(),
  onError: (m) => flash(m),
});

const thread = createThread({
  socket,
  me,
  agentName: nameOfAgent,
  onHeader: (c) => handover.render(c),
  onChanged: () => changedHere(),
  onRead: (id) => {
    state.unread.delete(id);
    renderList();
  },
  onError: (m) => (m ? flash(m) : showConnection(null)),
});

let flashTimer: ReturnType<typeof setTimeout> | undefined;
function showConnection(message: string | null) {
  clearTimeout(flashTimer);
  connEl.hidden = !message;
  connEl.textContent = message ?? '';
}

/** A refusal from the server (claim lost, message rejected): shown for a few seconds. */
function flash(message: string) {
  showConnection(message);
  flashTimer = setTimeout(() => showConnection(null), 6000);
}

// ---- conversation list ------------------------------------------------------------------

/** The server counts a list up to this many and leaves `X-Total-Count` out past it. */
const COUNT_CAP = 10_000;
/** A count as the filter tabs show it: "10,000+" past the server's cap. */
const countText = (n: number) => (n > COUNT_CAP ? `${COUNT_CAP.toLocaleString('en')}+` : n ? String(n) : '');

const rows = createConversationList({
  el: listEl,
  me,
  agentName: (id) => nameOfAgent(id),
  onOpen: (id) => void open(id).catch(showError),
  onNearEnd: () => void loadMore().catch(showError),
});

function renderList() {
  rows.render({ list: state.list, unread: state.unread, current: state.current, total: state.total });
  emptyEl.hidden = state.list.length > 0;
  const total = [...state.unread.values()].reduce((a, b) => a + b, 0);
  document.title = `${total ? `(${total}) ` : ''}Inbox · Switchboard`;
  for (const btn of document.querySelectorAll<HTMLButtonElement>('[data-filter]')) {
    btn.setAttribute('aria-selected', String(btn.dataset.filter === state.filter));
  }
  for (const [f, n] of Object.entries(state.totals)) {
    const el = document.querySelector(`[data-count="${f}"]`);
    if (el) el.textContent = countText(n);
  }
  byId('inbox').setAttribute('aria-busy', 'false');
}

const queueParam = () => (state.queue ? `&routing_key=${encodeURIComponent(state.queue)}` : '');

/**
 * A list's total from its `X-Total-Count`; when left out (past the cap), at least one more than
 * what was read so far while pages come back full.
 */
function totalFrom(res: Response, offset: number, read: number, limit: number): number {
  const header = res.headers.get('x-total-count');
  if (header !== null) return Number(header);
  return read < limit ? offset + read : Math.max(COUNT_CAP + 1, offset + read + 1);
}

let refreshSeq = 0;
/** How many conversations a filter holds, from the list's X-Total-Count (one row fetched). */
async function totalOf(filter: Filter): Promise<number> {
  const res = await fetch(`/api/conversations/?filter=${filter}&limit=1${queueParam()}`, {
    credentials: 'same-origin',
  });
  return res.ok ? totalFrom(res, 0, 1, 1) : 0;
}

/** A page of the current filter's list and how many it holds in all. */
async function pageOf(offset: number): Promise<{ items: ConversationDto[]; total: number }> {
  const res = await fetch(
    `/api/conversations/?filter=${state.filter}&limit=${PAGE}&offset=${offset}${queueParam()}`,
    { credentials: 'same-origin' },
  );
  if (!res.ok) throw new ApiError(res.status, 'list', 'Could not load the conversations');
  const items = (await res.json()) as ConversationDto[];
  return { items, total: totalFrom(res, offset, items.length, PAGE) };
}

/** Every page loaded so far, read again (the list scrolled far keeps its length). */
async function loadPages() {
  const pages = Math.max(1, Math.ceil(state.list.length / PAGE));
  const got = await Promise.all(Array.from({ length: pages }, (_, i) => pageOf(i * PAGE)));
  const seen = new Set<string>();
  const list = got.flatMap((p) => p.items).filter((c) => !seen.has(c.id) && seen.add(c.id));
  return { list, total: got[0]?.total ?? 0 };
}

let loadingMore = false;
/** The next page, when the list's end comes into view. */
async function loadMore() {
  if (loadingMore || state.list.length >= state.total) return;
  loadingMore = true;
  try {
    const seq = refreshSeq;
    const page = await pageOf(state.list.length);
    if (seq !== refreshSeq) return;
    const have = new Set(state.list.map((c) => c.id));
    state.list = [...state.list, ...page.items.filter((c) => !have.has(c.id))];
    state.total = page.total;
    renderList();
  } finally {
    loadingMore = false;
  }
}

/**
 * The filters' counts (unassigned, mine) are read again only after something that can change them:
 * a new session, a claim, a transfer, a release, a resolve, a filter or queue switched. Messages
 * move conversations within a list, never into or out of one, and a busy queue's activity asks
 * for a refresh every second: its two counts were 62% of what such a refresh cost the server and
 * PostgreSQL (7.4 ms of CPU in all, with 10,000 open conversations and 100 agents: the benchmark's
 * tenant). `countsWanted` grows with each such change; a refresh reads the counts while
 * `countsRead` is behind it, so a change whose refresh was overtaken by a newer one is not lost.
 */
let countsWanted = 0;
let countsRead = 0;
/**
 * The unread counts are read with the filters' counts, and otherwise at most every 10 s: between
 * two readings a visitor's message seen in the queue's activity counts one more on its row at once
 * (see `onActivity`), and the next reading corrects what that missed (a batch names each
 * conversation once however many messages it had). Counting them was the dearest part of a reload
 * (5.5 ms of PostgreSQL per request once a hundred agents' conversations held unread messages).
 */
const UNREAD_REFRESH_MS = 10_000;
let unreadReadAt = 0;

async function refreshList(counts = true) {
  if (counts) countsWanted++;
  const seq = ++refreshSeq;
  const startedAt = (lastRefreshAt = Date.now());
  refreshing++;
  const during: Overlap = { rows: [], counts: false };
  overlaps.add(during);
  try {
    await readList(seq, startedAt, during);
  } finally {
    overlaps.delete(during);
    refreshing--;
    lastRefreshTook = Date.now() - startedAt;
    // Events moved the counts while this was read: the answer may or may not hold them. Read them
    // again once, a gap later; should that one overlap events too, the next reconcile settles it.
    if (during.counts && !refreshAgain) {
      if (!followingUp) refreshAgain = 'later';
      followingUp = !followingUp;
    } else if (!during.counts) followingUp = false;
    if (refreshAgain && !refreshing) {
      const now = refreshAgain === 'now';
      refreshAgain = false;
      scheduleRefresh(now ? 0 : nextGap(), during.counts);
    }
  }
}

async function readList(seq: number, startedAt: number, during: Overlap) {
  const wanted = countsWanted;
  const withCounts = countsRead < wanted;
  // (A timer set for the 10 s may fire a little before the clock says so.)
  const withUnread = withCounts || startedAt - unreadReadAt >= UNREAD_REFRESH_MS - 100;
  const [{ list, total }, unread, totals] = await Promise.all([
    loadPages(),
    withUnread ? api<Record<string, number>>('GET', '/api/inbox/unread') : null,
    withCounts ? Promise.all([totalOf('unassigned'), totalOf('mine')]) : null,
  ]);
  // A slower, older answer must not overwrite a newer one (filters switched meanwhile).
  if (seq !== refreshSeq) return;
  state.list = list;
  state.total = total;
  // Rows events moved meanwhile move again: the answer may have been read before them.
  for (const change of during.rows) change();
  if (totals) {
    state.totals = { unassigned: totals[0], mine: totals[1] };
    countsRead = Math.max(countsRead, wanted);
  }
  if (unread) {
    state.unread = new Map(Object.entries(unread).filter(([id]) => id !== state.current || document.hidden));
    unreadReadAt = startedAt;
  }
  renderList();
  const cur = state.current && list.find((c) => c.id === state.current);
  if (cur) thread.setConversation(cur);
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let refreshDue = 0;
let lastRefreshAt = 0;
/** Refreshes under way, how long the last one took (ms), and whether one was due meanwhile. */
let refreshing = 0;
let lastRefreshTook = 0;
let refreshAgain: false | 'now' | 'later' = false;
/** A busy queue reloads the list about this often (its activity alone asks every 100 ms). */
const ACTIVITY_REFRESH_MS = 1000;
/**
 * How long after the last refresh began the next may: a second, or twice what the last took. A
 * server that slows down (a spike, a hundred inboxes reloading) is asked less, not more: with a
 * refresh each second whatever the answers took, a server that took 20 s to answer had every inbox
 * twenty refreshes deep, and the benchmark's ramp never ended.
 */
const refreshGap = () => Math.max(ACTIVITY_REFRESH_MS, 2 * lastRefreshTook);
/**
 * Bursts of queue events become one list request. A refresh already due sooner stands: were each
 * event to put it off, a queue busy without a pause would never show its new conversations. One
 * at a time: a refresh due while another is under way comes after it, a gap later; one asked for
 * now (the agent's own change, a reconnect) comes as soon as that one ends.
 */
function scheduleRefresh(delay = 150, counts = true) {
  if (counts) countsWanted++;
  const due = Date.now() + delay;
  if (refreshTimer !== undefined && refreshDue <= due) return;
  clearTimeout(refreshTimer);
  refreshDue = due;
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    if (refreshing) {
      if (refreshAgain !== 'now') refreshAgain = delay ? 'later' : 'now';
      return;
    }
    // Set while the last refresh was under way, this timer knew only the one before's duration.
    const wait = delay ? lastRefreshAt + refreshGap() - Date.now() : 0;
    if (wait > 0) scheduleRefresh(wait, false);
    else void refreshList(false).catch((e: unknown) => showError(e));
  }, delay);
}

/** How long until `ms` after the last refresh began (150 ms at least). */
const sinceLastRefresh = (ms: number) => Math.max(150, lastRefreshAt + ms - Date.now());
/** How long until the gap after the last refresh allows the next. */
const nextGap = () => sinceLastRefresh(refreshGap());

/**
 * A change in the queue the list cannot follow in place (an event without what it needs): the
 * list and its counts are read again, at most once a second as for activity. A spike (a hundred
 * new conversations a second, claims as fast) would otherwise have every open inbox reload six
 * times a second, each reload 8.5 ms of the server's and PostgreSQL's CPU with the benchmark's
 * tenant.
 */
function queueRefresh() {
  scheduleRefresh(nextGap());
}

function showError(e: unknown) {
  showConnection(e instanceof ApiError ? e.message : 'Something went wrong; retrying');
}

function setFilter(f: Filter) {
  state.filter = f;
  state.list = [];
  renderList();
  void refreshList().catch(showError);
}

const inboxEl = byId('inbox');
async function open(id: string) {
  const previous = state.current;
  state.current = id;
  // On a phone the thread takes the screen; its back button shows the list again.
  inboxEl.classList.add('has-thread');
  renderList();
  const conv =
    state.list.find((c) => c.id === id) ?? (await api<ConversationDto>('GET', `/api/conversations/${id}`));
  await thread.open(conv);
  visitorPanel.show(conv);
  notifier.switched(previous);
}

byId('thread-back').addEventListener('click', () => {
  inboxEl.classList.remove('has-thread');
  if (state.current) rows.focus(state.current);
});

// ---- queues -----------------------------------------------------------------------------

const queueSelect = byId<HTMLSelectElement>('queue-filter');
/** The picker appears only when there are queues to pick from (the tenant has some). */
async function loadQueues() {
  const { queues } = await api<{ queues: string[] }>('GET', '/api/conversations/queues');
  queueSelect.replaceChildren(
    h('option', { value: '' }, 'All queues'),
    ...queues.map((q) => h('option', { value: q, selected: q === state.queue }, q)),
  );
  if (state.queue && !queues.includes(state.queue)) state.queue = '';
  byId('queue-picker').hidden = queues.length === 0;
}
queueSelect.addEventListener('change', () => {
  state.queue = queueSelect.value;
  setFilter(state.filter);
});

// ---- team presence ----------------------------------------------------------------------

const teamEl = byId<HTMLUListElement>('team-list');
function renderTeam() {
  const members = [...state.team.values()].sort(
    (a, b) => Number(b.online) - Number(a.online) || a.display_name.localeCompare(b.display_name),
  );
  teamEl.replaceChildren(
    ...members.map((m) =>
      h(
        'li',
        { class: m.online ? 'online' : 'offline', 'data-agent': m.id },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        m.id === me ? `${m.display_name} (you)` : m.display_name,
        h('span', { class: 'sr-only' }, m.online ? ' online' : ' offline'),
      ),
    ),
  );
}

async function loadTeam() {
  const members = await api<Member[]>('GET', '/api/team');
  const online = new Set([...state.team.values()].filter((m) => m.online).map((m) => m.id));
  if (socket.connected) online.add(me);
  state.team = new Map(members.map((m) => [m.id, { ...m, online: online.has(m.id) }]));
  renderTeam();
  renderList();
}

// ---- realtime -------------------------------------------------------------------------------

socket.on('connect', () => {
  showConnection(null);
  socket.emit('join_queue');
  socket.emit('join_org_presence');
  const self = state.team.get(me);
  if (self) self.online = true;
  renderTeam();
  // Back into the open conversation: what was missed is replayed after its cursor.
  thread.connected();
  // Anything missed while disconnected is fetched again: nothing stale.
  scheduleRefresh(0);
});
socket.on('disconnect', () => {
  showConnection('Reconnecting…');
  thread.disconnected();
});
// The server's link to the other nodes was down: their events may be lost. The thread catches up
// by seq and the list is read again.
socket.on('resync', (e) => {
  thread.resync();
  scheduleRefresh(0);
  // An admin changed this agent's role or queues: what the picker offers changes too.
  if (e?.reason === 'access_changed') void loadQueues().catch(showError);
});
socket.on('connect_error', () => showConnection('Cannot reach the server; retrying…'));
socket.on('error', (e) => flash(e?.message ?? 'Error'));

/**
 * The list follows the queue's events in place. A new conversation comes with its row; a claim, a
 * transfer, a release and a resolve say who held the session before and in which queue, so the row
 * moves and the filters' counts change at once, and nothing is read. Before, each such event had
 * every open inbox read its list and counts again (at most once a second): with a hundred inboxes
 * those reads cost the server more than the messages did, and on a slow machine the benchmark's
 * burst of 1,000 new conversations and claims never ended (issue 23). The list and counts are
 * still read RECONCILE_MS after the last reading, for what events cannot tell (one lost, two
 * crossing, a count past what the list holds), at once after a reconnect or `resync`, and a gap
 * after an event the list cannot follow (a row it does not hold that it now shows: a transfer to
 * this agent under "Mine", a release under "Unassigned").
 */
const RECONCILE_MS = 15_000;

/** Row changes and count moves made from events while a refresh is under way (see refreshList). */
type Overlap = { rows: (() => void)[]; counts: boolean };
const overlaps = new Set<Overlap>();
/** The last refresh was read again because events moved the counts meanwhile. */
let followingUp = false;

/** The queue an event concerns is one the inbox shows (every queue, or the one picked). */
const shown = (routingKey: string | null | undefined) => !state.queue || routingKey === state.queue;

/** The row's session if it is open. */
const openSession = (c: ConversationDto) => (c.active_session?.status === 'open' ? c.active_session : null);

/** Whether the current filter (and queue) holds this row, as the server's `listWhere` decides. */
function inFilter(c: ConversationDto) {
  if (!shown(c.routing_key ?? null)) return false;
  if (state.filter === 'all') return true;
  const open = openSession(c);
  if (!open) return false;
  return open.assigned_agent_id === (state.filter === 'mine' ? me : null);
}

/** Newest first, as the server orders the list: by `updated_at`, then by id. */
const newer = (a: ConversationDto, b: ConversationDto) =>
  a.updated_at > b.updated_at || (a.updated_at === b.updated_at && a.id > b.id);

/**
 * The row where the list's order has it, or out of the list if the filter no longer holds it. A
 * row older than every one loaded, while the server has more, waits for its page.
 */
function placeOrDrop(c: ConversationDto) {
  const rest = state.list.filter((x) => x.id !== c.id);
  const at = rest.findIndex((x) => newer(c, x));
  if (inFilter(c) && (at !== -1 || state.list.length >= state.total)) {
    rest.splice(at === -1 ? rest.length : at, 0, c);
  }
  state.list = rest;
}

/** The row's open session now held by `holder` (null: the queue); one opened by it if none was. */
function reassign(id: string, sessionId: string, holder: string | null) {
  const c = state.list.find((x) => x.id === id);
  if (!c) return;
  const s = c.active_session;
  const session =
    s?.id === sessionId
      ? { ...s, assigned_agent_id: holder }
      : { id: sessionId, status: 'open' as const, assigned_agent_id: holder, tags: [] };
  placeOrDrop({ ...c, active_session: session });
}

/** The row's session ended. */
function resolved(id: string) {
  const c = state.list.find((x) => x.id === id);
  if (c) placeOrDrop({ ...c, active_session: null });
}

/** A row change from an event, made now and again on the answer of a refresh under way. */
function follow(change: () => void) {
  change();
  for (const o of overlaps) o.rows.push(change);
}

/**
 * The filters' counts after a session went from `from` to `to` in queue `routingKey`: an agent's
 * id, null for the queue, undefined for neither (a session opened or ended).
 */
function moveCounts(
  routingKey: string | null | undefined,
  from: string | null | undefined,
  to: string | null | undefined,
) {
  if (!shown(routingKey) || from === to) return;
  const t = state.totals;
  if (from === null) t.unassigned = Math.max(0, t.unassigned - 1);
  if (from === me) t.mine = Math.max(0, t.mine - 1);
  if (to === null) t.unassigned++;
  if (to === me) t.mine++;
  if (state.filter !== 'all') state.total = t[state.filter];
  for (const o of overlaps) o.counts = true;
}

/** After an event: the list shows it, and is read again a gap later if it could not follow. */
function followed(couldNot = false) {
  renderList();
  if (couldNot) queueRefresh();
  else reconcileSoon();
}

/** The list and its counts read again RECONCILE_MS after the last reading began. */
function reconcileSoon() {
  scheduleRefresh(sinceLastRefresh(RECONCILE_MS));
}

/**
 * The agent's own claim, resolve, tags, release or transfer: its event moves the list like
 * anyone's. Without the socket (the REST path) no event comes, so the list is read at once.
 */
function changedHere() {
  if (socket.connected) reconcileSoon();
  else scheduleRefresh(0);
}

/** A visitor's message: one more unread on its row, unless the agent has it open in front of them. */
function countUnread(id: string) {
  if (id === state.current && !document.hidden) return;
  state.unread.set(id, (state.unread.get(id) ?? 0) + 1);
}

socket.on('conversation_updated', (e) => {
  if (e.sender_type === 'end_user' && !e.redelivered) countUnread(e.conversation_id);
  const row = e.conversation;
  // Sent without its row (the server could not read it), or sent again after a lost answer (this
  // inbox may have counted it already): the row placed if it came, the list and counts read again.
  if (!row || e.redelivered) {
    if (row) follow(() => placeOrDrop(row));
    renderList();
    return queueRefresh();
  }
  // The row first: whether the list holds all the server has is judged by the counts before it.
  const held = state.list.some((c) => c.id === row.id);
  follow(() => placeOrDrop(row));
  if (state.filter === 'all' && inFilter(row) && !held) state.total++;
  const open = openSession(row);
  moveCounts(row.routing_key, undefined, open ? open.assigned_agent_id : undefined);
  if (row.id === state.current) thread.setConversation(row);
  followed();
});

/**
 * A message in a conversation: its row shows it and moves to the top (newest first). One older
 * than the row's last message (a batch behind this tab's own `message_received`) changes nothing.
 */
function activity(id: string, last: NonNullable<ConversationDto['last_message']>) {
  const i = state.list.findIndex((c) => c.id === id);
  const c = state.list[i];
  if (!c || (c.last_message && c.last_message.created_at > last.created_at)) return;
  c.last_message = last;
  c.updated_at = last.created_at;
  state.list.splice(i, 1);
  state.list.unshift(c);
}
/**
 * The queue's messages: rows the list holds move to the top with their last message at once, and
 * a visitor's message counts one more unread where the conversation is the agent's or nobody's
 * (and not open in front of them). The list is read again only for what it cannot know: activity
 * the batch left out that can be in it (`leftOutConcerns`), or, under "All", a conversation it has
 * not loaded (older than its pages). A conversation enters "Unassigned" or "Mine" only by an event
 * of its own (a new session, a release, a claim, a transfer). The unread counts are read again
 * within 10 s of a visitor's message counted from a batch (the agent's conversations this tab
 * follows count each `message_received` instead, exactly).
 */
function onActivity(
  items: { conversation_id: string; last_message: NonNullable<ConversationDto['last_message']> }[],
  left: Omit<ConversationActivityBatch, 'items'> = {},
) {
  let refresh = leftOutConcerns(left);
  let unread = false;
  for (const e of items) {
    const c = state.list.find((x) => x.id === e.conversation_id);
    activity(e.conversation_id, e.last_message);
    if (!c) {
      if (state.filter === 'all') refresh = true;
      continue;
    }
    if (e.last_message.sender_type !== 'end_user') continue;
    // The agent's own conversations this tab follows count their messages as they come (notify);
    // the others' counts are read again soon (a batch names a conversation once for several).
    const holder = c.active_session?.assigned_agent_id ?? null;
    if (holder === null || (holder === me && !notifier.follows(c.id))) {
      countUnread(c.id);
      unread = true;
    }
  }
  renderList();
  if (refresh) scheduleRefresh(Math.max(300, nextGap()), false);
  else if (unread) scheduleRefresh(Math.max(300, unreadReadAt + UNREAD_REFRESH_MS - Date.now()), false);
}
socket.on('conversation_activity', (e) => onActivity([e]));
socket.on('conversation_activity_batch', (e) => onActivity(e.items, e));

/**
 * Whether activity a batch left out can concern the list: any under "All"; under "Unassigned"
 * only activity in conversations waiting in the queue, under "Mine" only in held ones, and
 * activity whose holder the server did not know. On a busy queue nearly all activity is in
 * conversations agents hold, so an inbox on "Unassigned" no longer reloads every second for it
 * (in the benchmark, a hundred such reloads a second).
 */
function leftOutConcerns({
  omitted = 0,
  omitted_unassigned,
  omitted_held,
}: Omit<ConversationActivityBatch, 'items'>) {
  if (!omitted) return false;
  if (state.filter === 'all' || omitted_unassigned === undefined || omitted_held === undefined) return true;
  if (omitted > omitted_unassigned + omitted_held) return true;
  if (state.filter === 'unassigned') return omitted_unassigned > 0;
  // "Mine": the agent's conversations this tab follows move with their `message_received`.
  return omitted_held > 0 && !notifier.followsAll();
}
socket.on('visitor_updated', (e) => {
  for (const c of state.list) {
    if (c.end_user.id === e.end_user_id) c.end_user.display_name = e.display_name;
  }
  renderList();
  visitorPanel.updated(e);
});

socket.on('conversation_assigned', (e) => {
  if (e.assigned_to !== me) state.unread.delete(e.conversation_id);
  // Transferred to me while "Mine" shows: a row the list does not hold, read with the list.
  const unheld = !state.list.some((c) => c.id === e.conversation_id);
  follow(() => reassign(e.conversation_id, e.session_id, e.assigned_to));
  // Sent again after a lost answer: maybe counted already, so the counts are read instead.
  if (!e.redelivered) moveCounts(e.routing_key, e.previous_agent_id, e.assigned_to);
  thread.assigned(e.conversation_id, e.assigned_to);
  followed(
    e.redelivered || (unheld && state.filter === 'mine' && e.assigned_to === me && shown(e.routing_key)),
  );
});

// Back in the queue: "Unassigned" shows it, read with the list (it does not hold the row).
socket.on('conversation_released', (e) => {
  const unheld = !state.list.some((c) => c.id === e.conversation_id);
  follow(() => reassign(e.conversation_id, e.session_id, null));
  moveCounts(e.routing_key, e.previous_agent_id, null);
  thread.assigned(e.conversation_id, null);
  followed(unheld && state.filter === 'unassigned' && shown(e.routing_key));
});

// Not in the spec's event reference; the realtime layer adds them so nothing goes stale.
socket.on('conversation_resolved', (e) => {
  thread.resolved(e.conversation_id);
  follow(() => resolved(e.conversation_id));
  moveCounts(e.routing_key, e.previous_agent_id, undefined);
  // Who held it unknown (an event without it): the counts are read again.
  followed(e.previous_agent_id === undefined);
});
socket.on('conversation_tagged', (e) => {
  thread.tagged(e.conversation_id, e.tags, e.tagged_at);
});

/** A message as the list's row shows it (`last_message`). */
const previewOf = (m: MessageDto): NonNullable<ConversationDto['last_message']> => ({
  sender_type: m.sender_type,
  sender_id: m.sender_id,
  content_type: m.content_type,
  content: previewText(m.content),
  created_at: m.created_at,
  internal: m.internal === true,
});

// A conversation this tab is in the room of (the agent's own, the one open): its row moves at once.
socket.on('message_received', (m) => {
  thread.received(m);
  if (!state.list.some((c) => c.id === m.conversation_id)) return;
  activity(m.conversation_id, previewOf(m));
  renderList();
});
socket.on('typing_indicator', (e) => thread.typing(e, true));
socket.on('typing_cleared', (e) => thread.typing(e, false));

socket.on('agent_status_changed', (e) => {
  const m = state.team.get(e.agent_id);
  if (!m) return void loadTeam().catch(showError);
  m.online = e.status === 'online';
  renderTeam();
});

const visitorPanel = mountVisitorPanel({ open: (id) => void open(id).catch(showError), onError: flash });
const tickets = mountTickets({ socket, me, openConversation: (id) => void open(id).catch(showError) });
mountSearch({ open: (id) => void open(id).catch(showError), enabled: () => !tickets.active() });
const notifier = mountNotify({
  socket,
  me,
  current: () => state.current,
  open: (id) => {
    if (tickets.active()) location.hash = '#conversations';
    void open(id).catch(showError);
  },
  onUnread: (id) => {
    state.unread.set(id, (state.unread.get(id) ?? 0) + 1);
    renderList();
  },
});

// ---- keyboard and controls -------------------------------------------------------------

for (const btn of document.querySelectorAll<HTMLButtonElement>('[data-filter]')) {
  btn.addEventListener('click', () => setFilter(btn.dataset.filter as Filter));
}

function move(step: number) {
  if (!state.list.length) return;
  const i = state.list.findIndex((c) => c.id === state.current);
  const next = state.list[Math.min(state.list.length - 1, Math.max(0, i < 0 ? 0 : i + step))];
  if (next) {
    void open(next.id);
    rows.focus(next.id);
  }
}

document.addEventListener('keydown', (ev) => {
  const t = ev.target as HTMLElement;
  if (tickets.active()) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (t.closest('input, textarea, select')) {
    if (ev.key === 'Escape') t.blur();
    return;
  }
  if (ev.key === 'j') move(1);
  else if (ev.key === 'k') move(-1);
  else if (ev.key === 'c') thread.claim();
  else if (ev.key === 'u') handover.release();
  else if (ev.key === 't') handover.openPicker();
  else if (ev.key === 'r') thread.focusComposer();
  else return;
  ev.preventDefault();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    thread.markVisibleRead();
    scheduleRefresh(0);
  }
});

void loadTeam().catch(showError);
void loadQueues().catch(showError);
void refreshList().catch(showError);
