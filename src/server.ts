import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { ensureFirstRun, firstRunBanner } from './bootstrap/first-run.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DatabaseInUseError, openDatabase } from './shared/db.js';
import { startIdleMemoryMode } from './shared/idle-memory.js';
import { createLogger } from './shared/logger.js';
import { closeRedis, connectRedis } from './shared/redis.js';

// Small Buffers get an ArrayBuffer each rather than a slice of Node's shared 8 KB pool (issue 23,
// twelfth pass). Under load, most of the node's full garbage collections were started by V8 for
// "external memory pressure": 64 MB of ArrayBuffers promoted to the old generation since the last
// one. They were pool slabs, each carried into the old generation by one small Buffer still in use
// (the heap profile points at broadcasts' pre-encoded frames) and then freed only by a full
// collection, which marks every socket's objects. At 1,000 msg/s ArrayBuffer memory grew 3.3 MB/s
// between full collections with the pool and 0.5 MB/s without it; capacity did not move beyond the
// benchmark's noise. Node reads it at each allocation: it holds from here on.
Buffer.poolSize = 0;

function fail(message: string): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(1);
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`);
  throw err;
}
const logger = createLogger(config.logLevel, undefined, config.logLevels);

const database = await openDatabase(config, logger).catch((err: Error) =>
  fail(err instanceof DatabaseInUseError ? err.message : `cannot open the database: ${err.message}`),
);
const applied = await database
  .migrate()
  .catch((err: Error) => fail(`database migration failed: ${err.message}`));
if (applied.length) logger.info({ applied }, 'migrations applied');
// A Redis that does not answer yet is not fatal: the node starts without it (/readyz says so)
// and connects when it can.
const redis = config.redisUrl ? await connectRedis(config.redisUrl, logger) : undefined;
if (redis && redis.status !== 'ready') logger.warn('Redis is unreachable; starting without it and retrying');

// A library's promise nobody handled (a Redis client cut off mid-command) must not take down a
// node serving thousands of conversations: it is logged, loudly, and the node goes on.
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

const app = await createApp({ config, logger, database, redis });
const { server } = app;

const firstRun = await ensureFirstRun({
  database,
  encryptionKey: config.encryptionKey,
  bus: app.bus,
});
// In embedded mode without ADMIN_KEY the admin key was generated (DATA_DIR/secrets.json): it is
// shown with the rest. A key the operator set is not echoed to the logs.
if (firstRun) {
  const adminKey = config.dbMode === 'embedded' && !process.env.ADMIN_KEY ? config.adminKey : undefined;
  process.stdout.write(firstRunBanner(config.publicUrl, firstRun, adminKey) + '\n');
}

// The push outbox is sent by every node (jobs are claimed with SKIP LOCKED); app.close() stops it.
app.push.start();
// So is the webhook outbox, unless this node is told not to (WEBHOOK_WORKER=off).
if (config.webhooks.worker) app.webhooks.start();
// Questions the bot never answered because a node died are answered (once, whichever node): now,
// or once past the grace a live node has to answer them.
app.bot.start();

// A quiet node gives back the memory a burst left behind (V8's mode is the process's: here, once).
const idleMemory = config.idleMemoryMode
  ? startIdleMemoryMode({
      onChange: (mode, utilization) => logger.debug({ mode, utilization }, 'V8 memory mode'),
    })
  : undefined;

// A deep accept queue: after a restart every client reconnects within seconds.
server.listen({ port: config.port, host: config.host, backlog: config.listenBacklog }, () => {
  const { port } = server.address() as AddressInfo;
  logger.info({ port, dbMode: database.mode, redis: Boolean(redis), url: config.publicUrl }, 'listening');
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  idleMemory?.stop();
  const timer = setTimeout(() => {
    logger.error('shutdown timed out; closing connections forcibly');
    server.closeAllConnections();
    // Whatever still holds on (an unreachable dependency) must not keep the process alive.
    setTimeout(() => process.exit(1), 2000).unref();
  }, config.shutdownTimeoutMs);
  timer.unref();
  // Stop accepting and disconnect sockets; requests under way finish first.
  await app.close();
  clearTimeout(timer);
  await database.close();
  if (redis) await closeRedis(redis);
  logger.info('shutdown complete');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
