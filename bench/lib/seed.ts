// The benchmark's own PostgreSQL database: created fresh, migrated, seeded with one organization,
// its agents and one conversation per visitor, counted afterwards, dropped at the end.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { commOf, parentOf } from './procs.js';
import { loginAgent as loginAs } from '../../test/helpers/http.js';
import { createServices } from '../../src/services.js';
import { loadConfig } from '../../src/config.js';
import { openPostgres, type Database } from '../../src/shared/db.js';
import { createEventBus } from '../../src/shared/events.js';

export const BENCH_SECRETS = {
  SESSION_SECRET: 'bench-session-secret-bench-session-secret',
  ENCRYPTION_KEY: '42'.repeat(32),
  // /metrics on: the benchmark reads the server's garbage collections from it.
  METRICS_TOKEN: 'bench-metrics-token-bench-metrics',
};
export const AGENT_PASSWORD = 'bench-password-1';

export type BenchDb = { url: string; database: Database; drop: () => Promise<void> };

export async function createBenchDatabase(adminUrl: string): Promise<BenchDb> {
  const name = `switchboard_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const database = openPostgres(url, { poolSize: 10 });
  await database.migrate();
  return {
    url,
    database,
    drop: async () => {
      await database.close().catch(() => {});
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export type Seed = {
  organizationId: string;
  channelId: string;
  agents: { id: string; email: string }[];
  visitors: { conversationId: string; externalId: string }[];
};

/**
 * One organization, `agents` agents and `visitors` end users with a conversation each. Where
 * `assignedTo(i)` names an agent, conversation `i` already has an open session on that agent (a
 * chat under way when the run starts); the others are new.
 */
export async function seed(
  db: BenchDb,
  visitors: number,
  agents: number,
  assignedTo: (i: number) => number | null,
): Promise<Seed> {
  const config = loadConfig({ DATABASE_URL: db.url, ...BENCH_SECRETS });
  const services = createServices({ database: db.database, config, bus: createEventBus(() => {}) });
  const { organization } = await services.tenants.createOrganization({
    name: 'Benchmark',
    allowedOrigins: [],
    rateLimitPerMin: 10_000_000, // the tenant quota never drops a benchmark message
  });
  const organizationId = organization.id;
  const { channelId, embedToken } = await services.channels.createEmbedToken({
    organizationId,
    name: 'Benchmark',
    allowedOrigins: [],
  });
  // Password hashing runs on libuv's threads: a few at a time use both cores.
  const agentRows = await mapLimit(
    Array.from({ length: agents }, (_, i) => i),
    4,
    async (i) => {
      const email = `agent${i}@bench.invalid`;
      const user = await services.agents.createAgent({
        organizationId,
        email,
        password: AGENT_PASSWORD,
        role: 'agent',
        routingKeys: [],
      });
      return { id: user.id, email };
    },
  );
  // Visitors in bulk: the rows openForEndUser would make for the widget page, without 5,000
  // round trips. Every visitor is a widget visitor, identified as embed.js does it: a random
  // visitor id (`v_` and 128 random bits in hex), which the default identity mode (`verified`)
  // lets in without a user_hash; a conversation opened through the page records its embed token.
  const out: Seed['visitors'] = [];
  const prisma = db.database.prisma;
  for (let start = 0; start < visitors; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, visitors - start) }, () => ({
      endUserId: randomUUID(),
      conversationId: randomUUID(),
      externalId: `v_${randomBytes(16).toString('hex')}`,
    }));
    await prisma.endUser.createMany({
      data: batch.map((b) => ({
        id: b.endUserId,
        organizationId,
        externalId: b.externalId,
        displayName: 'Visitor',
      })),
    });
    await prisma.conversation.createMany({
      data: batch.map((b) => ({
        id: b.conversationId,
        organizationId,
        channelId,
        endUserId: b.endUserId,
        metadata: { embed_token_id: embedToken.id },
      })),
    });
    const now = new Date();
    await prisma.conversationSession.createMany({
      data: batch.flatMap((b, k) => {
        const agent = assignedTo(start + k);
        if (agent === null) return [];
        const assignedAgentId = agentRows[agent]!.id;
        return [
          {
            organizationId,
            conversationId: b.conversationId,
            assignedAgentId,
            assignedAt: now,
            firstMessageAt: now,
          },
        ];
      }),
    });
    out.push(...batch.map((b) => ({ conversationId: b.conversationId, externalId: b.externalId })));
  }
  // The statistics autovacuum would have gathered by the time a tenant has this many
  // conversations. Where it is off (this machine's PostgreSQL: `autovacuum = off` in its conf.d),
  // nothing ever gathers them, and the planner takes every table for nearly empty: the inbox's
  // unread counts then loop over every open session once per unread message (1.3 s for 1,000
  // messages and 10,000 open sessions, against 3 ms with statistics). Not `messages`: it is empty
  // now and grows by tens of thousands of rows in the run, with nothing to gather its statistics
  // again; taken for empty, it is scanned instead of probed (capacity fell from about 6,000 msg/s
  // to 1,477 with the whole database analyzed here).
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query('ANALYZE organizations, channels, users, end_users, conversations, conversation_sessions');
  } finally {
    await c.end();
  }
  return { organizationId, channelId, agents: agentRows, visitors: out };
}

/** Rows stored for client_msg_ids starting with any of `prefixes`. */
export async function countPersisted(db: BenchDb, prefixes: string[]): Promise<number> {
  if (!prefixes.length) return 0;
  const rows = await db.database.prisma.$queryRawUnsafe<{ n: bigint }[]>(
    `SELECT count(*) AS n FROM messages WHERE client_msg_id LIKE ANY($1::text[])`,
    prefixes.map((p) => `${p}:%`),
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * PostgreSQL for CPU accounting: its postmaster with every backend, those opened and closed during
 * a phase included (a list of the backends at one instant missed those and counted 0, or less).
 * Null when the server is not on this machine.
 */
export async function postgresTree(db: BenchDb): Promise<{ tree: number } | null> {
  const rows = await db.database.prisma.$queryRawUnsafe<{ pid: number }[]>(`SELECT pg_backend_pid() AS pid`);
  const backend = Number(rows[0]?.pid);
  // The same PID on this machine may be another process when the server is elsewhere.
  if (commOf(backend) !== 'postgres') return null;
  const postmaster = parentOf(backend);
  return postmaster && commOf(postmaster) === 'postgres' ? { tree: postmaster } : null;
}

/** What PostgreSQL has written so far, cluster-wide: WAL records, full-page images, bytes, checkpoints. */
export type PgWal = { records: number; fpi: number; bytes: number; checkpoints: number };

export async function pgWalOf(db: BenchDb): Promise<PgWal | null> {
  try {
    const rows = await db.database.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT w.wal_records AS records, w.wal_fpi AS fpi, w.wal_bytes AS bytes,
         b.checkpoints_timed + b.checkpoints_req AS checkpoints
       FROM pg_stat_wal w, pg_stat_bgwriter b`,
    );
    const r = rows[0];
    return r
      ? {
          records: Number(r.records),
          fpi: Number(r.fpi),
          bytes: Number(r.bytes),
          checkpoints: Number(r.checkpoints),
        }
      : null;
  } catch {
    return null; // PostgreSQL before 14 (no pg_stat_wal)
  }
}

/** Signs an agent in as a browser does (login page for the CSRF token, then POST) → cookie. */
export async function loginAgent(baseUrl: string, email: string, password: string): Promise<string> {
  return (await loginAs(baseUrl, email, password)).cookie;
}

/** `fn` over `items`, `limit` at a time, results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}
