import type { ChannelType } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import { createEmbedTokenSchema, type CreateEmbedTokenInput } from './channels.schemas.js';

export type ChannelService = ReturnType<typeof createChannelService>;

const channelNames: Record<ChannelType, string> = {
  webchat: 'Web chat',
  mobile_sdk: 'Mobile SDK',
  api: 'API',
};

export function createChannelService({ db }: { db: Db }) {
  async function requireBot(organizationId: string, botId: string | undefined) {
    if (botId) {
      const bot = await db.bot.findFirst({ where: { id: botId, organizationId } });
      if (!bot) throw new AppError('bot/not_found', 'Bot not found');
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

  return {
    requireBot,
    channelFor,

    async createBot(organizationId: string, name: string) {
      return db.bot.create({ data: { organizationId, name } });
    },

    /** Issues an `ew_…` token for a bot's web-chat channel; only its hash is kept. */
    async createEmbedToken(input: CreateEmbedTokenInput) {
      const data = createEmbedTokenSchema.parse(input);
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
      });
      return { token, embedToken, channelId: channel.id, botId: bot.id };
    },

    /** The live token record for a presented `ew_…` value, or null (unknown or revoked). */
    async findEmbedToken(token: string) {
      if (!token.startsWith('ew_')) return null;
      const found = await db.embedToken.findUnique({ where: { tokenHash: sha256Hex(token) } });
      return found && !found.revokedAt ? found : null;
    },
  };
}
