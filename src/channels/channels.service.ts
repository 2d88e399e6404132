import type { ChannelType, IdentityMode, OrgStatus, Prisma } from '../generated/prisma/client.js';
import { stricter, strictWhere } from '../tenants/identity.js';
import type { AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { CreateEmbedToken } from './channels.schemas.js';

export type ChannelService = ReturnType<typeof createChannelService>;

const channelNames: Record<ChannelType, string> = {
  webchat: 'Web chat',
  mobile_sdk: 'Mobile SDK',
  api: 'API',
};

const botNotFound = () => new AppError('bot/not_found', 'Bot not found');
const mobileChannelNotFound = () => new AppError('channel/not_found', 'Mobile channel not found');

/** What lists of bots show: each bot with its web-chat and mobile channel ids and identity modes. */
const botInclude = { channels: { select: { id: true, type: true, identityMode: true } } } as const;
const tokenInclude = { channel: { select: { botId: true, bot: { select: { name: true } } } } } as const;
const mobileInclude = { pushCreds: true } as const;

/** A suspended (or disabled) organization accepts nobody: its agents, visitors and apps. */
export function organizationRefusal(status: OrgStatus): AppError | null {
  return status === 'active'
    ? null
    : new AppError(
        'organization/suspended',
        'This organization is suspended and is not accepting conversations',
      );
}

/** Whether a channel was revoked (`config.revoked_at`, set by `revokeChannel`). */
export function channelRevoked(config: Prisma.JsonValue): boolean {
  return typeof config === 'object' && config !== null && !Array.isArray(config) && 'revoked_at' in config
    ? config.revoked_at != null
    : false;
}

const channelRevokedError = () => new AppError('channel/revoked', 'This channel has been revoked');

/**
 * The origins a widget may be framed by: the token's and its organization's together. A blank
 * list at one level adds nothing; blank at both, every origin is allowed.
 */
export function effectiveOrigins(tokenOrigins: string[], organizationOrigins: string[]): string[] {
  return [...new Set([...tokenOrigins, ...organizationOrigins])];
}

/**
 * Where conversations come from: bots, their channels (one web-chat and one mobile channel per
 * bot) and the web chat's embed tokens. Everything an agent asks for is scoped to their
 * organization; another tenant's id is "not found". Role checks are the routes'.
 */
export function createChannelService({ db, bus }: { db: Db; bus: EventBus }) {
  /** The organization's bot, or its first one (created when it has none) when no id is given. */
  async function requireBot(organizationId: string, botId: string | undefined) {
    if (botId) {
      const bot = await db.bot.findFirst({ where: { id: botId, organizationId } });
      if (!bot) throw botNotFound();
      return bot;
    }
    const org = await db.organization.findUnique({ where: { id: organizationId }, select: { id: true } });
    if (!org) throw new AppError('organization/not_found', 'Organization not found');
    return (
      (await db.bot.findFirst({ where: { organizationId }, orderBy: { createdAt: 'asc' } })) ??
      (await db.bot.create({ data: { organizationId, name: 'Assistant' } }))
    );
  }

  /** webchat and mobile_sdk channels are one per bot (a partial unique index makes it so). */
  async function channelFor(organizationId: string, botId: string, type: ChannelType) {
    const existing = await db.channel.findFirst({ where: { organizationId, botId, type } });
    if (existing) return existing;
    try {
      return await db.channel.create({ data: { organizationId, botId, type, name: channelNames[type] } });
    } catch (err) {
      // Lost a race with a concurrent creator: theirs is the channel.
      const winner = await db.channel.findFirst({ where: { organizationId, botId, type } });
      if (winner) return winner;
      throw err;
    }
  }

  /** A mobile channel of the agent's organization, with its push credentials. */
  async function requireMobileChannel(actor: AgentActor, id: string) {
    const channel = await db.channel.findFirst({
      where: { id, organizationId: actor.organizationId, type: 'mobile_sdk' },
      include: mobileInclude,
    });
    if (!channel) throw mobileChannelNotFound();
    return channel;
  }

  /** The distinct end users of the conversations matching `where`. */
  async function endUsersOf(where: Prisma.ConversationWhereInput): Promise<string[]> {
    const rows = await db.conversation.findMany({
      where,
      select: { endUserId: true },
      distinct: ['endUserId'],
    });
    return rows.map((r) => r.endUserId);
  }

  function publishRevoked(
    organizationId: string,
    channelId: string,
    embedTokenId: string | null,
    endUserIds: string[],
  ) {
    bus.publish('access.revoked', { organizationId, channelId, embedTokenId, endUserIds });
  }

  return {
    requireBot,
    channelFor,
    requireMobileChannel,

    async createBot(organizationId: string, name: string) {
      return db.bot.create({ data: { organizationId, name }, include: botInclude });
    },

    async listBots(actor: AgentActor) {
      return db.bot.findMany({
        where: { organizationId: actor.organizationId },
        include: botInclude,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
    },

    async renameBot(actor: AgentActor, id: string, name: string) {
      const { count } = await db.bot.updateMany({
        where: { id, organizationId: actor.organizationId },
        data: { name },
      });
      if (!count) throw botNotFound();
      return db.bot.findUniqueOrThrow({ where: { id }, include: botInclude });
    },

    /** Issues an `ew_…` token for a bot's web-chat channel; only its hash is kept. */
    async createEmbedToken(data: CreateEmbedToken) {
      const bot = await requireBot(data.organizationId, data.botId);
      const channel = await channelFor(data.organizationId, bot.id, 'webchat');
      const token = randomToken('ew', 24);
      const embedToken = await db.embedToken.create({
        data: {
          organizationId: data.organizationId,
          channelId: channel.id,
          name: data.name,
          prefix: token.slice(0, 7),
          tokenHash: sha256Hex(token),
          allowedOrigins: data.allowedOrigins,
          createdById: data.createdById ?? null,
        },
        include: tokenInclude,
      });
      return { token, embedToken, channelId: channel.id, botId: bot.id };
    },

    async listEmbedTokens(actor: AgentActor) {
      return db.embedToken.findMany({
        where: { organizationId: actor.organizationId },
        include: tokenInclude,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
    },

    /**
     * Revoking twice is harmless: the first revocation time stands. The visitors whose
     * conversations the token carried are cut off (`access.revoked` disconnects their sockets);
     * when it was the channel's last live token, every visitor of the channel is.
     */
    async revokeEmbedToken(actor: AgentActor, id: string) {
      const found = await db.embedToken.findFirst({ where: { id, organizationId: actor.organizationId } });
      if (!found) throw new AppError('not_found', 'Embed token not found');
      const { count } = await db.embedToken.updateMany({
        where: { id, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      if (count) {
        const live = await db.embedToken.count({ where: { channelId: found.channelId, revokedAt: null } });
        const carried = live
          ? { channelId: found.channelId, metadata: { path: ['embed_token_id'], equals: id } }
          : { channelId: found.channelId };
        publishRevoked(found.organizationId, found.channelId, id, await endUsersOf(carried));
      }
      return db.embedToken.findUniqueOrThrow({ where: { id }, include: tokenInclude });
    },

    /**
     * Revokes a channel (a mobile app's Channel ID that leaked, a web chat to shut): nothing opens
     * or reaches a conversation on it any more, and its end users' sockets are disconnected.
     */
    async revokeChannel(actor: AgentActor, id: string) {
      const channel = await db.channel.findFirst({ where: { id, organizationId: actor.organizationId } });
      if (!channel) throw new AppError('channel/not_found', 'Channel not found');
      if (channelRevoked(channel.config)) return channel;
      const config = { ...(channel.config as Prisma.JsonObject), revoked_at: new Date().toISOString() };
      const updated = await db.channel.update({ where: { id }, data: { config } });
      publishRevoked(channel.organizationId, channel.id, null, await endUsersOf({ channelId: channel.id }));
      return updated;
    },

    /**
     * Sets the channel's own identity mode (null: the organization's). A stricter mode disconnects
     * the channel's end users who never proved themselves, so they must meet it on their next join.
     */
    async setIdentityMode(actor: AgentActor, id: string, mode: IdentityMode | null) {
      const channel = await db.channel.findFirst({
        where: { id, organizationId: actor.organizationId },
        include: { organization: { select: { identityMode: true } } },
      });
      if (!channel) throw new AppError('channel/not_found', 'Channel not found');
      const updated = await db.channel.update({ where: { id }, data: { identityMode: mode } });
      const before = channel.identityMode ?? channel.organization.identityMode;
      const after = mode ?? channel.organization.identityMode;
      if (stricter(after, before)) {
        bus.publish('identity.tightened', {
          organizationId: channel.organizationId,
          endUserIds: await endUsersOf(strictWhere(after, { channelId: id })),
        });
      }
      return updated;
    },

    /** Undoes `revokeChannel`: the channel accepts conversations again. */
    async restoreChannel(actor: AgentActor, id: string) {
      const channel = await db.channel.findFirst({ where: { id, organizationId: actor.organizationId } });
      if (!channel) throw new AppError('channel/not_found', 'Channel not found');
      const { revoked_at: _gone, ...config } = channel.config as Prisma.JsonObject;
      return db.channel.update({ where: { id }, data: { config } });
    },

    /**
     * The token record for a presented `ew_…` value, with what decides whether the widget may open:
     * its organization's status and origins, its channel's state. Unknown or revoked: 403.
     */
    async requireLiveEmbedToken(token: string) {
      const found = token.startsWith('ew_')
        ? await db.embedToken.findUnique({
            where: { tokenHash: sha256Hex(token) },
            include: {
              organization: { select: { status: true, allowedOrigins: true } },
              channel: { select: { config: true } },
            },
          })
        : null;
      if (!found) throw new AppError('embed_token/invalid', 'Invalid or revoked embed token');
      // Same code as an unknown token (the page's contract); the message tells the two apart.
      if (found.revokedAt) throw new AppError('embed_token/invalid', 'This embed token has been revoked');
      const refusal = organizationRefusal(found.organization.status);
      if (refusal) throw refusal;
      if (channelRevoked(found.channel.config)) throw channelRevokedError();
      return found;
    },

    /** The live token record for a presented `ew_…` value, or null (unknown or revoked). */
    async findEmbedToken(token: string) {
      if (!token.startsWith('ew_')) return null;
      const found = await db.embedToken.findUnique({ where: { tokenHash: sha256Hex(token) } });
      return found && !found.revokedAt ? found : null;
    },

    /** The organization's bots, each with its mobile channel (none before it is created). */
    async listMobileChannels(actor: AgentActor) {
      return db.bot.findMany({
        where: { organizationId: actor.organizationId },
        include: { channels: { where: { type: 'mobile_sdk' }, include: mobileInclude } },
        orderBy: { createdAt: 'asc' },
      });
    },

    /** Creates the bot's mobile channel, or returns the one it has (one per bot). */
    async createMobileChannel(actor: AgentActor, botId: string) {
      const bot = await requireBot(actor.organizationId, botId);
      const existed = await db.channel.findFirst({ where: { botId: bot.id, type: 'mobile_sdk' } });
      const channel = await channelFor(actor.organizationId, bot.id, 'mobile_sdk');
      return { created: !existed, channel: await requireMobileChannel(actor, channel.id) };
    },

    /**
     * The mobile channel a native app names to open its conversation (public: the Channel ID
     * ships inside the app), refused when its organization does not accept conversations.
     */
    async requireOpenMobileChannel(id: string) {
      const channel = await db.channel.findUnique({
        where: { id },
        include: { organization: { select: { status: true } } },
      });
      if (!channel || channel.type !== 'mobile_sdk') throw mobileChannelNotFound();
      const refusal = organizationRefusal(channel.organization.status);
      if (refusal) throw refusal;
      if (channelRevoked(channel.config)) throw channelRevokedError();
      return channel;
    },
  };
}
