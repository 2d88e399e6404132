// A tenant's webhook endpoint for tests: a real HTTP server on loopback that verifies HMAC#1
// (docs/hmac.md) with its own code, written from the recipe and independent of src/relay/hmac.ts,
// so a mistake in the product's signer cannot be mirrored by its verifier. It records every
// request and answers as the test tells it: 2xx, an error status, never, or not at all (down).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the receiver answers a verified request: `ok` is 200 `{"received": true}`. */
export type ReceiverMode = 'ok' | 'hang' | 'down' | number;

export type VerifyFailure =
  'missing_headers' | 'malformed' | 'unknown_tenant' | 'stale_timestamp' | 'bad_signature' | 'replayed_nonce';

/** One request as the receiver got it. */
export type ReceivedHook = {
  method: string;
  /** The path and query exactly as on the request line (what was signed). */
  path: string;
  /** The last path segment: the event type the URL names. */
  event: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or null when it was not JSON. */
  body: WebhookBody | null;
  rawBody: Buffer;
  verified: boolean;
  reason?: VerifyFailure;
  /** The status answered; undefined while hanging (or never). */
  status?: number;
  /** X-Relay-Attempt, as a number. */
  attempt: number;
  receivedAt: number;
};

/** The body the relay sends (contract: id, type, tenant_id, created_at, data). */
export type WebhookBody = {
  id: string;
  type: string;
  tenant_id: string;
  created_at: string;
  data: Record<string, unknown>;
};

export type WebhookReceiver = {
  /** Base URL to configure, with a path prefix: `http://127.0.0.1:PORT/hooks`. */
  url: string;
  port: number;
  /** Every request received, oldest first. */
  requests: ReceivedHook[];
  /** How requests are answered now (change it with `set`). */
  readonly mode: ReceiverMode;
  /** Changes how later requests are answered; `down` stops listening (open connections cut). */
  set: (mode: ReceiverMode) => Promise<void>;
  /** Answers the next requests with these modes (one each) before falling back to `mode`. */
  script: (...modes: Exclude<ReceiverMode, 'down'>[]) => void;
  /** Listens again on the same port (after `down`), answering with `mode` (default ok). */
  up: (mode?: Exclude<ReceiverMode, 'down'>) => Promise<void>;
  /** Resolves with the matching records once at least `count` match; rejects after `timeoutMs`. */
  waitFor: (
    predicate: (r: ReceivedHook) => boolean,
    timeoutMs?: number,
    count?: number,
  ) => Promise<ReceivedHook[]>;
  /** The verified requests, optionally of one event type, oldest first. */
  events: (type?: string) => ReceivedHook[];
  /** Sends a recorded request to the receiver again, byte for byte (headers may be overridden). */
  replay: (r: ReceivedHook, headers?: Record<string, string>) => Promise<{ status: number; body: unknown }>;
  /** Forgets the records and the script (not the nonces seen), back to `ok`. */
  reset: () => void;
  close: () => Promise<void>;
};

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SIGNATURE = /^v1=[0-9a-f]{64}$/;

/** The HMAC#1 string to sign (six lines, LF, no trailing newline). */
export function stringToSign(
  method: string,
  pathAndQuery: string,
  timestamp: string,
  nonce: string,
  body: Buffer | string,
): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return ['HMAC1', method.toUpperCase(), pathAndQuery, timestamp, nonce, bodyHash].join('\n');
}

/** The four HMAC#1 headers, for tests that forge or re-sign a request (e.g. a stale timestamp). */
export function hmac1Headers(o: {
  tenantId: string;
  secret: string;
  method: string;
  pathAndQuery: string;
  body: Buffer | string;
  timestamp?: number;
  nonce?: string;
}): Record<string, string> {
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? randomBytes(18).toString('base64url');
  const toSign = stringToSign(o.method, o.pathAndQuery, timestamp, nonce, o.body);
  return {
    'x-relay-tenant': o.tenantId,
    'x-relay-timestamp': timestamp,
    'x-relay-nonce': nonce,
    'x-relay-signature': `v1=${createHmac('sha256', o.secret).update(toSign).digest('hex')}`,
  };
}

const header = (h: IncomingHttpHeaders, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Starts a receiver. `secrets(tenantId)` gives the secret(s) that may have signed for that
 * tenant (a function, so a test can rotate); empty means an unknown tenant.
 */
export async function startWebhookReceiver(opts: {
  secrets: (tenantId: string) => string | string[] | undefined;
  windowS?: number;
  /** The receiver's clock in ms (tests may skew it). */
  now?: () => number;
  prefix?: string;
}): Promise<WebhookReceiver> {
  const windowS = opts.windowS ?? 300;
  const now = opts.now ?? Date.now;
  const prefix = opts.prefix ?? '/hooks';
  const seen = new Map<string, number>(); // `${tenant} ${nonce}` → expiry (ms)
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const requests: ReceivedHook[] = [];
  const waiters = new Set<() => void>();
  let mode: ReceiverMode = 'ok';
  let scripted: Exclude<ReceiverMode, 'down'>[] = [];

  function verify(method: string, path: string, h: IncomingHttpHeaders, raw: Buffer): VerifyFailure | null {
    const tenant = header(h, 'x-relay-tenant');
    const ts = header(h, 'x-relay-timestamp');
    const nonce = header(h, 'x-relay-nonce');
    const sig = header(h, 'x-relay-signature');
    if (!tenant || !ts || !nonce || !sig) return 'missing_headers';
    if (!UUID.test(tenant) || !/^\d{1,12}$/.test(ts) || !NONCE.test(nonce) || !SIGNATURE.test(sig)) {
      return 'malformed';
    }
    const given = [opts.secrets(tenant) ?? []].flat().filter(Boolean);
    if (given.length === 0) return 'unknown_tenant';
    if (Math.abs(now() / 1000 - Number(ts)) > windowS) return 'stale_timestamp';
    const expectedOf = (secret: string) =>
      createHmac('sha256', secret)
        .update(stringToSign(method, path, ts, nonce, raw))
        .digest();
    const received = Buffer.from(sig.slice(3), 'hex');
    let ok = false;
    // Every candidate is computed and compared, whichever matches.
    for (const secret of given) ok = timingSafeEqual(received, expectedOf(secret)) || ok;
    if (!ok) return 'bad_signature';
    const key = `${tenant} ${nonce}`;
    if ((seen.get(key) ?? 0) > now()) return 'replayed_nonce';
    seen.set(key, now() + 2 * windowS * 1000);
    return null;
  }

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const bytes = Buffer.from(JSON.stringify(body));
    // A 3xx points elsewhere on this receiver: a sender that followed it would be seen there.
    const location = status >= 300 && status < 400 ? { location: `${url}/elsewhere` } : {};
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': bytes.length,
      ...location,
    });
    res.end(bytes);
  };

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer) {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const reason = verify(method, path, req.headers, raw);
    let body: WebhookBody | null;
    try {
      body = JSON.parse(raw.toString('utf8')) as WebhookBody;
    } catch {
      body = null;
    }
    const record: ReceivedHook = {
      method,
      path,
      event: path.split('?')[0]!.split('/').at(-1) ?? '',
      headers: req.headers,
      body,
      rawBody: raw,
      verified: reason === null,
      ...(reason ? { reason } : {}),
      attempt: Number(header(req.headers, 'x-relay-attempt') ?? NaN),
      receivedAt: Date.now(),
    };
    requests.push(record);
    if (reason) {
      record.status = 401;
      json(res, 401, { error: reason });
    } else {
      const answer = scripted.shift() ?? (mode === 'down' ? 'ok' : mode);
      if (answer === 'hang') {
        hanging.add(res);
      } else if (answer === 'ok') {
        record.status = 200;
        json(res, 200, { received: true });
      } else {
        record.status = answer;
        json(res, answer, { error: `scripted ${answer}` });
      }
    }
    for (const wake of [...waiters]) wake();
  }

  let url = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  let listening = false;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        listening = true;
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
      hanging.clear();
      // Idle keep-alive and hanging connections too: a closed server refuses everything.
      for (const s of sockets) s.destroy();
    });

  await listen(0);
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}${prefix}`;

  const receiver: WebhookReceiver = {
    url,
    port,
    requests,
    get mode() {
      return mode;
    },
    async set(m) {
      mode = m;
      if (m === 'down') await stopListening();
      else if (!listening) await listen(port);
    },
    script(...modes) {
      scripted.push(...modes);
    },
    async up(m = 'ok') {
      await receiver.set(m);
    },
    waitFor(predicate, timeoutMs = 10_000, count = 1) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = requests.filter(predicate);
          if (found.length < count) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const got = requests.map((r) => `${r.event}#${r.attempt}:${r.status ?? '-'}${r.reason ?? ''}`);
          reject(new Error(`webhook receiver: no match within ${timeoutMs} ms; got [${got.join(', ')}]`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    events(type) {
      return requests.filter((r) => r.verified && (type === undefined || r.event === type));
    },
    replay(r, headers = {}) {
      const names = [
        'content-type',
        'user-agent',
        ...Object.keys(r.headers).filter((k) => k.startsWith('x-relay-')),
      ];
      const base = Object.fromEntries(
        names.map((k) => [k, header(r.headers, k)]).filter((e): e is [string, string] => e[1] !== undefined),
      );
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: r.method,
            path: r.path,
            headers: { ...base, ...headers, 'content-length': r.rawBody.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown = text;
              try {
                body = JSON.parse(text);
              } catch {
                // not JSON: the text itself
              }
              resolve({ status: res.statusCode ?? 0, body });
            });
          },
        );
        req.on('error', reject);
        req.end(r.rawBody);
      });
    },
    reset() {
      requests.length = 0;
      scripted = [];
      if (listening) mode = 'ok';
    },
    async close() {
      mode = 'down';
      await stopListening();
    },
  };
  return receiver;
}
