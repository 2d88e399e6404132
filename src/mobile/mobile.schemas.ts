import { z } from 'zod';
import { displayName, externalId, routingKey, userHash, uuid } from '../shared/validation.js';

/** Native open (Option B without a WebView): the app names its mobile channel and its user. */
export const openBodySchema = z.object({
  channel_id: uuid,
  external_id: externalId,
  /** `hex(hmac_sha256(tenant_secret, external_id))`, or over `external_id + "\n" + routing_key`. */
  user_hash: userHash.optional(),
  display_name: displayName.optional(),
  routing_key: routingKey.optional(),
});
export type OpenBody = z.output<typeof openBodySchema>;

/** `POST /api/mobile/channels`: the bot whose mobile channel to create. */
export const createChannelSchema = z.object({ bot_id: uuid });
