import { RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from './errors.js';
import type { Logger } from './logger.js';
import { createOutage } from './outage.js';
import { createHotLimiter, type PointLimiter } from './local-ratelimit.js';
import type { Redis } from './redis.js';

/**
 * What a tenant's `rate_limit_per_min` counts, each on its own: new end users, their messages, its
 * backend's signed API calls.
 */
export type QuotaKind = 'visitors' | 'messages' | 'api_calls';

const refusals: Record<QuotaKind, string> = {
  visitors: 'This chat is taking too many new visitors right now; try again shortly',
  messages: 'This chat is receiving too many messages right now; send again shortly',
  api_calls: "Too many API calls for this tenant's rate_limit_per_min; retry after retry_after seconds",
};

/** Taken: `refund` gives the point back when the work was not done after all. */
export type QuotaTaken = { refund: () => Promise<void> };

/**
 * Each organization's `rate_limit_per_min`, per kind, over a minute, across nodes (Redis; memory
 * per node while Redis is away or without it). Over it: `rate_limited` with `retry_after`.
 */
export function createTenantQuota(deps: {
  redis?: Redis | undefined;
  prefix: string;
  /** The quota's window: a minute (`rate_limit_per_min`), shorter only in tests of its reset. */
  windowS?: number;
  logger: Logger;
}) {
  const { redis, prefix, logger, windowS = 60 } = deps;
  // One limiter per (kind, limit): tenants with the same limit share it, keyed by organization.
  const limiters = new Map<string, PointLimiter>();
  const outage = createOutage('redis (tenant quota)', logger);
  const limiterFor = (kind: QuotaKind, perMin: number) => {
    const name = `${kind}:${perMin}`;
    let limiter = limiters.get(name);
    if (!limiter) {
      // Taken on every visitor message: counted on this node and synced to Redis (issue 23).
      limiter = createHotLimiter(redis, `${prefix}:quota:${kind}:${windowS}`, perMin, windowS, {
        name: 'tenant quota',
        logger,
      });
      limiters.set(name, limiter);
    }
    return limiter;
  };

  const kinds: QuotaKind[] = ['visitors', 'messages', 'api_calls'];

  return {
    /**
     * What the organization has used of its current window, per kind: 0 when nothing was counted
     * yet (or Redis and the memory insurance both failed: this is a reading, not a guard).
     */
    async current(organizationId: string, perMin: number) {
      const read = async (kind: QuotaKind) => {
        const res = await limiterFor(kind, perMin)
          .get(organizationId)
          .catch(() => null);
        const consumed = res?.consumedPoints ?? 0;
        return {
          kind,
          used: Math.min(consumed, perMin),
          /** Attempts refused this window (over the quota). */
          refused: Math.max(0, consumed - perMin),
          resets_in_s: res ? Math.max(0, Math.ceil(res.msBeforeNext / 1000)) : windowS,
        };
      };
      return Promise.all(kinds.map(read));
    },

    /** Takes one point of the organization's minute, or throws `rate_limited`. */
    async take(kind: QuotaKind, organizationId: string, perMin: number): Promise<QuotaTaken> {
      const limiter = limiterFor(kind, perMin);
      const refund = () => limiter.reward(organizationId, 1).then(noop, noop);
      try {
        await limiter.consume(organizationId);
        outage.ok();
        return { refund };
      } catch (res) {
        if (!(res instanceof RateLimiterRes)) {
          // Redis and the in-memory insurance both failed: a quota is a guard, not a gate.
          outage.failed(res);
          return { refund };
        }
        if (res.consumedPoints === perMin + 1) {
          logger.warn({ organizationId, kind, perMin }, 'tenant quota reached');
        }
        const retryAfter = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
        throw new AppError('rate_limited', refusals[kind], { retry_after: retryAfter });
      }
    },
  };
}

export type TenantQuota = ReturnType<typeof createTenantQuota>;

function noop() {}
