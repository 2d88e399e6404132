import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../shared/errors.js';
import { errorSummary, toAppError } from '../shared/http.js';
import type { Outage } from '../shared/outage.js';

/**
 * The relay's answer shape on every `/api/v1/*` path: `{status_code, data, message}` with the HTTP
 * status equal to `status_code`; errors add a stable `error` code (and `data: null`).
 */
export type Envelope<T> = { status_code: number; data: T; message: string };

/** Sends `data` in the envelope. */
export function reply<T>(res: Response, status: number, data: T, message: string): void {
  res.status(status).json({ status_code: status, data, message } satisfies Envelope<T>);
}

/** The relay's 404 for a path it does not know, in the envelope. */
export const relayNotFound: RequestHandler = (req, _res, next) =>
  next(new AppError('not_found', `No relay endpoint ${req.method} ${req.baseUrl}${req.path}`));

/**
 * Every error of `/api/v1/*` in the envelope: `{status_code, data: null, message, error, ...}`.
 * Unexpected errors are logged once (no stack at error level) and never described; a database
 * outage is 503 with `Retry-After`.
 */
export function relayErrorHandler(outage?: Outage): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toAppError(err);
    if (e.code === 'unavailable' && !(err instanceof AppError)) outage?.failed(err);
    else if (e.status >= 500) {
      req.log
        ?.child({}, { serializers: { err: (x: unknown) => x } })
        .error({ err: errorSummary(err) }, 'request failed');
      req.log?.debug({ err }, 'request failed (stack)');
    }
    if (res.headersSent) return;
    const retryAfter = e.details?.retry_after;
    if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
    res.status(e.status).json({
      status_code: e.status,
      data: null,
      message: e.message,
      error: e.code,
      ...e.details,
    });
  };
}
