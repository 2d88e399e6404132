import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
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

/** The public endpoints' limits from the configuration (PUBLIC_RATE_*). */
export const publicLimitsOf = (l: {
  publicPerIp: number;
  publicPerTarget: number;
  publicWindowS: number;
}): PublicLimits => ({ perIp: l.publicPerIp, perTarget: l.publicPerTarget, windowS: l.publicWindowS });

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

/**
 * The client's address on a raw request (a Socket.IO handshake), as Express's `req.ip` gives it
 * with `trust proxy` on or off: the left-most `X-Forwarded-For` entry only when the proxy is
 * trusted, else the peer's address.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const fwd = req.headers['x-forwarded-for'];
    const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

export type FailureLimits = { freePerIp: number; windowS: number; maxDelayMs: number };

/** The first delay past the free failures; each further failure doubles it, up to `maxDelayMs`. */
const FIRST_DELAY_MS = 100;

/** A refused proof of an end user: unknown conversation, wrong external_id, not allowed. */
export const isProofFailure = (err: unknown) =>
  err instanceof AppError && [401, 403, 404].includes(err.status);

/**
 * Failed proofs of an end user (an unknown conversation, a wrong external_id) per client IP,
 * shared by the socket joins and the history endpoint (one Redis counter per IP and window, so
 * an attacker cannot alternate). Past `freePerIp` failures in the window, every further failure
 * from that IP is answered only after a delay that doubles per failure, up to `maxDelayMs`
 * (callers let one proof per client wait at a time: a socket's proofs run in turn). A successful
 * proof never waits, so a visitor behind the same address is not slowed by a guesser.
 */
export function createFailureThrottle(redis: Redis | undefined, prefix: string, limits: FailureLimits) {
  const counter = createLimiter(redis, `${prefix}:fail`, 1_000_000_000, limits.windowS);

  /** Counts one failure of this IP and waits the delay it has earned (a guard: a Redis error waits nothing). */
  async function failed(ip: string): Promise<void> {
    const res = await counter.penalty(ip, 1).catch(() => null);
    const over = (res?.consumedPoints ?? 0) - limits.freePerIp;
    if (over <= 0 || limits.maxDelayMs === 0) return;
    const ms = Math.min(limits.maxDelayMs, FIRST_DELAY_MS * 2 ** Math.min(over - 1, 30));
    await new Promise((r) => setTimeout(r, ms));
  }

  return {
    failed,
    /**
     * Error middleware behind a public read that proves an end user: a refused proof counts as a
     * failure of the IP and is answered after its delay.
     */
    http(): ErrorRequestHandler {
      return (err: unknown, req, _res, next) => {
        if (!isProofFailure(err)) return next(err);
        void failed(req.ip ?? 'unknown').then(() => next(err));
      };
    },
  };
}

export type FailureThrottle = ReturnType<typeof createFailureThrottle>;
