import type { Organization, Prisma } from '../generated/prisma/client.js';
import { channelRevoked, type ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import type { MessageService } from '../messages/messages.service.js';
import type { AgentService } from '../agents/agents.service.js';
import type { OperatorService } from './operators.service.js';
import { sendMessageSchema } from '../messages/messages.schemas.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import { userHash } from '../tenants/identity.js';
import type { SessionClock, VisitorService } from './visitor.service.js';
import type {
  BackendMessage,
  MintVisitorToken,
  ListConversations,
  ListMessages,
  OpenBackendConversation,
} from './backend.schemas.js';

export type BackendService = ReturnType<typeof createBackendService>;

const conversationNotFound = () => new AppError('conversation/not_found', 'Conversation not found');

const badCursor = () =>
  new AppError('request/invalid', "Invalid parameter 'cursor': use the next_cursor of the previous page", {
    param: 'cursor',
  });

/** A conversation page's cursor: the last row's creation time and id, opaque to the caller. */
const conversationCursor = (c: { createdAt: Date; id: string }) =>
  Buffer.from(`${c.createdAt.toISOString()}|${c.id}`, 'utf8').toString('base64url');

function readConversationCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(createdAt.getTime())) throw badCursor();
  return { createdAt, id };
}

const endUserSelect = { select: { id: true, externalId: true, displayName: true } } as const;

/**
 * What the tenant's backend does through the signed API (`/api/v1/relay/*`). The caller is the
 * tenant itself, already verified (HMAC#1): it vouches for its users, so they are verified users.
 */
export function createBackendService({
  db,
  channels,
  conversations,
  messages,
  visitors,
  operators,
  agents,
}: {
  db: Db;
  operators: Pick<OperatorService, 'requireActive'>;
  agents: Pick<AgentService, 'actorFor'>;
  channels: ChannelService;
  conversations: ConversationService;
  messages: MessageService;
  visitors: VisitorService;
}) {
  /** The tenant's conversation `id` with its end user, or `conversation/not_found`. */
  async function requireConversation(org: Organization, id: string) {
    const conv = await db.conversation.findFirst({
      where: { id, organizationId: org.id },
      include: { endUser: endUserSelect },
    });
    if (!conv) throw conversationNotFound();
    return conv;
  }

  /**
   * The conversation of the tenant's user `visitor_user_id` on the default bot's web-chat channel
   * (the one the widget uses), opened if it does not exist yet. `secret` is the tenant secret:
   * the user's proof is made with it, so they are recorded as verified. Returns whether it was new.
   */
  async function openConversation(org: Organization, secret: string, input: OpenBackendConversation) {
    const bot = await channels.requireBot(org.id, undefined);
    const channel = await channels.channelFor(org.id, bot.id, 'webchat');
    if (channelRevoked(channel.config))
      throw new AppError('channel/revoked', 'This channel has been revoked');
    const queue = input.routing_key;
    if (queue !== undefined) await visitors.requireKnownQueue(org.id, queue);
    const known = await db.endUser.findUnique({
      where: { organizationId_externalId: { organizationId: org.id, externalId: input.visitor_user_id } },
      select: { conversations: { where: { channelId: channel.id }, select: { id: true } } },
    });
    const { conversation } = await conversations.openForEndUser({
      organizationId: org.id,
      channelId: channel.id,
      externalId: input.visitor_user_id,
      // The tenant signs for its queue as its backend would for a native open.
      userHash: userHash(secret, input.visitor_user_id, queue),
      displayName: input.visitor_display_name,
      routingKey: queue,
    });
    const data: Prisma.ConversationUpdateInput = {};
    if (queue !== undefined && conversation.routingKey !== queue) data.routingKey = queue;
    if (input.locale !== undefined) data.locale = input.locale;
    if (input.metadata !== undefined) {
      const before = (conversation.metadata ?? {}) as Prisma.JsonObject;
      data.metadata = { ...before, ...input.metadata } as Prisma.InputJsonObject;
    }
    const updated =
      Object.keys(data).length > 0
        ? await db.conversation.update({ where: { id: conversation.id }, data })
        : conversation;
    return {
      conversation: { ...updated, endUser: conversation.endUser },
      created: !known || known.conversations.length === 0,
    };
  }

  return {
    requireConversation,
    openConversation,

    /**
     * A visitor session for the tenant's user (the in-app SDKs): their conversation, as
     * `openConversation` opens it, on an allowed origin; `visitor_email_hash` goes into the user's
     * metadata. The caller signs the session's token.
     */
    async openVisitorSession(
      org: Organization,
      secret: string,
      input: MintVisitorToken,
      clock: SessionClock,
    ) {
      visitors.checkOrigin(org, { claimed: input.origin, header: undefined });
      const { conversation } = await openConversation(org, secret, {
        visitor_user_id: input.visitor_user_id,
      });
      if (input.visitor_email_hash !== undefined) {
        const user = await db.endUser.findUniqueOrThrow({
          where: { id: conversation.endUserId },
          select: { metadata: true },
        });
        const before = (user.metadata ?? {}) as Prisma.JsonObject;
        await db.endUser.update({
          where: { id: conversation.endUserId },
          data: { metadata: { ...before, email_hash: input.visitor_email_hash } },
        });
      }
      return visitors.openForConversation(org, conversation, input.origin, clock);
    },

    /** The tenant's conversations, newest first, a page at a time (keyset: stable under inserts). */
    async listConversations(org: Organization, q: ListConversations) {
      const after = q.cursor ? readConversationCursor(q.cursor) : undefined;
      const rows = await db.conversation.findMany({
        where: {
          organizationId: org.id,
          ...(q.visitor_user_id ? { endUser: { externalId: q.visitor_user_id } } : {}),
          ...(after
            ? {
                OR: [
                  { createdAt: { lt: after.createdAt } },
                  { createdAt: after.createdAt, id: { lt: after.id } },
                ],
              }
            : {}),
        },
        include: { endUser: endUserSelect },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: q.limit + 1,
      });
      const items = rows.slice(0, q.limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > q.limit && last ? conversationCursor(last) : null };
    },

    /** A conversation's messages, oldest first, from the cursor (a position in it) on. */
    async listMessages(org: Organization, conversationId: string, q: ListMessages) {
      const conv = await requireConversation(org, conversationId);
      let after = 0;
      if (q.cursor !== undefined) {
        after = Number(Buffer.from(q.cursor, 'base64url').toString('utf8'));
        if (!Number.isSafeInteger(after) || after < 0) throw badCursor();
      }
      const rows = await db.message.findMany({
        where: {
          conversationId: conv.id,
          seq: { gt: after },
          ...(q.include_internal ? {} : { internal: false }),
        },
        orderBy: { seq: 'asc' },
        take: q.limit + 1,
      });
      const items = rows.slice(0, q.limit);
      const last = items.at(-1);
      const nextCursor =
        rows.length > q.limit && last ? Buffer.from(String(last.seq), 'utf8').toString('base64url') : null;
      return { items, nextCursor };
    },

    /**
     * A message into the tenant's conversation through the one message path, so it reaches
     * sockets, agents and listeners like any other: `visitor` as its end user, `bot` as the
     * channel's bot, `system` as the platform, `agent` as the tenant's operator
     * `operator_external_id` (active, and seeing the conversation's queue; a first message from
     * them opens the session assigned to them, as in the inbox).
     */
    async sendMessage(org: Organization, conversationId: string, input: BackendMessage) {
      const conv = await requireConversation(org, conversationId);
      if (input.role === 'bot' || input.role === 'system') {
        const senderId =
          input.role === 'bot'
            ? (await db.channel.findUniqueOrThrow({ where: { id: conv.channelId }, select: { botId: true } }))
                .botId
            : 'system';
        return messages.sendAsService(
          conv,
          { type: input.role, id: senderId },
          {
            content: input.content,
            content_type: input.content_type,
            // Checked against its content type by the schema.
            rich_media: (input.rich_media ?? null) as Record<string, unknown> | null,
            ...(input.client_msg_id ? { client_msg_id: input.client_msg_id } : {}),
          },
        );
      }
      if (input.role === 'agent') {
        const operator = await operators.requireActive(org, input.operator_external_id ?? '');
        const actor = await agents.actorFor(operator.id);
        if (!actor)
          throw new AppError('operator/deactivated', 'This operator is deactivated: reactivate it first');
        return messages.send(
          actor,
          sendMessageSchema.parse({
            conversation_id: conv.id,
            content: input.content,
            content_type: input.content_type,
            rich_media: input.rich_media ?? null,
            sender_type: 'agent',
            ...(input.client_msg_id ? { client_msg_id: input.client_msg_id } : {}),
            ...(input.internal ? { internal: true } : {}),
          }),
        );
      }
      return messages.send(
        {
          kind: 'end_user',
          organizationId: org.id,
          endUserId: conv.endUserId,
          externalId: conv.endUser.externalId,
        },
        sendMessageSchema.parse({
          conversation_id: conv.id,
          content: input.content,
          content_type: input.content_type,
          rich_media: input.rich_media ?? null,
          sender_type: 'end_user',
          ...(input.client_msg_id ? { client_msg_id: input.client_msg_id } : {}),
        }),
      );
    },
  };
}
