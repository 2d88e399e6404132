import type {
  Bot,
  Channel,
  EmbedToken,
  IdentityMode,
  PushCredential,
  PushProvider,
} from '../generated/prisma/client.js';
import { credentialDto } from '../push/push.dto.js';
import { channelRevoked } from './channels.service.js';

/** A bot with its channels' ids and their own identity modes (null: the organization's, or no channel). */
export function botDto(
  b: Bot & { channels?: { id: string; type: string; identityMode?: IdentityMode | null }[] },
) {
  const webchat = b.channels?.find((c) => c.type === 'webchat');
  const mobile = b.channels?.find((c) => c.type === 'mobile_sdk');
  return {
    id: b.id,
    name: b.name,
    webchat_channel_id: webchat?.id ?? null,
    mobile_channel_id: mobile?.id ?? null,
    webchat_identity_mode: webchat?.identityMode ?? null,
    mobile_identity_mode: mobile?.identityMode ?? null,
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

/** A mobile channel as the dashboard shows it: its Channel ID and which push providers are set up. */
export function mobileChannelDto(c: Channel & { pushCreds: PushCredential[] }) {
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
    identity_mode: c.identityMode,
    created_at: c.createdAt.toISOString(),
    push: { fcm: cred('fcm'), apns: cred('apns') },
  };
}

/** A channel's identity and whether it was revoked (`revoked_at`, null when live). */
export function channelDto(c: Channel) {
  const revokedAt = channelRevoked(c.config) ? (c.config as { revoked_at: string }).revoked_at : null;
  return {
    id: c.id,
    bot_id: c.botId,
    type: c.type,
    name: c.name,
    /** Null: the organization's mode applies. */
    identity_mode: c.identityMode,
    revoked_at: revokedAt,
  };
}
