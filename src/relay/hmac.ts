import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../shared/errors.js';

/**
 * HMAC#1, the signature of the tenant backend's calls to the relay and of the relay's webhooks to
 * the backend (docs/hmac.md is the recipe a backend follows; docs/hmac-vectors.json its vectors).
 */
export const HMAC_HEADERS = {
  tenant: 'x-relay-tenant',
  timestamp: 'x-relay-timestamp',
  nonce: 'x-relay-nonce',
  signature: 'x-relay-signature',
} as const;

const TENANT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^[0-9]{1,12}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const SIGNATURE = /^v1=([0-9a-f]{64})$/;

export type SignInput = {
  method: string;
  /** The path and query exactly as on the request line, e.g. `/api/v1/relay/usage?days=7`. */
  pathAndQuery: string;
  /** The exact body bytes (a string is taken as UTF-8); none: the empty string. */
  body?: Buffer | string | undefined;
};

const bytesOf = (body: Buffer | string | undefined) =>
  body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;

/** The hex SHA-256 of the body bytes. */
export const bodySha256 = (body?: Buffer | string) =>
  createHash('sha256').update(bytesOf(body)).digest('hex');

/** `HMAC1\nMETHOD\npath?query\ntimestamp\nnonce\nsha256(body)`: no trailing newline. */
export function stringToSign(input: SignInput & { timestamp: number | string; nonce: string }): string {
  return [
    'HMAC1',
    input.method.toUpperCase(),
    input.pathAndQuery,
    String(input.timestamp),
    input.nonce,
    bodySha256(input.body),
  ].join('\n');
}

/** The hex HMAC-SHA256 of the string to sign with the tenant secret. */
export const signature = (secret: string, toSign: string) =>
  createHmac('sha256', secret).update(toSign, 'utf8').digest('hex');

/** A fresh nonce: 24 random bytes, base64url (32 characters). */
export const newNonce = () => randomBytes(24).toString('base64url');

/**
 * The four headers of a signed request (or webhook). `timestamp` (unix seconds) and `nonce`
 * default to now and a fresh one.
 */
export function signRequest(
  input: SignInput & { tenantId: string; secret: string; timestamp?: number; nonce?: string },
): Record<'X-Relay-Tenant' | 'X-Relay-Timestamp' | 'X-Relay-Nonce' | 'X-Relay-Signature', string> {
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = input.nonce ?? newNonce();
  return {
    'X-Relay-Tenant': input.tenantId,
    'X-Relay-Timestamp': String(timestamp),
    'X-Relay-Nonce': nonce,
    'X-Relay-Signature': `v1=${signature(input.secret, stringToSign({ ...input, timestamp, nonce }))}`,
  };
}

/** The signed headers of a request, well-formed. */
export type HmacHeaders = { tenantId: string; timestamp: number; nonce: string; signature: string };

type HeaderBag = Record<string, string | string[] | undefined>;

const fail = (code: 'hmac/missing_headers' | 'hmac/malformed', message: string) =>
  new AppError(code, message);

/**
 * The four headers, or `hmac/missing_headers` naming the absent ones, or `hmac/malformed` naming
 * the header that is not of its form (a header sent twice is malformed).
 */
export function parseHmacHeaders(headers: HeaderBag): HmacHeaders {
  const names = Object.values(HMAC_HEADERS);
  const missing = names.filter((n) => headers[n] === undefined || headers[n] === '');
  if (missing.length > 0) {
    throw fail('hmac/missing_headers', `Signed request: missing header(s) ${missing.join(', ')}`);
  }
  const one = (n: string) => {
    const v = headers[n];
    return typeof v === 'string' ? v : undefined;
  };
  const tenantId = one(HMAC_HEADERS.tenant);
  const timestamp = one(HMAC_HEADERS.timestamp);
  const nonce = one(HMAC_HEADERS.nonce);
  const sig = SIGNATURE.exec(one(HMAC_HEADERS.signature) ?? '');
  if (!tenantId || !TENANT.test(tenantId)) {
    throw fail('hmac/malformed', 'X-Relay-Tenant must be the tenant_id (a UUID)');
  }
  if (!timestamp || !TIMESTAMP.test(timestamp)) {
    throw fail('hmac/malformed', 'X-Relay-Timestamp must be unix seconds (an integer)');
  }
  if (!nonce || !NONCE.test(nonce)) {
    throw fail('hmac/malformed', 'X-Relay-Nonce must be 16-64 characters of A-Z a-z 0-9 _ -');
  }
  if (!sig) throw fail('hmac/malformed', 'X-Relay-Signature must be v1=<64 lowercase hex>');
  return { tenantId: tenantId.toLowerCase(), timestamp: Number(timestamp), nonce, signature: sig[1]! };
}

/**
 * Checks a request's signature against every live secret (the current one, the previous one
 * during its grace): every candidate is computed and compared in constant time, so the time taken
 * says nothing about which matched, or what differed. Throws `hmac/bad_signature`, or
 * `hmac/stale_timestamp` when the timestamp is more than `windowS` from `nowMs`.
 */
export function verifyRequest(
  input: SignInput & { headers: HmacHeaders; secrets: string[]; windowS: number; nowMs: number },
): void {
  const { headers } = input;
  if (Math.abs(input.nowMs / 1000 - headers.timestamp) > input.windowS) {
    throw new AppError(
      'hmac/stale_timestamp',
      `X-Relay-Timestamp is more than ${input.windowS} s from the server's time: check your clock`,
    );
  }
  const toSign = stringToSign({ ...input, timestamp: headers.timestamp, nonce: headers.nonce });
  const presented = Buffer.from(headers.signature, 'hex');
  let ok = false;
  for (const secret of input.secrets) {
    const expected = Buffer.from(signature(secret, toSign), 'hex');
    ok = (presented.length === expected.length && timingSafeEqual(presented, expected)) || ok;
  }
  if (!ok) {
    throw new AppError(
      'hmac/bad_signature',
      'The signature does not match: see docs/hmac.md for the string to sign',
    );
  }
}
