// Wire shapes the inbox reads. Socket.IO payloads come from the server's contract (type-only:
// nothing of it reaches the bundle); the REST bodies that are not socket payloads are here.
import type { MessageReceived } from '../../realtime/realtime.contract.js';

export type {
  ClientToServerEvents,
  ServerToClientEvents,
  SendMessagePayload,
  TypingCleared,
  TypingIndicator,
} from '../../realtime/realtime.contract.js';

export type ConversationDto = {
  id: string;
  end_user: { id: string; display_name: string | null; external_id: string };
  channel_id: string;
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
