import type { Request, RequestHandler } from 'express';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { AppError } from './errors.js';
import type { Redis } from './redis.js';

export type PublicLimits = { perTarget: number; perIp: number; windowS: number };

/**
 * `points` per `durationS` under `keyPrefix`: in Redis when configured (every node shares it), else
 * in memory. While Redis is away each node counts in memory instead (the limit holds per node).
 */
export function createLimiter(
  redis: Redis | undefined,
  keyPrefix: string,
  points: number,
  durationS: number,
): RateLimiterAbstract {
  const memory = new RateLimiterMemory({ keyPrefix, points, duration: durationS });
  return redis
    ? new RateLimiterRedis({
        storeClient: redis,
        keyPrefix,
        points,
        duration: durationS,
        insuranceLimiter: memory,
      })
    : memory;
}

/**
 * Public, unauthenticated endpoints (widget page, native open, devices) are limited per client
 * IP, and per IP and target (a token, a channel, a conversation), so one noisy client cannot
 * starve a whole carrier NAT and a guesser cannot hammer one target. Redis when configured
 * (shared by every node), memory otherwise.
 */
export function createPublicLimiter(
  redis: Redis | undefined,
  name: string,
  limits: PublicLimits = { perTarget: 30, perIp: 300, windowS: 60 },
) {
  const make = (keyPrefix: string, points: number) => createLimiter(redis, keyPrefix, points, limits.windowS);
  const target = make(`sb:public:${name}:t`, limits.perTarget);
  const ip = make(`sb:public:${name}:ip`, limits.perIp);

  /** Middleware: `targetOf` names what the request is aimed at (from the raw body or the request). */
  return (targetOf: (body: Record<string, unknown>, req: Request) => unknown): RequestHandler =>
    async (req, res, next) => {
      const addr = req.ip ?? 'unknown';
      const t = targetOf((req.body ?? {}) as Record<string, unknown>, req);
      try {
        await Promise.all([ip.consume(addr), target.consume(`${addr}|${typeof t === 'string' ? t : ''}`)]);
        next();
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) return next(err);
        const wait = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        res.setHeader('Retry-After', String(wait));
        next(
          new AppError('rate_limited', `Too many requests; try again in ${wait} s`, { retry_after: wait }),
        );
      }
    };
}
