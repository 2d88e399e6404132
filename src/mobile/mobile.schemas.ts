import { z } from 'zod';
import { displayName, externalId, routingKey, uuid } from '../shared/validation.js';

/** Native open (Option B without a WebView): the app names its mobile channel and its user. */
export const openBodySchema = z.object({
  channel_id: uuid,
  external_id: externalId,
  display_name: displayName.optional(),
  routing_key: routingKey.optional(),
});
export type OpenBody = z.output<typeof openBodySchema>;

/** `POST /api/mobile/channels`: the bot whose mobile channel to create. */
export const createChannelSchema = z.object({ bot_id: uuid });
