import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';
import { createOutage } from './outage.js';

export type { Redis };

/** Reconnect delay after a drop: quick at first, then every 3 s for as long as it takes. */
const backoff = (retries: number) => Math.min(retries * 100, 3000);

/**
 * Options of every client. No `commandTimeout`: it arms a timer per command, the very cost
 * node-redis was dropped for; a dead connection is caught by the socket instead (see below).
 */
const BASE: RedisOptions = {
  // We call connect() ourselves, so start-up can await the first attempt.
  lazyConnect: true,
  // Bounds each connection attempt (a black-holed host would otherwise hang for 10 s).
  connectTimeout: 5000,
  // A connection that stops answering while commands wait (network cut, frozen server) is
  // destroyed, so those commands fail and the client reconnects. One timer per read, not per
  // command.
  socketTimeout: 5000,
  // Commands issued in the same tick (flood-limit checks, presence) go out in one write: one
  // syscall instead of one per command on the hot path.
  enableAutoPipelining: true,
  // RESP2, as node-redis spoke: with ioredis 6's default RESP3 the two-node benchmark measured
  // about a fifth less capacity (1,731 vs 2,047 msg/s); no feature here needs RESP3.
  protocol: 2,
};

/**
 * The app's client: while Redis is down, commands fail at once instead of waiting for a
 * reconnect, so /readyz reports it, rate limiters and presence get an error to handle, and no
 * queue of commands grows in memory at full load.
 */
const FAIL_FAST: RedisOptions = {
  // Commands issued while disconnected are rejected, not queued until Redis is back.
  enableOfflineQueue: false,
  // Commands in flight when the connection drops are rejected then, not resent after a
  // reconnect (a resent HINCRBY could count twice), as node-redis did.
  maxRetriesPerRequest: 0,
};

/**
 * The Socket.IO adapter's clients: the adapter never handles the promises of its publish and
 * (un)subscribe calls, and an unhandled rejection ends the process. So these never fail while
 * Redis is down: commands wait in the offline queue and go out on reconnect, as with
 * node-redis, and subscriptions are restored then.
 */
const QUEUED: RedisOptions = {
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  // Each publish is written at once, not on the next turn of the event loop: an emit on one
  // node must not fall behind a reply the client sends to another node after its ack.
  enableAutoPipelining: false,
};

/**
 * Connects `client` (created with `lazyConnect`) and keeps it connected: a Redis that is down at
 * start-up, or later, is retried for as long as it takes (every 3 s at most) while the node runs
 * without it. Start-up waits for the first attempt only (`connectTimeout`), so a node starts, and
 * answers /readyz 503 naming Redis, during an outage. Errors go to a listener, so they never
 * crash the process; each outage is logged once, when it starts and when it ends.
 */
async function open(
  create: (retryStrategy: RedisOptions['retryStrategy']) => Redis,
  name: string,
  logger: Logger | undefined,
): Promise<Redis> {
  const client = create(backoff);
  const outage = createOutage(name, logger);
  client.on('error', (err: unknown) => outage.failed(err));
  client.on('ready', () => outage.ok());
  await client.connect().catch(noop);
  return client;
}

/**
 * The app's client (rate limits, presence, readiness). Resolves once connected, or after the
 * first attempt failed: then it keeps trying in the background.
 */
export function connectRedis(url: string, logger?: Logger): Promise<Redis> {
  return open((retryStrategy) => new Redis(url, { ...BASE, ...FAIL_FAST, retryStrategy }), 'redis', logger);
}

/** A second connection to the same server, for pub/sub (e.g. the Socket.IO adapter). */
export function duplicateRedis(client: Redis, name: string, logger?: Logger): Promise<Redis> {
  return open((retryStrategy) => client.duplicate({ ...BASE, ...QUEUED, retryStrategy }), name, logger);
}

/**
 * Calls `fn` each time the client is ready again after it lost its connection (not on the first
 * connection): what was published meanwhile did not reach this node.
 */
export function onReconnect(client: Redis, fn: () => void): void {
  let lost = client.status !== 'ready';
  let everReady = client.status === 'ready';
  client.on('close', () => (lost = true));
  client.on('ready', () => {
    if (lost && everReady) fn();
    lost = false;
    everReady = true;
  });
}

/**
 * Closes a client without ever hanging: gracefully when Redis answers (pending replies are
 * read), at once when it is not connected (QUIT would wait for a reconnect).
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    // PING joins the pending auto-pipeline, so what was issued before it (an adapter's publish,
    // whose promise nobody handles) is written and answered before QUIT, never cut off by it.
    const graceful = client
      .ping()
      .then(() => client.quit())
      .then(noop, noop);
    await Promise.race([graceful, timeout]);
  }
  // Not connected, or QUIT took too long: drop the connection and stop reconnecting.
  if (client.status !== 'end') client.disconnect();
}

function noop() {}
