import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ZodError, type z, type ZodType } from 'zod';
import { Prisma } from '../generated/prisma/client.js';
import { AppError } from './errors.js';
import { isDatabaseUnavailable, type Outage } from './outage.js';
import { flushTurnWrites } from './turn-writes.js';

/** Seconds a client is told to wait when the database is away (Retry-After, ack `retry_after`). */
export const RETRY_AFTER_S = 3;

const unavailable = () =>
  new AppError('unavailable', 'The service is briefly unavailable; try again in a few seconds', {
    retry_after: RETRY_AFTER_S,
  });

/** Turns a ZodError into the 400 body: the first offending parameter is named in the message. */
export function zodToAppError(err: ZodError): AppError {
  const issue = err.issues[0]!;
  const param = issue.path.join('.') || 'body';
  return new AppError('request/invalid', `Invalid parameter '${param}': ${issue.message}`, { param });
}

type Part = 'body' | 'query' | 'params';

/** Validates and replaces a request part; handlers then read typed data via `parsed(req, part)`. */
export function validate(part: Part, schema: ZodType): RequestHandler {
  return (req, _res, next) => {
    const result = schema.safeParse(req[part] ?? {});
    if (!result.success) return next(zodToAppError(result.error));
    (req as Request & { valid?: Partial<Record<Part, unknown>> }).valid = {
      ...(req as Request & { valid?: object }).valid,
      [part]: result.data,
    };
    next();
  };
}

export function valid<T extends ZodType>(req: Request, part: Part, _schema: T): z.infer<T> {
  return (req as Request & { valid?: Partial<Record<Part, unknown>> }).valid?.[part] as z.infer<T>;
}

/**
 * Maps any error to `{ error, message }` JSON. Unknown errors are logged and never described; a
 * database outage is 503 with `Retry-After`, reported to `outage` (logged once per outage).
 */
export function createErrorHandler(outage?: Outage): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appErr = toAppError(err);
    if (appErr.code === 'unavailable' && !(err instanceof AppError)) outage?.failed(err);
    else if (appErr.status >= 500) {
      // One line per failure at error level (pino-http binds the request id as `reqId`): a client
      // that can provoke errors must not be able to fill the logs with stacks. The stack is at debug.
      // (pino's `err` serializer would turn the summary back into an error with a `stack` field.)
      req.log
        ?.child({}, { serializers: { err: (e: unknown) => e } })
        .error({ err: errorSummary(err) }, 'request failed');
      req.log?.debug({ err }, 'request failed (stack)');
    }
    if (res.headersSent) return;
    const retryAfter = appErr.details?.retry_after;
    if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
    if (appErr.code === 'unavailable' && typeof retryAfter === 'number' && wantsPage(req)) {
      return void unavailablePage(req, res, retryAfter);
    }
    res.status(appErr.status).json({ error: appErr.code, message: appErr.message, ...appErr.details });
  };
}

const MAX_LOGGED_MESSAGE = 500;

/** What an unexpected error is logged as at error level: its type, code and message, no stack. */
export function errorSummary(err: unknown): { type: string; message: string; code?: string } {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const type =
    err instanceof Error
      ? err.constructor.name || err.name
      : typeof e.name === 'string'
        ? e.name
        : typeof err;
  // Prisma's messages quote the calling code over many lines: the call is named at the start and
  // the cause at the end, so a long one keeps both ends.
  const full = (typeof e.message === 'string' ? e.message : String(err)).replace(/\s+/g, ' ').trim();
  const message =
    full.length <= MAX_LOGGED_MESSAGE
      ? full
      : `${full.slice(0, MAX_LOGGED_MESSAGE / 2)} … ${full.slice(-MAX_LOGGED_MESSAGE / 2)}`;
  return { type, message, ...(typeof e.code === 'string' ? { code: e.code } : {}) };
}

/** A browser navigating to a page (the widget's iframe, the inbox), not a script calling the API. */
function wantsPage(req: Request): boolean {
  return req.method === 'GET' && req.accepts(['json', 'html']) === 'html';
}

/**
 * A page that says the chat is briefly unavailable and reloads itself (no script: a meta refresh,
 * within every page's CSP). The widget's may be framed anywhere: it shows nothing of anyone's.
 */
function unavailablePage(req: Request, res: Response, retryAfterS: number) {
  if (req.path.startsWith('/chat-widget')) {
    res.removeHeader('X-Frame-Options');
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors *",
    );
  }
  res
    .status(503)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${retryAfterS}">` +
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Briefly unavailable</title></head>' +
        '<body style="font: 15px system-ui, sans-serif; margin: 2rem; color: #333">' +
        '<p>Chat is briefly unavailable. This page tries again by itself in a few seconds.</p></body></html>',
    );
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return zodToAppError(err);
  if (isDatabaseUnavailable(err)) return unavailable();
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === 'P2002') return new AppError('conflict', 'A record with these values already exists');
    if (err.code === 'P2025') return new AppError('not_found', 'Not found');
  }
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string; code?: string };
  if (e?.code === 'EBADCSRFTOKEN')
    return new AppError('auth/csrf', 'Missing or invalid CSRF token (X-CSRFToken)');
  // body-parser errors: malformed JSON, body too large.
  if (e?.expose && typeof e.status === 'number' && e.status < 500) {
    if (e.status === 413) return new AppError('request/too_large', 'Request body too large');
    return new AppError(
      'request/invalid',
      e.type === 'entity.parse.failed' ? 'Malformed JSON body' : (e.message ?? 'Bad request'),
    );
  }
  return new AppError('internal', 'Internal server error');
}

export const notFoundHandler: RequestHandler = (req, _res, next) =>
  next(new AppError('not_found', `No route for ${req.method} ${req.path}`));

/**
 * A response's headers go out after every Redis publish issued before them (see `batchPublishes`):
 * a client that sent a message over HTTP and then acts on the answer (another send, through
 * another node) can never overtake the message's own broadcast.
 */
export const publishesBeforeResponse: RequestHandler = (_req, res, next) => {
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: unknown[]) {
    flushTurnWrites();
    return (writeHead as (...a: unknown[]) => Response).apply(this, args);
  } as Response['writeHead'];
  next();
};
