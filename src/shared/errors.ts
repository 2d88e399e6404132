/** Every error a client may see. Codes are namespaced by feature; messages are safe to show. */
export const errorCodes = {
  'request/invalid': 400,
  unknown_event: 400,
  'request/too_large': 413,
  'auth/unauthenticated': 401,
  'admin/unauthorized': 401,
  'admin/disabled': 401,
  'auth/forbidden': 403,
  'auth/csrf': 403,
  'auth/rate_limited': 429,
  not_found: 404,
  conflict: 409,
  'organization/not_found': 404,
  'user/email_taken': 409,
  'bot/not_found': 404,
  'channel/not_found': 404,
  'conversation/not_found': 404,
  'conversation/no_open_session': 409,
  'conversation/already_assigned': 409,
  'conversation/not_assigned': 409,
  'conversation/bad_transfer_target': 400,
  'conversation/too_many_tags': 409,
  'api_key/not_found': 404,
  'api_key/limit': 409,
  'device/not_found': 404,
  'device/not_mobile_channel': 409,
  'push/not_configured': 404,
  'embed_token/invalid': 403,
  'embed_token/revoked': 403,
  'channel/revoked': 403,
  'organization/suspended': 403,
  'origin/forbidden': 403,
  'identity/required': 403,
  'identity/forbidden': 403,
  // The relay's visitor side (src/relay/visitor.*).
  'tenant/not_found': 404,
  'routing_key/unknown': 400,
  'token/invalid': 401,
  'token/expired': 401,
  'session/expired': 404,
  'operator/not_found': 404,
  'operator/exists': 409,
  'operator/deactivated': 409,
  // The signed backend API (HMAC#1, src/relay/hmac*.ts): every refusal of a signature is 401.
  'hmac/missing_headers': 401,
  'hmac/malformed': 401,
  'hmac/unknown_tenant': 401,
  'hmac/stale_timestamp': 401,
  'hmac/bad_signature': 401,
  'hmac/replayed_nonce': 401,
  'hmac/tenant_suspended': 401,
  // Webhooks (src/webhooks/*).
  'webhook/url_refused': 400,
  'webhook/not_configured': 409,
  'webhook/not_found': 404,
  // Tickets and escalation (src/tickets/*).
  'ticket/not_found': 404,
  'ticket/bad_transition': 409,
  'ticket/bad_assignee': 400,
  // Knowledge base (src/knowledge/*).
  'knowledge/not_found': 404,
  // Attachments (src/attachments/*).
  'attachment/not_found': 404,
  'attachment/too_large': 413,
  'attachment/type': 415,
  'attachment/forbidden': 403,
  'attachment/signature': 403,
  // Ratings (src/ratings/*).
  'rating/not_resolved': 409,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.status = errorCodes[code];
  }
}

export const notFound = (what: string, code: ErrorCode = 'not_found') =>
  new AppError(code, `${what} not found`);
