import type { Bot, EmbedToken, User } from '../generated/prisma/client.js';
import type { AgentService } from '../agents/agents.service.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import type { MessageService } from '../messages/messages.service.js';
import { hasRole, seesAllQueues, type AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import {
  addMemberBodySchema,
  botBodySchema,
  createEmbedTokenBodySchema,
  updateMemberBodySchema,
} from './dashboard.schemas.js';

export type DashboardService = ReturnType<typeof createDashboardService>;

export function botDto(b: Bot & { channels?: { id: string; type: string }[] }) {
  return {
    id: b.id,
    name: b.name,
    webchat_channel_id: b.channels?.find((c) => c.type === 'webchat')?.id ?? null,
    mobile_channel_id: b.channels?.find((c) => c.type === 'mobile_sdk')?.id ?? null,
    created_at: b.createdAt.toISOString(),
    updated_at: b.updatedAt.toISOString(),
  };
}

export function embedTokenDto(t: EmbedToken & { channel: { botId: string; bot: { name: string } } }) {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    bot_id: t.channel.botId,
    bot_name: t.channel.bot.name,
    channel_id: t.channelId,
    allowed_origins: t.allowedOrigins,
    created_at: t.createdAt.toISOString(),
    last_used_at: t.lastUsedAt?.toISOString() ?? null,
    revoked_at: t.revokedAt?.toISOString() ?? null,
  };
}

/** Emails are shown to admins only; agents see who is on the team, not how to reach them. */
export function memberDto(u: User, withEmail: boolean) {
  return {
    id: u.id,
    display_name: u.displayName,
    role: u.role,
    status: u.status,
    ...(withEmail ? { email: u.email, last_login_at: u.lastLoginAt?.toISOString() ?? null } : {}),
    created_at: u.createdAt.toISOString(),
  };
}

const tokenInclude = { channel: { select: { botId: true, bot: { select: { name: true } } } } } as const;

/**
 * What the dashboard manages that no other feature owns: bots, web-chat embed tokens and the
 * team. Every call is scoped to the actor's organization; another tenant's id is "not found".
 */
export function createDashboardService({
  db,
  bus,
  channels,
  agents,
  conversations,
  messages,
}: {
  db: Db;
  bus: EventBus;
  channels: ChannelService;
  agents: AgentService;
  conversations: ConversationService;
  messages: MessageService;
}) {
  async function requireBot(actor: AgentActor, id: string) {
    const bot = await db.bot.findFirst({ where: { id, organizationId: actor.organizationId } });
    if (!bot) throw new AppError('bot/not_found', 'Bot not found');
    return bot;
  }

  async function requireMember(actor: AgentActor, id: string) {
    const user = await db.user.findFirst({ where: { id, organizationId: actor.organizationId } });
    if (!user) throw new AppError('not_found', 'Team member not found');
    return user;
  }

  return {
    async listBots(actor: AgentActor) {
      const bots = await db.bot.findMany({
        where: { organizationId: actor.organizationId },
        include: { channels: { select: { id: true, type: true } } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      return bots.map(botDto);
    },

    async createBot(actor: AgentActor, body: unknown) {
      const { name } = botBodySchema.parse(body);
      return botDto(await channels.createBot(actor.organizationId, name));
    },

    async renameBot(actor: AgentActor, id: string, body: unknown) {
      const { name } = botBodySchema.parse(body);
      await requireBot(actor, id);
      const bot = await db.bot.update({
        where: { id },
        data: { name },
        include: { channels: { select: { id: true, type: true } } },
      });
      return botDto(bot);
    },

    async listEmbedTokens(actor: AgentActor) {
      const rows = await db.embedToken.findMany({
        where: { organizationId: actor.organizationId },
        include: tokenInclude,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
      return rows.map(embedTokenDto);
    },

    /** The token value is in this answer only; the database keeps its hash. */
    async createEmbedToken(actor: AgentActor, body: unknown) {
      const input = createEmbedTokenBodySchema.parse(body);
      await requireBot(actor, input.bot_id);
      const { token, embedToken } = await channels.createEmbedToken({
        organizationId: actor.organizationId,
        botId: input.bot_id,
        name: input.name,
        allowedOrigins: input.allowed_origins,
        createdById: actor.userId,
      });
      const row = await db.embedToken.findUniqueOrThrow({
        where: { id: embedToken.id },
        include: tokenInclude,
      });
      return { ...embedTokenDto(row), token };
    },

    /** Revoking twice is harmless: the first revocation time stands. */
    async revokeEmbedToken(actor: AgentActor, id: string) {
      const found = await db.embedToken.findFirst({ where: { id, organizationId: actor.organizationId } });
      if (!found) throw new AppError('not_found', 'Embed token not found');
      await db.embedToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
      return embedTokenDto(await db.embedToken.findUniqueOrThrow({ where: { id }, include: tokenInclude }));
    },

    async listTeam(actor: AgentActor) {
      const users = await db.user.findMany({
        where: { organizationId: actor.organizationId },
        orderBy: [{ displayName: 'asc' }, { id: 'asc' }],
      });
      const admin = hasRole(actor, 'admin');
      return users.filter((u) => admin || u.status === 'active').map((u) => memberDto(u, admin));
    },

    /** Admins add agents and admins; only an owner makes another owner. */
    async addMember(actor: AgentActor, body: unknown) {
      const input = addMemberBodySchema.parse(body);
      if (input.role === 'owner' && !hasRole(actor, 'owner')) {
        throw new AppError('auth/forbidden', 'Only an owner can add an owner');
      }
      const user = await agents.createAgent({
        organizationId: actor.organizationId,
        email: input.email,
        password: input.password,
        role: input.role,
        displayName: input.display_name,
      });
      return memberDto(user, true);
    },

    /**
     * Changes a member's role, status or name. Nobody changes their own role or status (so an
     * organization can't lock itself out), and only owners touch owners.
     */
    async updateMember(actor: AgentActor, id: string, body: unknown) {
      const input = updateMemberBodySchema.parse(body);
      const user = await requireMember(actor, id);
      const changesAccess = input.role !== undefined || input.status !== undefined;
      if (changesAccess && user.id === actor.userId) {
        throw new AppError('auth/forbidden', 'You cannot change your own role or status');
      }
      if ((user.role === 'owner' || input.role === 'owner') && !hasRole(actor, 'owner')) {
        throw new AppError('auth/forbidden', 'Only an owner can change an owner or make one');
      }
      const updated = await db.user.update({
        where: { id: user.id },
        data: {
          ...(input.role ? { role: input.role } : {}),
          ...(input.status ? { status: input.status } : {}),
          ...(input.display_name ? { displayName: input.display_name } : {}),
        },
      });
      if (input.status === 'deactivated' && user.status !== 'deactivated') {
        bus.publish('agent.deactivated', { organizationId: user.organizationId, userId: user.id });
      }
      return memberDto(updated, true);
    },

    /**
     * Opening a conversation reads it: every end-user message the agent has not read yet is
     * marked (through the message service, so `messages.read` goes out as for `mark_read`).
     */
    async markConversationRead(actor: AgentActor, conversationId: string) {
      const conv = await conversations.requireForAgent(actor, conversationId);
      const rows = await db.$queryRaw<{ id: string }[]>`
        SELECT id::text AS id FROM messages
        WHERE conversation_id = ${conv.id}::uuid AND sender_type = 'end_user'
          AND NOT (read_by ? ${actor.userId}::text)
        ORDER BY seq`;
      let read = 0;
      for (let i = 0; i < rows.length; i += 500) {
        const ids = rows.slice(i, i + 500).map((r) => r.id);
        read += (await messages.markRead(actor, { conversation_id: conv.id, message_ids: ids })).message_ids
          .length;
      }
      return { conversation_id: conv.id, read };
    },

    /**
     * Unread counts for the inbox: end-user messages the agent has not read yet in open sessions
     * that are theirs or nobody's (another agent's conversation is not their backlog), per
     * conversation. Survives a reload, unlike counts kept in the page.
     */
    async unreadCounts(actor: AgentActor): Promise<Record<string, number>> {
      const all = seesAllQueues(actor);
      const rows = await db.$queryRaw<{ conversation_id: string; n: number }[]>`
        SELECT m.conversation_id::text AS conversation_id, count(*)::int AS n
        FROM messages m
        JOIN conversation_sessions s ON s.id = m.session_id AND s.status = 'open'
          AND (s.assigned_agent_id IS NULL OR s.assigned_agent_id = ${actor.userId}::uuid)
        JOIN conversations c ON c.id = m.conversation_id
        WHERE m.organization_id = ${actor.organizationId}::uuid
          AND m.sender_type = 'end_user'
          AND NOT (m.read_by ? ${actor.userId}::text)
          AND (${all} OR c.routing_key = ANY(${actor.routingKeys}::text[]))
        GROUP BY m.conversation_id`;
      return Object.fromEntries(rows.map((r) => [r.conversation_id, r.n]));
    },
  };
}
