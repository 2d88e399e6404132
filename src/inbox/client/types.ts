// Wire shapes the inbox reads: the spec's REST bodies and Socket.IO payloads.

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

export type MessageDto = {
  id: string;
  conversation_id: string;
  session_id?: string;
  sender_type: 'end_user' | 'agent' | 'bot' | 'system';
  sender_id: string;
  content_type: 'text' | 'image' | 'file' | 'quick_button' | 'carousel' | 'dropdown';
  content: string;
  rich_media: Record<string, unknown> | null;
  read_by?: Record<string, string>;
  client_msg_id?: string | null;
  created_at: string;
};

export type Member = { id: string; display_name: string; role: string; status: string };

export type ConversationUpdated = {
  conversation_id: string;
  sender_type: string;
  content_type: string;
  content: string;
};
export type ConversationAssigned = { conversation_id: string; assigned_to: string };
export type TypingEvent = { conversation_id: string; sender_type: string };
export type AgentStatus = { agent_id: string; status: 'online' | 'offline' };
