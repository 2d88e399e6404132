// The open conversation: paged history, live messages, composer (text and rich media), typing,
// claim, tags and resolve.
import type { Socket } from 'socket.io-client';
import { api, ApiError, byId, h } from './dom.js';
import { renderMessage } from './messages.js';
import type {
  ClientToServerEvents,
  ConversationDto,
  MessageDto,
  SendMessagePayload,
  ServerToClientEvents,
  TypingCleared,
  TypingIndicator,
} from './types.js';

const PAGE = 30;

/** What the composer adds to a send_message payload (the thread adds the rest). */
type Composed = Omit<SendMessagePayload, 'conversation_id' | 'sender_type' | 'client_msg_id'>;

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

  let conv: ConversationDto | null = null;
  let loaded = new Map<string, MessageDto>();
  let newestId: string | null = null;
  let loadingOlder = false;
  let hasOlder = false;
  let generation = 0;
  let lastTypingSent = 0;
  let typingTimer: ReturnType<typeof setTimeout> | undefined;

  const visitor = () =>
    conv ? conv.end_user.display_name || `Visitor ${conv.end_user.external_id.slice(0, 8)}` : '';

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

  function add(messages: MessageDto[], where: 'older' | 'newer') {
    const fresh = messages.filter((m) => !loaded.has(m.id));
    for (const m of fresh) loaded.set(m.id, m);
    const last = fresh.at(-1);
    if (last && (where === 'newer' || !newestId)) newestId = last.id;
    const rows = fresh.map((m) =>
      renderMessage(m, who(m), m.sender_type === 'agent' && m.sender_id === d.me),
    );
    if (where === 'older') {
      // Keep the reader's place while older messages appear above.
      const before = el.scroller.scrollHeight - el.scroller.scrollTop;
      el.list.prepend(...rows);
      el.scroller.scrollTop = el.scroller.scrollHeight - before;
    } else {
      const atBottom = el.scroller.scrollHeight - el.scroller.scrollTop - el.scroller.clientHeight < 80;
      el.list.append(...rows);
      if (atBottom || fresh.some((m) => m.sender_type === 'agent' && m.sender_id === d.me))
        el.scroller.scrollTop = el.scroller.scrollHeight;
    }
  }

  async function loadOlder() {
    if (!conv || loadingOlder || !hasOlder) return;
    loadingOlder = true;
    const gen = generation;
    el.historyStatus.textContent = 'Loading earlier messages…';
    try {
      // Offsets count back from the newest message, so what is loaded is exactly the offset.
      const page = await api<MessageDto[]>(
        'GET',
        `/api/conversations/${conv.id}/messages?limit=${PAGE}&offset=${loaded.size}`,
      );
      if (gen !== generation) return;
      hasOlder = page.length === PAGE;
      add(page, 'older');
      el.historyStatus.textContent = hasOlder ? '' : 'Beginning of the conversation';
    } finally {
      loadingOlder = false;
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
    loaded = new Map();
    newestId = null;
    hasOlder = true;
    el.list.replaceChildren();
    el.historyStatus.textContent = '';
    el.error.textContent = '';
    setTyping('');
    el.resolveForm.hidden = true;
    el.empty.hidden = true;
    el.root.hidden = false;
    renderHeader();
    d.socket.emit('join_conversation', { conversation_id: c.id });
    await loadOlder();
    if (gen !== generation) return;
    el.scroller.scrollTop = el.scroller.scrollHeight;
    readAll();
  }

  /** Sends over the socket; the ack carries the stored message or the reason it was refused. */
  function send(payload: Composed, onFail: () => void) {
    if (!conv) return;
    const id = conv.id;
    d.socket.emit(
      'send_message',
      { conversation_id: id, sender_type: 'agent', client_msg_id: crypto.randomUUID(), ...payload },
      (ack) => {
        if (ack?.ok && conv?.id === id) add([ack.message], 'newer');
        if (ack && !ack.ok) {
          el.error.textContent = ack.message;
          onFail();
        }
      },
    );
  }

  function kind(): string {
    return (el.composer.querySelector<HTMLInputElement>('input[name="kind"]:checked')?.value ??
      'text') as string;
  }

  function syncComposer() {
    const k = kind();
    for (const box of el.composer.querySelectorAll<HTMLElement>('.composer-extra')) {
      box.hidden = !(box.dataset.for ?? '').split(' ').includes(k);
    }
    for (const f of el.composer.querySelectorAll<HTMLElement>('.composer-extra [data-for="file"]')) {
      f.hidden = k !== 'file';
    }
  }

  /** The send_message payload for what the composer holds, or an error to show. */
  function composed(): Composed | string {
    const form = new FormData(el.composer);
    const content = String(form.get('content') ?? '').trim();
    const url = String(form.get('url') ?? '').trim();
    switch (kind()) {
      case 'image':
        return url
          ? { content_type: 'image', content, rich_media: { url, alt: content || undefined } }
          : 'Give the image URL';
      case 'file': {
        const filename = String(form.get('filename') ?? '').trim() || url.split('/').pop() || 'file';
        return url
          ? { content_type: 'file', content: content || filename, rich_media: { url, filename } }
          : 'Give the file URL';
      }
      case 'quick_button': {
        const buttons = String(form.get('buttons') ?? '')
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .map((l) => {
            const [label = '', value] = l.split('=');
            return { label: label.trim(), value: (value ?? label).trim() };
          });
        return buttons.length
          ? { content_type: 'quick_button', content, rich_media: { buttons } }
          : 'Add at least one button';
      }
      default:
        return content ? { content_type: 'text', content } : 'Write a message first';
    }
  }

  async function editTags(add: string[], remove: string[]) {
    if (!conv) return;
    try {
      const r = await api<{ tags: string[] }>('POST', `/api/conversations/${conv.id}/tags`, { add, remove });
      if (conv.active_session) conv.active_session.tags = r.tags;
      renderHeader();
      d.onChanged();
    } catch (e) {
      el.error.textContent = e instanceof ApiError ? e.message : 'Could not change the tags';
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  el.scroller.addEventListener('scroll', () => {
    if (el.scroller.scrollTop < 60) void loadOlder();
  });

  el.composer.addEventListener('change', syncComposer);
  el.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const payload = composed();
    if (typeof payload === 'string') {
      el.error.textContent = payload;
      return;
    }
    el.error.textContent = '';
    const draft = el.text.value;
    send(payload, () => {
      if (!el.text.value) el.text.value = draft;
    });
    el.composer.reset();
    syncComposer();
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
    tagged(conversationId: string, tags: string[]) {
      if (conv?.id !== conversationId || !conv.active_session) return;
      conv.active_session.tags = tags;
      renderHeader();
    },
    assigned(conversationId: string, agentId: string) {
      if (conv?.id !== conversationId || !conv.active_session) return;
      conv.active_session.assigned_agent_id = agentId;
      renderHeader();
    },
    /** After a reconnect: back into the room, and fetch what was missed. */
    rejoin() {
      if (!conv) return;
      // The server replays every message after the newest one shown (reconnect catch-up).
      d.socket.emit('join_conversation', {
        conversation_id: conv.id,
        ...(newestId ? { last_message_id: newestId } : {}),
      });
    },
    received(m: MessageDto) {
      if (!conv || m.conversation_id !== conv.id) return;
      if (m.sender_type === 'end_user') setTyping('');
      add([m], 'newer');
      // A message that arrives while the agent looks at the thread is read (spec's mark_read).
      if (m.sender_type === 'end_user' && !document.hidden) {
        m.read_by = { ...m.read_by, [d.me]: '' };
        d.socket.emit('mark_read', { conversation_id: m.conversation_id, message_ids: [m.id] });
        d.onRead(m.conversation_id);
      }
    },
    typing(e: TypingCleared & Partial<TypingIndicator>, on: boolean) {
      if (!conv || e.conversation_id !== conv.id) return;
      if (!on) return setTyping('');
      if (e.sender_type === 'end_user') setTyping(`${visitor()} is typing…`);
    },
  };
}
