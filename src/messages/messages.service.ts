import type { Message } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import type { Actor, AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import { uuid } from '../shared/validation.js';
import { visibleTo } from '../conversations/conversations.service.js';
import { historyQuerySchema, sendMessageSchema, type SendMessage } from './messages.schemas.js';
import { z } from 'zod';

export type MessageService = ReturnType<typeof createMessageService>;

export type SendResult = { message: Message; duplicate: boolean; sessionOpened: boolean };

const forbidden = () => new AppError('auth/forbidden', 'Not allowed to access this conversation');
const notFound = () => new AppError('conversation/not_found', 'Conversation not found');

const markReadSchema = z.object({ conversation_id: uuid, message_ids: z.array(uuid).min(1).max(500) });

export function createMessageService({ db, bus }: { db: Db; bus: EventBus }) {
  /** The conversation the actor may write to, with its end user's external_id. */
  async function requireConversation(actor: Actor, conversationId: string) {
    if (actor.kind === 'agent') {
      const conv = await db.conversation.findFirst({
        where: { id: conversationId, ...visibleTo(actor) },
        include: { endUser: { select: { externalId: true } } },
      });
      if (!conv) throw notFound();
      return conv;
    }
    const conv = await db.conversation.findUnique({
      where: { id: conversationId },
      include: { endUser: { select: { externalId: true } } },
    });
    // Same answer for "no such conversation" and "not yours": a guess reveals nothing.
    if (!conv || conv.endUserId !== actor.endUserId || conv.organizationId !== actor.organizationId)
      throw forbidden();
    return conv;
  }

  async function findDuplicate(conversationId: string, clientMsgId: string | undefined) {
    if (!clientMsgId) return null;
    return db.message.findUnique({ where: { conversationId_clientMsgId: { conversationId, clientMsgId } } });
  }

  return {
    requireConversation,

    /**
     * Stores a message from an end user or an agent and publishes `message.created`.
     * The first message after a resolve opens a new session. A retry with the same
     * `client_msg_id` returns the stored message with `duplicate: true` and publishes nothing.
     */
    async send(actor: Actor, payload: unknown): Promise<SendResult> {
      const input: SendMessage = sendMessageSchema.parse(payload);
      if (input.sender_type !== actor.kind) {
        throw new AppError(
          'request/invalid',
          `Invalid parameter 'sender_type': must be ${actor.kind} for this client`,
          {
            param: 'sender_type',
          },
        );
      }
      const conv = await requireConversation(actor, input.conversation_id);
      const dup = await findDuplicate(conv.id, input.client_msg_id);
      if (dup) return { message: dup, duplicate: true, sessionOpened: false };

      const senderId = actor.kind === 'agent' ? actor.userId : actor.externalId;
      let result: { message: Message; sessionOpened: boolean };
      try {
        result = await db.$transaction(async (tx) => {
          const now = new Date();
          // Locks the conversation row: concurrent sends to one conversation open one session.
          await tx.conversation.update({
            where: { id: conv.id },
            data: { updatedAt: now, lastMessageAt: now },
          });
          let session = await tx.conversationSession.findFirst({
            where: { conversationId: conv.id, status: 'open' },
          });
          const sessionOpened = !session;
          session ??= await tx.conversationSession.create({
            data: {
              organizationId: conv.organizationId,
              conversationId: conv.id,
              firstMessageAt: now,
              // An agent writing first (outreach) owns the interaction they start.
              ...(actor.kind === 'agent' ? { assignedAgentId: actor.userId, assignedAt: now } : {}),
            },
          });
          const message = await tx.message.create({
            data: {
              organizationId: conv.organizationId,
              conversationId: conv.id,
              sessionId: session.id,
              senderType: actor.kind,
              senderId,
              contentType: input.content_type,
              content: input.content,
              richMedia: input.rich_media ?? Prisma.DbNull,
              clientMsgId: input.client_msg_id ?? null,
              createdAt: now,
            },
          });
          return { message, sessionOpened };
        });
      } catch (err) {
        // The same retry racing itself: the unique (conversation, client_msg_id) decides.
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          const again = await findDuplicate(conv.id, input.client_msg_id);
          if (again) return { message: again, duplicate: true, sessionOpened: false };
        }
        throw err;
      }
      bus.publish('message.created', {
        message: result.message,
        conversation: {
          id: conv.id,
          organizationId: conv.organizationId,
          channelId: conv.channelId,
          endUserId: conv.endUserId,
          endUserExternalId: conv.endUser.externalId,
          routingKey: conv.routingKey,
        },
        sessionOpened: result.sessionOpened,
      });
      return { ...result, duplicate: false };
    },

    /** Agent history: a page counted back from the newest message, returned oldest first. */
    async history(actor: AgentActor, conversationId: string, query: unknown) {
      const { limit, offset } = historyQuerySchema.parse(query ?? {});
      const conv = await requireConversation(actor, conversationId);
      const rows = await db.message.findMany({
        where: { conversationId: conv.id },
        orderBy: { seq: 'desc' },
        take: limit,
        skip: offset,
      });
      return rows.reverse();
    },

    /** The last `limit` messages, oldest first, for an end user proven by external_id. */
    async recent(conversationId: string, limit = 100) {
      const rows = await db.message.findMany({
        where: { conversationId },
        orderBy: { seq: 'desc' },
        take: limit,
      });
      return rows.reverse();
    },

    /** Messages after the one with id `afterId` (reconnect catch-up), oldest first. */
    async since(conversationId: string, afterId: string, limit = 500) {
      const last = await db.message.findFirst({
        where: { id: afterId, conversationId },
        select: { seq: true },
      });
      if (!last) return [];
      return db.message.findMany({
        where: { conversationId, seq: { gt: last.seq } },
        orderBy: { seq: 'asc' },
        take: limit,
      });
    },

    /**
     * Records that the actor read these messages (their own are skipped) in `read_by`
     * as `{ reader id: ISO time }`, and publishes `messages.read` with the ids newly read.
     */
    async markRead(actor: Actor, payload: unknown) {
      const { conversation_id, message_ids } = markReadSchema.parse(payload);
      const conv = await requireConversation(actor, conversation_id);
      const readerId = actor.kind === 'agent' ? actor.userId : actor.externalId;
      const readAt = new Date();
      // One statement: jsonb merge only where this reader is not recorded yet.
      const updated = await db.$queryRaw<{ id: string }[]>`
        UPDATE messages SET read_by = read_by || jsonb_build_object(${readerId}::text, ${readAt.toISOString()}::text)
        WHERE conversation_id = ${conv.id}::uuid AND id = ANY(${message_ids}::uuid[])
          AND NOT (read_by ? ${readerId}::text) AND NOT (sender_type::text = ${actor.kind} AND sender_id = ${readerId})
        RETURNING id`;
      const ids = updated.map((r) => r.id);
      if (ids.length) {
        bus.publish('messages.read', {
          organizationId: conv.organizationId,
          conversationId: conv.id,
          readerId,
          readerType: actor.kind,
          messageIds: ids,
          readAt,
        });
      }
      return {
        conversation_id: conv.id,
        message_ids: ids,
        reader_id: readerId,
        read_at: readAt.toISOString(),
      };
    },
  };
}
