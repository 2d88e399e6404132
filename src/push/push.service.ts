import type { PushProvider } from '../generated/prisma/client.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import type { AgentActor } from '../shared/auth/actor.js';
import { decryptSecret, encryptSecret } from '../shared/crypto.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { ApnsCredentialInput, DeviceBody, FcmCredentialInput } from './push.schemas.js';
import type { ApnsSecret, FcmSecret, PushCredentialFor } from './push.types.js';

export type PushService = ReturnType<typeof createPushService>;

/**
 * What push needs stored: each mobile channel's FCM and APNs credentials (the secret part
 * encrypted at rest, write-only through the API) and the end users' device tokens.
 */
export function createPushService({
  db,
  encryptionKey,
  channels,
  conversations,
}: {
  db: Db;
  encryptionKey: Buffer;
  channels: ChannelService;
  conversations: ConversationService;
}) {
  /** Stores a provider's credentials on a mobile channel; returns the channel as it is now. */
  async function saveCredential(
    actor: AgentActor,
    channelId: string,
    provider: PushProvider,
    publicConfig: Record<string, string | boolean | null>,
    secret: FcmSecret | ApnsSecret,
  ) {
    const channel = await channels.requireMobileChannel(actor, channelId);
    const secretEnc = encryptSecret(encryptionKey, JSON.stringify(secret));
    const saved = await db.pushCredential.upsert({
      where: { channelId_provider: { channelId: channel.id, provider } },
      create: {
        organizationId: actor.organizationId,
        channelId: channel.id,
        provider,
        publicConfig,
        secretEnc,
      },
      update: { publicConfig, secretEnc },
    });
    return { ...channel, pushCreds: [...channel.pushCreds.filter((c) => c.provider !== provider), saved] };
  }

  return {
    async setFcm(actor: AgentActor, channelId: string, input: FcmCredentialInput) {
      const sa = input.service_account_json;
      const key = input.server_key;
      return saveCredential(
        actor,
        channelId,
        'fcm',
        {
          http_v1: Boolean(sa),
          project_id: sa?.project_id ?? null,
          client_email: sa?.client_email ?? null,
          private_key_id: typeof sa?.private_key_id === 'string' ? sa.private_key_id : null,
          sender_id: input.sender_id ?? null,
          // Enough to tell keys apart, too little to use one.
          legacy_server_key: key ? `…${key.slice(-4)}` : null,
        },
        { ...(sa ? { service_account: sa } : {}), ...(key ? { server_key: key } : {}) },
      );
    },

    async setApns(actor: AgentActor, channelId: string, input: ApnsCredentialInput) {
      return saveCredential(
        actor,
        channelId,
        'apns',
        {
          team_id: input.team_id,
          key_id: input.key_id,
          bundle_id: input.bundle_id,
          environment: input.environment,
        },
        { private_key: input.private_key },
      );
    },

    async deleteCredential(actor: AgentActor, channelId: string, provider: PushProvider) {
      const channel = await channels.requireMobileChannel(actor, channelId);
      const { count } = await db.pushCredential.deleteMany({ where: { channelId: channel.id, provider } });
      if (!count) throw new AppError('push/not_configured', `No ${provider} credentials on this channel`);
    },

    /** Decrypted credentials of a channel for one provider, or null when none are stored. */
    async credentialFor<P extends PushProvider>(
      channelId: string,
      provider: P,
    ): Promise<PushCredentialFor<P> | null> {
      const c = await db.pushCredential.findUnique({
        where: { channelId_provider: { channelId, provider } },
      });
      if (!c) return null;
      return {
        id: c.id,
        version: `${c.id}:${c.updatedAt.getTime()}`,
        publicConfig: c.publicConfig as Record<string, string | null>,
        secret: JSON.parse(decryptSecret(encryptionKey, c.secretEnc)) as PushCredentialFor<P>['secret'],
      };
    },

    /**
     * Registers (or moves to this end user, and re-enables) a device's push token. The end user
     * proves themselves as on the socket: the conversation and its external_id.
     */
    async registerDevice(body: DeviceBody) {
      const actor = await conversations.requireForEndUser(body.conversation_id, {
        externalId: body.external_id,
        userHash: body.user_hash,
      });
      const conv = await db.conversation.findUniqueOrThrow({
        where: { id: actor.conversationId },
        select: { channel: { select: { id: true, type: true, botId: true } } },
      });
      // Push credentials live on the bot's mobile channel; a WebView (Option A) conversation is on
      // its web-chat channel, and its devices use the same bot's mobile channel.
      const channel =
        conv.channel.type === 'mobile_sdk'
          ? conv.channel
          : await db.channel.findFirst({
              where: { botId: conv.channel.botId, type: 'mobile_sdk' },
              select: { id: true },
            });
      if (!channel) {
        throw new AppError(
          'device/not_mobile_channel',
          "This conversation's bot has no mobile channel to send push notifications through",
        );
      }
      const key = {
        organizationId_platform_token: {
          organizationId: actor.organizationId,
          platform: body.platform,
          token: body.token,
        },
      };
      const existed = await db.deviceToken.findUnique({ where: key, select: { id: true } });
      const device = await db.deviceToken.upsert({
        where: key,
        create: {
          organizationId: actor.organizationId,
          endUserId: actor.endUserId,
          channelId: channel.id,
          platform: body.platform,
          token: body.token,
        },
        // A phone that changes hands (log out, log in as someone else) keeps its token.
        update: {
          endUserId: actor.endUserId,
          channelId: channel.id,
          disabledAt: null,
          disabledReason: null,
        },
      });
      return { created: !existed, device };
    },

    async unregisterDevice(body: DeviceBody) {
      const actor = await conversations.requireForEndUser(body.conversation_id, {
        externalId: body.external_id,
        userHash: body.user_hash,
      });
      const { count } = await db.deviceToken.deleteMany({
        where: {
          organizationId: actor.organizationId,
          endUserId: actor.endUserId,
          platform: body.platform,
          token: body.token,
        },
      });
      if (!count) throw new AppError('device/not_found', 'This device token is not registered for this user');
    },
  };
}
