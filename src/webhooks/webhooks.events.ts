/**
 * The nine webhook events, POSTed to `{callback_base_url}/api/v1/chat-callbacks/{event}`. The
 * database triggers of migration `20261129140000_webhooks` write the conversation and agent ones
 * with their causes; the ticket ones come with tickets and escalation.
 */
export const webhookEventTypes = [
  'conversation-started',
  'message-received',
  'ticket-created',
  'ticket-assigned',
  'ticket-resolved',
  'escalation-triggered',
  'agent-assigned',
  'agent-released',
  'agent-resolved',
] as const;

export type WebhookEventType = (typeof webhookEventTypes)[number];

/** The path a webhook is POSTed to, under the tenant's base URL. */
export const callbackPath = (event: string) => `/api/v1/chat-callbacks/${event}`;
