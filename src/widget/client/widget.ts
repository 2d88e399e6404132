// The chat page inside the iframe: history, Socket.IO both ways, typing, an outbox that survives
// disconnects, failed sends (retried with back-off) and reloads and is delivered exactly once
// thanks to `client_msg_id`, gap-safe catch-up by `seq`, and the postMessage bridge to the host
// page.
import { io, type Socket } from 'socket.io-client';
import type {
  ClientToServerEvents,
  JoinConversationPayload,
  ServerToClientEvents,
} from '../../realtime/realtime.contract.js';
import {
  CLOSE,
  MINIMIZE,
  OPEN,
  READY,
  SET_NAME,
  UNREAD,
  isWireMessage,
  type WireMessage,
} from './protocol.js';
import { createCatchUp, placeBySeq } from './catchup.js';
import { createOutbox, renderOutboxNote, request, type OutboxState } from './delivery.js';
import { el, renderMessage, type WidgetMessage } from './render.js';
import { setupAttachments, type MediaMessage } from './attach.js';
import { setupOfflineRating } from './rating.js';
import { createTicks } from './ticks.js';

type Config = {
  conversation_id: string;
  external_id: string;
  /** The tenant backend's proof of `external_id`, when the page was given one. */
  user_hash: string | null;
  embed_token: string;
  customer_name: string | null;
  host_origin: string | null;
  launcher: boolean;
  history: WidgetMessage[];
};

type Pending = { client_msg_id: string; content: string; created_at: string } & Partial<{
  content_type: MediaMessage['content_type'] | 'text';
  rich_media: Record<string, unknown>;
}>;

const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 6000;

const config = JSON.parse(document.getElementById('cw-config')!.textContent!) as Config;
const log = document.getElementById('cw-log')!;
const statusLine = document.getElementById('cw-status')!;
const typingLine = document.getElementById('cw-typing')!;
const form = document.getElementById('cw-form') as HTMLFormElement;
const input = document.getElementById('cw-input') as HTMLTextAreaElement;
const closeButton = document.getElementById('cw-close') as HTMLButtonElement;

const conversationId = config.conversation_id;
/** Who the visitor is, on every event that names them: the id and, if given, its proof. */
const proof = config.user_hash
  ? { external_id: config.external_id, user_hash: config.user_hash }
  : { external_id: config.external_id };
const outboxKey = `cw_outbox_${conversationId}`;
let open = !config.launcher;
let unread = 0;
let everConnected = false;
let booting = true;

// ---- host page bridge -------------------------------------------------------------------------

const embedded = window.parent !== window && !!config.host_origin;

function toHost(msg: WireMessage): void {
  if (embedded) window.parent.postMessage(msg, config.host_origin!);
}

function setUnread(n: number): void {
  if (n === unread) return;
  unread = n;
  toHost({ type: UNREAD, count: n });
}

function setOpen(next: boolean): void {
  open = next;
  if (open) {
    setUnread(0);
    input.focus();
    scrollToEnd();
    ticks.markVisible();
  }
}

window.addEventListener('message', (e: MessageEvent) => {
  if (!embedded || e.source !== window.parent || e.origin !== config.host_origin) return;
  const d: unknown = e.data;
  if (!isWireMessage(d)) return;
  if (d.type === OPEN) setOpen(true);
  else if (d.type === CLOSE) setOpen(false);
  else if (d.type === SET_NAME && typeof d.name === 'string') void rename(d.name);
});

async function rename(name: string): Promise<void> {
  const customer_name = name.trim().slice(0, 120);
  if (!customer_name || customer_name === config.customer_name) return;
  const res = await fetch('/chat-widget/profile', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      embed_token: config.embed_token,
      session_id: config.external_id,
      ...(config.user_hash ? { user_hash: config.user_hash } : {}),
      customer_name,
    }),
  }).catch(() => null);
  if (res?.ok) config.customer_name = customer_name;
}

if (config.launcher) {
  closeButton.hidden = false;
  closeButton.addEventListener('click', () => toHost({ type: MINIMIZE }));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') toHost({ type: MINIMIZE });
  });
}

// ---- the message list -------------------------------------------------------------------------

function nearEnd(): boolean {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function scrollToEnd(): void {
  log.scrollTop = log.scrollHeight;
}

function status(text: string, kind: 'info' | 'error' = 'info'): void {
  statusLine.textContent = text;
  statusLine.dataset.kind = kind;
}

let statusTimer: ReturnType<typeof setTimeout> | undefined;
function flash(text: string): void {
  status(text, 'error');
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => status(socket.connected ? '' : (statusLine.textContent ?? '')), 5000);
}

const pendingRow = (clientMsgId: string) =>
  log.querySelector<HTMLElement>(`[data-pending="${CSS.escape(clientMsgId)}"]`);

/** Shows a stored message in seq order; the catch-up has made sure it is shown only once. */
function show(m: WidgetMessage): void {
  const stick = nearEnd() || m.sender_type === 'end_user';
  if (m.client_msg_id) {
    // The visitor's own message, stored: its "Sending…" row gives way to it.
    pendingRow(m.client_msg_id)?.remove();
    outbox.settle(m.client_msg_id);
  }
  placeBySeq(log, renderMessage(m, { send }), m.seq);
  if (stick) scrollToEnd();
  if (m.sender_type !== 'end_user') {
    typingLine.textContent = '';
    if (!booting && (!open || document.hidden)) setUnread(unread + 1);
  }
}

// History, live events, replays and acks all pass through here (see catchup.ts).
const catchUp = createCatchUp<WidgetMessage>({
  join: (lastSeq) => {
    const join: JoinConversationPayload = { conversation_id: conversationId, ...proof };
    if (lastSeq !== undefined) join.last_seq = lastSeq;
    return request(socket, 'join_conversation', join).then((r) => {
      // Where the agents stand on the visitor's messages (ticks after a reload).
      const s = r?.ok ? r.delivery : undefined;
      if (s)
        ticks.snapshot({
          delivered_seq: s.agent_delivered_seq,
          read_seq: s.agent_read_seq,
          read_at: s.agent_read_at,
        });
      return r;
    });
  },
  show,
  connected: () => socket.connected,
  // The send's echo comes through the room: the outbox goes out once the room is joined.
  onJoined: () => flushOnce(connection),
  onRefused: flash,
});

// ---- the outbox: typed messages wait here until the server has stored them --------------------

function loadOutbox(): Pending[] {
  try {
    const raw = sessionStorage.getItem(outboxKey);
    return raw ? (JSON.parse(raw) as Pending[]) : [];
  } catch {
    return [];
  }
}

function saveOutbox(items: readonly Pending[]): void {
  try {
    if (items.length) sessionStorage.setItem(outboxKey, JSON.stringify(items));
    else sessionStorage.removeItem(outboxKey);
  } catch {
    // storage blocked: the outbox still lives for this page view
  }
}

function renderPending(p: Pending, state: OutboxState): void {
  const note = pendingRow(p.client_msg_id)?.querySelector<HTMLElement>('.cw-pending-note');
  if (note) renderOutboxNote(note, state, () => outbox.flush(), 'cw-btn cw-retry');
}

function showPending(p: Pending): void {
  const node = renderMessage(
    {
      id: '',
      sender_type: 'end_user',
      content_type: 'text',
      content: p.content,
      rich_media: null,
      created_at: p.created_at,
    },
    { send },
  );
  node.dataset.pending = p.client_msg_id;
  node.classList.add('cw-msg--pending');
  node.append(el('span', 'cw-pending-note', 'Sending…'));
  log.append(node);
  scrollToEnd();
}

function newClientMsgId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return 'c_' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const outbox = createOutbox<Pending, WidgetMessage>(
  {
    emit: (p) =>
      request(socket, 'send_message', {
        conversation_id: conversationId,
        content: p.content,
        content_type: p.content_type ?? 'text',
        ...(p.rich_media ? { rich_media: p.rich_media } : {}),
        sender_type: 'end_user',
        ...proof,
        client_msg_id: p.client_msg_id,
      }),
    connected: () => socket.connected,
    save: saveOutbox,
    // The stored message, in case the room's echo was missed (it is shown once either way).
    delivered: (_p, message) => void catchUp.receive(message),
    refused: (p, message) => {
      const row = pendingRow(p.client_msg_id);
      if (!row) return;
      // Kept in view (styled as unsent) so the visitor can copy the text; never retried.
      delete row.dataset.pending;
      row.classList.add('cw-msg--failed');
      const note = row.querySelector<HTMLElement>('.cw-pending-note');
      if (note) note.textContent = `Not sent: ${message}`;
    },
    render: renderPending,
  },
  loadOutbox(),
);

/**
 * Queues the visitor's text; it goes out now if connected, else on reconnect or at its next
 * retry, and is stored once whatever happens (`client_msg_id`).
 */
function send(text: string, value?: string): void {
  const content = text.trim();
  if (!content) return;
  const p: Pending = {
    client_msg_id: newClientMsgId(),
    content,
    created_at: new Date().toISOString(),
    ...(value ? { content_type: 'text', rich_media: { value } } : {}),
  };
  showPending(p);
  outbox.add(p);
}

// ---- Socket.IO ------------------------------------------------------------------------------

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({ reconnectionDelayMax: 5000 });

// Ticks on the visitor's messages; receipts (throttled) and reads for the agents' and bot's.
const ticks = createTicks({
  list: log,
  mine: (r) => r.classList.contains('cw-msg--me'),
  theirs: (r) => r.classList.contains('cw-msg--them'),
  className: 'cw-ticks',
  srClass: 'cw-sr',
  sendDelivered: (seq) =>
    socket.emit('message_delivered', { conversation_id: conversationId, seq, ...proof }),
  sendRead: (ids) =>
    socket.emit('mark_read', { conversation_id: conversationId, message_ids: ids, ...proof }),
  canRead: () => open && document.visibilityState === 'visible',
});
socket.on('messages_delivered', (e) => {
  if (e?.conversation_id === conversationId && e.recipient_type === 'agent') ticks.delivered(e.seq);
});
socket.on('messages_read', (e) => {
  if (e?.conversation_id === conversationId && e.reader_type === 'agent')
    ticks.read(e.message_ids, e.read_at);
});

/** Counts connections, so a timer of an earlier one does nothing. */
let connection = 0;
let flushedFor = 0;
function flushOnce(conn: number): void {
  if (conn !== connection || flushedFor === conn || !socket.connected) return;
  flushedFor = conn;
  outbox.flush();
}

socket.on('connect', () => {
  everConnected = true;
  retries = 0;
  status('');
  const conn = ++connection;
  // Back into the room with the cursor: whatever was missed is replayed before the ack. The
  // outbox goes out once joined, or after a second if the join is slow (a send joins too).
  catchUp.reset();
  catchUp.sync();
  setTimeout(() => flushOnce(conn), 1000);
});

// The other nodes' events may have been lost while the server's Redis link was down.
socket.on('resync', () => catchUp.sync());

// socket.io retries by itself after a network failure, but not after the server refused or
// closed the connection (a restart, a limit): a visitor's widget should still come back.
let retry: ReturnType<typeof setTimeout> | undefined;
let retries = 0;
function retryLater(): void {
  clearTimeout(retry);
  retries++;
  retry = setTimeout(() => socket.connect(), Math.min(30_000, 1000 * 2 ** Math.min(retries, 5)));
}

socket.on('disconnect', (reason) => {
  status('Connection lost. Reconnecting… What you write will be sent when it is back.');
  typingLine.textContent = '';
  catchUp.reset();
  outbox.disconnected();
  if (reason === 'io server disconnect') retryLater();
});

socket.on('connect_error', () => {
  if (!everConnected) status('Cannot reach the chat right now. Retrying…');
  if (!socket.active) retryLater();
});

socket.on('message_received', (m) => {
  if (m?.conversation_id && m.conversation_id !== conversationId) return;
  catchUp.receive(m);
});

let typingTimer: ReturnType<typeof setTimeout> | undefined;
socket.on('typing_indicator', (e) => {
  if (e?.conversation_id !== conversationId || e.sender_type === 'end_user') return;
  typingLine.textContent = e.sender_type === 'bot' ? 'The assistant is typing…' : 'An agent is typing…';
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => (typingLine.textContent = ''), TYPING_SHOWN_MS);
});

socket.on('typing_cleared', (e) => {
  if (e?.conversation_id === conversationId) typingLine.textContent = '';
});

socket.on('error', (e) => {
  flash(typeof e?.message === 'string' ? e.message : 'Something went wrong');
});

// ---- the composer -----------------------------------------------------------------------------

let lastTyping = 0;
input.addEventListener('input', () => {
  const now = Date.now();
  if (!socket.connected || now - lastTyping < TYPING_EVERY_MS || !input.value.trim()) return;
  lastTyping = now;
  socket.emit('user_typing', {
    conversation_id: conversationId,
    sender_type: 'end_user',
    ...proof,
  });
});

input.addEventListener('keydown', (e) => {
  // Enter sends, Shift+Enter is a new line; an IME composition is never cut short.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!input.value.trim()) return input.focus();
  send(input.value);
  input.value = '';
  lastTyping = 0;
  input.focus();
});

// An uploaded file goes out as an image or file message, through the outbox like text.
setupAttachments({
  zone: document.querySelector<HTMLElement>('.cw')!,
  form,
  input,
  query: { conversation_id: conversationId, ...proof },
  send: (m) => {
    const p: Pending = { client_msg_id: newClientMsgId(), ...m, created_at: new Date().toISOString() };
    showPending(p);
    outbox.add(p);
  },
});

// The greeting, the offline notice with its email form, and the rating after a resolve.
setupOfflineRating({
  form,
  log,
  proof: { conversation_id: conversationId, ...proof },
  socket,
  hasHistory: config.history.length > 0,
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && open) setUnread(0);
});

// ---- start ----------------------------------------------------------------------------------

// Pending messages of a previous page view that the history shows as stored are settled by it.
for (const m of config.history) catchUp.receive(m);
for (const p of outbox.items) showPending(p);
// The history is the latest messages, complete: from its newest on, nothing may be missed.
catchUp.start(Math.max(0, ...config.history.map((m) => m.seq ?? 0)));
booting = false;
scrollToEnd();
toHost({ type: READY });
