// `npm run bench [-- options]`: the real server (production build, PostgreSQL + Redis) and a bare
// Socket.IO baseline under the same workload, plus the two-node run, a restart, and the ORM and
// transport baselines. Prints a table, writes JSON and SVG under bench/results/; with --json the
// last line of output is one JSON object. Usage and defaults: bench/README.md.
import { abuseStep } from './lib/abuse.js';
import { botStep } from './lib/bot.js';
import { DEFAULT_SCALE, QUICK_SCALE, dataScaleStep, parseScale } from './lib/datascale.js';
import { writeDataScaleChart } from './lib/datascale-report.js';
import { gatewaysParams, gatewaysStep } from './lib/gateways.js';
import { measureRetrieval } from './lib/retrieval.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { closeRedis, connectRedis } from '../src/shared/redis.js';
import { ormBaseline } from './baselines/orm.js';
import { CpuMeter, freePort, rootDir, startServer, stopProcess, type ServerProc } from './lib/procs.js';
import { renderSvg, renderTable, summary, type BenchResult } from './lib/report.js';
import {
  agentOf,
  isNew,
  plans,
  redisServerPids,
  runWorkload,
  type Params,
  type RunResult,
} from './lib/run.js';
import {
  AGENT_PASSWORD,
  BENCH_SECRETS,
  pgWalOf,
  postgresTree,
  countPersisted,
  createBenchDatabase,
  loginAgent,
  mapLimit,
  seed,
} from './lib/seed.js';
import { round } from './lib/stats.js';

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    visitors: { type: 'string' },
    agents: { type: 'string' },
    rate: { type: 'string' },
    rates: { type: 'string' },
    'in-flight': { type: 'string' },
    ramp: { type: 'string' },
    steady: { type: 'string' },
    capacity: { type: 'string' },
    drain: { type: 'string' },
    idle: { type: 'string' },
    new: { type: 'string' },
    workers: { type: 'string' },
    skip: { type: 'string', default: '' },
    'no-build': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'server-env': { type: 'string', default: '' },
    'one-address': { type: 'boolean', default: false },
    'inbox-reloads': { type: 'boolean', default: false },
    'inbox-filter': { type: 'string', default: 'unassigned' },
    'read-receipts': { type: 'boolean', default: false },
    datascale: { type: 'boolean', default: false },
    scale: { type: 'string' },
    'datascale-samples': { type: 'string' },
    out: { type: 'string' },
    pg: {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});

const quick = o.quick;
const num = (v: string | undefined, full: number, q: number) => {
  const n = v === undefined ? (quick ? q : full) : Number(v);
  if (!Number.isFinite(n) || n < 0) usage(`not a number: ${v}`);
  return n;
};
/** Seconds after `from` by which 50%, 90% and 99% of the clients were back. */
function backPercentiles(walls: number[], from: number) {
  const s = walls.map((w) => (w - from) / 1000).sort((a, b) => a - b);
  const at = (q: number) =>
    s.length ? round(s[Math.min(s.length - 1, Math.floor(q * s.length))]!, 2) : null;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

/** `--rates 1500,2000`: the extra open-loop rates, msg/s; `--rates none` for none. */
function rateList(v: string | undefined, dflt: number[]): number[] {
  if (v === undefined) return dflt;
  if (v === 'none' || v === '') return [];
  const rates = v.split(',').map(Number);
  if (rates.some((r) => !Number.isFinite(r) || r <= 0)) usage(`not a list of rates: ${v}`);
  return rates;
}
/** The server's /metrics page (collections, event-loop stalls, message stages); null if it cannot say. */
async function serverMetrics(url: string) {
  try {
    const res = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${BENCH_SECRETS.METRICS_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

/** The inbox filter the agents' reloads read (`--inbox-filter`). */
function inboxFilter(v: string | undefined): 'unassigned' | 'mine' {
  if (v === 'unassigned' || v === 'mine') return v;
  usage(`--inbox-filter is unassigned or mine, not ${v}`);
}

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const params: Params = {
  visitors: num(o.visitors, 10000, 500),
  agents: num(o.agents, 100, 10),
  rate: num(o.rate, 1000, 200),
  inFlight: num(o['in-flight'], 200, 100),
  rampS: num(o.ramp, 10, 3),
  steadyS: num(o.steady, 8, 5),
  capacityS: num(o.capacity, 5, 3),
  drainS: num(o.drain, 5, 3),
  idleS: num(o.idle, 20, 1),
  rates: rateList(o.rates, quick ? [] : [1500, 2000]),
  newShare: Math.min(1, num(o.new, 0.1, 0.1)),
  workers: num(o.workers, 2, 2),
  visitorAddresses: !o['one-address'],
  inboxReloads: Boolean(o['inbox-reloads']),
  inboxFilter: inboxFilter(o['inbox-filter']),
  readReceipts: Boolean(o['read-receipts']),
};
if (params.agents < params.workers) usage('--agents must be at least --workers');
const skip = new Set(
  (o.skip ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
// Quick: the headline figures only (server against baseline), to stay well under a minute.
for (const s of quick ? ['two-nodes', 'restart', 'micro'] : []) skip.add(s);
// Data-scale curves: minutes of seeding, so --quick leaves them out unless --datascale asks.
if (quick && !o.datascale) skip.add('datascale');
const dataScale = (() => {
  try {
    return o.scale ? parseScale(o.scale) : quick ? QUICK_SCALE : DEFAULT_SCALE;
  } catch (err) {
    usage((err as Error).message);
  }
})();
const outDir = path.resolve(o.out ?? path.join(rootDir, 'bench/results'));
const t0 = Date.now();
const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? 'unknown',
    memory_gb: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    load_avg_at_start: os.loadavg().map((l) => round(l, 2)),
  };
}

/** Runs a baseline script to completion and returns the JSON on its last line. */
function runJsonChild(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: rootDir });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>);
      } catch {
        reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`));
      }
    });
  });
}

async function transportBaseline(pairs: number, seconds: number) {
  const out: Record<string, unknown> = {};
  for (const [kind, script] of [
    ['ws', 'bench/baselines/ws-broadcast.ts'],
    ['socketio', 'bench/baselines/bare-socketio.ts'],
  ] as const) {
    const server = await startServer(['--import', 'tsx', script], {}, await freePort());
    try {
      const url = kind === 'ws' ? server.url.replace('http', 'ws') : server.url;
      out[kind] = await runJsonChild([
        'bench/baselines/transport.client.ts',
        kind,
        url,
        String(pairs),
        String(seconds * 1000),
      ]);
    } finally {
      await stopProcess(server.proc);
    }
  }
  const rate = (k: string) => Number((out[k] as { msgs_per_s: number }).msgs_per_s);
  return { pairs, seconds, ...out, socketio_vs_ws: round(rate('socketio') / rate('ws'), 2) };
}

async function main() {
  if (!o['no-build'] && !skip.has('server')) {
    log('building (npm run build)');
    const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: rootDir, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('build failed');
  }
  const db = await createBenchDatabase(o.pg!);
  log(`database ${new URL(db.url).pathname.slice(1)}; seeding ${params.visitors} visitors`);
  const result: BenchResult = {
    date: new Date().toISOString(),
    quick,
    machine: machine(),
    params,
    runs: [],
  };
  const servers: ServerProc[] = [];
  const serverErrors: string[] = [];
  // Interrupted: still stop the servers and drop the database.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const srv of servers) srv.proc.kill('SIGKILL');
      void db.drop().finally(() => process.exit(130));
    });
  }
  try {
    result.machine.postgres = (
      await db.database.prisma.$queryRawUnsafe<{ server_version: string }[]>('SHOW server_version')
    )[0]?.server_version;
    // Off on some machines (this one's CI configuration): then no table is vacuumed or analyzed
    // during a run, which the figures carry (bench/README.md).
    result.machine.postgres_autovacuum = (
      await db.database.prisma.$queryRawUnsafe<{ autovacuum: string }[]>('SHOW autovacuum')
    )[0]?.autovacuum;
    result.machine.redis = await redisVersion(o.redis!);
    const s = await seed(db, params.visitors, params.agents, (i) =>
      isNew(i, params.newShare) ? null : agentOf(i, params.agents, params.workers),
    );
    const serverArgs = [
      ...(o['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.join(outDir, 'profiles')}`] : []),
      'dist/server.js',
    ];
    const serverEnv = (port: number) => ({
      DATABASE_URL: db.url,
      REDIS_URL: o.redis!,
      ...BENCH_SECRETS,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      // The per-visitor flood limit still runs (counted here, synced to Redis every 100 ms) but
      // never drops a benchmark message: loss must mean loss. Keys of this run only.
      END_USER_RATE_LIMIT: '1000',
      REALTIME_REDIS_PREFIX: `sbbench:${t0}`,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      // --server-env A=1,B=2: settings to try (an A/B run), last so they win.
      ...Object.fromEntries(
        (o['server-env'] ?? '')
          .split(',')
          .filter((kv) => kv.includes('='))
          .map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1)]),
      ),
    });
    const start = async (port: number) => {
      const srv = await startServer(serverArgs, serverEnv(port), port);
      servers.push(srv);
      return srv;
    };
    const stop = async (srv: ServerProc) => {
      await stopProcess(srv.proc);
      servers.splice(servers.indexOf(srv), 1);
      serverErrors.push(...logErrors(srv.output()));
    };
    const persisted = async (run: RunResult) => {
      const stored = await countPersisted(db, run.prefixes);
      const sent = run.steady.sent + run.capacity.sent + run.rates.reduce((n, q) => n + q.sent, 0);
      return { persisted: stored, persisted_missing: sent - stored };
    };

    // 1. One node of the real server, then a restart with every client connected.
    const port = await freePort();
    if (skip.has('server')) for (const step of ['two-nodes', 'abuse']) skip.add(step);
    let node = await start(port);
    log(`server on ${node.url}; signing in ${params.agents} agents`);
    const cookies = await mapLimit(s.agents, 4, (a) => loginAgent(node.url, a.email, AGENT_PASSWORD));
    const real = skip.has('server')
      ? null
      : await runWorkload('server', plans(s, cookies, [node.url], params, 'r1'), params, {
          serverPids: () => [node.proc.pid!],
          metrics: () => serverMetrics(node.url),
          postgres: () => postgresTree(db),
          postgresWal: () => pgWalOf(db),
          redisPids: redisServerPids,
          log,
          whileConnected: skip.has('restart')
            ? undefined
            : async (workers) => {
                log('restart: stopping the server with every client connected');
                const reports = workers.map((w) => w.next('reconnected', 180_000));
                for (const w of workers) w.send({ type: 'watch-reconnect', timeoutMs: 150_000 });
                const stopWall = Date.now();
                await stop(node);
                const stoppedWall = Date.now();
                node = await start(port);
                const readyWall = Date.now();
                // Who works while the clients come back: the new server, PostgreSQL, the load generators.
                const restarted = node;
                const postgres = (await postgresTree(db)) ?? [];
                const meter = new CpuMeter(() => ({
                  server_pct: [restarted.proc.pid!],
                  postgres_pct: postgres,
                  loadgen_pct: workers.map((w) => w.proc.pid!),
                }));
                meter.begin();
                const r = await Promise.all(reports);
                const cpu = meter.end();
                const done = r.every((x) => x.doneWall) ? Math.max(...r.map((x) => x.doneWall!)) : null;
                result.reconnect = {
                  clients: r.reduce((n, x) => n + x.dropped, 0),
                  back: r.reduce((n, x) => n + x.back, 0),
                  shutdown_s: round((stoppedWall - stopWall) / 1000, 2),
                  startup_s: round((readyWall - stoppedWall) / 1000, 2),
                  all_back_after_ready_s: done ? round((done - readyWall) / 1000, 2) : null,
                  total_s: done ? round((done - stopWall) / 1000, 2) : null,
                  cpu_pct: cpu,
                  // How the return is spread: seconds after ready by which half, 90% and 99% were back.
                  back_after_ready_s: backPercentiles(
                    r.flatMap((x) => x.backWalls),
                    readyWall,
                  ),
                };
                log(`restart: ${JSON.stringify(result.reconnect)}`);
              },
        });
    if (real) result.runs.push({ ...real, ...(await persisted(real)) });
    await stop(node);

    // 1b. Abuse: one address floods a node with random joins while a visitor joins and /readyz is
    // polled. The node trusts X-Forwarded-For here, as behind a load balancer, so the attacker and
    // the visitor are two addresses; the event limits are the defaults (the bench's own are raised).
    if (!skip.has('abuse')) {
      const abusePort = await freePort();
      const srv = await startServer(
        serverArgs,
        {
          ...serverEnv(abusePort),
          TRUST_PROXY: 'true',
          REALTIME_REDIS_PREFIX: `sbbench:${t0}:abuse`,
          SOCKETS_PER_IP: '200',
          SOCKET_EVENT_LIMIT: '100',
          SOCKET_IP_EVENT_LIMIT: '1000',
        },
        abusePort,
      );
      servers.push(srv);
      log('abuse: 20 sockets flood random joins while a visitor joins');
      result.abuse = await abuseStep(srv.url, s.visitors.slice(0, 500));
      log(`abuse: ${JSON.stringify(result.abuse)}`);
      await stop(srv);
    }

    // 1b'. The client core's size as a page ships it (minified and gzipped).
    const size = spawnSync(process.execPath, ['packages/client-core/size.mjs'], {
      cwd: rootDir,
      encoding: 'utf8',
    });
    // A failed measurement must fail the run, not leave the figure out of the report unnoticed.
    if (size.status !== 0) {
      throw new Error(
        `client-core size: size.mjs exited with ${size.status ?? size.signal}: ${size.stderr || size.error?.message}`,
      );
    }
    result.client_core_size = JSON.parse(size.stdout) as { bytes: number; gzip: number };

    // 1c. The bot: retrieval quality on the help-centre fixture, and how fast visitors get answers.
    if (!skip.has('bot')) {
      result.retrieval = await measureRetrieval(db.database);
      log(`retrieval: ${JSON.stringify(result.retrieval)}`);
      const botPort = await freePort();
      const adminKey = `ak_bench_${t0}_${'x'.repeat(16)}`;
      // All the bench's visitors come from one address: the per-address session limit is lifted.
      const srv = await startServer(
        serverArgs,
        { ...serverEnv(botPort), ADMIN_KEY: adminKey, PUBLIC_RATE_LIMIT_PER_TARGET: '100000' },
        botPort,
      );
      servers.push(srv);
      log('bot: visitors ask the fixture questions one after another');
      result.bot = await botStep(srv.url, adminKey);
      log(`bot: ${JSON.stringify(result.bot)}`);
      await stop(srv);
    }

    // 1d. The relay's gateways: raw WebSocket visitors against plain ws, signed calls against the
    // same read with a session, webhook deliveries to a local receiver, the bot over 1,000 documents.
    if (!skip.has('gateways') && !skip.has('server')) {
      const gwPort = await freePort();
      const adminKey = `ak_bench_${t0}_${'g'.repeat(16)}`;
      const srv = await startServer(
        serverArgs,
        {
          ...serverEnv(gwPort),
          ADMIN_KEY: adminKey,
          REALTIME_REDIS_PREFIX: `sbbench:${t0}:gateways`,
          // Hundreds of visitor sessions from one address; webhooks to this process.
          PUBLIC_RATE_LIMIT_PER_TARGET: '1000000',
          PUBLIC_RATE_LIMIT_PER_IP: '1000000',
          WEBHOOK_ALLOW_PRIVATE: 'true',
          WEBHOOK_RETRY_BASE_MS: '1000',
        },
        gwPort,
      );
      servers.push(srv);
      result.gateways = await gatewaysStep(srv.url, adminKey, gatewaysParams(quick), log, srv.proc.pid);
      log(`gateways: ${JSON.stringify(result.gateways)}`);
      await stop(srv);
    }

    // 1e. Data-scale curves: a database of its own grown to each --scale size, the inbox's reads and
    // writes timed over HTTP at each (bench/lib/datascale.ts).
    if (!skip.has('datascale') && !skip.has('server')) {
      result.datascale = await dataScaleStep({
        pgUrl: o.pg!,
        sizes: dataScale,
        samples: num(o['datascale-samples'], 100, 50),
        start: async (env) => {
          const p = await freePort();
          const srv = await startServer(serverArgs, { ...serverEnv(p), ...env }, p);
          servers.push(srv);
          return srv;
        },
        stop,
        log,
      });
    }

    // 2. The bare Socket.IO baseline, same workload (left out only to compare two builds of the
    // server quickly: the ratios are then unknown).
    if (!skip.has('baseline')) {
      const bare = await startServer(
        ['--import', 'tsx', 'bench/baselines/bare-socketio.ts'],
        {},
        await freePort(),
      );
      servers.push(bare);
      const base = await runWorkload('baseline', plans(s, [], [bare.url], params, 'b1'), params, {
        serverPids: () => [bare.proc.pid!],
        log,
      });
      result.runs.push(base);
      await stop(bare);
    }

    // 2b. The same bare server broadcasting through the Redis adapter: what fan-out across nodes
    // costs on its own (this run's CPU per message minus the baseline's).
    if (!skip.has('baseline-redis')) {
      const bareRedis = await startServer(
        ['--import', 'tsx', 'bench/baselines/bare-socketio.ts'],
        { BARE_REDIS_URL: o.redis!, BARE_REDIS_PREFIX: `sbbench:${t0}:bare` },
        await freePort(),
      );
      servers.push(bareRedis);
      const run = await runWorkload('baseline-redis', plans(s, [], [bareRedis.url], params, 'b2'), params, {
        serverPids: () => [bareRedis.proc.pid!],
        redisPids: redisServerPids,
        log,
      });
      result.runs.push(run);
      await stop(bareRedis);
    }

    // 3. Two nodes sharing PostgreSQL and Redis.
    if (!skip.has('two-nodes')) {
      const [a, b] = await Promise.all([start(await freePort()), start(await freePort())]);
      const two = await runWorkload('two-nodes', plans(s, cookies, [a.url, b.url], params, 'n2'), params, {
        serverPids: () => [a.proc.pid!, b.proc.pid!],
        postgres: () => postgresTree(db),
        postgresWal: () => pgWalOf(db),
        redisPids: redisServerPids,
        log,
      });
      result.runs.push({ ...two, ...(await persisted(two)) });
      await Promise.all([stop(a), stop(b)]);
    }

    // 4. Where the time goes: ORM vs pg, Socket.IO vs ws.
    if (!skip.has('micro')) {
      log('baselines: pg vs Prisma vs service send');
      result.orm = await ormBaseline(db.url, s, 1000);
      log('baselines: ws vs Socket.IO');
      result.transport = await transportBaseline(100, 2);
    }
  } finally {
    await Promise.all(servers.map((srv) => stopProcess(srv.proc).catch(() => {})));
    await db.drop().catch((err: Error) => log(`could not drop the database: ${err.message}`));
  }

  result.server_errors = [...new Set(serverErrors)].slice(0, 20);
  result.summary = summary(result);
  result.duration_s = round((Date.now() - t0) / 1000, 1);
  mkdirSync(outDir, { recursive: true });
  const base = quick ? 'quick' : 'latest';
  writeDataScaleChart(result, outDir, base);
  const forJson = { ...result, runs: result.runs.map(({ prefixes: _p, ...r }) => stripSamples(r)) };
  writeFileSync(path.join(outDir, `${base}.json`), JSON.stringify(forJson, null, 2) + '\n');
  writeFileSync(path.join(outDir, `${base}.svg`), renderSvg(result));
  process.stdout.write(renderTable(result) + '\n');
  log(`results in ${path.relative(process.cwd(), outDir)}/${base}.{json,svg}`);
  if (o.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
}

async function redisVersion(url: string): Promise<string | undefined> {
  const redis = await connectRedis(url);
  try {
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
  } finally {
    await closeRedis(redis);
  }
}

/** Distinct error lines (pino level ≥ 50) a server logged, without ids and times. */
function logErrors(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    try {
      const e = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((e.level ?? 0) >= 50)
        out.push(`${e.msg ?? ''}: ${e.err?.message ?? ''}`.replace(/\s+/g, ' ').slice(0, 300));
    } catch {
      if (/error/i.test(line)) out.push(line.slice(0, 300));
    }
  }
  return out;
}

/** Raw latency samples are for the chart, not the JSON file. */
function stripSamples<T extends { steady: { latencies: number[] }; capacity: { latencies: number[] } }>(
  r: T,
) {
  const { latencies: _a, ...steady } = r.steady;
  const { latencies: _b, ...capacity } = r.capacity;
  return { ...r, steady, capacity };
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
