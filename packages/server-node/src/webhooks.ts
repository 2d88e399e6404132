import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RelayClient } from './client.js';
import { headerOf, verifyRequest, type HeaderBag, type NonceStore, type VerifyFailure } from './hmac.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEvent, type WebhookEventType } from './types.js';

export type VerifyWebhookOptions = {
  headers: HeaderBag;
  method: string;
  /** The path and query exactly as on the request line, your prefix included (`req.originalUrl`). */
  path: string;
  /** The body bytes as received, before any JSON parsing. */
  rawBody: string | Uint8Array;
  /** The tenant's current secret, and the previous one during a rotation. */
  secrets: string | readonly string[];
  /** When given, webhooks for another tenant are refused. */
  tenantId?: string | undefined;
  /** Seconds a timestamp may differ from this clock (default 300, the relay's). */
  windowS?: number | undefined;
  /** Where used nonces are kept (default: memory, one process). */
  nonceStore?: NonceStore | undefined;
  now?: (() => number) | undefined;
};

export type VerifyWebhookResult = { ok: true; tenantId: string } | { ok: false; reason: VerifyFailure };

/**
 * Verifies a webhook with HMAC#1 (docs/hmac.md, "Verifying"): headers, time window, signature in
 * constant time against every secret, then a single use of its nonce.
 */
export function verifyWebhook(o: VerifyWebhookOptions): Promise<VerifyWebhookResult> {
  return verifyRequest({ ...o, pathAndQuery: o.path });
}

/** Where the relay POSTs (`{callback_base_url}/api/v1/chat-callbacks/{event}`). */
export const CALLBACK_PATH = /\/api\/v1\/chat-callbacks\/([^/?#]+)\/?$/;

/** What a handler gets besides the event. */
export type WebhookContext = {
  /** `X-Relay-Attempt`: 1, 2, … (the event's `id` stays the same across attempts). */
  attempt: number;
  headers: HeaderBag;
};

export type WebhookHandlers = {
  [K in WebhookEventType]?: (event: WebhookEvent<K>, ctx: WebhookContext) => unknown;
};

export type Logger = {
  info?: (msg: string, meta?: Record<string, unknown>) => void;
  warn?: (msg: string, meta?: Record<string, unknown>) => void;
  error?: (msg: string, meta?: Record<string, unknown>) => void;
};

export type WebhookHandlerOptions = {
  handlers: WebhookHandlers;
  /** Called for an event without a handler (it is still answered 200 `{"received": true}`). */
  onUnhandled?: (event: WebhookEvent, ctx: WebhookContext) => unknown;
  logger?: Logger;
  windowS?: number;
  nonceStore?: NonceStore;
  now?: () => number;
} & (
  | { secrets: string | readonly string[] | (() => readonly string[]); tenantId?: string; client?: never }
  /** The client's tenant and secret(s): the one before a `rotateTenantSecret` is accepted too. */
  | { client: Pick<RelayClient, 'tenantId' | 'webhookSecrets'>; secrets?: never; tenantId?: never }
);

/** A request as any framework can describe it. */
export type WebhookRequest = {
  method: string;
  /** The path and query as on the request line (what the relay signed). */
  url: string;
  headers: HeaderBag;
  rawBody: string | Uint8Array;
};
export type WebhookResponse = { status: number; body: Record<string, unknown> };
export type WebhookHandler = (req: WebhookRequest) => Promise<WebhookResponse>;

const KNOWN = new Set<string>(WEBHOOK_EVENT_TYPES);

/**
 * The nine callbacks, framework-agnostic: verifies the request, parses the event and calls its
 * handler. Answers 200 `{"received": true}` (with or without a handler), 401 for a bad signature,
 * 404 for a path that is not one of the nine, 405 for another method, 400 for a body that is not
 * the event its path names, and 500 when the handler throws (the relay tries again later).
 */
export function createWebhookHandler(o: WebhookHandlerOptions): WebhookHandler {
  const log = o.logger ?? {};
  const secretsNow = (): readonly string[] => {
    if (o.client) return o.client.webhookSecrets;
    const s = o.secrets;
    return typeof s === 'function' ? s() : typeof s === 'string' ? [s] : s;
  };
  const tenantId = o.client ? o.client.tenantId : o.tenantId;

  return async (req) => {
    const pathname = req.url.split('?')[0] ?? '';
    const match = CALLBACK_PATH.exec(pathname);
    const type = match?.[1];
    if (!type || !KNOWN.has(type)) {
      return { status: 404, body: { error: 'not_found', message: `No webhook callback at ${pathname}` } };
    }
    if (req.method.toUpperCase() !== 'POST') {
      return { status: 405, body: { error: 'method_not_allowed', message: 'Webhooks are POSTed' } };
    }
    const verified = await verifyRequest({
      headers: req.headers,
      method: req.method,
      pathAndQuery: req.url,
      rawBody: req.rawBody,
      secrets: secretsNow(),
      tenantId,
      windowS: o.windowS,
      nonceStore: o.nonceStore,
      now: o.now,
    });
    if (!verified.ok) {
      log.warn?.('webhook refused', { reason: verified.reason, path: pathname });
      return { status: 401, body: { error: 'invalid_signature', reason: verified.reason } };
    }
    let event: WebhookEvent;
    try {
      const text = typeof req.rawBody === 'string' ? req.rawBody : Buffer.from(req.rawBody).toString('utf8');
      event = JSON.parse(text) as WebhookEvent;
    } catch {
      return { status: 400, body: { error: 'invalid_body', message: 'The body is not JSON' } };
    }
    // The body is signed, the URL's last segment is signed too: both must name the same event.
    if (!event || typeof event !== 'object' || event.type !== type || typeof event.id !== 'string') {
      return { status: 400, body: { error: 'invalid_body', message: `The body is not a ${type} event` } };
    }
    const ctx: WebhookContext = {
      attempt: Number(headerOf(req.headers, 'x-relay-attempt') ?? 1),
      headers: req.headers,
    };
    const handler = o.handlers[event.type] as ((e: WebhookEvent, c: WebhookContext) => unknown) | undefined;
    try {
      if (handler) await handler(event, ctx);
      else {
        log.info?.('webhook without a handler', { type: event.type, id: event.id });
        await o.onUnhandled?.(event, ctx);
      }
    } catch (err) {
      log.error?.('webhook handler failed', { type: event.type, id: event.id, err });
      return { status: 500, body: { error: 'handler_failed' } };
    }
    return { status: 200, body: { received: true } };
  };
}

/** The whole body of a node request, as bytes. */
export function readRawBody(req: IncomingMessage, limitBytes = 1_048_576): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limitBytes) {
        reject(new Error('webhook body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, out: WebhookResponse) {
  const bytes = Buffer.from(JSON.stringify(out.body));
  res.statusCode = out.status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', bytes.length);
  res.end(bytes);
}

/** A `node:http` request listener: `createServer(toNodeHttp(handler))`. */
export function toNodeHttp(handler: WebhookHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    readRawBody(req)
      .then((rawBody) =>
        handler({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, rawBody }),
      )
      .then(
        (out) => send(res, out),
        () => send(res, { status: 400, body: { error: 'invalid_body' } }),
      );
  };
}

type ExpressLikeRequest = IncomingMessage & { originalUrl?: string; body?: unknown; rawBody?: unknown };

/**
 * Express (or Connect) middleware: `app.use(expressWebhooks(handler))`, before any JSON body
 * parser, or after `express.raw({type: 'application/json'})`. Requests outside
 * `/api/v1/chat-callbacks/*` go to `next()`. It needs the raw body: a body already parsed to an
 * object cannot be verified, and is passed to `next(err)`.
 */
export function expressWebhooks(
  handler: WebhookHandler,
): (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    const url = req.originalUrl ?? req.url ?? '/';
    if (!CALLBACK_PATH.test(url.split('?')[0] ?? '')) return next();
    let raw: Promise<Buffer>;
    if (Buffer.isBuffer(req.body)) raw = Promise.resolve(req.body);
    else if (Buffer.isBuffer(req.rawBody)) raw = Promise.resolve(req.rawBody);
    else if (typeof req.body === 'string') raw = Promise.resolve(Buffer.from(req.body, 'utf8'));
    else if (req.body !== undefined && req.readableEnded) {
      return next(new Error('Switchboard webhooks need the raw body: mount them before express.json()'));
    } else raw = readRawBody(req);
    raw
      .then((rawBody) => handler({ method: req.method ?? 'GET', url, headers: req.headers, rawBody }))
      .then((out) => send(res, out), next);
  };
}
