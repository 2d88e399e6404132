// The wire shapes of the visitor API and the visitor WebSocket, as the server sends them
// (root README, "Visitor side" and "Visitor WebSocket").

/** Every relay answer: `{status_code, data, message}`; errors add `error` (and `data: null`). */
export type Envelope<T> = {
  status_code: number;
  data: T;
  message: string;
  error?: string;
  param?: string;
  retry_after?: number;
};

/** The branding keys of the tenant's config a widget may show (colours, texts, logo…). */
export type Branding = Record<string, string | number | boolean>;

/** `GET /fetch/widget-config`: enough to draw the launcher. */
export type WidgetConfig = {
  tenant_id: string;
  tenant_name: string;
  is_online: boolean;
  locale: string;
  branding: Branding;
  /** While no agent is online: `message` shows `branding.offline_message`, `hide` hides the launcher. */
  offline_behaviour?: 'message' | 'hide';
  /** Within the tenant's business hours (always, when it has none). */
  is_open?: boolean;
  /** Open and an agent online; when false the widget offers to leave an email. */
  available?: boolean;
};

export type ConversationMode = 'bot' | 'human';

/** A visitor session's token, as `refresh/visitor-token` answers it. */
export type VisitorToken = {
  session_id: string;
  visitor_token: string;
  /** The token's expiry (ISO 8601). */
  expires_at: string;
  /** The server-side session's expiry. */
  session_expires_at: string;
  conversation_id: string;
  mode: ConversationMode;
  locale: string;
};

/** `POST /create/visitor-session`. */
export type VisitorSession = VisitorToken & { widget_config: WidgetConfig };

/** `POST /identify/visitor`. */
export type IdentifiedVisitor = VisitorToken & { user_id: string };

/** `POST /api/v1/attachments`: a stored upload, to send as an `image` or `file` message. */
export type Attachment = {
  id: string;
  /** The link a message names (absolute, unsigned: every copy that leaves the server is signed). */
  url: string;
  /** A signed download link to show the uploader their file at once (valid about an hour). */
  preview_url?: string;
  filename: string;
  content_type: string;
  /** Bytes. */
  size: number;
  /** `image` for the image types the server shows inline, else `file`. */
  kind: 'image' | 'file';
};

/** Who wrote a message, as the visitor sees it. */
export type Role = 'visitor' | 'agent' | 'bot' | 'system';

export type ContentType = 'text' | 'image' | 'file' | 'quick_button' | 'carousel' | 'dropdown';

export type MsgFrame = {
  type: 'msg';
  id: string;
  /** The message's number in its conversation. */
  seq: number;
  role: Role;
  sender_id: string;
  content_type: ContentType | (string & {});
  content: string;
  rich_media: Record<string, unknown> | null;
  client_msg_id: string | null;
  created_at: string;
};

export type WelcomeFrame = {
  type: 'welcome';
  session_id: string;
  conversation_id: string;
  visitor_id: string;
  mode: ConversationMode;
  locale: string;
  expires_at: string;
  session_expires_at: string;
  widget_config: WidgetConfig;
  /** `msg` frames after the cursor (or the 50 most recent), oldest first. */
  history: MsgFrame[];
  resumed: boolean;
  last_seq: number;
  has_more: boolean;
  heartbeat_s: number;
  max_frame_bytes: number;
  /** Where both sides stand (ticks after a reload); absent from older servers. */
  delivery?: DeliveryState;
};

/**
 * `agent_*`: what the agents' side received (highest seq) and read (latest visitor message read,
 * and when) of the visitor's messages; `visitor_*`: the same the other way.
 */
export type DeliveryState = {
  agent_delivered_seq: number;
  visitor_delivered_seq: number;
  agent_read_seq: number;
  agent_read_at: string | null;
  visitor_read_seq: number;
  visitor_read_at: string | null;
};

/** The agents' side holds the conversation up to `seq`: the visitor's messages up to it are delivered. */
export type DeliveredFrame = { type: 'delivered'; role: 'agent'; seq: number; delivered_at: string };
/** An agent read these of the visitor's messages. */
export type ReadFrame = { type: 'read'; role: 'agent'; message_ids: string[]; read_at: string };

export type AckFrame = {
  type: 'ack';
  client_msg_id: string;
  id: string;
  seq: number;
  created_at: string;
  duplicate: boolean;
};

export type TypingFrame = { type: 'typing'; role: Role; state: 'start' | 'stop' };
export type PongFrame = { type: 'pong'; time: string };
export type ErrorFrame = {
  type: 'error';
  code: string;
  message: string;
  client_msg_id?: string;
  retry_after?: number;
};
export type ResumedFrame = { type: 'resumed'; missed: number; last_seq: number; has_more: boolean };
export type ResyncFrame = { type: 'resync'; reason: string };
/** An agent resolved the conversation: the visitor may rate it (`POST /api/v1/visitor/rating`). */
export type RatingRequestFrame = {
  type: 'rating_request';
  conversation_id: string;
  session_id: string;
  resolved_at: string;
};

export type ServerFrame =
  | WelcomeFrame
  | AckFrame
  | MsgFrame
  | TypingFrame
  | PongFrame
  | ErrorFrame
  | ResumedFrame
  | ResyncFrame
  | RatingRequestFrame
  | DeliveredFrame
  | ReadFrame;

/** A visitor's message frame. */
export type OutgoingMsgFrame = {
  type: 'msg';
  client_msg_id: string;
  content: string;
  content_type?: ContentType;
  rich_media?: Record<string, unknown>;
};

export type ClientFrame =
  | OutgoingMsgFrame
  | { type: 'typing'; state: 'start' | 'stop' }
  | { type: 'ping' }
  | { type: 'resume'; last_seq?: number; last_message_id?: string }
  /** A receipt: this client holds the conversation up to `seq` (send it throttled). */
  | { type: 'delivered'; seq: number }
  /** The visitor saw these messages (visible, tab focused). */
  | { type: 'read'; message_ids: string[] };
