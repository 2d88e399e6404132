import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The hex SHA-256 of the empty body. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The four HMAC#1 headers, as sent (their names are case-insensitive on the wire). */
export type SignedHeaders = {
  'X-Relay-Tenant': string;
  'X-Relay-Timestamp': string;
  'X-Relay-Nonce': string;
  'X-Relay-Signature': string;
};

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const SIGNATURE = /^v1=[0-9a-f]{64}$/;

/** Hex SHA-256 of the exact body bytes (a string is taken as UTF-8). */
export function bodySha256(body: string | Uint8Array = ''): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The HMAC#1 string to sign: six lines joined by LF, no trailing newline (docs/hmac.md). */
export function stringToSign(o: {
  method: string;
  pathAndQuery: string;
  timestamp: string | number;
  nonce: string;
  body?: string | Uint8Array;
}): string {
  return [
    'HMAC1',
    o.method.toUpperCase(),
    o.pathAndQuery,
    String(o.timestamp),
    o.nonce,
    bodySha256(o.body),
  ].join('\n');
}

/** `hex(hmac_sha256(secret, string_to_sign))`, lower-case. */
export function computeSignature(secret: string, toSign: string): string {
  return createHmac('sha256', secret).update(toSign, 'utf8').digest('hex');
}

/** A fresh nonce: 32 characters of the base64url alphabet (the recipe allows 16–64). */
export function newNonce(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The four headers that sign one request. Sign the very bytes you send; `timestamp` (unix seconds)
 * and `nonce` are for tests and vectors, a real call takes the defaults.
 */
export function signRequest(o: {
  tenantId: string;
  secret: string;
  method: string;
  pathAndQuery: string;
  body?: string | Uint8Array;
  timestamp?: number;
  nonce?: string;
}): SignedHeaders {
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? newNonce();
  const signature = computeSignature(o.secret, stringToSign({ ...o, timestamp, nonce }));
  return {
    'X-Relay-Tenant': o.tenantId,
    'X-Relay-Timestamp': timestamp,
    'X-Relay-Nonce': nonce,
    'X-Relay-Signature': `v1=${signature}`,
  };
}

/**
 * Remembers nonces so a request cannot be replayed. `claim` records the key for `ttlS` seconds and
 * answers false when it was already there (Redis: `SET key 1 NX EX ttl`).
 */
export type NonceStore = {
  claim: (key: string, ttlS: number) => boolean | Promise<boolean>;
};

/** The default nonce store: this process's memory (one server). Share a Redis one across servers. */
export function createMemoryNonceStore(now: () => number = Date.now): NonceStore {
  const seen = new Map<string, number>();
  let sweptAt = 0;
  return {
    claim(key, ttlS) {
      const t = now();
      // An occasional sweep keeps the map to the nonces of the last window or two.
      if (t - sweptAt > 60_000) {
        sweptAt = t;
        for (const [k, until] of seen) if (until <= t) seen.delete(k);
      }
      if ((seen.get(key) ?? 0) > t) return false;
      seen.set(key, t + ttlS * 1000);
      return true;
    },
  };
}

/** Why a signed request was refused, as the relay names it (`hmac/<reason>`). */
export type VerifyFailure =
  'missing_headers' | 'malformed' | 'unknown_tenant' | 'stale_timestamp' | 'bad_signature' | 'replayed_nonce';

export type VerifyResult = { ok: true; tenantId: string } | { ok: false; reason: VerifyFailure };

/** Any header bag: node's `IncomingHttpHeaders`, a `Headers`, or a plain record. */
export type HeaderBag =
  Headers | Record<string, string | readonly string[] | undefined> | { get(name: string): string | null };

/** One header by name, whatever the bag's casing. */
export function headerOf(headers: HeaderBag, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(lower) ?? undefined;
  const bag = headers as Record<string, string | readonly string[] | undefined>;
  for (const [k, v] of Object.entries(bag)) {
    if (k.toLowerCase() === lower) return typeof v === 'string' ? v : v?.[0];
  }
  return undefined;
}

/**
 * Verifies an HMAC#1 request (a webhook from the relay): the four headers, the time window, the
 * signature against every secret given (constant time, each one computed), then the nonce, which
 * is recorded only once the signature held.
 */
export async function verifyRequest(o: {
  headers: HeaderBag;
  method: string;
  /** The path and query exactly as on the request line, prefix included. */
  pathAndQuery: string;
  rawBody: string | Uint8Array;
  /** The current secret, and the previous one during a rotation. */
  secrets: string | readonly string[];
  /** When set, a request for another tenant is `unknown_tenant`. */
  tenantId?: string | undefined;
  windowS?: number | undefined;
  nonceStore?: NonceStore | undefined;
  now?: (() => number) | undefined;
}): Promise<VerifyResult> {
  const windowS = o.windowS ?? 300;
  const now = o.now ?? Date.now;
  const tenant = headerOf(o.headers, 'x-relay-tenant');
  const ts = headerOf(o.headers, 'x-relay-timestamp');
  const nonce = headerOf(o.headers, 'x-relay-nonce');
  const sig = headerOf(o.headers, 'x-relay-signature');
  if (!tenant || !ts || !nonce || !sig) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(ts) || !NONCE.test(nonce) || !SIGNATURE.test(sig)) {
    return { ok: false, reason: 'malformed' };
  }
  const secrets = (typeof o.secrets === 'string' ? [o.secrets] : [...o.secrets]).filter(Boolean);
  if (secrets.length === 0 || (o.tenantId !== undefined && o.tenantId !== tenant)) {
    return { ok: false, reason: 'unknown_tenant' };
  }
  if (Math.abs(now() / 1000 - Number(ts)) > windowS) return { ok: false, reason: 'stale_timestamp' };
  const toSign = stringToSign({
    method: o.method,
    pathAndQuery: o.pathAndQuery,
    timestamp: ts,
    nonce,
    body: o.rawBody,
  });
  const given = Buffer.from(sig.slice(3), 'hex');
  let ok = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(toSign, 'utf8').digest();
    ok = timingSafeEqual(given, expected) || ok;
  }
  if (!ok) return { ok: false, reason: 'bad_signature' };
  const store = o.nonceStore ?? defaultNonceStore;
  if (!(await store.claim(`${tenant} ${nonce}`, 2 * windowS))) return { ok: false, reason: 'replayed_nonce' };
  return { ok: true, tenantId: tenant };
}

const defaultNonceStore = createMemoryNonceStore();
