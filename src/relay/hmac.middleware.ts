import type { Request, RequestHandler } from 'express';
import type { Organization } from '../generated/prisma/client.js';
import { organizationRefusal } from '../channels/channels.service.js';
import { decryptSecret } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import type { Redis } from '../shared/redis.js';
import type { TenantService } from '../tenants/tenants.service.js';
import type { TenantQuota } from '../shared/tenant-quota.js';
import { parseHmacHeaders, verifyRequest } from './hmac.js';
import type { Usage } from './usage.js';

/** The request's exact body bytes, kept by `express.json`'s `verify` for `/api/v1/relay` paths. */
export type RawBodyRequest = Request & { rawBody?: Buffer };

/** What a signed request was verified as: its tenant, and the secret that signed it. */
export type SignedCaller = { org: Organization; secret: string };

declare module 'express-serve-static-core' {
  interface Locals {
    signed?: SignedCaller;
  }
}

export type NonceStore = {
  /** Records the nonce; false if it was already recorded within its lifetime. */
  claim(tenantId: string, nonce: string, ttlS: number): Promise<boolean>;
};

/**
 * Nonces seen, per tenant: in Redis (`SET NX EX`, shared by every node) when there is Redis, in
 * this process's memory otherwise, or while Redis fails (a replay then gets through only on
 * another node, rather than every signed call failing).
 */
export function createNonceStore(deps: {
  redis?: Redis | undefined;
  prefix: string;
  now: () => number;
  onRedisError?: (err: unknown) => void;
  /** What the values are, in their keys (other single-use values reuse this store). */
  kind?: string;
}): NonceStore {
  const kind = deps.kind ?? 'hmac:nonce';
  const seen = new Map<string, number>();
  let sweepAt = 0;
  function inMemory(key: string, ttlS: number): boolean {
    const now = deps.now();
    // Expired entries are dropped at most once a second, in one pass (Map keeps insertion order,
    // but lifetimes may differ, so the whole map is walked).
    if (now >= sweepAt) {
      sweepAt = now + 1000;
      for (const [k, until] of seen) if (until <= now) seen.delete(k);
    }
    const until = seen.get(key);
    if (until !== undefined && until > now) return false;
    seen.set(key, now + ttlS * 1000);
    return true;
  }
  return {
    async claim(tenantId, nonce, ttlS) {
      const key = `${deps.prefix}:${kind}:${tenantId}:${nonce}`;
      if (deps.redis) {
        try {
          return (await deps.redis.set(key, '1', 'EX', ttlS, 'NX')) === 'OK';
        } catch (err) {
          deps.onRedisError?.(err);
        }
      }
      return inMemory(key, ttlS);
    },
  };
}

/**
 * HMAC#1 verification of the tenant backend's calls (docs/hmac.md), in this order: the four
 * headers, the tenant, the timestamp window, the signature (current secret, or the previous one
 * during its grace), the tenant's status, the nonce (recorded only once the signature held, so nobody
 * can spend a tenant's nonces), then the tenant's `rate_limit_per_min` (`api_calls`) and its usage.
 * The verified tenant is `res.locals.signed`.
 */
export function requireSigned(deps: {
  tenants: TenantService;
  encryptionKey: Buffer;
  nonces: NonceStore;
  quota?: TenantQuota | undefined;
  usage?: Usage | undefined;
  windowS: number;
  now: () => number;
}): RequestHandler {
  // Decrypted secrets, keyed by their sealed form (a rotation is a new entry).
  const secrets = new Map<string, string>();
  const open = (sealed: string) => {
    let secret = secrets.get(sealed);
    if (secret === undefined) {
      if (secrets.size >= 10_000) secrets.clear();
      secret = decryptSecret(deps.encryptionKey, sealed);
      secrets.set(sealed, secret);
    }
    return secret;
  };

  return async (req: RawBodyRequest, res, next) => {
    const headers = parseHmacHeaders(req.headers);
    const org = await deps.tenants.requireOrganization(headers.tenantId).catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'organization/not_found') {
        throw new AppError('hmac/unknown_tenant', 'X-Relay-Tenant names no tenant');
      }
      throw err;
    });
    const nowMs = deps.now();
    const live = [open(org.tenantSecretEnc)];
    if (org.tenantSecretPrevEnc && org.tenantSecretPrevUntil && org.tenantSecretPrevUntil.getTime() > nowMs) {
      live.push(open(org.tenantSecretPrevEnc));
    }
    verifyRequest({
      method: req.method,
      pathAndQuery: req.originalUrl,
      body: req.rawBody,
      headers,
      secrets: live,
      windowS: deps.windowS,
      nowMs,
    });
    // The status is told only to a caller who proved the secret, and as a signature refusal (401):
    // an unsigned probe cannot tell a suspended tenant from an active one.
    if (organizationRefusal(org.status)) {
      throw new AppError('hmac/tenant_suspended', 'This tenant is suspended: signed calls are refused');
    }
    // A nonce outlives the window on either side of its timestamp: a replay is stale or refused.
    if (!(await deps.nonces.claim(org.id, headers.nonce, 2 * deps.windowS))) {
      throw new AppError(
        'hmac/replayed_nonce',
        'This X-Relay-Nonce was used already: use a new one per request',
      );
    }
    await deps.quota?.take('api_calls', org.id, org.rateLimitPerMin);
    deps.usage?.countApiCall(org.id);
    res.locals.signed = { org, secret: live[0]! };
    next();
  };
}
