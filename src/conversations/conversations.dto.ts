import type { Conversation, ConversationSession, EndUser, Message } from '../generated/prisma/client.js';
import type { MessageReceived, RichMedia } from '../realtime/realtime.contract.js';
import { contactOf } from '../ratings/ratings.service.js';
import { signRichMedia } from '../attachments/urls.js';

export type ConversationWithRelations = Conversation & {
  endUser: EndUser;
  sessions: ConversationSession[];
};

/** The spec's conversation shape (list items and single conversation alike). */
export function conversationDto(c: ConversationWithRelations) {
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
