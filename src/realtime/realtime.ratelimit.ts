import { RateLimiterRes } from 'rate-limiter-flexible';
import { createLimiter } from '../shared/public-ratelimit.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis.js';

/**
 * End users' messages per external_id (per organization), shared by every node through Redis.
 * Over the limit, messages are dropped, as the spec says, and counted.
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
  const limiter = createLimiter(redis, keyPrefix, points, durationS);
  let dropped = 0;

  return {
    /** True when the message may go through; false when it must be dropped. */
    async allow(organizationId: string, externalId: string): Promise<boolean> {
      try {
        await limiter.consume(`${organizationId}:${externalId}`);
        return true;
      } catch (res) {
        if (!(res instanceof RateLimiterRes)) {
          // Redis unreachable: chat keeps working; the limit is a guard, not a gate.
          logger.warn({ err: res }, 'end-user rate limiter unavailable; message allowed');
          return true;
        }
        dropped += 1;
        // One log line per flood and window, not one per message.
        if (res.consumedPoints === points + 1) {
          logger.warn({ organizationId, externalId, windowS: durationS }, 'end-user rate limit hit');
        }
        return false;
      }
    },
    /** Messages dropped by this node since it started. */
    get dropped() {
      return dropped;
    },
  };
}
