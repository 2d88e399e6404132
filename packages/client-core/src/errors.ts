/**
 * A refusal of the visitor API: the HTTP status (`status_code`) and the server's stable error
 * code (`code`, e.g. `tenant/not_found`, `session/expired`, `token/invalid`). A network failure
 * has status 0 and code `network/failed`.
 */
export class ChatApiError extends Error {
  override readonly name = 'ChatApiError';
  constructor(
    readonly status_code: number,
    readonly code: string,
    message: string,
    /** The parameter a 400 names, when it names one. */
    readonly param?: string,
    /** Seconds to wait, for `rate_limited` and `unavailable`. */
    readonly retry_after?: number,
  ) {
    super(message);
  }
}
