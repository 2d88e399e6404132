// The Socket.IO wire contract: every event, its payload and its acknowledgement, in one place
// (socket.io `examples/typescript-example`). The server is `new Server<ClientToServerEvents,
// ServerToClientEvents, InterServerEvents, SocketData>`; the inbox and the widget import this
// module type-only, so it must stay types only: nothing here exists at runtime.
// Event names and payload fields are the spec's; events and fields the spec does not list are
// marked as ours.

import type { ErrorCode } from '../shared/errors.js';

// ---- shared pieces ------------------------------------------------------------------------------

/** Who writes on the chat gateways (`send_message`, `user_typing`). */
export type ClientSenderType = 'end_user' | 'agent';
/** Who a stored message is from. */
export type MessageSenderType = ClientSenderType | 'bot' | 'system';
export type ContentType = 'text' | 'image' | 'file' | 'quick_button' | 'carousel' | 'dropdown';
/**
 * Structured payload of a non-text message (the spec's Rich Media Types); its shape depends on
 * `content_type` and is checked on write, so clients still read each field defensively.
 */
export type RichMedia = Record<string, unknown>;

/**
 * Client → server payloads are JSON objects; some native clients send them as a JSON string of
 * that object, which the server accepts too.
 */
export type Wire<T> = T | string;

/** What every acknowledgement of a failed event says (the same text comes as the `error` event). */
export type AckError = {
  ok: false;
  /**
   * A code of `shared/errors.ts`; `rate_limited` when an end user's message was dropped (no
   * `error` event then), `unavailable` while the server shuts down.
   */
  error: ErrorCode;
  message: string;
  /**
   * Ours: with `unavailable` and `rate_limited`, seconds to wait before sending again (the same
   * `client_msg_id`, so a retry can never store the message twice).
   */
  retry_after?: number;
};
/** The acknowledgement of a client → server event: `{ ok: true, ...reply }` or the failure. */
export type Ack<Reply extends object> = ({ ok: true } & Reply) | AckError;
export type AckCallback<Reply extends object> = (ack: Ack<Reply>) => void;

// ---- client → server ----------------------------------------------------------------------------

export type ConversationRef = { conversation_id: string };

/** End users prove themselves with `external_id`; agents by their session cookie. */
export type JoinConversationPayload = {
  conversation_id: string;
  external_id?: string;
  /** `hex(hmac_sha256(tenant_secret, external_id))` from the tenant's backend, where the identity mode asks for it. */
  user_hash?: string;
  /**
   * Ours: catch-up. Every message with a higher `seq` is sent again as `message_received`, in
   * order, before the ack (at most 500; `has_more` asks for another join with the new last seq).
   * A client gives the highest `seq` up to which it has every message, so a gap is filled too.
   */
  last_seq?: number;
  /** Ours, older: catch-up after the message with this id (as `last_seq` = its seq). */
  last_message_id?: string;
};
/**
 * `missed`: messages replayed (as `message_received`); `last_seq`: the conversation's highest
 * `seq` when the replay was read (0 when empty), so a client that replayed everything holds every
 * message up to it, holes included; `has_more`: the replay stopped at its limit.
 */
export type JoinConversationReply = {
  conversation_id: string;
  missed: number;
  last_seq: number;
  has_more: boolean;
  /** Ours: both sides' delivered and read state, to draw ticks (see `messages_delivered`). */
  delivery: DeliveryState;
};

/**
 * Ours: `agent_*` is what the agents' side received (highest seq) and read (latest visitor
 * message read, and when) of the visitor's messages; `visitor_*` the same the other way.
 */
export type DeliveryState = {
  agent_delivered_seq: number;
  visitor_delivered_seq: number;
  agent_read_seq: number;
  agent_read_at: string | null;
  visitor_read_seq: number;
  visitor_read_at: string | null;
};

export type LeaveConversationPayload = ConversationRef;
export type LeaveConversationReply = ConversationRef;

export type SendMessagePayload = {
  conversation_id: string;
  /** May be empty when `rich_media` is given. */
  content?: string;
  /** Default `text`. */
  content_type?: ContentType;
  rich_media?: RichMedia | null;
  sender_type: ClientSenderType;
  /** Required for `end_user` until the conversation is joined on this socket. */
  external_id?: string;
  /** `hex(hmac_sha256(tenant_secret, external_id))` from the tenant's backend, where the identity mode asks for it. */
  user_hash?: string;
  /** Ours: idempotency key; a retry with the same key answers the stored message. */
  client_msg_id?: string;
  /** Ours: an internal note, agents only (an end user sending it is refused). */
  internal?: boolean;
};
/** The stored message; `duplicate` when `client_msg_id` had been stored before. */
export type SendMessageReply = { message: MessageReceived; duplicate: boolean };

export type ClaimConversationPayload = ConversationRef;
/** The open session, now on the agent (the REST assign answer plus `conversation_id`). */
export type ClaimConversationReply = {
  conversation_id: string;
  id: string;
  session_id: string;
  assigned_agent_id: string;
  assigned_at: string;
};

/** Ours: `release_conversation`, the same service as `POST /api/conversations/:id/release`. */
export type ReleaseConversationPayload = ConversationRef;
/** The open session, back in the queue; `released_from` held it. */
export type ReleaseConversationReply = {
  conversation_id: string;
  id: string;
  session_id: string;
  assigned_agent_id: null;
  released_from: string;
  released_at: string;
};

/** Ours: `transfer_conversation`, the same service as `POST /api/conversations/:id/transfer`. */
export type TransferConversationPayload = { conversation_id: string; agent_id: string };
/** The open session, now on `assigned_agent_id`; `transferred_from` held it. */
export type TransferConversationReply = {
  conversation_id: string;
  id: string;
  session_id: string;
  assigned_agent_id: string;
  transferred_from: string;
  assigned_at: string;
};

/**
 * Ours: `follow_mine` (agents): the socket joins the rooms of the agent's own conversations (an
 * open session they hold), the newest 500; `complete` is false when they hold more.
 */
export type FollowMineReply = { conversation_ids: string[]; complete: boolean };

/** `join_queue` and `user_typing` answer nothing but `ok`. */
export type EmptyReply = Record<never, never>;

/** Agents online in the organization now (each also arrives as `agent_status_changed`). */
export type JoinOrgPresenceReply = { online: string[] };

export type UserTypingPayload = {
  conversation_id: string;
  sender_type: ClientSenderType;
  external_id?: string;
  /** `hex(hmac_sha256(tenant_secret, external_id))` from the tenant's backend, where the identity mode asks for it. */
  user_hash?: string;
};

/** The reader is the end user when `external_id` is given or the socket joined as one. */
export type MarkReadPayload = {
  conversation_id: string;
  message_ids: string[];
  external_id?: string;
  /** `hex(hmac_sha256(tenant_secret, external_id))` from the tenant's backend, where the identity mode asks for it. */
  user_hash?: string;
};
/** `message_ids`: those newly read (the reader's own messages and earlier reads are skipped). */
export type MarkReadReply = {
  conversation_id: string;
  message_ids: string[];
  reader_id: string;
  read_at: string;
};

/** Ours: `message_delivered`, a receipt: this client holds the conversation up to `seq`. */
export type MessageDeliveredPayload = {
  conversation_id: string;
  seq: number;
  external_id?: string;
  /** `hex(hmac_sha256(tenant_secret, external_id))` from the tenant's backend, where the identity mode asks for it. */
  user_hash?: string;
};
export type MessageDeliveredReply = { conversation_id: string; seq: number };

/** The success part of each event's acknowledgement. */
export interface ClientEventReplies {
  join_conversation: JoinConversationReply;
  leave_conversation: LeaveConversationReply;
  send_message: SendMessageReply;
  claim_conversation: ClaimConversationReply;
  release_conversation: ReleaseConversationReply;
  transfer_conversation: TransferConversationReply;
  join_queue: EmptyReply;
  follow_mine: FollowMineReply;
  join_org_presence: JoinOrgPresenceReply;
  user_typing: EmptyReply;
  mark_read: MarkReadReply;
  message_delivered: MessageDeliveredReply;
}

export interface ClientToServerEvents {
  join_conversation: (
    payload: Wire<JoinConversationPayload>,
    ack?: AckCallback<JoinConversationReply>,
  ) => void;
  leave_conversation: (
    payload: Wire<LeaveConversationPayload>,
    ack?: AckCallback<LeaveConversationReply>,
  ) => void;
  send_message: (payload: Wire<SendMessagePayload>, ack?: AckCallback<SendMessageReply>) => void;
  claim_conversation: (
    payload: Wire<ClaimConversationPayload>,
    ack?: AckCallback<ClaimConversationReply>,
  ) => void;
  release_conversation: (
    payload: Wire<ReleaseConversationPayload>,
    ack?: AckCallback<ReleaseConversationReply>,
  ) => void;
  transfer_conversation: (
    payload: Wire<TransferConversationPayload>,
    ack?: AckCallback<TransferConversationReply>,
  ) => void;
  join_queue: (ack?: AckCallback<EmptyReply>) => void;
  follow_mine: (ack?: AckCallback<FollowMineReply>) => void;
  join_org_presence: (ack?: AckCallback<JoinOrgPresenceReply>) => void;
  user_typing: (payload: Wire<UserTypingPayload>, ack?: AckCallback<EmptyReply>) => void;
  mark_read: (payload: Wire<MarkReadPayload>, ack?: AckCallback<MarkReadReply>) => void;
  message_delivered: (
    payload: Wire<MessageDeliveredPayload>,
    ack?: AckCallback<MessageDeliveredReply>,
  ) => void;
}

// ---- server → client ----------------------------------------------------------------------------

/** `message_received`, to `conv:{id}`: the spec's fields plus `client_msg_id` for de-duplication. */
export type MessageReceived = {
  id: string;
  conversation_id: string;
  session_id: string;
  sender_type: MessageSenderType;
  /** external_id for end users; the user id for agents. */
  sender_id: string;
  content_type: ContentType;
  content: string;
  rich_media: RichMedia | null;
  client_msg_id: string | null;
  created_at: string;
  /**
   * Ours: the message's place in its conversation, 1, 2, 3, … in commit order. A client that sees
   * a `seq` beyond the one after its last has missed something and asks for the range
   * (`join_conversation` with `last_seq`). Numbers may rarely be skipped (a write that did not
   * complete), so the range's answer, not the count, is the truth. The same message may arrive
   * twice (a retried send is broadcast again): de-duplicate by `id`.
   */
  seq: number;
  /** Ours: present (true) on an internal note, which only agents ever receive. */
  internal?: true;
};

/**
 * Ours: a conversation as the inbox list shows it (`GET /api/conversations` rows), sent with
 * `conversation_updated`.
 */
export type ConversationListItem = {
  id: string;
  organization_id: string;
  end_user: {
    id: string;
    display_name: string | null;
    external_id: string;
    contact_email: string | null;
    contact_email_verified: boolean;
  };
  channel_id: string;
  routing_key: string | null;
  mode: 'bot' | 'human';
  active_session: {
    id: string;
    status: 'open' | 'resolved';
    assigned_agent_id: string | null;
    tags: string[];
    first_message_at: string | null;
    assigned_at: string | null;
  } | null;
  last_message_at: string | null;
  created_at: string;
  updated_at: string;
  last_message: LastMessagePreview | null;
};

/** `conversation_updated`, to the queue rooms: a new support interaction began. */
export type ConversationUpdated = {
  conversation_id: string;
  sender_type: MessageSenderType;
  content_type: ContentType;
  content: string;
  /**
   * Ours: the conversation as the inbox list shows it (`GET /api/conversations`), read when the
   * event was sent; absent when it could not be read (the inbox reads its list then).
   */
  conversation?: ConversationListItem;
  /**
   * Ours: sent again because the visitor retried the session's first message, whose first answer
   * was lost (the event may never have gone out); a client that counted it must not count it twice.
   */
  redelivered?: true;
};

/** Ours: a conversation's latest message as the inbox list shows it (content cut to ~140). */
export type LastMessagePreview = {
  sender_type: MessageSenderType;
  sender_id: string;
  content_type: ContentType;
  content: string;
  created_at: string;
  internal: boolean;
};

/**
 * Ours: `conversation_activity`, on every message to the sockets of the queue rooms that did not
 * ask for batches (notes included: only agents are in them): the list row's preview, time and
 * order follow without a reload.
 */
export type ConversationActivity = { conversation_id: string; last_message: LastMessagePreview };

/**
 * Ours: `conversation_activity_batch`, for sockets that asked at the handshake
 * (`auth: { activity: 'batch' }`): the queue's `conversation_activity` of the last 100 ms at most,
 * the latest per conversation, oldest first, instead of one event per message (issue 23: a busy
 * queue otherwise costs every agent a write per message). At most the 50 newest conversations;
 * `omitted`, when present, counts the older activity left out (reload the list to see it). After a
 * batch with `omitted`, the queue's next batch comes a second after it at the earliest.
 */
export type ConversationActivityBatch = {
  items: ConversationActivity[];
  omitted?: number;
  /**
   * With `omitted`: how many of those left out were in conversations waiting in the queue (nobody
   * held the session), and how many in conversations someone held; the rest are not known. A list
   * of unassigned conversations need not reload for activity all held by someone.
   */
  omitted_unassigned?: number;
  omitted_held?: number;
};

/**
 * Ours: `visitor_updated`, to the queue rooms: an agent changed the visitor's name or email.
 */
export type VisitorUpdated = {
  conversation_id: string;
  end_user_id: string;
  display_name: string | null;
  email: string | null;
};

/**
 * `conversation_assigned`, to the queue rooms: claimed, or (ours) transferred, when it also goes
 * to the previous holder's sockets, which learn from `assigned_to` that it is no longer theirs.
 */
export type ConversationAssigned = {
  conversation_id: string;
  assigned_to: string;
  /** Ours: the open session, and the conversation's queue (null: the common one). */
  session_id: string;
  routing_key: string | null;
  /**
   * Ours: who held the session before: null when it waited in the queue (a claim), the previous
   * holder for a transfer; absent when the assignment opened the session (an agent wrote first).
   */
  previous_agent_id?: string | null;
  /**
   * Ours: sent again for a retried send whose first answer was lost (its events may never have
   * gone out); a client that already counted the assignment must not count it twice.
   */
  redelivered?: true;
};

/**
 * Ours: `conversation_released`, to the queue rooms and the previous holder's sockets: the open
 * session is unassigned again. `released_by` is the holder or the admin who released it.
 */
export type ConversationReleased = {
  conversation_id: string;
  session_id: string;
  released_by: string;
  /** Who held it, and the conversation's queue (null: the common one). */
  previous_agent_id: string;
  routing_key: string | null;
};

/**
 * Ours: `conversation_resolved`, to `conv:{id}` and the queue rooms; the agents in the queue rooms
 * also learn the queue and who held the session (null: nobody), to keep their filters' counts.
 */
export type ConversationResolved = {
  conversation_id: string;
  session_id: string;
  resolved_at: string;
  routing_key?: string | null;
  previous_agent_id?: string | null;
};

/** Ours: `conversation_tagged`, to the queue rooms only (tags are internal). */
export type ConversationTagged = {
  conversation_id: string;
  session_id: string;
  tags: string[];
  /** When these tags were set (ISO): a client ignores an event older than the tags it shows. */
  tagged_at: string;
};

/** Ours: `messages_read`, to `conv:{id}` (the spec reserves `mark_read` without a reply event). */
export type MessagesRead = {
  conversation_id: string;
  message_ids: string[];
  reader_type: ClientSenderType;
  reader_id: string;
  read_at: string;
};

/**
 * Ours: `messages_delivered`, to `conv:{id}`: the `recipient_type` side's clients hold every
 * message up to `seq`, so the other side's messages up to it are delivered. Batched (at most one
 * per conversation and side per flush interval) and only when `seq` grows.
 */
export type MessagesDelivered = {
  conversation_id: string;
  recipient_type: ClientSenderType;
  seq: number;
  delivered_at: string;
};

/** `typing_indicator`, to `conv:{id}` except the typist; `bot` is reserved for automated replies. */
export type TypingIndicator = { conversation_id: string; sender_type: ClientSenderType | 'bot' };

/** `typing_cleared`, to `conv:{id}`: the typist sent, went silent, or left. */
export type TypingCleared = { conversation_id: string };

export type AgentStatus = 'online' | 'offline';
/** `agent_status_changed`, to `org:{org_id}:presence`. */
export type AgentStatusChanged = { agent_id: string; status: AgentStatus };

/** `error`, to the sender only: the reason an event failed. */
export type SocketError = { message: string };

/**
 * Ours: `resync`, to every socket of a node whose link to the other nodes (Redis) was down: live
 * events may have been missed meanwhile. A client re-joins each conversation it shows with its
 * `last_seq` (and an inbox reloads its list); nothing else is needed. Also to the sockets that were
 * connected when another node stopped without closing (`node_lost`, some 15 s later): what it had
 * stored and not yet sent was never sent. And to an agent's sockets whose role or routing keys
 * changed (`access_changed`): what they may see is no longer the same.
 */
export type Resync = { reason: 'redis_reconnected' | 'node_lost' | 'access_changed' };

/**
 * Ours: `ticket_updated`, to the queue rooms of the ticket's queue: a ticket was created or changed
 * (status, priority, subject, assignee). Inboxes read it again (`GET /api/tickets/:id`).
 */
export type TicketUpdated = { ticket_id: string; kind: 'created' | 'updated'; routing_key: string | null };

/**
 * Ours: `conversation_rated`, to the queue rooms: the visitor rated a resolved session (or changed
 * their rating). The end user learns they may rate from `conversation_resolved`.
 */
export type ConversationRated = {
  conversation_id: string;
  session_id: string;
  score: number;
  comment: string | null;
  updated_at: string;
};

/** Ours: `contact_left`, to the queue rooms: the visitor left an email to be answered at (unverified). */
export type ContactLeft = { conversation_id: string; email: string; verified: false };

export interface ServerToClientEvents {
  message_received: (message: MessageReceived) => void;
  conversation_updated: (event: ConversationUpdated) => void;
  conversation_assigned: (event: ConversationAssigned) => void;
  conversation_released: (event: ConversationReleased) => void;
  conversation_resolved: (event: ConversationResolved) => void;
  conversation_tagged: (event: ConversationTagged) => void;
  messages_read: (event: MessagesRead) => void;
  messages_delivered: (event: MessagesDelivered) => void;
  typing_indicator: (event: TypingIndicator) => void;
  typing_cleared: (event: TypingCleared) => void;
  agent_status_changed: (event: AgentStatusChanged) => void;
  resync: (event: Resync) => void;
  ticket_updated: (event: TicketUpdated) => void;
  conversation_rated: (event: ConversationRated) => void;
  contact_left: (event: ContactLeft) => void;
  conversation_activity: (event: ConversationActivity) => void;
  conversation_activity_batch: (event: ConversationActivityBatch) => void;
  visitor_updated: (event: VisitorUpdated) => void;
  error: (event: SocketError) => void;
}

// ---- between nodes --------------------------------------------------------------------------------

/** Nodes talk only through the adapter's broadcasts: no events of their own. */
export type InterServerEvents = {
  /**
   * Ours, between nodes: a node's rooms of per-message queue activity that have a socket there
   * (`add`, `remove`, or its whole set: `all`), see live-rooms.ts; `live_rooms_ack` is the same,
   * acknowledged by every node.
   */
  live_rooms: (node: string, rooms: string[], op: 'add' | 'remove' | 'all') => void;
  live_rooms_ack: (node: string, rooms: string[], op: 'add' | 'all', ack: (ok: true) => void) => void;
  /** Ours, between nodes: every other node answers with its id and its live rooms. */
  live_rooms_query: (ack: (reply: [node: string, rooms: string[]]) => void) => void;
  /**
   * Ours, between nodes: the node that reaped a silent node (presence.ts) names it to the others,
   * with the milliseconds since its last heartbeat.
   */
  node_lost: (node: string, silentMs: number) => void;
};

/** What other nodes may read about a socket (`fetchSockets()`); plain data only. */
export type SocketData = { userId?: string; organizationId?: string };
