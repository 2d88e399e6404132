// The test database twice: directly, and through a TCP proxy that a test breaks to cut a node off
// its database, with the short timeouts that make an outage show in seconds and a logger whose
// lines the test reads.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { openPostgres, type Database } from '../../src/shared/db.js';
import type { Logger } from '../../src/shared/logger.js';
import { testDatabaseUrl } from './db.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export type LogLine = { level: number; msg: string };

export type ProxiedDatabase = {
  proxy: TcpProxy;
  /** The test's own link, never cut. */
  direct: Database;
  /** The node's, through the proxy. */
  proxied: Database;
  logger: Logger;
  logLines: LogLine[];
  /** Heals the link and closes both databases and the proxy. */
  close(): Promise<void>;
};

export async function proxiedTestDatabase(): Promise<ProxiedDatabase> {
  const target = new URL(testDatabaseUrl());
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const direct = openPostgres(testDatabaseUrl(), { poolSize: 2 });
  const logLines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  // Short timeouts, so the test runs in seconds; the defaults are documented in the README.
  const proxied = openPostgres(proxy.url(testDatabaseUrl()), {
    poolSize: 4,
    timeouts: { connectMs: 1000, statementMs: 2000, queryMs: 3000 },
    logger,
  });
  return {
    proxy,
    direct,
    proxied,
    logger,
    logLines,
    async close() {
      proxy.set('pass');
      await proxied.close();
      await direct.close();
      await proxy.close();
    },
  };
}
