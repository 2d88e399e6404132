// Wire shapes the inbox reads. Socket.IO payloads come from the server's contract (type-only:
// nothing of it reaches the bundle); the REST bodies that are not socket payloads are here.
import type { LastMessagePreview, MessageReceived } from '../../realtime/realtime.contract.js';
import type { ticketDto } from '../../tickets/tickets.dto.js';

export type { LastMessagePreview };
export type {
  ConversationActivityBatch,
  VisitorUpdated,
  ClientToServerEvents,
  ServerToClientEvents,
  SendMessagePayload,
  TypingCleared,
  TypingIndicator,
  DeliveryState,
} from '../../realtime/realtime.contract.js';

export type ConversationDto = {
  id: string;
  end_user: { id: string; display_name: string | null; external_id: string };
  channel_id: string;
  mode?: 'bot' | 'human';
  /** The latest message (null: none yet), as the list and `conversation_activity` show it. */
  last_message?: LastMessagePreview | null;
  /** The queue it waits in (null: the common one). */
  routing_key?: string | null;
  active_session: {
    id: string;
    status: 'open' | 'resolved';
    assigned_agent_id: string | null;
    tags: string[];
  } | null;
  last_message_at?: string | null;
  created_at: string;
  updated_at: string;
};

/** A message of the agent history (REST) or `message_received`; history adds `read_by`. */
export type MessageDto = MessageReceived & { read_by?: Record<string, string> };

export type Member = { id: string; display_name: string; role: string; status: string };

/** A ticket as `GET /api/tickets/:id` and the list's `items` show it. */
export type TicketDto = ReturnType<typeof ticketDto>;
export type TicketStatus = TicketDto['status'];
export type TicketPriority = TicketDto['priority'];
/** A page of `GET /api/tickets`: newest first; `next_cursor` null on the last page. */
export type TicketPage = { items: TicketDto[]; next_cursor: string | null };

/**
 * The server's `ticketTransitions` and `ticketPriorities` (tickets.schemas.ts), copied so the
 * bundle does not carry zod; the tickets browser test checks the copies agree.
 */
export const ticketTransitions: Record<TicketStatus, readonly TicketStatus[]> = {
  open: ['pending', 'resolved', 'closed'],
  pending: ['open', 'resolved', 'closed'],
  resolved: ['open', 'closed'],
  closed: ['open'],
};
export const ticketStatusList: readonly TicketStatus[] = ['open', 'pending', 'resolved', 'closed'];
export const ticketPriorityList: readonly TicketPriority[] = ['low', 'normal', 'high', 'urgent'];

/** A hit of `GET /api/conversations/search`: the list's summary and the best message's snippet. */
export type SearchHit = {
  conversation: ConversationDto;
  score: number;
  message_id: string | null;
  /** Plain text; matches sit between U+E000 and U+E001 (the client marks them, never as HTML). */
  snippet: string | null;
};
/** A page of search hits, best first; `next_cursor` null on the last page. */
export type SearchPage = { items: SearchHit[]; next_cursor: string | null };
