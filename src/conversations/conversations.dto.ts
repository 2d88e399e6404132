import type { Conversation, ConversationSession, EndUser, Message } from '../generated/prisma/client.js';
import type { MessageReceived, RichMedia } from '../realtime/realtime.contract.js';
import { contactOf } from '../ratings/ratings.service.js';
import { signRichMedia } from '../attachments/urls.js';
import { previewText } from './preview.js';
import type { Db } from '../shared/db.js';

/** What the spec's conversation shape is made of (a conversation read with its end user and sessions is one). */
export type ConversationView = Pick<
  Conversation,
  'id' | 'organizationId' | 'channelId' | 'routingKey' | 'mode' | 'lastMessageAt' | 'createdAt' | 'updatedAt'
> & {
  endUser: Pick<EndUser, 'id' | 'displayName' | 'externalId' | 'metadata'>;
  sessions: Pick<
    ConversationSession,
    'id' | 'status' | 'assignedAgentId' | 'tags' | 'firstMessageAt' | 'assignedAt'
  >[];
};

/** The spec's conversation shape (list items and single conversation alike). */
export function conversationDto(c: ConversationView) {
  const open = c.sessions.find((s) => s.status === 'open') ?? null;
  const contact = contactOf(c.endUser.metadata);
  return {
    id: c.id,
    organization_id: c.organizationId,
    end_user: {
      id: c.endUser.id,
      display_name: c.endUser.displayName,
      external_id: c.endUser.externalId,
      /** The email the visitor left to be answered at (typed by them, not verified), or null. */
      contact_email: contact?.email ?? null,
      contact_email_verified: contact?.verified ?? false,
    },
    channel_id: c.channelId,
    routing_key: c.routingKey,
    mode: c.mode,
    active_session: open
      ? {
          id: open.id,
          status: open.status,
          assigned_agent_id: open.assignedAgentId,
          tags: open.tags,
          first_message_at: open.firstMessageAt?.toISOString() ?? null,
          assigned_at: open.assignedAt?.toISOString() ?? null,
        }
      : null,
    last_message_at: c.lastMessageAt?.toISOString() ?? null,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}

/** The latest message of a conversation as the inbox list shows it (content cut to 140). */
export type LastMessage = {
  sender_type: Message['senderType'];
  /** The agent's user id, the bot's id, or the end user's external_id. */
  sender_id: string;
  content_type: Message['contentType'];
  content: string;
  created_at: string;
  internal: boolean;
};

export const lastMessageDto = (
  m: Pick<Message, 'senderType' | 'senderId' | 'contentType' | 'content' | 'createdAt' | 'internal'>,
): LastMessage => ({
  sender_type: m.senderType,
  sender_id: m.senderId,
  content_type: m.contentType,
  content: previewText(m.content),
  created_at: m.createdAt.toISOString(),
  internal: m.internal,
});

/** Agent history shape: everything, including session_id and read_by. */
export function messageDto(m: Message) {
  return {
    id: m.id,
    conversation_id: m.conversationId,
    session_id: m.sessionId,
    sender_type: m.senderType,
    sender_id: m.senderId,
    content_type: m.contentType,
    content: m.content,
    // Stored only after validation against its content type: an object, or null for text.
    // Attachment links are signed as they leave: the stored one is the canonical, unsigned URL.
    rich_media: signRichMedia(m.contentType, (m.richMedia ?? null) as RichMedia | null),
    read_by: m.readBy,
    client_msg_id: m.clientMsgId,
    created_at: m.createdAt.toISOString(),
    seq: m.seq,
    // Only on notes, so every other message keeps the spec's shape.
    ...(m.internal ? { internal: true as const } : {}),
  };
}

/** Widget history shape: what an end user may see (no session_id, no read_by). */
export function widgetMessageDto(m: Message) {
  const { session_id: _s, read_by: _r, ...rest } = messageDto(m);
  return rest;
}

/** The `message_received` event payload of the spec (plus client_msg_id for de-duplication). */
export function messageEventDto(m: Message): MessageReceived {
  const { read_by: _r, ...rest } = messageDto(m);
  return rest;
}

type LastMessageRow = {
  conversationId: string;
  senderType: LastMessage['sender_type'];
  senderId: string;
  contentType: LastMessage['content_type'];
  content: string;
  createdAt: Date;
  internal: boolean;
};

/**
 * The latest message of each of a page's conversations, in one query: a LATERAL join that takes
 * the top of the `(conversation_id, seq)` index per id (no N+1, no scan of whole threads).
 */
export async function lastMessagesOf(db: Db, ids: string[]): Promise<Map<string, LastMessage>> {
  if (!ids.length) return new Map();
  const rows = await db.$queryRaw<LastMessageRow[]>`
    SELECT p.id AS "conversationId", m.sender_type::text AS "senderType", m.sender_id AS "senderId",
           m.content_type::text AS "contentType", left(m.content, 141) AS content,
           m.created_at AS "createdAt", m.internal
    FROM unnest(${ids}::uuid[]) AS p(id)
    CROSS JOIN LATERAL (
      SELECT sender_type, sender_id, content_type, content, created_at, internal FROM messages
      WHERE conversation_id = p.id ORDER BY seq DESC LIMIT 1
    ) m`;
  return new Map(rows.map((r) => [r.conversationId, lastMessageDto(r)]));
}
