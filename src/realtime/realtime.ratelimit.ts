import { RateLimiterRes } from 'rate-limiter-flexible';
import { createHotLimiter } from '../shared/local-ratelimit.js';
import type { Logger } from '../shared/logger.js';
import { createOutage } from '../shared/outage.js';
import type { Redis } from '../shared/redis.js';

/** A message let through: `refund` gives its point back when it was not stored after all. */
export type Allowed = { allowed: true; refund: () => Promise<void> };
/** A message to drop: the sender may try again in `retryAfterS`. */
export type Refused = { allowed: false; retryAfterS: number };

/**
 * End users' messages per external_id (per organization), shared by every node through Redis.
 * Over the limit, messages are dropped, as the spec says, and counted. Only stored messages count:
 * a send that fails afterwards (the database away) is refunded, so its retry is not refused.
 */
export function createEndUserLimiter(deps: {
  redis?: Redis | undefined;
  prefix: string;
  points: number;
  durationS: number;
  logger: Logger;
}) {
  const { redis, prefix, points, durationS, logger } = deps;
  const keyPrefix = `${prefix}:rl:enduser`;
  // Counted on this node and synced to Redis: no Redis round trip per message (issue 23).
  const limiter = createHotLimiter(redis, keyPrefix, points, durationS, {
    name: 'end-user rate limit',
    logger,
  });
  let dropped = 0;
  const outage = createOutage('redis (end-user rate limit)', logger);

  return {
    /** Takes one message's point, or says to drop it. */
    async take(organizationId: string, externalId: string): Promise<Allowed | Refused> {
      const key = `${organizationId}:${externalId}`;
      const refund = () => limiter.reward(key, 1).then(noop, noop);
      try {
        await limiter.consume(key);
        outage.ok();
        return { allowed: true, refund };
      } catch (res) {
        if (!(res instanceof RateLimiterRes)) {
          // Redis unreachable (the in-memory insurance failed too): chat keeps working; the limit
          // is a guard, not a gate.
          outage.failed(res);
          return { allowed: true, refund };
        }
        dropped += 1;
        // One log line per flood and window, not one per message.
        if (res.consumedPoints === points + 1) {
          logger.warn({ organizationId, externalId, windowS: durationS }, 'end-user rate limit hit');
        }
        return { allowed: false, retryAfterS: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
      }
    },
    /** Messages dropped by this node since it started. */
    get dropped() {
      return dropped;
    },
  };
}

function noop() {}
