import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from './logger.js';
import { migrate, type SqlRunner } from './migrate.js';
import { createOutage, type Outage } from './outage.js';

export { PrismaClient };
export type Db = PrismaClient;

/** A raw statement with `$1…` parameters (`Database.query`, or one inside `Database.transaction`). */
export type Query = <T = Record<string, unknown>>(
  name: string,
  text: string,
  values: unknown[],
) => Promise<T[]>;

export type Database = {
  prisma: PrismaClient;
  mode: 'postgres' | 'embedded';
  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>;
  /**
   * A raw statement on the hot path, with `$1…` parameters. On PostgreSQL it is prepared once per
   * pooled connection under `name` (no parse or plan per call) and bypasses the ORM; rows come
   * back as the driver reads them.
   */
  query: Query;
  /**
   * Raw statements in one transaction, outside the ORM: committed when `fn` resolves, rolled back
   * when it throws. On PostgreSQL they run on one pooled connection, prepared under their names as
   * `query`'s are; embedded, in the ORM's transaction on its one connection.
   */
  transaction<T>(fn: (query: Query) => Promise<T>): Promise<T>;
  /**
   * A cheap round trip, for readiness checks. On PostgreSQL it runs on a connection of its own,
   * outside the pool, so a saturated pool does not make a live database look dead.
   */
  ping(): Promise<void>;
  /** The pool's state (PostgreSQL only): a saturated pool is busy, not down. */
  poolState?: () => { total: number; idle: number; waiting: number; max: number };
  /** Outages of the database, logged once each (callers report failures; new connections end them). */
  outage: Outage;
  close(): Promise<void>;
};

export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError';
}

function pgRunner(client: pg.ClientBase): SqlRunner {
  return {
    exec: async (sql) => void (await client.query(sql)),
    query: async (sql, params) => (await client.query(sql, params)).rows,
  };
}

export function pgliteRunner(db: PGlite): SqlRunner {
  return {
    exec: async (sql) => void (await db.exec(sql)),
    query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
  };
}

/**
 * How long the database may take before a request gives up and answers `unavailable`: to get a
 * connection (from the pool, or a new one), for the server to run a statement (it cancels it:
 * nothing is committed), and for an answer to arrive at all (a network partition: the statement
 * may or may not have committed). Statement < query, so the server's cancel normally comes first.
 */
export type DatabaseTimeouts = { connectMs: number; statementMs: number; queryMs: number };

export const DEFAULT_TIMEOUTS: DatabaseTimeouts = { connectMs: 10_000, statementMs: 10_000, queryMs: 15_000 };

/**
 * One connection outside the pool for readiness checks, opened on first use and again after it
 * broke: `/readyz` must not queue behind a pool saturated by traffic.
 */
function createProbeConnection(url: string, t: DatabaseTimeouts) {
  let client: pg.Client | null = null;
  let opening: Promise<pg.Client> | null = null;
  const drop = (c: pg.Client) => {
    if (client === c) client = null;
    c.end().catch(() => {});
  };
  const open = () =>
    (opening ??= (async () => {
      const c = new pg.Client({
        connectionString: url,
        connectionTimeoutMillis: t.connectMs,
        statement_timeout: t.statementMs,
        query_timeout: t.queryMs,
        keepAlive: true,
      });
      // A dropped connection must not crash the process: the next ping opens another.
      c.on('error', () => drop(c));
      c.on('end', () => {
        if (client === c) client = null;
      });
      try {
        await c.connect();
      } catch (err) {
        drop(c);
        throw err;
      }
      client = c;
      return c;
    })().finally(() => (opening = null)));
  return {
    async ping() {
      const c = client ?? (await open());
      try {
        await c.query('SELECT 1');
      } catch (err) {
        drop(c);
        throw err;
      }
    },
    async close() {
      const c = client ?? (await opening?.catch(() => null));
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

/** PostgreSQL through node-postgres. */
export function openPostgres(
  url: string,
  opts: { poolSize?: number; timeouts?: DatabaseTimeouts; logger?: Logger } = {},
): Database {
  const t = opts.timeouts ?? DEFAULT_TIMEOUTS;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    // A connection once opened stays open, idle or not (node-postgres closes idle ones after 10 s
    // by default). A new one costs a backend's start, its cold caches and every named statement
    // prepared again, 25 ms or more here, and it would be opened just when traffic returns after a
    // quiet spell: the benchmark's first second after 20 s of idle had p99 120-210 ms for that.
    // Idle ones do not keep the process alive (a CLI command ends when it is done).
    idleTimeoutMillis: 0,
    allowExitOnIdle: true,
    connectionTimeoutMillis: t.connectMs,
    statement_timeout: t.statementMs,
    query_timeout: t.queryMs,
    // A peer that vanished without a FIN (a partition) is noticed by the kernel, not never.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  const outage = createOutage(
    'database',
    opts.logger,
    "requests answer 'unavailable' (503) until it is back",
  );
  // An idle connection dropped by the server (restart, failover) must not crash the process:
  // the pool discards it and the next query opens a fresh one.
  pool.on('error', () => {});
  // A connection opened means the server answers again.
  pool.on('connect', () => outage.ok());
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const probe = createProbeConnection(url, t);
  return {
    prisma,
    mode: 'postgres',
    outage,
    async migrate() {
      // Migrations run on a connection of their own: the advisory lock is per session.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await migrate(pgRunner(client));
      } finally {
        await client.end();
      }
    },
    async query<T>(name: string, text: string, values: unknown[]) {
      return (await pool.query({ name, text, values })).rows as T[];
    },
    async transaction<T>(fn: (query: Query) => Promise<T>) {
      const client = await pool.connect();
      // A connection that broke, or could not roll back, is closed rather than pooled again. A
      // drop while `fn` is between statements is an 'error' on the client: heard here, not a crash.
      let broken: Error | undefined;
      const onError = (err: Error) => (broken ??= err);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(
          async (name, text, values) => (await client.query({ name, text, values })).rows,
        );
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (!broken) await client.query('ROLLBACK').catch(onError);
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    ping: () => probe.ping(),
    poolState: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: opts.poolSize ?? 10,
    }),
    async close() {
      await probe.close();
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded database's PostgreSQL extensions. pg_trgm: the search's trigram indexes (migration
 * 20261129220000_search_scale). An extension of PGlite is loaded when the instance is built, before
 * any migration asks for it.
 */
export const embeddedExtensions = { pg_trgm };

/**
 * PGlite keeps its files in `<dataDir>/pgdata` and must have one process at a time:
 * a lock file holds the owner's pid, and a second opener is refused with a clear message.
 * `dataDir` undefined → in memory (tests).
 */
export async function openEmbedded(
  dataDir?: string,
  /** A data directory dumped by PGlite (`dumpDataDir`) to start from instead of an empty one. */
  opts: { loadDataDir?: Blob } = {},
): Promise<Database> {
  let lockFile: string | undefined;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    lockFile = path.join(dataDir, 'pglite.lock');
    if (existsSync(lockFile)) {
      const pid = Number(readFileSync(lockFile, 'utf8'));
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new DatabaseInUseError(
          `the embedded database in ${dataDir} is in use by process ${pid}; stop it first, or use DATABASE_URL`,
        );
      }
    }
    writeFileSync(lockFile, String(process.pid));
  }
  const pglite = new PGlite({
    ...(dataDir ? { dataDir: path.join(dataDir, 'pgdata') } : {}),
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
    extensions: embeddedExtensions,
  });
  await pglite.waitReady;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    prisma,
    mode: 'embedded',
    migrate: () => migrate(pgliteRunner(pglite)),
    // Through Prisma, which queues it behind any transaction it has open on the one connection.
    query: <T>(_name: string, text: string, values: unknown[]) =>
      prisma.$queryRawUnsafe<T[]>(text, ...values),
    transaction: <T>(fn: (query: Query) => Promise<T>) =>
      prisma.$transaction(
        (tx) => fn((_name, text, values) => tx.$queryRawUnsafe(text, ...values)),
        // One connection: a transaction waits its turn behind the others, up to the pool's wait.
        { maxWait: DEFAULT_TIMEOUTS.connectMs, timeout: DEFAULT_TIMEOUTS.statementMs },
      ),
    async ping() {
      await pglite.query('SELECT 1');
    },
    // In the process: it cannot be unreachable.
    outage: createOutage('database', undefined),
    async close() {
      await prisma.$disconnect();
      // Closing flushes PGlite's files; skipping it can lose the last writes.
      await pglite.close();
      if (lockFile) rmSync(lockFile, { force: true });
    },
  };
}

export function openDatabase(
  cfg: { databaseUrl?: string | undefined; dataDir: string; databaseTimeouts?: DatabaseTimeouts },
  logger?: Logger,
): Promise<Database> {
  return cfg.databaseUrl
    ? Promise.resolve(
        openPostgres(cfg.databaseUrl, {
          ...(cfg.databaseTimeouts ? { timeouts: cfg.databaseTimeouts } : {}),
          ...(logger ? { logger } : {}),
        }),
      )
    : openEmbedded(cfg.dataDir);
}
