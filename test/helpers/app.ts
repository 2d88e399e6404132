import type { AddressInfo } from 'node:net';
import { createApp, type App } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/shared/db.js';
import { createLogger } from '../../src/shared/logger.js';
import { closeRedis, connectRedis, type Redis } from '../../src/shared/redis.js';
import { testConfig } from './config.js';

export { cookieOf, loginAgent } from './http.js';

export type TestApp = App & {
  url: string;
  database: Database;
  redis?: Redis;
  config: Config;
  stop: () => Promise<void>;
};

/**
 * The whole app in this process on a free port, over the given database; with `redis: true`
 * it uses the test Redis (sessions, adapter, limits) as a multi-node deployment would.
 */
export async function startApp(
  database: Database,
  opts: { redis?: boolean; env?: Record<string, string>; now?: () => number } = {},
): Promise<TestApp> {
  const config = testConfig(opts.env);
  const redis = opts.redis
    ? await connectRedis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379')
    : undefined;
  const app = await createApp({
    config,
    logger: createLogger('silent'),
    database,
    redis,
    ...(opts.now ? { now: opts.now } : {}),
  });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const { port } = app.server.address() as AddressInfo;
  return {
    ...app,
    url: `http://127.0.0.1:${port}`,
    database,
    redis,
    config,
    async stop() {
      await app.close();
      if (redis) await closeRedis(redis);
    },
  };
}
