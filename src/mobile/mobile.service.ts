import type { PushCredential, PushProvider } from '../generated/prisma/client.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import { hasRole, type AgentActor } from '../shared/auth/actor.js';
import { decryptSecret, encryptSecret } from '../shared/crypto.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { ApnsCredentialInput, DeviceBody, FcmCredentialInput } from './mobile.schemas.js';

export type MobileService = ReturnType<typeof createMobileService>;

/** What the worker needs to send; never leaves the server. */
export type FcmSecret = {
  service_account?: { project_id: string; client_email: string; private_key: string } & Record<
    string,
    unknown
  >;
  server_key?: string;
};
export type ApnsSecret = { private_key: string };
export type PushCredentialFor<P extends PushProvider> = {
  id: string;
  /** Changes whenever the credential is replaced, so cached provider clients are rebuilt. */
  version: string;
  publicConfig: Record<string, string | null>;
  secret: P extends 'fcm' ? FcmSecret : ApnsSecret;
};

export const LEGACY_FCM_NOTICE =
  'The legacy FCM server key cannot send notifications: Google has retired the legacy API. ' +
  'Upload the service-account JSON (FCM HTTP v1) from Firebase Console → Project settings → Service accounts.';

const channelNotFound = () => new AppError('channel/not_found', 'Mobile channel not found');

/** The credential as any API shows it: what identifies it, never the secret. */
function credentialDto(c: PushCredential) {
  const pub = c.publicConfig as Record<string, string | boolean | null>;
  const base = { configured: true, updated_at: c.updatedAt.toISOString() };
  if (c.provider === 'apns') return { ...base, ...pub, private_key: 'stored (hidden)' };
  return {
    ...base,
    ...pub,
    private_key: pub.project_id ? 'stored (hidden)' : null,
    ...(pub.http_v1 ? {} : { notice: LEGACY_FCM_NOTICE }),
  };
}

export function createMobileService({
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
  function requireAdmin(actor: AgentActor) {
    if (!hasRole(actor, 'admin')) throw new AppError('auth/forbidden', 'This needs the admin role or higher');
  }

  async function requireChannel(actor: AgentActor, id: string) {
    requireAdmin(actor);
    const channel = await db.channel.findFirst({
      where: { id, organizationId: actor.organizationId, type: 'mobile_sdk' },
      include: { pushCreds: true },
    });
    if (!channel) throw channelNotFound();
    return channel;
  }

  type ChannelRow = Awaited<ReturnType<typeof requireChannel>>;
  const channelDto = (c: ChannelRow) => {
    const cred = (p: PushProvider) => {
      const found = c.pushCreds.find((x) => x.provider === p);
      return found ? credentialDto(found) : null;
    };
    return {
      id: c.id,
      channel_id: c.id,
      bot_id: c.botId,
      type: c.type,
      name: c.name,
      created_at: c.createdAt.toISOString(),
      push: { fcm: cred('fcm'), apns: cred('apns') },
    };
  };

  async function saveCredential(
    actor: AgentActor,
    channelId: string,
    provider: PushProvider,
    publicConfig: Record<string, string | boolean | null>,
    secret: FcmSecret | ApnsSecret,
  ) {
    const channel = await requireChannel(actor, channelId);
    const secretEnc = encryptSecret(encryptionKey, JSON.stringify(secret));
    await db.pushCredential.upsert({
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
    return channelDto(await requireChannel(actor, channelId));
  }

  return {
    /** The organization's bots, each with its mobile channel (or null before it is created). */
    async listChannels(actor: AgentActor) {
      requireAdmin(actor);
      const bots = await db.bot.findMany({
        where: { organizationId: actor.organizationId },
        include: { channels: { where: { type: 'mobile_sdk' }, include: { pushCreds: true } } },
        orderBy: { createdAt: 'asc' },
      });
      return {
        items: bots.map((b) => ({
          bot_id: b.id,
          bot_name: b.name,
          channel: b.channels[0] ? channelDto(b.channels[0]) : null,
        })),
      };
    },

    /** Creates the bot's mobile channel, or returns the one it has (one per bot). */
    async createChannel(actor: AgentActor, botId: string) {
      requireAdmin(actor);
      const bot = await channels.requireBot(actor.organizationId, botId);
      const existed = await db.channel.findFirst({ where: { botId: bot.id, type: 'mobile_sdk' } });
      const channel = await channels.channelFor(actor.organizationId, bot.id, 'mobile_sdk');
      return { created: !existed, channel: channelDto(await requireChannel(actor, channel.id)) };
    },

    async getChannel(actor: AgentActor, id: string) {
      return channelDto(await requireChannel(actor, id));
    },

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
      const channel = await requireChannel(actor, channelId);
      const { count } = await db.pushCredential.deleteMany({ where: { channelId: channel.id, provider } });
      if (!count) throw new AppError('push/not_configured', `No ${provider} credentials on this channel`);
    },

    /**
     * Native open: creates or gets the end user and their conversation on a mobile channel, so
     * an app can `join_conversation` without a WebView session first.
     */
    async open(input: { channelId: string; externalId: string; displayName?: string; routingKey?: string }) {
      const channel = await db.channel.findUnique({
        where: { id: input.channelId },
        include: { organization: { select: { status: true } } },
      });
      if (!channel || channel.type !== 'mobile_sdk') throw channelNotFound();
      if (channel.organization.status !== 'active') {
        throw new AppError('auth/forbidden', 'This organization is not accepting conversations');
      }
      const { endUser, conversation } = await conversations.openForEndUser({
        organizationId: channel.organizationId,
        channelId: channel.id,
        externalId: input.externalId,
        displayName: input.displayName,
        routingKey: input.routingKey,
      });
      return {
        conversation_id: conversation.id,
        channel_id: channel.id,
        organization_id: channel.organizationId,
        end_user: {
          id: endUser.id,
          external_id: endUser.externalId,
          display_name: endUser.displayName,
        },
      };
    },

    /** Registers (or moves to this end user, and re-enables) a device's push token. */
    async registerDevice(body: DeviceBody) {
      const actor = await conversations.requireForEndUser(body.conversation_id, body.external_id);
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
      return {
        created: !existed,
        device: { id: device.id, platform: device.platform, created_at: device.createdAt.toISOString() },
      };
    },

    async unregisterDevice(body: DeviceBody) {
      const actor = await conversations.requireForEndUser(body.conversation_id, body.external_id);
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
  };
}
