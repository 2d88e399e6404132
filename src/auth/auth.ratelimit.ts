import { RateLimiterRes } from 'rate-limiter-flexible';
import { createLimiter } from '../shared/public-ratelimit.js';
import type { Redis } from '../shared/redis.js';
import { AppError } from '../shared/errors.js';

const WINDOW_S = 15 * 60;

/**
 * Failed sign-ins are limited per account (5 / 15 min) and per IP (30 / 15 min). Every attempt
 * takes its point before the password is checked, so a burst of parallel guesses cannot slip
 * past the limit while argon2 runs; a success gives the points back (the account's count is
 * cleared, the IP's point returned), so only failures add up. Unknown emails count like real
 * ones, so the limiter reveals nothing about which accounts exist.
 */
export function createLoginLimiter(redis?: Redis, limits = { perAccount: 5, perIp: 30 }) {
  const make = (keyPrefix: string, points: number) => createLimiter(redis, keyPrefix, points, WINDOW_S);
  const account = make('sb:login:acct', limits.perAccount);
  const ip = make('sb:login:ip', limits.perIp);

  return {
    /** Counts one attempt against both limits; throws 429 (with retry seconds) when either is spent. */
    async attempt(email: string, addr: string) {
      const results = await Promise.allSettled([account.consume(email), ip.consume(addr)]);
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (refused.length === 0) return;
      const storeError = refused.find((r) => !(r instanceof RateLimiterRes));
      if (storeError) throw storeError;
      const wait = Math.max(...refused.map((r) => Math.ceil((r as RateLimiterRes).msBeforeNext / 1000)), 1);
      throw new AppError('auth/rate_limited', `Too many failed sign-in attempts; try again in ${wait} s`, {
        retry_after: wait,
      });
    },
    /** The attempt was right: it does not count against either limit. */
    async succeeded(email: string, addr: string) {
      await Promise.all([account.delete(email), ip.reward(addr, 1)]);
    },
  };
}
