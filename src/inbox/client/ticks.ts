// Ticks on the agents' messages in the open thread (pending → sent → delivered → read by the
// visitor), and this inbox's receipts for the visitor's messages (`message_delivered`, throttled).
// Reads go as before: opening the conversation marks it read (`POST .../read`, `mark_read`).
import type { Socket } from 'socket.io-client';
import { createTicks } from '../../widget/client/ticks.js';
import type { ClientToServerEvents, DeliveryState, ServerToClientEvents } from './types.js';

export function attachInboxTicks(o: {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  list: HTMLElement;
  /** The conversation the thread shows. */
  current: () => string | undefined;
}) {
  const ticks = createTicks({
    list: o.list,
    // Internal notes never reach the visitor: no ticks on them.
    mine: (r) => r.dataset.sender === 'agent' && !r.classList.contains('msg-internal'),
    theirs: (r) => r.dataset.sender === 'end_user',
    className: 'ticks',
    srClass: 'sr-only',
    sendDelivered: (seq) => {
      const id = o.current();
      if (id) o.socket.emit('message_delivered', { conversation_id: id, seq });
    },
  });
  o.socket.on('messages_delivered', (e) => {
    if (e.conversation_id === o.current() && e.recipient_type === 'end_user') ticks.delivered(e.seq);
  });
  o.socket.on('messages_read', (e) => {
    if (e.conversation_id === o.current() && e.reader_type === 'end_user')
      ticks.read(e.message_ids, e.read_at);
  });
  return {
    /** Another conversation opens in the list. */
    reset: () => ticks.reset(),
    /** A join's answer: where the visitor stands on the agents' messages. */
    joined(conversationId: string, s: DeliveryState | undefined) {
      if (!s || conversationId !== o.current()) return;
      ticks.snapshot({
        delivered_seq: s.visitor_delivered_seq,
        read_seq: s.visitor_read_seq,
        read_at: s.visitor_read_at,
      });
    },
  };
}
