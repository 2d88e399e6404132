/** The root error of the SDK: an answer of the relay that was not a success, or no answer at all. */
export class RelayError extends Error {
  override readonly name = 'RelayError';
  /** The HTTP status (the envelope's `status_code`); 0 when no answer came (network, timeout). */
  readonly status_code: number;
  /** The envelope's stable `error` code (`conversation/not_found`, `hmac/bad_signature`, …). */
  readonly code: string;
  /** The parameter a 400 `request/invalid` names, when it names one. */
  readonly param: string | undefined;
  /** Seconds to wait, from a 429 or 503. */
  readonly retry_after: number | undefined;
  /** The whole envelope (or null when there was none). */
  readonly body: Record<string, unknown> | null;

  constructor(o: {
    status_code: number;
    code: string;
    message: string;
    param?: string | undefined;
    retry_after?: number | undefined;
    body?: Record<string, unknown> | null;
    cause?: unknown;
  }) {
    super(o.message, o.cause === undefined ? undefined : { cause: o.cause });
    this.status_code = o.status_code;
    this.code = o.code;
    this.param = o.param;
    this.retry_after = o.retry_after;
    this.body = o.body ?? null;
  }
}
