import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from './logger.js';
import { createOutage } from './outage.js';
import { createLimiter } from './public-ratelimit.js';
import type { Redis } from './redis.js';

/** What the hot paths ask of a limiter (rate-limiter-flexible's own limiters have it too). */
export type PointLimiter = {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
  reward(key: string, points?: number): Promise<RateLimiterRes>;
  get(key: string): Promise<RateLimiterRes | null>;
};

/** How often points counted on this node are added to Redis, and the other nodes' read back. */
export const LIMIT_SYNC_MS = 100;

/**
 * The share of a limit a node grants from its own count. Past it every point is asked of Redis,
 * as rate-limiter-flexible does, so the end of a window is exact.
 */
const LOCAL_SHARE = 0.5;

/**
 * The share of a limit a node may hold unsent to Redis (what other nodes cannot see yet): the most
 * a limit can be exceeded by, per other node. Under 10 points this is none: every point asks Redis.
 */
const UNSENT_SHARE = 0.1;

/** Keys per script call of a sync. */
const SYNC_CHUNK = 500;

// rate-limiter-flexible's own increment (RateLimiterRedis: a fixed window set by the first point),
// for many keys at once. KEYS the limiter's keys; ARGV the points to add to each, then the window
// in seconds. Returns consumed and ttl (ms) per key.
const INCR_MANY = `
local out = {}
local window = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  redis.call('set', key, 0, 'EX', window, 'NX')
  local consumed = redis.call('incrby', key, ARGV[i])
  local ttl = redis.call('pttl', key)
  if ttl == -1 then
    redis.call('expire', key, window)
    ttl = 1000 * window
  end
  out[#out + 1] = consumed
  out[#out + 1] = ttl
end
return out`;

type Entry = {
  /** The count Redis last answered for this key (every node's synced points). */
  known: number;
  /** Points taken here and not sent yet. */
  pending: number;
  /** Points on their way to Redis. */
  sending: number;
  /** When the window ends (ms epoch): Redis's TTL once answered, else a window from first use. */
  resetAt: number;
};

/**
 * A Redis limiter (rate-limiter-flexible's `RateLimiterRedis`, same keys and fixed windows) that
 * does not ask Redis for every point. While a key is under half its limit by what this node knows
 * (the count Redis last answered plus its own points since) and this node holds fewer than a
 * tenth of the limit unsent, points are granted here and added to Redis every `LIMIT_SYNC_MS`, all
 * keys in one script call. Otherwise the point is asked of Redis at once, with the points still
 * pending, exactly as before; and a key Redis has refused is refused here until its window ends.
 *
 * Across nodes the limit can be exceeded only by points other nodes granted and have not sent
 * yet: at most a tenth of the limit per other node, for one sync period. Limits under 10 points
 * ask Redis for every point, as before.
 */
export function createLocalLimiter(
  store: RateLimiterRedis,
  redis: Redis,
  opts: { points: number; durationS: number; name: string; logger?: Logger | undefined; syncMs?: number },
): PointLimiter {
  const { points, durationS } = opts;
  const durationMs = durationS * 1000;
  const localMax = Math.floor(points * LOCAL_SHARE);
  const unsentMax = Math.floor(points * UNSENT_SHARE);
  const syncMs = opts.syncMs ?? LIMIT_SYNC_MS;
  const outage = createOutage(`redis (${opts.name} sync)`, opts.logger);
  const entries = new Map<string, Entry>();
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let lastSweep = Date.now();
  /** Syncs under way: a reading waits for them (see `get`). */
  const running = new Set<Promise<void>>();

  function entryOf(key: string, now: number): Entry {
    let e = entries.get(key);
    if (!e || now >= e.resetAt) {
      // A new window: points still pending belonged to the last one, which Redis forgot too.
      e = { known: 0, pending: 0, sending: 0, resetAt: now + durationMs };
      entries.set(key, e);
    }
    return e;
  }

  function schedule() {
    if (timer) return;
    timer = setTimeout(() => void sync(), syncMs);
    timer.unref();
  }

  function sync(): Promise<void> {
    const done = send().finally(() => running.delete(done));
    running.add(done);
    return done;
  }

  function take(key: string, e: Entry, n: number) {
    e.pending += n;
    dirty.add(key);
    schedule();
  }

  /** Sends every key's pending points; the answers are the counts every node sees. */
  async function send() {
    timer = null;
    const now = Date.now();
    if (now - lastSweep > durationMs) {
      lastSweep = now;
      for (const [key, e] of entries) {
        if (now >= e.resetAt && e.sending === 0) entries.delete(key);
      }
    }
    const batch: { key: string; e: Entry; n: number }[] = [];
    for (const key of dirty) {
      const e = entries.get(key);
      if (!e || e.pending <= 0) continue;
      batch.push({ key, e, n: e.pending });
      e.sending += e.pending;
      e.pending = 0;
    }
    dirty.clear();
    for (let i = 0; i < batch.length; i += SYNC_CHUNK) {
      const part = batch.slice(i, i + SYNC_CHUNK);
      try {
        const res = (await redis.eval(
          INCR_MANY,
          part.length,
          ...part.map((p) => store.getKey(p.key)),
          ...part.map((p) => p.n),
          durationS,
        )) as number[];
        const at = Date.now();
        part.forEach((p, k) => {
          p.e.sending -= p.n;
          p.e.known = Number(res[2 * k]);
          p.e.resetAt = at + Number(res[2 * k + 1]);
        });
        outage.ok();
      } catch (err) {
        // Redis away: the points wait for the next sync (or their window to end).
        outage.failed(err);
        for (const p of part) {
          p.e.sending -= p.n;
          take(p.key, p.e, p.n);
        }
      }
    }
  }

  const answer = (e: Entry, used: number, now: number) =>
    new RateLimiterRes(Math.max(0, points - used), Math.max(0, e.resetAt - now), used, used === 1);

  return {
    async consume(key, n = 1) {
      const now = Date.now();
      const e = entryOf(key, now);
      const used = e.known + e.sending + e.pending + n;
      // Redis refused this key already in this window: so does this node, without asking.
      if (e.known > points) {
        take(key, e, n);
        throw answer(e, used, now);
      }
      if (used <= localMax && e.pending + e.sending + n <= unsentMax) {
        take(key, e, n);
        return answer(e, used, now);
      }
      // Near the limit: ask Redis now, with this node's pending points. Until it answers they
      // count as sending, so the points after this one ask Redis too.
      const claimed = e.pending + n;
      e.pending = 0;
      e.sending += claimed;
      try {
        const res = await store.consume(key, claimed);
        e.known = res.consumedPoints;
        e.resetAt = Date.now() + res.msBeforeNext;
        return res;
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          e.known = err.consumedPoints;
          e.resetAt = Date.now() + err.msBeforeNext;
        } else {
          // Redis and the insurance failed: the caller lets the point through; it is sent later.
          take(key, e, claimed);
        }
        throw err;
      } finally {
        e.sending -= claimed;
      }
    },

    async reward(key, n = 1) {
      const e = entries.get(key);
      if (e && e.pending >= n) {
        e.pending -= n;
        return answer(e, e.known + e.sending + e.pending, Date.now());
      }
      const res = await store.reward(key, n);
      if (e) e.known = res.consumedPoints;
      return res;
    },

    async get(key) {
      if (dirty.size) {
        if (timer) clearTimeout(timer);
        void sync();
      }
      // The reading is a MULTI, which ioredis writes at once, while a sync's script waits for the
      // answers to the client's auto-pipelined commands before it: wait until the points are in.
      if (running.size) await Promise.all(running);
      return store.get(key);
    },
  };
}

/**
 * `createLimiter` for limits taken on every message or event: with Redis, counted on this node
 * and synced (`createLocalLimiter`); without, in memory as before.
 */
export function createHotLimiter(
  redis: Redis | undefined,
  keyPrefix: string,
  points: number,
  durationS: number,
  opts: { name: string; logger?: Logger | undefined },
): PointLimiter {
  const limiter = createLimiter(redis, keyPrefix, points, durationS);
  if (!redis || !(limiter instanceof RateLimiterRedis)) return limiter;
  return createLocalLimiter(limiter, redis, { points, durationS, ...opts });
}
