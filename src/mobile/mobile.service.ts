import type { ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import type { OpenBody } from './mobile.schemas.js';

export type MobileService = ReturnType<typeof createMobileService>;

/** The native app's way in: its conversation on a mobile channel, without a WebView first. */
export function createMobileService({
  channels,
  conversations,
}: {
  channels: ChannelService;
  conversations: ConversationService;
}) {
  return {
    /** Creates or gets the end user and their conversation, so the app can `join_conversation`. */
    async open(input: OpenBody) {
      const channel = await channels.requireOpenMobileChannel(input.channel_id);
      const { endUser, conversation } = await conversations.openForEndUser({
        organizationId: channel.organizationId,
        channelId: channel.id,
        externalId: input.external_id,
        userHash: input.user_hash,
        displayName: input.display_name,
        routingKey: input.routing_key,
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
  };
}
