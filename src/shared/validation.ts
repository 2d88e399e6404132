import { z } from 'zod';

// PostgreSQL stores neither a NUL character (22021) nor half of a UTF-16 surrogate pair (Prisma
// fails to encode it; jsonb refuses the escape, 22P05): without this check either one is a 500 and a
// stack trace per request, from anyone. Every string that reaches the database passes `text()`.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be stored as text, or undefined when it can. */
export function textProblem(v: string): string | undefined {
  if (v.includes('\0')) return 'must not contain NUL characters (\\u0000)';
  if (LONE_SURROGATE.test(v)) return 'must not contain unpaired UTF-16 surrogates (invalid Unicode)';
  return undefined;
}

/**
 * A string that PostgreSQL can store: no NUL, no lone surrogate. Chain `.trim()`, `.min()`, … after
 * it; it runs first and stops the other checks, so its message is the one the client sees.
 */
export const text = () =>
  z.string().check((ctx) => {
    const message = textProblem(ctx.value);
    if (message) ctx.issues.push({ code: 'custom', message, input: ctx.value, continue: false });
  });

/** Deeper JSON is refused (rich media is 4 levels deep), which also bounds the recursion below. */
const MAX_JSON_DEPTH = 32;

/** The first string in a JSON value that is not storable text (or where it nests too deep), and why. */
function findBadText(v: unknown, depth: number): { path: PropertyKey[]; message: string } | undefined {
  if (typeof v === 'string') {
    const message = textProblem(v);
    return message ? { path: [], message } : undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH)
    return { path: [], message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` };
  const entries: [PropertyKey, unknown][] = Array.isArray(v)
    ? v.map((item, i) => [i, item])
    : Object.entries(v);
  for (const [key, item] of entries) {
    // A bad key is reported at its object, a bad value at its key.
    const keyProblem = typeof key === 'string' ? textProblem(key) : undefined;
    if (keyProblem) return { path: [], message: keyProblem };
    const bad = findBadText(item, depth + 1);
    if (bad) {
      bad.path.unshift(key);
      return bad;
    }
  }
  return undefined;
}

/**
 * Any JSON value whose strings (object keys included) all pass `text()`; for JSON that is stored
 * whole (rich media). The issue's path leads to the offending string.
 */
export const jsonText = z.unknown().check((ctx) => {
  const bad = findBadText(ctx.value, 0);
  if (bad) ctx.issues.push({ code: 'custom', ...bad, input: ctx.value, continue: false });
});

// Lowercased, the form the database returns: rooms and maps keyed by an id must not see the same
// conversation under two spellings (`conv:A0EE…` would be a room no broadcast reaches).
export const uuid = z.uuid({ error: 'must be a UUID' }).overwrite((s) => s.toLowerCase());

/** `{ id }` route parameters. */
export const idParams = z.object({ id: uuid });

/** The id an end user is known by (a widget visitor id, an app's user id). */
export const externalId = text().trim().min(1, 'must not be empty').max(255);

/**
 * The tenant backend's proof of an end user: `hex(hmac_sha256(tenant_secret, external_id))`
 * (see `src/tenants/identity.ts`).
 */
export const userHash = text()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters: hex(hmac_sha256(tenant_secret, external_id))')
  .transform((h) => h.toLowerCase());

/** Who writes on the chat gateways: the two kinds of client. */
export const senderType = z.enum(['end_user', 'agent'], { error: 'must be end_user or agent' });

/** A queue (store, merchant) a conversation routes to. */
export const routingKey = text().trim().min(1).max(100);

/** `scheme://host[:port]`, no path: what browsers send in Origin (also app schemes such as `app://x`). */
export const origin = text()
  .trim()
  .max(255)
  .transform((v, ctx) => {
    try {
      const u = new URL(v);
      const host = u.host;
      if (!host || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash || u.username)
        throw new Error();
      return `${u.protocol}//${host}`;
    } catch {
      ctx.addIssue({ code: 'custom', message: `'${v}' is not an origin such as https://example.com` });
      return z.NEVER;
    }
  });

export const origins = z.array(origin).max(100).default([]);

export const displayName = text().trim().min(1).max(120);
