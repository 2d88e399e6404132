import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { createOutage, type Outage } from '../shared/outage.js';
import { createHotLimiter, type PointLimiter } from '../shared/local-ratelimit.js';
import { isProofFailure, type FailureThrottle } from '../shared/public-ratelimit.js';
import type { Redis } from '../shared/redis.js';

export type GuardLimits = Config['limits'];

/** Whose events a socket's per-address quota counts: its IP, or the agent's account. */
export type SocketOwner = { ip: string; agentId?: string | undefined };

const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

const tooMany = (what: string, retryAfterS: number) =>
  new AppError('rate_limited', `Too many ${what}; try again in ${retryAfterS} s`, {
    retry_after: retryAfterS,
  });

/** A connection slot is held this long without a refresh; a crashed node's slots expire with it. */
const SLOT_TTL_MS = 60_000;
const SLOT_REFRESH_MS = 20_000;
/** Slots refreshed by one Redis call: a refresh is many small turns of the event loop, not one long one. */
const SLOT_REFRESH_CHUNK = 1000;

// Sets the expiry of a chunk of slots. KEYS the IPs' sorted sets; ARGV the expiry, then for each key
// in turn its number of sockets and their ids.
const REFRESH = `
local expiry = ARGV[1]
local at = 2
for k = 1, #KEYS do
  local n = tonumber(ARGV[at])
  for j = at + 1, at + n do redis.call('ZADD', KEYS[k], expiry, ARGV[j]) end
  redis.call('PEXPIREAT', KEYS[k], expiry)
  at = at + n + 1
end
return 0`;

// Drops expired slots, then takes one if fewer than the limit are held. KEYS[1] the IP's sorted set
// (member = socket id, score = expiry); ARGV now, expiry, limit, socket id.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1`;

/**
 * Anonymous sockets open at once per client IP, across nodes: one Redis sorted set per IP of the
 * sockets holding a slot, each with an expiry that its node refreshes while the socket lives, so a
 * crashed node's sockets stop counting within a minute. While Redis is away each node counts its
 * own sockets against the same limit (and adds them to Redis at the next refresh).
 */
export function createConnectionSlots(deps: {
  redis?: Redis | undefined;
  prefix: string;
  max: number;
  logger: Logger;
}) {
  const { redis, prefix, max } = deps;
  const local = new Map<string, Set<string>>();
  const outage = createOutage('redis (sockets per IP)', deps.logger);
  const key = (ip: string) => `${prefix}:conns:${ip}`;

  /** Every live slot, read as it is sent: a socket gone by the time its chunk is sent is not sent. */
  function* liveSlots(): Generator<[string, string]> {
    for (const [ip, ids] of local) for (const id of ids) yield [ip, id];
  }

  /**
   * Renews every slot of this node, a chunk per Redis call, each chunk read from the live sockets
   * just before it is sent. As one pipeline of ZADDs built at once it held the event loop 12-24 ms
   * with 10,000 sockets of one address, and 195 ms with 10,000 addresses, every 20 s.
   */
  async function renew() {
    if (!redis || redis.status !== 'ready') return;
    const expiry = Date.now() + SLOT_TTL_MS;
    const slots = liveSlots();
    for (;;) {
      const keys: string[] = [];
      const args: (string | number)[] = [expiry];
      let count = 0;
      let last: string | undefined;
      for (let n = 0; n < SLOT_REFRESH_CHUNK; n++) {
        const next = slots.next();
        if (next.done) break;
        const [ip, id] = next.value;
        if (ip !== last) {
          keys.push(key(ip));
          args.push(0);
          count = args.length - 1;
          last = ip;
        }
        (args[count] as number)++;
        args.push(id);
      }
      if (!keys.length) return;
      await redis.eval(REFRESH, keys.length, ...keys, ...args);
    }
  }
  // One renewal at a time: a tick that finds one under way (a slow Redis) waits for it.
  let refreshing: Promise<void> | null = null;
  const refresh = () =>
    (refreshing ??= renew()
      .catch((err: unknown) => outage.failed(err))
      .finally(() => (refreshing = null)));
  const timer = setInterval(() => void refresh(), SLOT_REFRESH_MS);
  timer.unref();

  return {
    /** Takes a slot for the socket; false when the IP holds the limit already. */
    async acquire(ip: string, socketId: string): Promise<boolean> {
      const here = () => local.get(ip)?.size ?? 0;
      let ok: boolean;
      if (redis) {
        const now = Date.now();
        try {
          ok = (await redis.eval(ACQUIRE, 1, key(ip), now, now + SLOT_TTL_MS, max, socketId)) === 1;
          outage.ok();
        } catch (err) {
          outage.failed(err);
          ok = here() < max;
        }
      } else {
        ok = here() < max;
      }
      if (ok) {
        // Read after the await: other connections from this IP may have been added meanwhile.
        const mine = local.get(ip);
        if (mine) mine.add(socketId);
        else local.set(ip, new Set([socketId]));
      }
      return ok;
    },
    release(ip: string, socketId: string) {
      const mine = local.get(ip);
      if (!mine?.delete(socketId)) return;
      if (!mine.size) local.delete(ip);
      if (redis && redis.status === 'ready') redis.zrem(key(ip), socketId).catch(() => {});
    },
    /** Renews every slot now (the timer does it every 20 s); resolves when done. */
    refresh,
    close() {
      clearInterval(timer);
    },
  };
}

/** What a socket's limits share with its node's guard. */
type GuardShared = {
  limits: GuardLimits;
  ipEvents: PointLimiter;
  failures: FailureThrottle;
  outage: Outage;
  logger: Logger;
  windowMs: number;
  /** Events refused by this node's limits since it started. */
  refused: number;
};

/** The socket a limit acts on: whether anybody still waits for its work, and how to drop it. */
type LimitedSocket = { readonly connected: boolean; disconnect(close?: boolean): unknown };

/**
 * The limits of one socket (a class, so an idle socket holds its counters, not closures): events
 * per socket in memory, per IP or agent account on every node, end-user proofs one at a time.
 */
export class SocketLimits {
  private windowStart = 0;
  private count = 0;
  private failed = 0;
  // End-user proofs of one socket run one at a time: a burst of guesses is a queue, not a
  // thousand concurrent queries. The queue's tail, while one runs (an idle socket keeps none).
  private proofs: Promise<unknown> | undefined;
  /** Whose quota the socket's events count against: its agent's account, or its address. */
  private readonly quotaKey: string;

  constructor(
    private readonly node: GuardShared,
    private readonly owner: SocketOwner,
    private readonly socket: LimitedSocket,
  ) {
    this.quotaKey = owner.agentId ? `agent:${owner.agentId}` : `ip:${owner.ip}`;
  }

  /** Counts one event against the socket's quota, at once (before any I/O): a refusal to send back, or null. */
  admitLocal(): AppError | null {
    const { limits, windowMs } = this.node;
    const now = Date.now();
    if (now - this.windowStart >= windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    if (this.count <= (this.owner.agentId ? limits.agentSocketEvents : limits.socketEvents)) return null;
    this.node.refused += 1;
    return tooMany('events on this connection', retryAfter(this.windowStart + windowMs - now));
  }

  /** Counts one event against the IP's (or agent's) quota on every node; throws over it. */
  async admitShared(): Promise<void> {
    const { node } = this;
    try {
      await node.ipEvents.consume(this.quotaKey);
      node.outage.ok();
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) {
        // Redis and the in-memory insurance both failed: the limit is a guard, not a gate.
        node.outage.failed(res);
        return;
      }
      node.refused += 1;
      if (res.consumedPoints === node.limits.ipEvents + 1) {
        node.logger.warn(
          { owner: this.quotaKey, windowS: node.limits.eventWindowS },
          'socket event limit hit',
        );
      }
      throw tooMany(
        this.owner.agentId ? 'events from this account' : 'events from this address',
        retryAfter(res.msBeforeNext),
      );
    }
  }

  /**
   * Runs an end-user proof (an external_id checked against a conversation), one at a time per
   * socket. A refusal counts as a failure of the IP and is answered after the IP's delay; at the
   * socket's `joinFailuresPerSocket`-th the socket is dropped.
   */
  proof<T>(fn: () => Promise<T>): Promise<T> {
    const { node, owner, socket } = this;
    const run = (this.proofs ?? Promise.resolve()).then(async () => {
      if (!socket.connected) throw new AppError('auth/forbidden', 'Disconnected');
      try {
        return await fn();
      } catch (err) {
        if (!isProofFailure(err)) throw err;
        this.failed += 1;
        await node.failures.failed(owner.ip);
        if (this.failed < node.limits.joinFailuresPerSocket) throw err;
        if (this.failed === node.limits.joinFailuresPerSocket) {
          node.logger.warn({ ip: owner.ip, failures: this.failed }, 'socket dropped after failed joins');
        }
        // After the answer is on its way.
        setImmediate(() => socket.disconnect(true));
        const e = err as AppError;
        throw new AppError(e.code, `${e.message}. Too many failed attempts: disconnecting`);
      }
    });
    const tail = run.catch(() => undefined);
    this.proofs = tail;
    void tail.then(() => {
      if (this.proofs === tail) this.proofs = undefined;
    });
    return run;
  }
}

/**
 * Limits on what one client may make a node do over Socket.IO (issue 14): every client → server
 * event counts against its socket (in memory: a socket lives on one node) and its IP (anonymous
 * sockets) or agent account, shared by every node through Redis; failed end-user proofs slow down
 * per IP and drop the socket after a few; anonymous sockets per IP are capped.
 */
export function createSocketGuard(deps: {
  redis?: Redis | undefined;
  prefix: string;
  limits: GuardLimits;
  failures: FailureThrottle;
  logger: Logger;
}) {
  const { redis, prefix, limits, failures, logger } = deps;
  const node: GuardShared = {
    limits,
    // Taken on every event: counted on this node and synced to Redis (issue 23).
    ipEvents: createHotLimiter(redis, `${prefix}:rl:events`, limits.ipEvents, limits.eventWindowS, {
      name: 'socket event limit',
      logger,
    }),
    failures,
    outage: createOutage('redis (socket event limit)', logger),
    logger,
    windowMs: limits.eventWindowS * 1000,
    refused: 0,
  };
  const slots = createConnectionSlots({ redis, prefix, max: limits.socketsPerIp, logger });

  return {
    /** Takes a connection slot for an anonymous socket from `ip`; false: refuse the connection. */
    acquireSlot: (ip: string, socketId: string) => slots.acquire(ip, socketId),
    releaseSlot: (ip: string, socketId: string) => slots.release(ip, socketId),

    /** The limits of one socket. */
    forSocket: (owner: SocketOwner, socket: LimitedSocket) => new SocketLimits(node, owner, socket),

    /** Events refused by this node's limits since it started. */
    get refused() {
      return node.refused;
    },
    close: () => slots.close(),
  };
}

export type SocketGuard = ReturnType<typeof createSocketGuard>;
