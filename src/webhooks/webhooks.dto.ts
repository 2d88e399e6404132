import type { WebhookAttempt, WebhookEvent } from '../generated/prisma/client.js';

/** A delivery (an event and where its sending stands) as the signed API and the console show it. */
export const deliveryDto = (e: WebhookEvent) => ({
  id: e.id,
  event: e.type,
  conversation_id: e.conversationId,
  status: e.status,
  attempts: e.totalAttempts,
  next_attempt_at: e.status === 'pending' ? e.nextAttemptAt.toISOString() : null,
  last_status_code: e.lastStatusCode,
  last_latency_ms: e.lastLatencyMs,
  last_error: e.lastError,
  delivered_at: e.deliveredAt?.toISOString() ?? null,
  created_at: e.createdAt.toISOString(),
});

export const attemptDto = (a: WebhookAttempt) => ({
  attempt: a.attempt,
  status_code: a.statusCode,
  ok: a.ok,
  error: a.error,
  latency_ms: a.latencyMs,
  response_excerpt: a.responseExcerpt,
  url: a.url,
  at: a.createdAt.toISOString(),
});

/** The body of a webhook: the same bytes on every attempt. */
export const webhookBody = (e: Pick<WebhookEvent, 'id' | 'type' | 'organizationId' | 'createdAt' | 'data'>) =>
  JSON.stringify({
    id: e.id,
    type: e.type,
    tenant_id: e.organizationId,
    created_at: e.createdAt.toISOString(),
    data: e.data,
  });
