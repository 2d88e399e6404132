import { z } from 'zod';
import { text } from '../shared/validation.js';
import { webhookEventTypes } from './webhooks.events.js';

const eventType = z.enum(webhookEventTypes, { error: `must be one of ${webhookEventTypes.join(', ')}` });

/**
 * `PUT …/webhooks`: the callback base URL (null turns webhooks off) and the events wanted (all nine
 * when left out). The URL is checked further by `normalizeCallbackUrl`.
 */
export const webhookConfigSchema = z.strictObject({
  callback_base_url: text().trim().min(1, 'must not be empty').max(2048).nullable(),
  events: z
    .array(eventType)
    .min(1, 'must name at least one event (to stop every webhook, set callback_base_url to null)')
    .max(webhookEventTypes.length)
    .optional(),
});
export type WebhookConfigInput = z.infer<typeof webhookConfigSchema>;

/** `POST …/webhooks/test`: a test event of this type (default `conversation-started`). */
export const webhookTestSchema = z.strictObject({ event: eventType.default('conversation-started') });

/** `GET …/webhooks/deliveries?limit=&cursor=&status=&event=`: newest first. */
export const deliveriesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100, 'must be at most 100').default(20),
  cursor: text().trim().min(1).max(200).optional(),
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  event: eventType.optional(),
});
export type DeliveriesQuery = z.infer<typeof deliveriesQuerySchema>;
