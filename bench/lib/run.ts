// One workload run: load generators against one or more server URLs, through the phases
// connect (ramp) → idle → steady (open loop, fixed rate) → capacity (closed loop) → report.
import { readdirSync } from 'node:fs';
import { percentile, round } from './stats.js';
import { commOf, CpuMeter, rssOf, runQueueSecondsOf, Worker, type CpuGroup } from './procs.js';
import type { AgentPlan, LoadReport, VisitorPlan, WorkerPlan } from './protocol.js';
import type { PgWal, Seed } from './seed.js';

export type Params = {
  visitors: number;
  agents: number;
  rate: number;
  inFlight: number;
  rampS: number;
  steadyS: number;
  capacityS: number;
  drainS: number;
  /** Share of conversations that start during the ramp; the rest are already open and assigned. */
  newShare: number;
  /** Quiet time after the ramp, before the server's memory is read (also read after 3 s of it). */
  idleS: number;
  /** Open-loop rates tried after the capacity phase (each for `steadyS`): the highest sustained. */
  rates: number[];
  workers: number;
  /** Each visitor from a loopback address of its own, as visitors come from many (else all from 127.0.0.1). */
  visitorAddresses: boolean;
  /** Agents read their list again as the inbox does (`--inbox-reloads`)… */
  inboxReloads: boolean;
  /** …showing this filter (`--inbox-filter`). */
  inboxFilter: 'unassigned' | 'mine';
  /** Each message's receiver marks it read on arrival, as an open inbox or widget does (`--read-receipts`). */
  readReceipts: boolean;
};

export type PhaseResult = {
  sent: number;
  delivered: number;
  msgs_per_s: number;
  lost: number;
  duplicated: number;
  echoes: number;
  queue_events_per_s: number;
  /**
   * `--inbox-reloads`: the agents' list reloads per second (two or four requests at once), those that
   * failed, and the p50/p99 of one reload (all four answered), ms. Absent without the option.
   */
  inbox_reloads?: { per_s: number; failed: number; p50_ms: number | null; p99_ms: number | null };
  /** `--read-receipts`: `mark_read` sent per second (one per message delivered). Absent without it. */
  read_receipts_per_s?: number;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  /** Per second: [sent, delivered]. */
  timeline: [number, number][];
  /** Per second of sending: the p99 latency of the messages sent in it (where a stall sits). */
  p99_by_second: (number | null)[];
  /** Per second of the phase: the longest event-loop stall of any load generator, ms (their own pauses). */
  loadgen_stall_by_second: number[];
  /** What the server's /metrics says of the phase; null for the bare baselines. */
  server_side: ServerSide | null;
  /**
   * How long the event loops were ready to run but waited for a core (the machine's other
   * processes had both), in ms per second of the phase, per process: the servers' and the load
   * generators'. Null where /proc does not say.
   */
  core_wait_ms_per_s: { server: number | null; loadgen: number | null };
  /**
   * PostgreSQL's writes over the phase per delivered message (cluster-wide, so anything else the
   * database does counts too): WAL records, full-page images, bytes, and the checkpoints begun.
   */
  postgres_wal: {
    records_per_msg: number;
    fpi_per_msg: number;
    bytes_per_msg: number;
    checkpoints: number;
  } | null;
  latencies: number[];
};

/** The server's own view of a phase, from its /metrics pages before and after it. */
export type ServerSide = {
  young_gcs: number;
  young_gc_ms: number;
  /** Its event loop's longest stall and the p99 of its stalls (beyond the 10 ms sampling timer), ms. */
  loop_stall_max_ms: number | null;
  loop_stall_p99_ms: number | null;
  /**
   * From a send's arrival to its commit, and to its broadcast: the upper bound of the histogram
   * bucket holding the p99 (ms; null past the last bucket or with no message), and the share of
   * messages broadcast more than 50 ms after they arrived.
   */
  commit_p99_at_most_ms: number | null;
  broadcast_p99_at_most_ms: number | null;
  broadcast_over_50ms_pct: number | null;
};

export type RateResult = {
  offered: number;
  msgs_per_s: number;
  sent: number;
  lost: number;
  duplicated: number;
  latency_ms: PhaseResult['latency_ms'];
  p99_by_second: PhaseResult['p99_by_second'];
  loadgen_stall_by_second: PhaseResult['loadgen_stall_by_second'];
  server_side: ServerSide | null;
  core_wait_ms_per_s: PhaseResult['core_wait_ms_per_s'];
  postgres_wal: PhaseResult['postgres_wal'];
  server_cpu_pct: number | null;
};

/** CPU per delivered message, in µs of one core, by process group (server, postgres, loadgen, redis). */
export type CpuPerMessage = Record<string, number | null>;

export type RunResult = {
  name: string;
  nodes: number;
  connections: number;
  connect_s: number;
  connect_failed: number;
  rss_idle_mb: number | null;
  rss_per_1000_conn_mb: number | null;
  /** The same after only 3 s of idle (the ramp's garbage not yet given back). */
  rss_per_1000_conn_mb_early: number | null;
  steady: PhaseResult & { cpu_pct: Record<string, number>; cpu_us_per_msg: CpuPerMessage };
  capacity: PhaseResult & { cpu_pct: Record<string, number>; cpu_us_per_msg: CpuPerMessage };
  /** The extra open-loop rates (`Params.rates`), latencies without their raw samples. */
  rates: RateResult[];
  /**
   * The server's full garbage collections from the first load phase to the end of the last, and
   * their pause time (Prometheus' `nodejs_gc_duration_seconds{kind="major"}`); null when the
   * server does not say (the bare baselines).
   */
  major_gcs: GcTotals | null;
  errors: string[];
  prefixes: string[];
};

/**
 * The local Redis server's processes (by name, from /proc), so its CPU per message can be shown;
 * none when Redis runs elsewhere. Shared with whatever else uses that Redis.
 */
export function redisServerPids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && commOf(Number(entry)) === 'redis-server')
    .map(Number);
}

/** Conversation `i` is new (its visitor says hello and an agent claims it during the ramp). */
export const isNew = (i: number, share: number) => Math.floor((i + 1) * share) > Math.floor(i * share);

/** The agent (index) serving visitor `i`: one in the visitor's own load generator. */
export function agentOf(i: number, agents: number, workers: number): number {
  const w = i % workers;
  const inWorker = Math.ceil((agents - w) / workers);
  return w + workers * (Math.floor(i / workers) % inWorker);
}

/** Splits visitors and agents across load generators so each visitor's agent is in its process. */
export function plans(
  seed: Seed,
  cookies: string[],
  urls: string[],
  p: Params,
  runTag: string,
): WorkerPlan[] {
  const out: WorkerPlan[] = [];
  for (let w = 0; w < p.workers; w++) {
    const agents: AgentPlan[] = [];
    for (let j = w, k = 0; j < seed.agents.length; j += p.workers, k++) {
      agents.push({
        index: j,
        userId: seed.agents[j]!.id,
        cookie: cookies[j] ?? '',
        url: urls[(k + 1) % urls.length]!,
      });
    }
    const visitors: VisitorPlan[] = [];
    for (let i = w, k = 0; i < seed.visitors.length; i += p.workers, k++) {
      const v = seed.visitors[i]!;
      visitors.push({
        ...v,
        url: urls[k % urls.length]!,
        agent: agentOf(i, seed.agents.length, p.workers),
        fresh: isNew(i, p.newShare),
        ...(p.visitorAddresses ? { localAddress: visitorAddress(i) } : {}),
      });
    }
    out.push({
      workerId: w,
      runTag,
      agents,
      visitors,
      ...(p.inboxReloads ? { inboxReloads: true, inboxFilter: p.inboxFilter } : {}),
      ...(p.readReceipts ? { readReceipts: true } : {}),
    });
  }
  return out;
}

/**
 * Visitor `i`'s own source address in 127.0.0.0/8 (Linux answers every address of it on `lo`):
 * 127.1.0.0, 127.1.0.1, ... The server's per-address state (connection slots, the address's event
 * limit) then holds one entry per visitor, as with visitors on the internet, not one for them all.
 */
export function visitorAddress(i: number): string {
  return `127.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

/**
 * CPU per delivered message: what each group used over the metered window (the phase and its drain)
 * divided by the deliveries to the other party, in µs of one core. The machine's share is left out.
 */
function perMessage(cpu: Record<string, number>, meteredS: number, delivered: number): CpuPerMessage {
  const out: CpuPerMessage = {};
  for (const [name, pct] of Object.entries(cpu)) {
    if (name === 'machine_busy_pct') continue;
    // Negative: a process of the group ended during the phase (a pooled backend), its CPU unknown.
    out[name.replace(/_pct$/, '')] =
      delivered && pct >= 0 ? round(((pct / 100) * meteredS * 1e6) / delivered, 1) : null;
  }
  return out;
}

/** One phase from its load generators' reports: totals, percentiles, per-second counts and p99s, CPU per message. */
export function merge(
  reports: LoadReport[],
  seconds: number,
  cpu: Record<string, number>,
  meteredS: number,
): PhaseResult & { cpu_pct: Record<string, number>; cpu_us_per_msg: CpuPerMessage } {
  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const bySecond: number[][] = [];
  for (const r of reports) {
    r.latencies.forEach((ms, i) => (bySecond[r.sentSecond[i]!] ??= []).push(ms));
  }
  const timeline: [number, number][] = [];
  for (const r of reports) {
    r.timeline.forEach(([s, d], i) => {
      timeline[i] ??= [0, 0];
      timeline[i][0] += s;
      timeline[i][1] += d;
    });
  }
  const stalls: number[] = [];
  for (const r of reports) r.loopMaxBySecond.forEach((ms, i) => (stalls[i] = Math.max(stalls[i] ?? 0, ms)));
  const delivered = reports.reduce((n, r) => n + r.delivered, 0);
  const queueEvents = reports.reduce((n, r) => n + r.queueEvents, 0);
  const reloadMs = reports.flatMap((r) => r.reloads.ms).sort((a, b) => a - b);
  const reloads = reports.reduce((n, r) => n + r.reloads.done, 0);
  const reloadsFailed = reports.reduce((n, r) => n + r.reloads.failed, 0);
  const reads = reports.reduce((n, r) => n + r.reads, 0);
  return {
    sent: reports.reduce((n, r) => n + r.sent, 0),
    delivered,
    msgs_per_s: Math.round(delivered / seconds),
    lost: reports.reduce((n, r) => n + r.lost, 0),
    duplicated: reports.reduce((n, r) => n + r.duplicated, 0),
    echoes: reports.reduce((n, r) => n + r.echoes, 0),
    queue_events_per_s: Math.round(queueEvents / seconds),
    ...(reloads || reloadsFailed
      ? {
          inbox_reloads: {
            per_s: Math.round(reloads / seconds),
            failed: reloadsFailed,
            p50_ms: percentile(reloadMs, 50),
            p99_ms: percentile(reloadMs, 99),
          },
        }
      : {}),
    ...(reads ? { read_receipts_per_s: Math.round(reads / seconds) } : {}),
    latency_ms: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
    },
    timeline: timeline.map((t) => t ?? [0, 0]),
    p99_by_second: Array.from(bySecond, (l) =>
      l
        ? percentile(
            l.sort((a, b) => a - b),
            99,
          )
        : null,
    ),
    loadgen_stall_by_second: Array.from(stalls, (ms) => ms ?? 0),
    server_side: null,
    core_wait_ms_per_s: { server: null, loadgen: null },
    postgres_wal: null,
    latencies,
    cpu_pct: cpu,
    cpu_us_per_msg: perMessage(cpu, meteredS, delivered),
  };
}

export type GcTotals = { count: number; seconds: number };

/**
 * Collections of one kind so far (`major`: full; `minor`: young generation), from a Prometheus
 * text page (prom-client's default metrics).
 */
export function gcTotalsOf(page: string, kind: 'major' | 'minor'): GcTotals | null {
  const read = (suffix: 'count' | 'sum') =>
    new RegExp(`^\\w*nodejs_gc_duration_seconds_${suffix}\\{kind="${kind}"\\} ([0-9.e+-]+)$`, 'm').exec(
      page,
    )?.[1];
  const count = read('count');
  const sum = read('sum');
  return count === undefined || sum === undefined ? null : { count: Number(count), seconds: Number(sum) };
}

/** Full collections so far (`gcTotalsOf`). */
export const majorGcTotals = (page: string) => gcTotalsOf(page, 'major');

/** An unlabelled gauge's value on a metrics page, or null. */
function gaugeOf(page: string, name: string): number | null {
  const v = new RegExp(`^\\w*${name} ([0-9.e+-]+)$`, 'm').exec(page)?.[1];
  return v === undefined ? null : Number(v);
}

/** One series of a histogram (`labels` its other labels): cumulative counts by upper bound. */
function bucketsOf(page: string, name: string, labels: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of page.matchAll(new RegExp(`^\\w*${name}_bucket\\{([^}]*)\\} ([0-9.e+-]+)$`, 'gm'))) {
    const le = /(?:^|,)le="([^"]+)"/.exec(m[1]!)?.[1];
    if (le === undefined || m[1]!.replace(/(?:^|,)le="[^"]+"/, '').replace(/^,/, '') !== labels) continue;
    out.push([le === '+Inf' ? Infinity : Number(le), Number(m[2])]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** What two /metrics pages of the server, before and after a phase, say of it (`ServerSide`). */
export function serverSideOf(before: string, after: string): ServerSide {
  const young = [gcTotalsOf(before, 'minor'), gcTotalsOf(after, 'minor')];
  const latency = (stage: string) => {
    const a = bucketsOf(before, 'message_latency_seconds', `stage="${stage}"`);
    const b = bucketsOf(after, 'message_latency_seconds', `stage="${stage}"`);
    const counts = b.map(([le, n]) => [le, n - (a.find(([l]) => l === le)?.[1] ?? 0)] as [number, number]);
    const total = counts.at(-1)?.[1] ?? 0;
    const p99 = counts.find(([, n]) => n >= total * 0.99)?.[0];
    const under50 = counts.find(([le]) => le === 0.05)?.[1];
    return {
      p99: total && p99 !== undefined && p99 !== Infinity ? p99 * 1000 : null,
      over50: total && under50 !== undefined ? round((100 * (total - under50)) / total, 2) : null,
    };
  };
  // prom-client's event-loop figures cover the time since its previous scrape (it resets them), and
  // include the 10 ms of the timer that samples them.
  const stall = (name: string) => {
    const s = gaugeOf(after, `nodejs_eventloop_lag_${name}_seconds`);
    return s === null ? null : round(Math.max(0, s * 1000 - 10), 1);
  };
  const commit = latency('commit');
  const broadcast = latency('broadcast');
  return {
    young_gcs: young[0] && young[1] ? young[1].count - young[0].count : 0,
    young_gc_ms: young[0] && young[1] ? Math.round((young[1].seconds - young[0].seconds) * 1000) : 0,
    loop_stall_max_ms: stall('max'),
    loop_stall_p99_ms: stall('p99'),
    commit_p99_at_most_ms: commit.p99,
    broadcast_p99_at_most_ms: broadcast.p99,
    broadcast_over_50ms_pct: broadcast.over50,
  };
}

export type RunHooks = {
  serverPids: () => number[];
  /** One node's /metrics page (prom-client's text), or null if it does not say. */
  metrics?: () => Promise<string | null>;
  /** PostgreSQL's processes (`postgresTree`), when it runs on this machine. */
  postgres?: () => Promise<CpuGroup | null>;
  /** PostgreSQL's WAL and checkpoint counters so far (`pgWalOf`). */
  postgresWal?: () => Promise<PgWal | null>;
  /** The Redis server's process (shared with anything else on the machine: read it as a hint). */
  redisPids?: () => number[];
  log: (s: string) => void;
  /** Runs with every client connected, before the workers close (the restart test). */
  whileConnected?: (workers: Worker[]) => Promise<void>;
};

/** The time some processes' main threads wait for a core, from now on: ms per second, per process. */
class WaitMeter {
  private readonly start: (number | null)[];
  private readonly t0 = performance.now();
  constructor(private readonly pids: number[]) {
    this.start = pids.map(runQueueSecondsOf);
  }
  msPerSecond(): number | null {
    const waited = this.pids.map((pid, i) => {
      const [a, b] = [this.start[i], runQueueSecondsOf(pid)];
      return a === null || a === undefined || b === null ? null : b - a;
    });
    const known = waited.filter((w) => w !== null);
    if (!known.length || known.length < waited.length) return null;
    const seconds = (performance.now() - this.t0) / 1000;
    return round((known.reduce((n, w) => n + w, 0) * 1000) / known.length / seconds, 1);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runWorkload(
  name: string,
  workerPlans: WorkerPlan[],
  p: Params,
  hooks: RunHooks,
): Promise<RunResult> {
  const workers = workerPlans.map(() => new Worker());
  try {
    await Promise.all(
      workers.map((w, i) => {
        const ready = w.next('ready', 60_000);
        w.send({ type: 'init', plan: workerPlans[i]! });
        return ready;
      }),
    );
    const rssBefore = hooks.serverPids().map((pid) => rssOf(pid) ?? 0);
    hooks.log(`${name}: connecting ${p.visitors} visitors + ${p.agents} agents over ${p.rampS} s`);
    const connected = await Promise.all(
      workers.map((w) => {
        const done = w.next('connected');
        w.send({ type: 'connect', rampMs: p.rampS * 1000, timeoutMs: p.rampS * 1000 + 60_000 });
        return done;
      }),
    );
    const errors = connected.flatMap((c) => c.errors);
    const connections = connected.reduce((n, c) => n + c.visitors + c.agents, 0);
    const failed = connected.reduce((n, c) => n + c.failed, 0);
    hooks.log(`${name}: ${connections} connected, ${failed} failed${errors.length ? `; ${errors[0]}` : ''}`);
    // Idle: the server's memory after 3 s, and again at the end (V8 gives back what the ramp
    // allocated and no longer uses only after some idle seconds).
    const rssNow = () => hooks.serverPids().reduce((n, pid) => n + (rssOf(pid) ?? 0), 0);
    const early = Math.min(3, p.idleS);
    await sleep(early * 1000);
    const rssEarly = rssNow();
    await sleep((p.idleS - early) * 1000);
    const rssIdle = rssNow();
    const before = rssBefore.reduce((a, b) => a + b, 0);
    const perThousand = (rss: number) =>
      // RSS can shrink over a small ramp (a GC after start-up): then the figure is noise, not memory.
      connections && rss > before ? round((rss - before) / 2 ** 20 / (connections / 1000), 1) : null;

    const postgres = (await hooks.postgres?.()) ?? [];
    const redisPids = hooks.redisPids?.() ?? [];
    const meter = new CpuMeter(() => ({
      server_pct: hooks.serverPids(),
      postgres_pct: postgres,
      loadgen_pct: workers.map((w) => w.proc.pid!),
      ...(redisPids.length ? { redis_pct: redisPids } : {}),
    }));
    const extraPrefixes: string[] = [];
    const phase = async (mode: 'open' | 'closed', seconds: number, rate = p.rate) => {
      const pageBefore = (await hooks.metrics?.()) ?? null;
      const walBefore = (await hooks.postgresWal?.()) ?? null;
      const waitMeters = {
        server: new WaitMeter(hooks.serverPids()),
        loadgen: new WaitMeter(workers.map((w) => w.proc.pid!)),
      };
      const startWall = Date.now();
      const meterStart = performance.now();
      meter.begin();
      const reports = await Promise.all(
        workers.map((w) => {
          const done = w.next('drained');
          w.send({
            type: 'load',
            mode,
            rate: rate / workers.length,
            inFlight: Math.max(1, Math.round(p.inFlight / workers.length)),
            durationMs: seconds * 1000,
            startWall,
            drainMs: p.drainS * 1000,
          });
          return done;
        }),
      );
      const cpu = meter.end();
      const meteredS = (performance.now() - meterStart) / 1000;
      const lastWall = Math.max(...reports.map((r) => r.lastWall));
      // Sustained: what was delivered over the time it took to deliver it (a backlog counts).
      const spent = Math.max(seconds, (lastWall - startWall) / 1000);
      errors.push(...reports.flatMap((r) => r.errors));
      const pageAfter = (await hooks.metrics?.()) ?? null;
      const walAfter = (await hooks.postgresWal?.()) ?? null;
      const result = merge(reports, spent, cpu, meteredS);
      result.core_wait_ms_per_s = {
        server: waitMeters.server.msPerSecond(),
        loadgen: waitMeters.loadgen.msPerSecond(),
      };
      if (walBefore && walAfter && result.delivered) {
        const per = (k: 'records' | 'fpi' | 'bytes') =>
          round((walAfter[k] - walBefore[k]) / result.delivered, 2);
        result.postgres_wal = {
          records_per_msg: per('records'),
          fpi_per_msg: per('fpi'),
          bytes_per_msg: Math.round(per('bytes')),
          checkpoints: walAfter.checkpoints - walBefore.checkpoints,
        };
        hooks.log(
          `${name}: PostgreSQL wrote per message ${result.postgres_wal.records_per_msg} WAL records, ${result.postgres_wal.fpi_per_msg} full-page images, ${result.postgres_wal.bytes_per_msg} bytes; ${result.postgres_wal.checkpoints} checkpoints`,
        );
      }
      result.server_side = pageBefore && pageAfter ? serverSideOf(pageBefore, pageAfter) : null;
      const ss = result.server_side;
      if (ss) {
        hooks.log(
          `${name}: server: ${ss.young_gcs} young collections (${ss.young_gc_ms} ms), event loop held ≤ ${ss.loop_stall_max_ms} ms (p99 ${ss.loop_stall_p99_ms}), commit p99 ≤ ${ss.commit_p99_at_most_ms} ms, broadcast p99 ≤ ${ss.broadcast_p99_at_most_ms} ms (${ss.broadcast_over_50ms_pct}% over 50 ms)`,
        );
      }
      hooks.log(
        `${name}: waited for a core, ms per second: server ${result.core_wait_ms_per_s.server}, load generators ${result.core_wait_ms_per_s.loadgen}; load generators' longest stall by second ${result.loadgen_stall_by_second.join(' ')}`,
      );
      return { result, prefixes: reports.map((r) => r.prefix) };
    };
    const majorNow = async () => {
      const page = await hooks.metrics?.();
      return page ? majorGcTotals(page) : null;
    };
    const gcBefore = await majorNow();
    hooks.log(`${name}: steady ${p.steadyS} s at ${p.rate} msg/s`);
    const steady = await phase('open', p.steadyS);
    hooks.log(
      `${name}: steady ${steady.result.msgs_per_s} msg/s, p99 ${steady.result.latency_ms.p99} ms, lost ${steady.result.lost}; p99 by second ${steady.result.p99_by_second.map((v) => (v === null ? '-' : Math.round(v))).join(' ')}`,
    );
    hooks.log(`${name}: capacity ${p.capacityS} s with ${p.inFlight} in flight`);
    const capacity = await phase('closed', p.capacityS);
    hooks.log(
      `${name}: capacity ${capacity.result.msgs_per_s} msg/s, server ${capacity.result.cpu_us_per_msg.server} µs/msg, lost ${capacity.result.lost}`,
    );
    const rates: RateResult[] = [];
    for (const rate of p.rates) {
      hooks.log(`${name}: steady ${p.steadyS} s at ${rate} msg/s`);
      const { result: r, prefixes } = await phase('open', p.steadyS, rate);
      hooks.log(
        `${name}: at ${rate} offered: ${r.msgs_per_s} msg/s, p99 ${r.latency_ms.p99} ms, lost ${r.lost}; p99 by second ${r.p99_by_second.map((v) => (v === null ? '-' : Math.round(v))).join(' ')}`,
      );
      extraPrefixes.push(...prefixes);
      rates.push({
        offered: rate,
        msgs_per_s: r.msgs_per_s,
        sent: r.sent,
        lost: r.lost,
        duplicated: r.duplicated,
        latency_ms: r.latency_ms,
        p99_by_second: r.p99_by_second,
        loadgen_stall_by_second: r.loadgen_stall_by_second,
        server_side: r.server_side,
        core_wait_ms_per_s: r.core_wait_ms_per_s,
        postgres_wal: r.postgres_wal,
        server_cpu_pct: r.cpu_pct.server_pct ?? null,
      });
    }
    const gcAfter = await majorNow();
    const majorGcs =
      gcBefore && gcAfter
        ? { count: gcAfter.count - gcBefore.count, seconds: round(gcAfter.seconds - gcBefore.seconds, 3) }
        : null;
    if (majorGcs) {
      hooks.log(
        `${name}: ${majorGcs.count} full garbage collections during the load phases, ${Math.round(majorGcs.seconds * 1000)} ms of pauses`,
      );
    }
    await hooks.whileConnected?.(workers);
    return {
      name,
      nodes: hooks.serverPids().length,
      connections,
      connect_s: round(Math.max(...connected.map((c) => c.ms)) / 1000, 1),
      connect_failed: failed,
      rss_idle_mb: round(rssIdle / 2 ** 20, 1),
      rss_per_1000_conn_mb: perThousand(rssIdle),
      rss_per_1000_conn_mb_early: perThousand(rssEarly),
      steady: steady.result,
      capacity: capacity.result,
      rates,
      major_gcs: majorGcs,
      errors: [...new Set(errors)].slice(0, 20),
      prefixes: [...steady.prefixes, ...capacity.prefixes, ...extraPrefixes],
    };
  } finally {
    await Promise.all(workers.map((w) => w.close().catch(() => {})));
  }
}
