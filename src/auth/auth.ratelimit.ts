import type { RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from '../shared/redis.js';
import { AppError } from '../shared/errors.js';

const WINDOW_S = 15 * 60;

/**
 * Failed sign-ins are limited per account (5 / 15 min) and per IP (30 / 15 min). Only failures
 * count; a success clears the account's count. Unknown emails count like real ones, so the
 * limiter reveals nothing about which accounts exist.
 */
export function createLoginLimiter(redis?: Redis, limits = { perAccount: 5, perIp: 30 }) {
  const make = (keyPrefix: string, points: number): RateLimiterAbstract =>
    redis
      ? new RateLimiterRedis({
          storeClient: redis,
          useRedisPackage: true,
          keyPrefix,
          points,
          duration: WINDOW_S,
        })
      : new RateLimiterMemory({ keyPrefix, points, duration: WINDOW_S });
  const account = make('sb:login:acct', limits.perAccount);
  const ip = make('sb:login:ip', limits.perIp);

  const blocked = (res: RateLimiterRes | null, points: number) =>
    res && res.consumedPoints >= points ? Math.ceil(res.msBeforeNext / 1000) : 0;

  return {
    /** Throws 429 (with retry seconds) when either limit is spent. */
    async check(email: string, addr: string) {
      const [a, i] = await Promise.all([account.get(email), ip.get(addr)]);
      const wait = Math.max(blocked(a, limits.perAccount), blocked(i, limits.perIp));
      if (wait > 0) {
        throw new AppError('auth/rate_limited', `Too many failed sign-in attempts; try again in ${wait} s`, {
          retry_after: wait,
        });
      }
    },
    async failed(email: string, addr: string) {
      await Promise.all([account.penalty(email, 1), ip.penalty(addr, 1)]);
    },
    async succeeded(email: string) {
      await account.delete(email);
    },
  };
}
