// The data-scale step: what the inbox's reads and writes cost as a tenant's history grows. One
// database of its own is grown in place (10k → 100k → 1M messages by default, see
// datascale-seed.ts) and, at each size, the real server is asked over HTTP, one request at a
// time: the agent list for each filter the inbox uses (with X-Total-Count), a conversation's
// history page, the unread counts, the widget's history, search, claim and resolve. At the largest
// size the slowest read is run again through the services with Prisma's query log on, and its
// slowest SQL statement's EXPLAIN (ANALYZE, BUFFERS) goes into the results.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { createServices } from '../../src/services.js';
import type { AgentActor } from '../../src/shared/auth/actor.js';
import { createEventBus } from '../../src/shared/events.js';
import { loginAgent, type AgentSession } from '../../test/helpers/http.js';
import {
  OPEN_BACKLOG,
  SURNAMES,
  TENANTS,
  TOPICS,
  conversationId,
  conversationsFor,
  createTenants,
  externalIdOf,
  grow,
  type DataScaleSeed,
} from './datascale-seed.js';
import type { ServerProc } from './procs.js';
import { AGENT_PASSWORD, BENCH_SECRETS, createBenchDatabase, type BenchDb } from './seed.js';
import { percentile, round } from './stats.js';

export const DEFAULT_SCALE = [10_000, 100_000, 1_000_000];
export const QUICK_SCALE = [10_000, 100_000];

/** The operations, in the order they run at each size (claim and resolve last: they use up the backlog). */
export const OPS = [
  'list_unassigned',
  'list_mine',
  'list_all',
  'list_queue',
  'list_restricted',
  'history',
  'unread',
  'widget_history',
  'search_text',
  'search_name',
  'claim',
  'resolve',
] as const;
export type OpName = (typeof OPS)[number];

/** What each operation is, for the table and the chart. */
export const OP_LABELS: Record<OpName, string> = {
  list_unassigned: 'list unassigned',
  list_mine: 'list mine',
  list_all: 'list all',
  list_queue: 'list all, one queue (routing_key)',
  list_restricted: 'list unassigned, agent with routing keys',
  history: 'history page (50)',
  unread: 'unread counts',
  widget_history: 'widget history',
  search_text: 'search, a word',
  search_name: 'search, a surname',
  claim: 'claim',
  resolve: 'resolve',
};

/** The operations under the 20 ms p95 target at 1M messages. */
export const TARGET_OPS: OpName[] = ['list_unassigned', 'list_mine', 'list_all', 'list_queue', 'list_restricted', 'history', 'unread']; // prettier-ignore
export const TARGET_MS = 20;
/** A slow read stops after this long (and at least MIN_SAMPLES): seconds-long searches at 1M. */
const OP_BUDGET_MS = 20_000;
const MIN_SAMPLES = 10;
/** Requests of each read before any is timed. */
const WARM_UP = 10;
/** Below this growth in p95 between two sizes, a change is noise, not a curve. */
const NOISE_MS = 2;

export type OpStats = {
  samples: number;
  errors: number;
  p50_ms: number | null;
  p95_ms: number | null;
  max_ms: number | null;
  /** X-Total-Count of the last answer (list operations). */
  total_count?: number;
};

export type DataScaleSize = {
  messages: number;
  conversations: number;
  seed_s: number;
  vacuum_s: number;
  database_mb: number;
  ops: Partial<Record<OpName, OpStats>>;
  /**
   * Each read's statements, run once more under EXPLAIN ANALYZE: their execution times added up
   * (ms). The database's share of the request, much less moved by a busy machine than HTTP times.
   */
  sql_ms: Partial<Record<OpName, number | null>>;
  /**
   * `GET /auth/me` timed in the same rounds: HTTP and the session read every operation pays and no
   * data size changes. Its drift between sizes is the machine's, and growth is judged net of it.
   */
  reference?: OpStats;
};

export type Growth = {
  from: number;
  to: number;
  /** What the verdict reads: the median's ratio over the step. */
  p50_ratio: number | null;
  /** Shown beside it, not judged: 100 samples' p95 moves by a third between runs on this machine. */
  p95_ratio: number | null;
  /** The reference request's p50 ratio over the same step (1 when there is none). */
  reference_ratio: number;
  log_ratio: number;
  ok: boolean;
};

export type DataScaleResult = {
  tenants: number;
  /** Share of the conversations held by the measured tenant. */
  measured_share: number;
  open_backlog: number;
  samples: number;
  list_limit: number;
  sizes: DataScaleSize[];
  /** Per operation and pair of consecutive sizes past the first. */
  growth: Partial<Record<OpName, Growth[]>>;
  targets: {
    /**
     * Every operation's p50 grows no faster than log(n) past the first size (or by under 2 ms), net
     * of the reference request's p50 drift over the same step.
     */
    growth_ok: boolean;
    /** At the largest size measured. */
    at_messages: number;
    /** list, history and unread under 20 ms p95 at the largest size. */
    under_20ms: boolean;
    slowest_target_op: OpName | null;
  };
  explain: Explained | null;
  /** The same for the slowest of list, history and unread, when that is another operation. */
  explain_target: Explained | null;
  /** The chart, beside the JSON. */
  chart?: string;
  duration_s: number;
};

export type Explained = {
  op: OpName;
  messages: number;
  sql: string;
  params: unknown[];
  execution_ms: number | null;
  plan: string;
  /** Every statement the operation ran, slowest first. */
  statements: { ms: number | null; sql: string }[];
};

export type DataScaleOptions = {
  /** An administrative connection string (the step creates and drops a database of its own). */
  pgUrl: string;
  /** Message counts, ascending. */
  sizes: number[];
  /** Requests per operation per size. */
  samples: number;
  listLimit?: number;
  /** Starts the server on this database (env: DATABASE_URL and the limits the step needs). */
  start: (env: Record<string, string>) => Promise<ServerProc>;
  stop: (srv: ServerProc) => Promise<void>;
  log: (s: string) => void;
};

/** `--scale 10000,100000,1000000` → sizes, ascending and each with more conversations. */
export function parseScale(s: string): number[] {
  const sizes = s.split(',').map((x) => Number(x.trim()));
  if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n < 100)) {
    throw new Error(`--scale: whole message counts of at least 100, comma-separated: ${s}`);
  }
  for (let k = 1; k < sizes.length; k++) {
    if (conversationsFor(sizes[k]!) <= conversationsFor(sizes[k - 1]!)) {
      throw new Error(`--scale: sizes must grow: ${s}`);
    }
  }
  return sizes;
}

/** A small deterministic generator: the same conversations are asked for on every run. */
function random(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

type Sample = { ms: number; ok: boolean; total?: number };

function stats(samples: Sample[]): OpStats {
  const ok = samples.filter((s) => s.ok);
  const sorted = ok.map((s) => s.ms).sort((a, b) => a - b);
  const last = samples.findLast((s) => s.total !== undefined);
  return {
    samples: samples.length,
    errors: samples.length - ok.length,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    max_ms: sorted.length ? round(sorted.at(-1)!, 2) : null,
    ...(last ? { total_count: last.total! } : {}),
  };
}

/** One HTTP request, timed from the call to the end of the body. */
async function timed(url: string, init: RequestInit, errors: string[]): Promise<Sample & { body: string }> {
  const t0 = performance.now();
  const res = await fetch(url, init);
  const body = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok && errors.length < 20)
    errors.push(`${init.method ?? 'GET'} ${url}: ${res.status} ${body.slice(0, 200)}`);
  const total = res.headers.get('x-total-count');
  return { ms, ok: res.ok, body, ...(total !== null ? { total: Number(total) } : {}) };
}

export async function dataScaleStep(opts: DataScaleOptions): Promise<DataScaleResult> {
  const t0 = performance.now();
  const limit = opts.listLimit ?? 50;
  const db = await createBenchDatabase(opts.pgUrl);
  let srv: ServerProc | null = null;
  try {
    const seed = await createTenants(db);
    srv = await opts.start({
      DATABASE_URL: db.url,
      // Every widget-history sample comes from this one address.
      PUBLIC_RATE_LIMIT_PER_IP: '10000000',
      PUBLIC_RATE_LIMIT_PER_TARGET: '10000000',
    });
    const lead = await loginAgent(srv.url, seed.lead.email, AGENT_PASSWORD);
    const queue = await loginAgent(srv.url, seed.queueAgent.email, AGENT_PASSWORD);
    const sizes: DataScaleSize[] = [];
    const errors: string[] = [];
    for (const messages of opts.sizes) {
      opts.log(`datascale: growing to ${messages} messages over ${conversationsFor(messages)} conversations`);
      const grown = await grow(db, seed, messages, opts.log);
      opts.log(
        `datascale: seeded in ${grown.seed_s} s, VACUUM ANALYZE + CHECKPOINT ${grown.vacuum_s} s; measuring`,
      );
      const { ops, reference } = await measure(
        srv.url,
        db,
        seed,
        { lead, queue },
        opts.samples,
        limit,
        errors,
      );
      const sql: DataScaleSize['sql_ms'] = {};
      for (const op of READS) {
        const e = await explainOp(db, seed, op, messages, limit).catch(() => null);
        sql[op] = e
          ? round(
              e.statements.reduce((n, st) => n + (st.ms ?? 0), 0),
              2,
            )
          : null;
      }
      const size: DataScaleSize = {
        messages,
        conversations: seed.conversations,
        seed_s: grown.seed_s,
        vacuum_s: grown.vacuum_s,
        database_mb: await databaseMb(db),
        ops,
        sql_ms: sql,
        reference,
      };
      sizes.push(size);
      opts.log(
        `datascale ${messages}: ${OPS.map((o) => `${o} ${ops[o]?.p50_ms ?? '–'}/${ops[o]?.p95_ms ?? '–'}`).join(', ')} ms (p50/p95)`,
      );
    }
    if (errors.length) opts.log(`datascale: errors: ${errors.slice(0, 5).join(' | ')}`);
    const largest = sizes.at(-1)!;
    const judged = verdict(sizes);
    const explainOf = (op: Exclude<OpName, 'claim' | 'resolve'> | null) =>
      op === null
        ? null
        : explainOp(db, seed, op, largest.messages, limit).catch((err: Error) => {
            opts.log(`datascale: EXPLAIN of ${op} failed: ${err.message}`);
            return null;
          });
    const slowest = READS.reduce((a, b) =>
      (largest.ops[b]?.p95_ms ?? 0) > (largest.ops[a]?.p95_ms ?? 0) ? b : a,
    );
    const slowestTarget = judged.targets.slowest_target_op as Exclude<OpName, 'claim' | 'resolve'> | null;
    const explain = await explainOf(slowest);
    const explainTarget = slowestTarget !== slowest ? await explainOf(slowestTarget) : null;
    return {
      tenants: TENANTS,
      measured_share: 0.5,
      open_backlog: OPEN_BACKLOG,
      samples: opts.samples,
      list_limit: limit,
      sizes,
      ...judged,
      explain,
      explain_target: explainTarget,
      duration_s: round((performance.now() - t0) / 1000, 1),
    };
  } finally {
    if (srv) await opts.stop(srv).catch(() => {});
    await db.drop().catch((err: Error) => opts.log(`datascale: could not drop the database: ${err.message}`));
  }
}

/** Growth between consecutive sizes past the first, and the targets at the largest. */
export function verdict(sizes: DataScaleSize[]): Pick<DataScaleResult, 'growth' | 'targets'> {
  const growth: DataScaleResult['growth'] = {};
  for (const op of OPS) {
    const steps: Growth[] = [];
    for (let k = 2; k < sizes.length; k++) {
      const a = sizes[k - 1]!;
      const b = sizes[k]!;
      // Growth is read on the median. Each operation is one request repeated, so a cost that grows
      // with n moves the median; the p95 of 100 samples is the machine's tail (the reference below,
      // no data behind it, had its p95 ×1.38 and ×0.84 between sizes in two runs while its p50 moved
      // ×0.96 and ×1.09).
      const pa = a.ops[op]?.p50_ms ?? null;
      const pb = b.ops[op]?.p50_ms ?? null;
      const qa = a.ops[op]?.p95_ms ?? null;
      const qb = b.ops[op]?.p95_ms ?? null;
      const logRatio = round(Math.log(b.messages) / Math.log(a.messages), 2);
      // A machine that got slower between two sizes makes every request slower, the reference too.
      const ra = a.reference?.p50_ms ?? null;
      const rb = b.reference?.p50_ms ?? null;
      const drift = ra && rb ? rb / ra : 1;
      const ok =
        pa === null || pb === null ? true : pb / pa / drift <= logRatio || pb - pa * drift <= NOISE_MS;
      steps.push({
        from: a.messages,
        to: b.messages,
        p50_ratio: pa && pb ? round(pb / pa, 2) : null,
        p95_ratio: qa && qb ? round(qb / qa, 2) : null,
        reference_ratio: round(drift, 2),
        log_ratio: logRatio,
        ok,
      });
    }
    if (steps.length) growth[op] = steps;
  }
  const largest = sizes.at(-1);
  let slowest: OpName | null = null;
  for (const op of TARGET_OPS) {
    const p = largest?.ops[op]?.p95_ms ?? null;
    if (p !== null && (slowest === null || p > (largest!.ops[slowest]?.p95_ms ?? 0))) slowest = op;
  }
  return {
    growth,
    targets: {
      growth_ok: Object.values(growth).every((steps) => steps.every((s) => s.ok)),
      at_messages: largest?.messages ?? 0,
      under_20ms: TARGET_OPS.every((op) => (largest?.ops[op]?.p95_ms ?? Infinity) < TARGET_MS),
      slowest_target_op: slowest,
    },
  };
}

async function databaseMb(db: BenchDb): Promise<number> {
  const rows = await db.database.prisma.$queryRawUnsafe<{ b: bigint }[]>(
    'SELECT pg_database_size(current_database()) AS b',
  );
  return round(Number(rows[0]?.b ?? 0) / 2 ** 20, 0);
}

/** Every operation, `samples` times, one request at a time. */
async function measure(
  url: string,
  db: BenchDb,
  seed: DataScaleSeed,
  agents: { lead: AgentSession; queue: AgentSession },
  samples: number,
  limit: number,
  errors: string[],
): Promise<{ ops: Partial<Record<OpName, OpStats>>; reference: OpStats }> {
  const get = (s: AgentSession, path: string) =>
    timed(`${url}${path}`, { headers: { cookie: s.cookie } }, errors);
  const post = (s: AgentSession, path: string, body: object) =>
    timed(
      `${url}${path}`,
      {
        method: 'POST',
        headers: { cookie: s.cookie, 'x-csrftoken': s.csrf, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      errors,
    );
  const pick = random(seed.conversations);
  // A conversation of the measured tenant (the even indexes).
  const measured = () => 2 * pick(Math.max(1, Math.floor(seed.conversations / 2)));
  const list = (s: AgentSession, q: string) => () => get(s, `/api/conversations/?${q}&limit=${limit}`);
  const reads: [OpName | 'reference', (k: number) => Promise<Sample>][] = [
    ['reference', () => get(agents.lead, '/auth/me')],
    ['list_unassigned', list(agents.lead, 'filter=unassigned')],
    ['list_mine', list(agents.lead, 'filter=mine')],
    ['list_all', list(agents.lead, 'filter=all')],
    ['list_queue', list(agents.lead, 'filter=all&routing_key=store-2')],
    ['list_restricted', list(agents.queue, 'filter=unassigned')],
    ['history', () => get(agents.lead, `/api/conversations/${conversationId(measured())}/messages`)],
    ['unread', () => get(agents.lead, '/api/inbox/unread')],
    [
      'widget_history',
      () => {
        const i = measured();
        return timed(
          `${url}/chat-widget/history/${conversationId(i)}?external_id=${externalIdOf(i)}`,
          {},
          errors,
        );
      },
    ],
    ['search_text', (k) => get(agents.lead, `/api/conversations/search?q=${TOPICS[k % TOPICS.length]}`)],
    ['search_name', (k) => get(agents.lead, `/api/conversations/search?q=${SURNAMES[k % SURNAMES.length]}`)],
  ];
  const out: Partial<Record<OpName, OpStats>> = {};
  // The server is new at each size: every read's code is compiled and warm before any is timed,
  // so the first operation measured does not carry the JIT's warm-up in its tail.
  for (const [, run] of reads) for (let k = 0; k < WARM_UP; k++) await run(k);
  // Round by round, one request of each read per round: what else the machine is doing at some
  // moment (a checkpoint's writes, a collection in the server) lands on every operation alike
  // instead of on whichever was being measured then, so the curves compare sizes, not moments.
  // A read past its time budget (seconds-long searches) drops out of the rounds.
  const got = new Map<OpName | 'reference', Sample[]>(reads.map(([op]) => [op, []]));
  const spent = new Map<OpName | 'reference', number>(reads.map(([op]) => [op, 0]));
  for (let k = 0; k < samples; k++) {
    for (const [op, run] of reads) {
      if (k >= MIN_SAMPLES && spent.get(op)! > OP_BUDGET_MS) continue;
      const s = await run(k);
      got.get(op)!.push(s);
      spent.set(op, spent.get(op)! + s.ms);
    }
  }
  for (const [op] of reads) if (op !== 'reference') out[op] = stats(got.get(op)!);
  // Claim then resolve: the measured tenant's unassigned backlog, newest first.
  const targets = await db.database.prisma.$queryRawUnsafe<{ id: string }[]>(
    `SELECT c.id::text AS id FROM conversation_sessions s JOIN conversations c ON c.id = s.conversation_id
     WHERE s.organization_id = $1::uuid AND s.status = 'open' AND s.assigned_agent_id IS NULL
     ORDER BY c.updated_at DESC LIMIT $2`,
    seed.tenants[0]!.organizationId,
    samples,
  );
  const claims: Sample[] = [];
  const resolves: Sample[] = [];
  for (const { id } of targets) {
    claims.push(await post(agents.lead, `/api/conversations/${id}/assign`, {}));
    resolves.push(await post(agents.lead, `/api/conversations/${id}/resolve`, { tags: ['datascale'] }));
  }
  out.claim = stats(claims);
  out.resolve = stats(resolves);
  return { ops: out, reference: stats(got.get('reference')!) };
}

/** The operations that only read (what EXPLAIN ANALYZE may run again). */
const READS = OPS.filter(
  (op): op is Exclude<OpName, 'claim' | 'resolve'> => op !== 'claim' && op !== 'resolve',
);

/**
 * A read run again through the services with Prisma's query log on; each statement it ran is
 * explained (ANALYZE, BUFFERS) and the slowest one's plan is kept.
 */
async function explainOp(
  db: BenchDb,
  seed: DataScaleSeed,
  op: (typeof READS)[number],
  messages: number,
  limit: number,
): Promise<Explained | null> {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool),
    log: [{ emit: 'event', level: 'query' }],
  });
  const seen: { sql: string; params: unknown[] }[] = [];
  prisma.$on('query', (e) => {
    let params: unknown[] = [];
    try {
      params = JSON.parse(e.params) as unknown[];
    } catch {
      // Not JSON: explained without them (and then it fails, and says so).
    }
    seen.push({ sql: e.query, params });
  });
  try {
    const config = loadConfig({ DATABASE_URL: db.url, ...BENCH_SECRETS });
    const services = createServices({
      database: { ...db.database, prisma },
      config,
      bus: createEventBus(() => {}),
    });
    const actor = (who: { id: string }, routingKeys: string[]): AgentActor => ({
      kind: 'agent',
      userId: who.id,
      organizationId: seed.tenants[0]!.organizationId,
      role: 'agent',
      displayName: 'Data scale',
      routingKeys,
    });
    const lead = actor(seed.lead, []);
    const queue = actor(seed.queueAgent, ['store-1', 'store-2']);
    const conv = conversationId(0);
    const list = (a: AgentActor, filter: 'unassigned' | 'mine' | 'all', routing_key?: string) =>
      services.conversations.list(a, { filter, limit, offset: 0, routing_key });
    const runs: Record<(typeof READS)[number], () => Promise<unknown>> = {
      list_unassigned: () => list(lead, 'unassigned'),
      list_mine: () => list(lead, 'mine'),
      list_all: () => list(lead, 'all'),
      list_queue: () => list(lead, 'all', 'store-2'),
      list_restricted: () => list(queue, 'unassigned'),
      history: () => services.messages.history(lead, conv, { limit: 50, offset: 0 }),
      unread: () => services.messages.unreadCounts(lead),
      widget_history: async () => {
        await services.conversations.requireForEndUser(conv, { externalId: externalIdOf(0) });
        return services.messages.recent(conv, 100);
      },
      search_text: () => services.conversations.search(lead, { q: TOPICS[0]!, limit: 20 }),
      search_name: () => services.conversations.search(lead, { q: SURNAMES[0]!, limit: 20 }),
    };
    await runs[op]();
    const client = await pool.connect();
    const statements: { ms: number | null; sql: string; params: unknown[]; plan: string }[] = [];
    try {
      for (const s of seen) {
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS) ${s.sql}`,
          s.params,
        );
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        const ms = /Execution Time: ([\d.]+) ms/.exec(plan)?.[1];
        statements.push({ ms: ms ? Number(ms) : null, sql: s.sql, params: s.params, plan });
      }
    } finally {
      client.release();
    }
    statements.sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0));
    const top = statements[0];
    if (!top) return null;
    return {
      op,
      messages,
      sql: top.sql,
      params: top.params,
      execution_ms: top.ms,
      plan: top.plan,
      statements: statements.map((s) => ({ ms: s.ms, sql: s.sql.replace(/\s+/g, ' ').slice(0, 300) })),
    };
  } finally {
    await prisma.$disconnect();
    await pool.end();
  }
}
