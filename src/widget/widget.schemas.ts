import { z } from 'zod';
import { displayName, externalId, origin, text, userHash } from '../shared/validation.js';

/** An http(s) address the widget reports (anything else is dropped, never an error). */
const pageLink = z
  .string()
  .max(2000)
  .transform((v) => (/^https?:\/\//i.test(v) ? v : undefined));

export const embedToken = text().trim().min(1, 'must not be empty').max(200);

/** `GET /chat-widget` query: the spec's parameters plus `origin` and `launcher` from embed.js. */
export const widgetPageQuerySchema = z.object({
  embed_token: embedToken,
  session_id: externalId,
  /** The tenant backend's `hex(hmac_sha256(tenant_secret, session_id))` for a signed-in user. */
  user_hash: userHash.optional(),
  customer_name: displayName.optional(),
  title: text().trim().min(1).max(80).optional(),
  /** The host page's origin as embed.js saw it; only used when the browser sent no Referer. */
  origin: origin.optional(),
  /** Set by embed.js: the page starts closed behind the launcher bubble. */
  launcher: z.literal('1').optional(),
  /** Set by embed.js for the agents' visitor panel: the host page's URL and its referrer. */
  page_url: pageLink.optional(),
  referrer: pageLink.optional(),
});
export type WidgetPageQuery = z.output<typeof widgetPageQuerySchema>;

/** `POST /chat-widget/profile`: the host page renamed its visitor (postMessage `set_name`). */
export const widgetProfileSchema = z.object({
  embed_token: embedToken,
  session_id: externalId,
  user_hash: userHash.optional(),
  customer_name: displayName,
});
