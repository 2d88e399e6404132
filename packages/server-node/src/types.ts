// The relay's answers as the SDK returns them: the `data` of the envelope, field names as on the
// wire (snake_case), so what you read here is what README.md's tables say.

/** Who a message is from (`role`). */
export const MessageRole = { Visitor: 'visitor', Agent: 'agent', Bot: 'bot', System: 'system' } as const;
export type MessageRole = (typeof MessageRole)[keyof typeof MessageRole];

/** A message's `sender_type` as stored (a visitor is `end_user`). */
export type SenderType = 'end_user' | 'agent' | 'bot' | 'system';

export const TicketStatus = {
  Open: 'open',
  Pending: 'pending',
  Resolved: 'resolved',
  Closed: 'closed',
} as const;
export type TicketStatus = (typeof TicketStatus)[keyof typeof TicketStatus];

export const TicketPriority = { Low: 'low', Normal: 'normal', High: 'high', Urgent: 'urgent' } as const;
export type TicketPriority = (typeof TicketPriority)[keyof typeof TicketPriority];

export const OperatorRole = { Agent: 'agent', Admin: 'admin' } as const;
export type OperatorRole = (typeof OperatorRole)[keyof typeof OperatorRole];

export const DeliveryStatus = { Pending: 'pending', Delivered: 'delivered', Failed: 'failed' } as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

/** The nine webhook events, each POSTed to `{callback_base_url}/api/v1/chat-callbacks/{event}`. */
export const WebhookEventType = {
  ConversationStarted: 'conversation-started',
  MessageReceived: 'message-received',
  TicketCreated: 'ticket-created',
  TicketAssigned: 'ticket-assigned',
  TicketResolved: 'ticket-resolved',
  EscalationTriggered: 'escalation-triggered',
  AgentAssigned: 'agent-assigned',
  AgentReleased: 'agent-released',
  AgentResolved: 'agent-resolved',
} as const;
export type WebhookEventType = (typeof WebhookEventType)[keyof typeof WebhookEventType];
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = Object.values(WebhookEventType);

export type JsonObject = { [key: string]: unknown };

/** One page of a list: `next_cursor` is null on the last page. */
export type Page<T> = { items: T[]; next_cursor: string | null };

/** The relay's envelope around every answer. */
export type Envelope<T> = {
  status_code: number;
  data: T;
  message: string;
  error?: string;
  param?: string;
  [extra: string]: unknown;
};

export type UsageDay = {
  day: string;
  sessions: number;
  messages: number;
  api_calls: number;
  webhooks_sent: number;
};
export type Usage = { days: UsageDay[]; totals: Omit<UsageDay, 'day'> };

export type Conversation = {
  /** The same as `conversation_id`. */
  id: string;
  conversation_id: string;
  visitor_user_id: string;
  visitor_display_name: string | null;
  locale: string | null;
  /** `bot` while the bot answers, `human` once escalated (or from the start). */
  mode: 'bot' | 'human';
  metadata: JsonObject | null;
  routing_key: string | null;
  last_message_at: string | null;
  created_at: string;
};
/** The visitor's rating of a resolved session (1–5, an optional comment). */
export type Rating = {
  session_id: string;
  conversation_id: string;
  score: number;
  comment: string | null;
  created_at: string;
  updated_at: string;
};
/** `conversations.get`: the conversation with its latest rating (null: none yet). */
export type ConversationDetail = Conversation & { rating: Rating | null };
/** `conversations.create`: the conversation, and whether this call made it. */
export type OpenedConversation = Conversation & { created: boolean };

/** A message's `content_type`: `text`, or rich media (`rich_media` then holds its fields). */
export type ContentType = 'text' | 'image' | 'file' | 'quick_button' | 'carousel' | 'dropdown';

export type Message = {
  id: string;
  conversation_id: string;
  session_id: string | null;
  sender_type: SenderType;
  sender_id: string | null;
  content_type: string;
  content: string;
  rich_media: JsonObject | null;
  read_by: unknown;
  client_msg_id: string | null;
  created_at: string;
  seq: number;
  /** Only on an operator's internal note (listed with `include_internal: true`). */
  internal?: true;
};
/** A file stored by `attachments.upload`: name `url` in an image or file message's `rich_media`. */
export type Attachment = {
  id: string;
  /** The canonical URL a message names (the relay signs every copy it sends out). */
  url: string;
  /** A signed link to the file, valid for an hour. */
  preview_url: string;
  filename: string;
  /** The type the bytes proved to be (whatever the upload claimed). */
  content_type: string;
  size: number;
  kind: 'image' | 'file';
};
/** A message just sent: its `role`, and `duplicate` when `client_msg_id` had been used. */
export type SentMessage = Message & { role: MessageRole; duplicate: boolean };

export type AgentRef = { id: string; external_id: string | null; display_name: string | null };

export type Ticket = {
  id: string;
  number: number;
  conversation_id: string | null;
  subject: string;
  summary: string | null;
  status: TicketStatus;
  priority: TicketPriority;
  assignee_id: string | null;
  assignee: AgentRef | null;
  routing_key: string | null;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  closed_at: string | null;
};
export type Escalation = { escalated: boolean; ticket: Ticket | null };

export type KnowledgeDocument = {
  id: string;
  title: string;
  body: string;
  format: 'text' | 'markdown';
  url: string | null;
  tags: string[];
  language: string;
  /** How many passages the document was split into. */
  passages: number;
  created_at: string;
  updated_at: string;
};
export type KnowledgeHit = {
  document_id: string;
  title: string;
  url: string | null;
  heading: string | null;
  content: string;
  score: number;
};

export type Operator = {
  external_id: string;
  id: string;
  display_name: string | null;
  email: string | null;
  role: OperatorRole;
  status: 'active' | 'deactivated';
  routing_keys: string[];
  last_login_at: string | null;
  created_at: string;
};
export type OperatorToken = { operator_token: string; expires_at: string; login_url: string };

export type VisitorToken = {
  session_id: string;
  visitor_token: string;
  expires_at: string;
  session_expires_at: string;
  conversation_id: string;
  mode: string;
  locale: string | null;
};

export type WebhookConfig = {
  callback_base_url: string | null;
  events: WebhookEventType[];
  available_events: WebhookEventType[];
};
export type Delivery = {
  id: string;
  event: WebhookEventType;
  conversation_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_latency_ms: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
};
export type DeliveryAttempt = {
  attempt: number;
  status_code: number | null;
  ok: boolean;
  error: string | null;
  latency_ms: number;
  response_excerpt: string | null;
  url: string;
  at: string;
};
export type DeliveryDetail = Delivery & { data: JsonObject; attempt_log: DeliveryAttempt[] };

export type RotatedSecret = { tenant_secret: string; previous_secret_valid_hours: number };

// ---- Webhook events -------------------------------------------------------------------------

export type WebhookMessage = {
  id: string;
  seq: number;
  role: MessageRole;
  sender_id: string | null;
  content_type: string;
  content: string;
  rich_media: JsonObject | null;
  created_at: string;
};

/** A ticket as webhooks carry it. */
export type WebhookTicket = {
  ticket_id: string;
  number: number;
  conversation_id: string | null;
  subject: string;
  summary: string | null;
  status: TicketStatus;
  priority: TicketPriority;
  routing_key: string | null;
  assignee: AgentRef | null;
  created_at: string;
};

/** Each event's `data`. */
export type WebhookEventData = {
  'conversation-started': {
    conversation_id: string;
    session_id: string;
    visitor_user_id: string | null;
    visitor_display_name: string | null;
    channel_id: string;
    routing_key: string | null;
    locale: string | null;
    metadata: JsonObject | null;
    reopened: boolean;
  };
  'message-received': { conversation_id: string; session_id: string | null; message: WebhookMessage };
  'agent-assigned': {
    conversation_id: string;
    session_id: string;
    agent: AgentRef | null;
    previous_agent: AgentRef | null;
  };
  'agent-released': { conversation_id: string; session_id: string; agent: AgentRef | null };
  'agent-resolved': {
    conversation_id: string;
    session_id: string;
    agent: AgentRef | null;
    resolved_at: string;
  };
  'escalation-triggered': {
    conversation_id: string;
    reason: string;
    routing_key: string | null;
    escalated_at: string;
  };
  'ticket-created': WebhookTicket;
  'ticket-assigned': WebhookTicket & { previous_assignee: AgentRef | null };
  'ticket-resolved': WebhookTicket & { resolved_at: string };
};

/**
 * A webhook's body. A test event (`webhooks.test`) has the type it names and
 * `data: {test: true, note}` instead.
 */
export type WebhookEvent<T extends WebhookEventType = WebhookEventType> = {
  [K in T]: { id: string; type: K; tenant_id: string; created_at: string; data: WebhookEventData[K] };
}[T];
