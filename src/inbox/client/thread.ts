// The open conversation: paged history, live messages in seq order with gap-safe catch-up,
// composer (text and rich media) with retries, typing, claim, tags and resolve (release and
// transfer are handover.ts, drawn with the header).
import { visitorLabel } from './conversation-list.js';
import type { Socket } from 'socket.io-client';
import { createCatchUp, placeBySeq, type CatchUp } from '../../widget/client/catchup.js';
import { ACK_TIMEOUT_MS, request } from '../../widget/client/delivery.js';
import { api, ApiError, byId, h } from './dom.js';
import { renderMessage } from './messages.js';
import { attachInboxTicks } from './ticks.js';
import { attachRatingBadge } from './rating.js';
import { composed, createSending, syncComposer } from './composer.js';
import { attachRichComposer } from './rich-composer.js';
import { attachUploads } from './attachments.js';
import { attachNoteToggle } from './notes.js';
import { attachCanned, cannedManager } from './canned.js';
import type {
  ClientToServerEvents,
  ConversationDto,
  MessageDto,
  ServerToClientEvents,
  TypingCleared,
  TypingIndicator,
} from './types.js';

const PAGE = 30;

const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 6000;

type Deps = {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  me: string;
  agentName: (id: string | null | undefined) => string;
  /** Something changed on the server (claimed, resolved, tagged): refresh the list. */
  onChanged: () => void;
  onRead: (conversationId: string) => void;
  onError: (message: string | null) => void;
  /** The header was drawn for this conversation (release and transfer follow it). */
  onHeader: (c: ConversationDto) => void;
};

export function createThread(d: Deps) {
  const el = {
    empty: byId('thread-empty'),
    root: byId('thread'),
    title: byId('thread-title'),
    meta: byId('thread-meta'),
    claim: byId<HTMLButtonElement>('claim'),
    resolveOpen: byId<HTMLButtonElement>('resolve-open'),
    resolveForm: byId<HTMLFormElement>('resolve-form'),
    resolveTags: byId<HTMLInputElement>('resolve-tags'),
    tags: byId<HTMLUListElement>('tags'),
    tagForm: byId<HTMLFormElement>('tag-form'),
    tagInput: byId<HTMLInputElement>('tag-input'),
    scroller: byId('messages'),
    list: byId<HTMLOListElement>('message-list'),
    historyStatus: byId('history-status'),
    typing: byId('typing'),
    composer: byId<HTMLFormElement>('composer'),
    text: byId<HTMLTextAreaElement>('composer-text'),
    error: byId('composer-error'),
  };

  const extras = attachRatingBadge({ socket: d.socket, meta: el.meta });
  let conv: ConversationDto | null = null;
  let loaded = new Map<string, MessageDto>();
  const ticks = attachInboxTicks({ socket: d.socket, list: el.list, current: () => conv?.id });
  /** The newest page has been loaded (so the catch-up cursor is known). */
  let started = false;
  /** The seq of the oldest message loaded: anything older comes with an older page. */
  let oldestSeq = Infinity;
  /** The generation whose older page is loading: a conversation opened since loads its own. */
  let loadingOlder = -1;
  let hasOlder = false;
  let generation = 0;
  let lastTypingSent = 0;
  let typingTimer: ReturnType<typeof setTimeout> | undefined;

  const visitor = () => (conv ? visitorLabel(conv) : '');

  function who(m: MessageDto) {
    if (m.sender_type === 'end_user') return visitor();
    if (m.sender_type === 'agent') return m.sender_id === d.me ? 'You' : d.agentName(m.sender_id);
    return m.sender_type === 'bot' ? 'Bot' : 'System';
  }

  function renderHeader() {
    if (!conv) return;
    const s = conv.active_session;
    el.title.textContent = visitor();
    el.meta.textContent = !s
      ? 'Resolved'
      : s.assigned_agent_id
        ? `Open · assigned to ${d.agentName(s.assigned_agent_id)}`
        : 'Open · unassigned';
    el.claim.hidden = !s || !!s.assigned_agent_id;
    el.resolveOpen.disabled = !s;
    el.tagForm.hidden = !s;
    d.onHeader(conv);
    extras.show(conv);
    el.tags.replaceChildren(
      ...(s?.tags ?? []).map((t) =>
        h(
          'li',
          { class: 'tag' },
          t,
          h(
            'button',
            { type: 'button', 'aria-label': `Remove tag ${t}`, onclick: () => void editTags([], [t]) },
            '×',
          ),
        ),
      ),
    );
  }

  function setTyping(text: string) {
    el.typing.textContent = text;
    clearTimeout(typingTimer);
    // A visitor who closes the tab never sends "stopped typing"; the hint fades by itself.
    if (text) typingTimer = setTimeout(() => (el.typing.textContent = ''), TYPING_SHOWN_MS);
  }

  const atBottom = () => el.scroller.scrollHeight - el.scroller.scrollTop - el.scroller.clientHeight < 80;

  function row(m: MessageDto) {
    const r = renderMessage(m, who(m), m.sender_type === 'agent' && m.sender_id === d.me);
    if (typeof m.seq === 'number') r.dataset.seq = String(m.seq);
    return r;
  }

  /** A page of history: older rows above, any the live stream brought first kept in seq order. */
  function addPage(page: MessageDto[]) {
    const fresh = page.filter((m) => !loaded.has(m.id));
    catchUp.known(fresh);
    // Keep the reader's place while older messages appear above.
    const before = el.scroller.scrollHeight - el.scroller.scrollTop;
    const first = el.list.querySelector<HTMLElement>('[data-seq]');
    const top = first ? Number(first.dataset.seq) : Infinity;
    const above: HTMLLIElement[] = [];
    for (const m of fresh) {
      loaded.set(m.id, m);
      if (m.seq < oldestSeq) oldestSeq = m.seq;
      if (m.seq < top) above.push(row(m));
      else placeBySeq(el.list, row(m), m.seq);
    }
    el.list.prepend(...above);
    el.scroller.scrollTop = el.scroller.scrollHeight - before;
  }

  /** A message from the live stream, a replay or a send's ack (the catch-up shows each once). */
  function showLive(m: MessageDto) {
    if (!conv || m.conversation_id !== conv.id || loaded.has(m.id)) return;
    // Older than every page loaded: it is part of a page not scrolled to yet.
    if (started && hasOlder && m.seq < oldestSeq) return;
    if (m.client_msg_id) sending.settle(m.client_msg_id);
    const stick = atBottom() || (m.sender_type === 'agent' && m.sender_id === d.me);
    loaded.set(m.id, m);
    placeBySeq(el.list, row(m), m.seq);
    if (stick) el.scroller.scrollTop = el.scroller.scrollHeight;
    if (m.sender_type === 'end_user') setTyping('');
    // A message that arrives while the agent looks at the thread is read (spec's mark_read).
    if (m.sender_type === 'end_user' && !document.hidden) {
      m.read_by = { ...m.read_by, [d.me]: '' };
      d.socket.emit('mark_read', { conversation_id: m.conversation_id, message_ids: [m.id] });
      d.onRead(m.conversation_id);
    }
  }

  /** The catch-up of one conversation; its joins answer `joined` (see open). */
  function catchUpFor(conversationId: string): CatchUp<MessageDto> {
    return createCatchUp<MessageDto>({
      join: (lastSeq) =>
        request(
          d.socket,
          'join_conversation',
          lastSeq === undefined
            ? { conversation_id: conversationId }
            : { conversation_id: conversationId, last_seq: lastSeq },
        ).then((r) => {
          ticks.joined(conversationId, r?.ok ? r.delivery : undefined);
          return r;
        }),
      show: showLive,
      connected: () => d.socket.connected,
      onJoined: () => joined?.(),
      onRefused: (message) => {
        joined?.();
        d.onError(message);
      },
    });
  }
  let catchUp = catchUpFor('');
  let joined: (() => void) | undefined;

  const sending = createSending({
    socket: d.socket,
    me: d.me,
    list: el.list,
    delivered: (m) => {
      if (conv?.id === m.conversation_id) catchUp.receive(m);
    },
    refused: (item, message) => {
      if (conv?.id !== item.conversation_id) return d.onError(message);
      el.error.textContent = message;
      if (!el.text.value) el.text.value = item.draft;
    },
  });

  async function loadOlder() {
    const gen = generation;
    if (!conv || loadingOlder === gen || !hasOlder) return;
    loadingOlder = gen;
    el.historyStatus.textContent = 'Loading earlier messages…';
    try {
      // Offsets count back from the newest message, so what is loaded is the offset (the first
      // page starts at the newest, whatever the live stream brought before it).
      const page = await api<MessageDto[]>(
        'GET',
        `/api/conversations/${conv.id}/messages?limit=${PAGE}&offset=${started ? loaded.size : 0}`,
      );
      if (gen !== generation) return;
      hasOlder = page.length === PAGE;
      addPage(page);
      el.historyStatus.textContent = hasOlder ? '' : 'Beginning of the conversation';
      if (!started) {
        started = true;
        // The newest page is complete up to its last message: the cursor starts there.
        catchUp.start(page.at(-1)?.seq ?? 0);
      }
    } catch (e) {
      if (gen === generation) {
        el.historyStatus.textContent =
          e instanceof ApiError ? e.message : 'Could not load the messages; scroll up to try again';
      }
    } finally {
      if (loadingOlder === gen) loadingOlder = -1;
    }
  }

  /** Opening (or coming back to) a conversation reads all of it, pages not scrolled to included. */
  function readAll() {
    if (!conv || document.hidden) return;
    for (const m of loaded.values())
      if (m.sender_type === 'end_user') m.read_by = { ...m.read_by, [d.me]: '' };
    d.onRead(conv.id);
    api('POST', `/api/inbox/conversations/${conv.id}/read`).catch(() => undefined);
  }

  async function open(c: ConversationDto) {
    if (conv && conv.id !== c.id) d.socket.emit('leave_conversation', { conversation_id: conv.id });
    const gen = ++generation;
    conv = c;
    taggedAt = '';
    loaded = new Map();
    started = false;
    oldestSeq = Infinity;
    hasOlder = true;
    el.list.replaceChildren();
    ticks.reset();
    el.historyStatus.textContent = '';
    el.error.textContent = '';
    setTyping('');
    el.resolveForm.hidden = true;
    el.empty.hidden = true;
    el.root.hidden = false;
    renderHeader();
    // In the room before the history is read, so nothing falls between the two (a join that is
    // slow or fails does not hold the history back; the catch-up closes the gap later).
    catchUp.reset();
    catchUp = catchUpFor(c.id);
    const inRoom = new Promise<void>((resolve) => {
      joined = resolve;
      setTimeout(resolve, d.socket.connected ? ACK_TIMEOUT_MS / 2 : 0);
    });
    catchUp.sync();
    await inRoom;
    joined = undefined;
    if (gen !== generation) return;
    await loadOlder();
    if (gen !== generation) return;
    sending.showPending(c.id);
    el.scroller.scrollTop = el.scroller.scrollHeight;
    readAll();
  }

  // The tags shown are the latest set: an answer and the `conversation_tagged` of an earlier edit may
  // arrive in either order.
  let taggedAt = '';
  function applyTags(conversationId: string, tags: string[], at: string) {
    if (conv?.id !== conversationId || !conv.active_session || at < taggedAt) return;
    taggedAt = at;
    conv.active_session.tags = tags;
    renderHeader();
  }

  async function editTags(add: string[], remove: string[]) {
    if (!conv) return;
    try {
      const r = await api<{ tags: string[]; tagged_at: string }>(
        'POST',
        `/api/conversations/${conv.id}/tags`,
        {
          add,
          remove,
        },
      );
      applyTags(conv.id, r.tags, r.tagged_at);
      d.onChanged();
    } catch (e) {
      el.error.textContent = e instanceof ApiError ? e.message : 'Could not change the tags';
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  el.scroller.addEventListener('scroll', () => {
    if (el.scroller.scrollTop < 60) void loadOlder();
  });

  // Files from the device: attach button, drop on the thread, pasted images; sent as image/file messages.
  attachUploads({
    composer: el.composer,
    dropZone: el.root,
    conversationId: () => conv?.id ?? null,
    send: (id, payload) => sending.send(id, payload, '', conv?.id === id),
    error: (message) => (el.error.textContent = message),
  });
  // Reply or internal note; canned replies after `/`, and their manager.
  const mode = attachNoteToggle(el.composer, el.text);
  const canned = attachCanned({
    composer: el.composer,
    text: el.text,
    conversationId: () => conv?.id ?? null,
  });
  const manager = cannedManager({
    title: 'Canned replies',
    scopes: ['mine', 'tenant'],
    changed: canned.invalidate,
  });
  el.composer
    .querySelector('.composer-foot')
    ?.prepend(
      h(
        'button',
        { type: 'button', class: 'canned-manage', onclick: () => void manager.open() },
        'Canned replies…',
      ),
    );
  // Carousel and dropdown forms, and a preview of the rich message before it is sent.
  attachRichComposer({ composer: el.composer, compose: composed });
  el.composer.addEventListener('change', () => syncComposer(el.composer));
  el.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const payload = composed(el.composer);
    if (typeof payload === 'string') {
      el.error.textContent = payload;
      return;
    }
    el.error.textContent = '';
    // Sent over the socket (with retries); a refusal gives the text back to the composer.
    if (conv)
      sending.send(conv.id, mode.isNote() ? { ...payload, internal: true } : payload, el.text.value, true);
    el.composer.reset();
    syncComposer(el.composer);
    lastTypingSent = 0;
    el.text.focus();
  });
  el.text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      el.composer.requestSubmit();
    }
  });
  el.text.addEventListener('input', () => {
    if (!conv || !el.text.value) return;
    const now = Date.now();
    if (now - lastTypingSent < TYPING_EVERY_MS) return;
    lastTypingSent = now;
    d.socket.emit('user_typing', { conversation_id: conv.id, sender_type: 'agent' });
  });

  el.claim.addEventListener('click', () => claim());
  el.resolveOpen.addEventListener('click', () => {
    el.resolveForm.hidden = false;
    el.resolveTags.value = (conv?.active_session?.tags ?? []).join(', ');
    el.resolveTags.focus();
  });
  byId('resolve-cancel').addEventListener('click', () => (el.resolveForm.hidden = true));
  el.resolveForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!conv) return;
    const tags = el.resolveTags.value
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const id = conv.id;
    api<{ tags: string[] }>('POST', `/api/conversations/${id}/resolve`, { tags })
      .then((r) => {
        if (conv?.id === id) {
          conv.active_session = null;
          el.resolveForm.hidden = true;
          renderHeader();
          el.meta.textContent = `Resolved${r.tags.length ? ` · ${r.tags.join(', ')}` : ''}`;
        }
        d.onChanged();
      })
      .catch(
        (e: unknown) => (el.error.textContent = e instanceof ApiError ? e.message : 'Could not resolve'),
      );
  });
  el.tagForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = el.tagInput.value.trim();
    if (!t) return;
    el.tagInput.value = '';
    void editTags([t], []);
  });

  function claim() {
    if (!conv?.active_session || conv.active_session.assigned_agent_id) return;
    const id = conv.id;
    if (d.socket.connected) {
      d.socket.emit('claim_conversation', { conversation_id: id }, (ack) => {
        if (ack?.ok) d.onChanged();
        else if (ack) d.onError(ack.message);
      });
      return;
    }
    // No socket: the REST path calls the same service.
    api('POST', `/api/conversations/${id}/assign`)
      .then(() => d.onChanged())
      .catch((e: unknown) => d.onError(e instanceof ApiError ? e.message : 'Could not claim'));
  }

  return {
    open,
    claim,
    markVisibleRead: readAll,
    focusComposer: () => !el.root.hidden && el.text.focus(),
    /** Fresh data for the open conversation from a list refresh. */
    setConversation(c: ConversationDto) {
      if (conv?.id !== c.id) return;
      conv = c;
      renderHeader();
    },
    resolved(conversationId: string) {
      if (conv?.id !== conversationId || !conv.active_session) return;
      conv.active_session = null;
      el.resolveForm.hidden = true;
      renderHeader();
    },
    tagged: applyTags,
    /** Claimed, transferred (the new holder) or released (null). */
    assigned(conversationId: string, agentId: string | null) {
      if (conv?.id !== conversationId || !conv.active_session) return;
      conv.active_session.assigned_agent_id = agentId;
      renderHeader();
    },
    /** (Re)connected: back into the room with the cursor, then what waits to be sent. */
    connected() {
      catchUp.reset();
      if (conv) catchUp.sync();
      sending.flush();
    },
    disconnected() {
      catchUp.reset();
      sending.disconnected();
    },
    /** `resync`: events may have been lost; everything after the cursor is replayed. */
    resync() {
      if (conv) catchUp.sync();
    },
    received(m: MessageDto) {
      if (conv && m.conversation_id === conv.id) catchUp.receive(m);
    },
    typing(e: TypingCleared & Partial<TypingIndicator>, on: boolean) {
      if (!conv || e.conversation_id !== conv.id) return;
      if (!on) return setTyping('');
      if (e.sender_type === 'end_user') setTyping(`${visitor()} is typing…`);
    },
  };
}
