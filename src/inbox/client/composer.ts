// The composer: what it holds as a send_message payload, and its outbox. What an agent sends is
// shown at the bottom of the thread as "Sending…" until the server has stored it; a send that
// fails for now (`unavailable`, `rate_limited`, no ack in time) is retried with back-off and the
// same `client_msg_id`, one refused for good gives its reason back to the composer. Kept in memory
// only (a reload starts over). The retry policy is the widget's (`widget/client/delivery.ts`,
// bundled into both pages).
import type { Socket } from 'socket.io-client';
import { createOutbox, renderOutboxNote, request } from '../../widget/client/delivery.js';
import { renderMessage } from './messages.js';
import { h } from './dom.js';
import { richPayload } from './rich-composer.js';
import type { ClientToServerEvents, MessageDto, SendMessagePayload, ServerToClientEvents } from './types.js';

/** What the composer adds to a send_message payload (the thread adds the rest). */
export type Composed = Omit<SendMessagePayload, 'conversation_id' | 'sender_type' | 'client_msg_id'>;

function kind(form: HTMLFormElement): string {
  return (form.querySelector<HTMLInputElement>('input[name="kind"]:checked')?.value ?? 'text') as string;
}

/** Shows the fields of the chosen message type. */
export function syncComposer(composer: HTMLFormElement) {
  const k = kind(composer);
  for (const box of composer.querySelectorAll<HTMLElement>('.composer-extra')) {
    box.hidden = !(box.dataset.for ?? '').split(' ').includes(k);
  }
  for (const f of composer.querySelectorAll<HTMLElement>('.composer-extra [data-for="file"]')) {
    f.hidden = k !== 'file';
  }
}

/** The send_message payload for what the composer holds, or an error to show. */
export function composed(composer: HTMLFormElement): Composed | string {
  const form = new FormData(composer);
  const content = String(form.get('content') ?? '').trim();
  const url = String(form.get('url') ?? '').trim();
  switch (kind(composer)) {
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
    case 'carousel':
    case 'dropdown':
      return richPayload(kind(composer), form) ?? 'Unknown message type';
    default:
      return content ? { content_type: 'text', content } : 'Write a message first';
  }
}

export type Outgoing = {
  client_msg_id: string;
  conversation_id: string;
  payload: Composed;
  created_at: string;
  /** The composer's text when it was sent, given back if the server refuses the message. */
  draft: string;
};

type Deps = {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  me: string;
  /** The open thread's message list, where pending rows sit at the bottom. */
  list: HTMLOListElement;
  /** The stored message (from the ack): the thread shows it if it is open. */
  delivered: (m: MessageDto) => void;
  refused: (item: Outgoing, message: string) => void;
};

/** The outbox of the composer (all conversations, in the order sent). */
export function createSending(d: Deps) {
  const rowOf = (id: string) => d.list.querySelector<HTMLElement>(`[data-pending="${CSS.escape(id)}"]`);

  const outbox = createOutbox<Outgoing, MessageDto>({
    emit: (item) =>
      request(d.socket, 'send_message', {
        ...item.payload,
        conversation_id: item.conversation_id,
        sender_type: 'agent',
        client_msg_id: item.client_msg_id,
      }),
    connected: () => d.socket.connected,
    delivered: (item, m) => {
      rowOf(item.client_msg_id)?.remove();
      d.delivered(m);
    },
    refused: (item, message) => {
      rowOf(item.client_msg_id)?.remove();
      d.refused(item, message);
    },
    render: (item, state) => {
      const note = rowOf(item.client_msg_id)?.querySelector<HTMLElement>('.msg-note');
      if (note) renderOutboxNote(note, state, () => outbox.flush());
    },
  });

  /** A row like the stored message will look, marked as not stored yet. */
  function pendingRow(item: Outgoing): HTMLLIElement {
    const p = item.payload;
    const row = renderMessage(
      {
        id: '',
        conversation_id: item.conversation_id,
        session_id: '',
        sender_type: 'agent',
        sender_id: d.me,
        content_type: p.content_type ?? 'text',
        content: p.content ?? '',
        rich_media: p.rich_media ?? null,
        client_msg_id: item.client_msg_id,
        created_at: item.created_at,
        seq: 0,
        ...(p.internal ? { internal: true as const } : {}),
      },
      'You',
      true,
    );
    row.removeAttribute('data-id');
    row.dataset.pending = item.client_msg_id;
    row.classList.add('msg-pending');
    // The stylesheet has no pending style; CSSOM styles are allowed under the page's CSP.
    row.style.opacity = '0.7';
    row.append(h('p', { class: 'msg-note muted' }, 'Sending…'));
    return row;
  }

  function showRow(item: Outgoing) {
    if (rowOf(item.client_msg_id)) return;
    d.list.append(pendingRow(item));
    const note = rowOf(item.client_msg_id)?.querySelector<HTMLElement>('.msg-note');
    if (note) renderOutboxNote(note, outbox.stateOf(item), () => outbox.flush());
  }

  return {
    /** Queues a message for a conversation (shown now if it is the open one). */
    send(conversationId: string, payload: Composed, draft: string, shown: boolean) {
      const item: Outgoing = {
        client_msg_id: crypto.randomUUID(),
        conversation_id: conversationId,
        payload,
        created_at: new Date().toISOString(),
        draft,
      };
      if (shown) showRow(item);
      outbox.add(item);
    },
    /** After the thread's list was drawn again: its messages not stored yet, at the bottom. */
    showPending(conversationId: string) {
      for (const item of outbox.items) if (item.conversation_id === conversationId) showRow(item);
    },
    /** The stored message is on screen (echo, replay or ack): its pending row goes. */
    settle(clientMsgId: string) {
      rowOf(clientMsgId)?.remove();
      outbox.settle(clientMsgId);
    },
    flush: outbox.flush,
    disconnected: outbox.disconnected,
  };
}
