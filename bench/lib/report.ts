// The benchmark's outputs: the headline summary, a text table and an SVG chart (latency
// distribution and throughput over time), all from one BenchResult.
import type { ormBaseline } from '../baselines/orm.js';
import type { AbuseResult } from './abuse.js';
import type { BotResult } from './bot.js';
import type { DataScaleResult } from './datascale.js';
import { dataScaleSummary, renderDataScaleTable } from './datascale-report.js';
import type { GatewaysResult } from './gateways.js';
import type { Params, RunResult } from './run.js';
import { round } from './stats.js';

export type Run = RunResult & { persisted?: number; persisted_missing?: number };

export type BenchResult = {
  date: string;
  quick: boolean;
  machine: Record<string, unknown>;
  params: Params;
  runs: Run[];
  reconnect?: {
    clients: number;
    back: number;
    shutdown_s: number;
    startup_s: number;
    all_back_after_ready_s: number | null;
    total_s: number | null;
    /** From ready to every client back, % of one core: server, postgres, loadgen, machine busy. */
    cpu_pct?: Record<string, number>;
    /** Seconds after ready by which 50%, 90% and 99% of the clients were back. */
    back_after_ready_s?: { p50: number | null; p90: number | null; p99: number | null };
  };
  orm?: Awaited<ReturnType<typeof ormBaseline>>;
  abuse?: AbuseResult;
  retrieval?: { recallAt3: number; documents: number; questions: number; p50Ms: number; p95Ms: number };
  bot?: BotResult;
  gateways?: GatewaysResult;
  /** packages/client-core bundled and minified, and gzipped, in bytes. */
  client_core_size?: { bytes: number; gzip: number };
  /** Data-scale curves (bench/lib/datascale.ts). */
  datascale?: DataScaleResult;
  transport?: Record<string, unknown> & { socketio_vs_ws: number };
  server_errors?: string[];
  summary?: ReturnType<typeof summary>;
  duration_s?: number;
};

const ratio = (a: number | undefined, b: number | undefined) => (a && b ? round(a / b, 2) : null);

/** The headline numbers; the first six are what `--quick --json` promises. */
export function summary(r: BenchResult) {
  const server = r.runs.find((x) => x.name === 'server');
  const base = r.runs.find((x) => x.name === 'baseline');
  const baseRedis = r.runs.find((x) => x.name === 'baseline-redis');
  const two = r.runs.find((x) => x.name === 'two-nodes');
  const lost = (x: Run | undefined) => (x ? lostOf(x) : null);
  const dup = (x: Run | undefined) => (x ? duplicatedOf(x) : null);
  return {
    msgs_per_s: server?.capacity.msgs_per_s ?? null,
    p99_ms: server?.steady.latency_ms.p99 ?? null,
    baseline_msgs_per_s: base?.capacity.msgs_per_s ?? null,
    ratio: ratio(server?.capacity.msgs_per_s, base?.capacity.msgs_per_s),
    lost: lost(server),
    duplicated: dup(server),
    offered_msgs_per_s: r.params.rate,
    steady_msgs_per_s: server?.steady.msgs_per_s ?? null,
    p50_ms: server?.steady.latency_ms.p50 ?? null,
    p95_ms: server?.steady.latency_ms.p95 ?? null,
    baseline_p99_ms: base?.steady.latency_ms.p99 ?? null,
    connections: server?.connections ?? null,
    connect_failed: server?.connect_failed ?? null,
    rss_per_1000_conn_mb: server?.rss_per_1000_conn_mb ?? null,
    rss_per_1000_conn_mb_early: server?.rss_per_1000_conn_mb_early ?? null,
    major_gcs_under_load: server?.major_gcs?.count ?? null,
    sustained_msgs_per_s: server ? sustained(server, r.params.rate) : null,
    baseline_sustained_msgs_per_s: base ? sustained(base, r.params.rate) : null,
    server_cpu_pct: server?.steady.cpu_pct.server_pct ?? null,
    server_core_wait_ms_per_s: server?.steady.core_wait_ms_per_s?.server ?? null,
    commit_p99_at_most_ms: server?.steady.server_side?.commit_p99_at_most_ms ?? null,
    reconnect_s: r.reconnect?.total_s ?? null,
    reconnect_after_ready_s: r.reconnect?.all_back_after_ready_s ?? null,
    reconnect_cpu_pct: r.reconnect?.cpu_pct ?? null,
    ...cpuSummary(server, base, baseRedis, two),
    two_nodes_msgs_per_s: two?.capacity.msgs_per_s ?? null,
    two_nodes_scaling: ratio(two?.capacity.msgs_per_s, server?.capacity.msgs_per_s),
    two_nodes_lost: lost(two),
    two_nodes_duplicated: dup(two),
    prisma_vs_pg: r.orm?.prisma_vs_pg ?? null,
    socketio_vs_ws: r.transport?.socketio_vs_ws ?? null,
    abuse_join_p99_ms: r.abuse?.visitor_under_flood.p99_ms ?? null,
    abuse_readyz_ok: r.abuse ? r.abuse.readyz.ok === r.abuse.readyz.polls : null,
    retrieval_recall_at_3: r.retrieval?.recallAt3 ?? null,
    bot_answer_p50_ms: r.bot?.p50_ms ?? null,
    bot_answer_p95_ms: r.bot?.p95_ms ?? null,
    client_core_gzip_bytes: r.client_core_size?.gzip ?? null,
    ...dataScaleSummary(r.datascale),
    ws_vs_plain: r.gateways?.ws.ratio ?? null,
    ws_msgs_per_s: r.gateways?.ws.server.per_s ?? null,
    signed_vs_unsigned: r.gateways?.signed.ratio ?? null,
    signed_calls_per_s: r.gateways?.signed.signed.per_s ?? null,
    webhooks_per_s: r.gateways?.webhooks.deliveries_per_s ?? null,
    webhooks_lost: r.gateways?.webhooks.lost ?? null,
    bot_p95_ms: r.gateways?.bot.p95_ms ?? null,
  };
}

/** Lost: not delivered in any phase, or not stored. */
const lostOf = (x: Run) =>
  x.steady.lost +
  x.capacity.lost +
  (x.rates ?? []).reduce((n, q) => n + q.lost, 0) +
  Math.max(0, x.persisted_missing ?? 0);
const duplicatedOf = (x: Run) =>
  x.steady.duplicated + x.capacity.duplicated + (x.rates ?? []).reduce((n, q) => n + q.duplicated, 0);

/** p99 at a sustained rate: at most this. */
export const SUSTAINED_P99_MS = 50;

/**
 * The highest open-loop rate offered (the steady phase's and the extra `rates`) that the run
 * kept up with: at least 98% of it delivered per second, p99 ≤ 50 ms, nothing lost.
 */
function sustained(x: Run, steadyRate: number): number | null {
  const tried = [
    {
      offered: steadyRate,
      msgs_per_s: x.steady.msgs_per_s,
      lost: x.steady.lost,
      latency_ms: x.steady.latency_ms,
    },
    ...(x.rates ?? []),
  ];
  const kept = tried.filter(
    (q) =>
      q.msgs_per_s >= 0.98 * q.offered && q.lost === 0 && (q.latency_ms.p99 ?? Infinity) <= SUSTAINED_P99_MS,
  );
  return kept.length ? Math.max(...kept.map((q) => q.offered)) : null;
}

/**
 * CPU per delivered message, µs of one core, capacity phase (the steady phase's server figure
 * beside it): the server and its PostgreSQL backends, the baselines, and the Redis adapter's own
 * cost (bare Socket.IO with the adapter minus without).
 */
function cpuSummary(server?: Run, base?: Run, baseRedis?: Run, two?: Run) {
  const us = (x: Run | undefined, group: string) => x?.capacity.cpu_us_per_msg?.[group] ?? null;
  const adapter = us(baseRedis, 'server') !== null && us(base, 'server') !== null;
  return {
    server_cpu_us_per_msg: us(server, 'server'),
    server_cpu_us_per_msg_steady: server?.steady.cpu_us_per_msg?.server ?? null,
    pg_cpu_us_per_msg: us(server, 'postgres'),
    redis_cpu_us_per_msg: us(server, 'redis'),
    baseline_cpu_us_per_msg: us(base, 'server'),
    baseline_redis_cpu_us_per_msg: us(baseRedis, 'server'),
    redis_adapter_cpu_us_per_msg: adapter ? round(us(baseRedis, 'server')! - us(base, 'server')!, 1) : null,
    server_cpu_vs_baseline: ratio(us(server, 'server') ?? undefined, us(base, 'server') ?? undefined),
    server_cpu_vs_baseline_redis: ratio(
      us(server, 'server') ?? undefined,
      us(baseRedis, 'server') ?? undefined,
    ),
    baseline_redis_msgs_per_s: baseRedis?.capacity.msgs_per_s ?? null,
    ratio_to_baseline_redis: ratio(server?.capacity.msgs_per_s, baseRedis?.capacity.msgs_per_s),
    two_nodes_cpu_us_per_msg: us(two, 'server'),
    ...ratioBudget(server?.capacity.cpu_us_per_msg, base?.capacity.cpu_us_per_msg),
  };
}

type PerMsg = Record<string, number | null> | undefined;

/**
 * What the capacity ratio can reach on this machine, from the capacity phases' CPU per message.
 * Server, PostgreSQL, Redis and load generators share the same cores, so with both runs equally
 * busy the ratio is the bare run's CPU per message (its server and load generators) over ours
 * (server, PostgreSQL, Redis, load generators): `ratio_by_cpu`, which the measured `ratio` should
 * be close to. The same sum with our server's share left out (`ratio_ceiling_server_free`), or
 * replaced by bare Socket.IO's (`ratio_ceiling_server_as_bare`), is how far making the server
 * cheaper alone can take the ratio. Estimates: each run's CPU per message is taken at its own
 * capacity, where the faster run spreads each wake-up over more messages. Null without a figure
 * for each part (PostgreSQL on another machine is not counted: its 0 would make the ceiling a
 * fiction).
 */
export function ratioBudget(ours: PerMsg, bare: PerMsg) {
  const none = { ratio_by_cpu: null, ratio_ceiling_server_free: null, ratio_ceiling_server_as_bare: null };
  const server = ours?.server;
  const rest = [ours?.postgres, ours?.redis ?? 0, ours?.loadgen];
  const bareTotal = (bare?.server ?? NaN) + (bare?.loadgen ?? NaN);
  const known = rest.every((v) => typeof v === 'number') && (ours?.postgres ?? 0) > 0;
  if (typeof server !== 'number' || !known || !(bareTotal > 0)) return none;
  const others = (rest as number[]).reduce((a, b) => a + b, 0);
  const of = (total: number) => (total > 0 ? round(bareTotal / total, 2) : null);
  return {
    ratio_by_cpu: of(server + others),
    ratio_ceiling_server_free: of(others),
    ratio_ceiling_server_as_bare: of(bare!.server! + others),
  };
}

const fmt = (v: unknown) => (v === null || v === undefined ? '–' : String(v));

export function renderTable(r: BenchResult): string {
  const rows: string[][] = [
    ['', ...r.runs.map((x) => x.name)],
    ['nodes', ...r.runs.map((x) => fmt(x.nodes))],
    ['connections held', ...r.runs.map((x) => `${x.connections} (${x.connect_failed} failed)`)],
    ['connect (ramp) s', ...r.runs.map((x) => fmt(x.connect_s))],
    ['server RSS idle MB', ...r.runs.map((x) => fmt(x.rss_idle_mb))],
    [`RSS per 1000 conns MB (${r.params.idleS} s idle)`, ...r.runs.map((x) => fmt(x.rss_per_1000_conn_mb))],
    ['RSS per 1000 conns MB (3 s idle)', ...r.runs.map((x) => fmt(x.rss_per_1000_conn_mb_early))],
    [`steady: offered msg/s`, ...r.runs.map(() => fmt(r.params.rate))],
    ['steady: delivered msg/s', ...r.runs.map((x) => fmt(x.steady.msgs_per_s))],
    ['steady: p50 / p95 / p99 ms', ...r.runs.map((x) => latency(x.steady.latency_ms))],
    ['steady: CPU % server / pg / loadgen', ...r.runs.map((x) => cpu(x.steady.cpu_pct))],
    ['steady: machine busy %', ...r.runs.map((x) => fmt(x.steady.cpu_pct.machine_busy_pct))],
    ['steady: queue events/s', ...r.runs.map((x) => fmt(x.steady.queue_events_per_s))],
    ...(r.params.inboxReloads
      ? [
          [
            `inbox reloads/s steady, capacity (p99 ms), ${r.params.inboxFilter ?? 'unassigned'}`,
            ...r.runs.map((x) => `${reloads(x.steady.inbox_reloads)}, ${reloads(x.capacity.inbox_reloads)}`),
          ],
        ]
      : []),
    ...(r.params.readReceipts
      ? [
          [
            'read receipts/s steady, capacity',
            ...r.runs.map(
              (x) => `${fmt(x.steady.read_receipts_per_s)}, ${fmt(x.capacity.read_receipts_per_s)}`,
            ),
          ],
        ]
      : []),
    [
      'steady: waited for a core ms/s server / loadgen',
      ...r.runs.map(
        (x) => `${fmt(x.steady.core_wait_ms_per_s?.server)} / ${fmt(x.steady.core_wait_ms_per_s?.loadgen)}`,
      ),
    ],
    [
      'steady: commit p99 ≤ ms, loop held ≤ ms',
      ...r.runs.map((x) => {
        const ss = x.steady.server_side;
        return ss ? `${fmt(ss.commit_p99_at_most_ms)}, ${fmt(ss.loop_stall_max_ms)}` : '–';
      }),
    ],
    [`capacity: msg/s (${r.params.inFlight} in flight)`, ...r.runs.map((x) => fmt(x.capacity.msgs_per_s))],
    ['capacity: p50 / p95 / p99 ms', ...r.runs.map((x) => latency(x.capacity.latency_ms))],
    ['capacity: CPU % server / pg / loadgen', ...r.runs.map((x) => cpu(x.capacity.cpu_pct))],
    ['steady: CPU µs/msg server / pg / redis', ...r.runs.map((x) => perMsg(x.steady.cpu_us_per_msg))],
    ['capacity: CPU µs/msg server / pg / redis', ...r.runs.map((x) => perMsg(x.capacity.cpu_us_per_msg))],
    ['capacity: loadgen CPU µs/msg', ...r.runs.map((x) => fmt(x.capacity.cpu_us_per_msg?.loadgen))],
    ...(r.params.rates ?? []).map((rate, i) => [
      `at ${rate} msg/s: delivered, p50 / p95 / p99 ms`,
      ...r.runs.map((x) => {
        const q = x.rates?.[i];
        return q ? `${q.msgs_per_s}, ${latency(q.latency_ms)}` : '–';
      }),
    ]),
    [
      'sent / persisted',
      ...r.runs.map(
        (x) =>
          `${x.steady.sent + x.capacity.sent + (x.rates ?? []).reduce((n, q) => n + q.sent, 0)} / ${fmt(x.persisted)}`,
      ),
    ],
    [
      'full GCs under load (pause ms)',
      ...r.runs.map((x) =>
        x.major_gcs ? `${x.major_gcs.count} (${Math.round(x.major_gcs.seconds * 1000)})` : '–',
      ),
    ],
    ['lost / duplicated', ...r.runs.map((x) => `${lostOf(x)} / ${duplicatedOf(x)}`)],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  const s = r.summary;
  if (s) {
    out.push('');
    out.push(
      `server / baseline capacity: ${fmt(s.ratio)}   two nodes / one node: ${fmt(s.two_nodes_scaling)}`,
    );
    out.push(
      `CPU per message (capacity, µs of a core): server ${fmt(s.server_cpu_us_per_msg)} + PostgreSQL ${fmt(s.pg_cpu_us_per_msg)}; bare Socket.IO ${fmt(s.baseline_cpu_us_per_msg)} (server ${fmt(s.server_cpu_vs_baseline)}×), with the Redis adapter ${fmt(s.baseline_redis_cpu_us_per_msg)}: the adapter costs ${fmt(s.redis_adapter_cpu_us_per_msg)} µs/msg`,
    );
    out.push(
      `ratio by CPU per message (load generators included): ${fmt(s.ratio_by_cpu)}; with a server that cost nothing ${fmt(s.ratio_ceiling_server_free)}, with one that cost what bare Socket.IO's does ${fmt(s.ratio_ceiling_server_as_bare)}`,
    );
  }
  if (r.reconnect) {
    const c = r.reconnect;
    out.push(
      `restart: ${c.back}/${c.clients} clients back ${fmt(c.all_back_after_ready_s)} s after the new process was ready (${fmt(c.total_s)} s from SIGTERM; shutdown ${c.shutdown_s} s, start ${c.startup_s} s)` +
        (c.cpu_pct
          ? `; half back after ${fmt(c.back_after_ready_s?.p50)} s, 90% ${fmt(c.back_after_ready_s?.p90)} s, 99% ${fmt(c.back_after_ready_s?.p99)} s; meanwhile CPU % server ${fmt(c.cpu_pct.server_pct)}, PostgreSQL ${fmt(c.cpu_pct.postgres_pct)}, load generators ${fmt(c.cpu_pct.loadgen_pct)} (machine ${fmt(c.cpu_pct.machine_busy_pct)}% busy)`
          : ''),
    );
  }
  if (r.retrieval) {
    const k = r.retrieval;
    out.push(
      `knowledge base: recall@3 ${k.recallAt3} on ${k.questions} questions over ${k.documents} documents; search p50 ${k.p50Ms} / p95 ${k.p95Ms} ms`,
    );
  }
  if (r.client_core_size) {
    out.push(
      `client core: ${r.client_core_size.bytes} bytes minified, ${r.client_core_size.gzip} bytes gzipped`,
    );
  }
  if (r.bot) {
    const b = r.bot;
    out.push(
      `bot: ${b.questions} visitors asked one question each: answered ${b.answered}, no answer ${b.no_answer}, failed ${b.failed}; question → answer p50 ${fmt(b.p50_ms)} / p95 ${fmt(b.p95_ms)} / max ${fmt(b.max_ms)} ms`,
    );
  }
  if (r.gateways) out.push(...gatewayLines(r.gateways));
  if (r.abuse) {
    const a = r.abuse;
    const j = (x: AbuseResult['visitor_quiet']) =>
      `p50 ${fmt(x.p50_ms)} / p99 ${fmt(x.p99_ms)} / max ${fmt(x.max_ms)} ms over ${x.joins} joins (${x.failed} failed)`;
    out.push(
      `abuse: ${a.flood.events_sent} random joins from ${a.flood.sockets} sockets of one address in ${a.flood.seconds} s (${a.flood.refused} refused rate_limited, ${a.flood.reconnects} reconnects after drops); visitors' joins (one each, from addresses of their own) quiet ${j(a.visitor_quiet)}, under the flood ${j(a.visitor_under_flood)}; /readyz 200 in ${a.readyz.ok} of ${a.readyz.polls} polls`,
    );
  }
  if (r.orm) {
    const m = r.orm;
    out.push(
      `persistence (${m.n} rows, ${m.concurrency} at a time): pg ${m.pg.inserts_per_s}/s, Prisma create ${m.prisma.inserts_per_s}/s (${m.prisma_vs_pg}×), service send ${m.service_send.inserts_per_s}/s (${m.service_vs_pg}×)`,
    );
  }
  if (r.transport) {
    const t = r.transport as Record<string, { msgs_per_s: number; p99_ms: number }> & {
      socketio_vs_ws: number;
    };
    out.push(
      `transport (closed loop, ${String(r.transport.pairs)} rooms): ws ${t.ws?.msgs_per_s}/s p99 ${t.ws?.p99_ms} ms, bare Socket.IO ${t.socketio?.msgs_per_s}/s p99 ${t.socketio?.p99_ms} ms (${t.socketio_vs_ws}×)`,
    );
  }
  if (r.datascale) out.push(...renderDataScaleTable(r.datascale));
  const errors = r.runs.flatMap((x) => x.errors.map((e) => `${x.name}: ${e}`));
  if (errors.length) out.push('', 'errors seen by clients:', ...errors.slice(0, 10).map((e) => `  ${e}`));
  if (r.server_errors?.length) {
    out.push('', 'errors the servers logged:', ...r.server_errors.slice(0, 10).map((e) => `  ${e}`));
  }
  return out.join('\n');
}

function gatewayLines(g: GatewaysResult): string[] {
  const loop = (x: GatewaysResult['ws']['server']) =>
    `${x.per_s}/s p50 ${fmt(x.p50_ms)} / p99 ${fmt(x.p99_ms)} ms, CPU server ${fmt(x.server_cpu_pct)} % / client ${x.client_cpu_pct} %${Object.keys(x.errors).length ? ` (errors ${JSON.stringify(x.errors)})` : ''}`;
  const w = g.webhooks;
  const b = g.bot;
  return [
    `raw WebSocket visitors (${g.ws.visitors}, sessions ${g.ws.sessions_per_s}/s, first messages answered in ${fmt(g.ws.server.warmup_s)} s; msg → ack closed loop): server ${loop(g.ws.server)}; plain ws ${loop(g.ws.plain_ws)} (${fmt(g.ws.ratio)}×)`,
    `signed API (${g.signed.concurrency} callers, ${g.signed.route}): HMAC#1 ${loop(g.signed.signed)}; operator session ${loop(g.signed.session)} (${fmt(g.signed.ratio)}×); sign ${g.signed.hmac_sign_us} µs, verify ${g.signed.hmac_verify_us} µs in-process`,
    `webhooks: ${w.messages_stored}/${w.messages_sent} messages in ${w.conversations} conversations (${w.generate_per_s}/s) → ${w.deliveries_per_s} deliveries/s, lag p50 ${fmt(w.lag_ms.p50)} / p95 ${fmt(w.lag_ms.p95)} / max ${fmt(w.lag_ms.max)} ms, drained ${w.drain_s} s after the last message; lost ${w.lost}, duplicates ${w.duplicates}, bad signatures ${w.bad_signatures}`,
    `bot over ${b.documents} documents (loaded in ${b.load_s} s, recall@3 ${fmt(b.recall_at_3)}): ${b.questions} questions, answered ${b.answered}, failed ${b.failed}; p50 ${fmt(b.p50_ms)} / p95 ${fmt(b.p95_ms)} / max ${fmt(b.max_ms)} ms`,
  ];
}

const reloads = (x: RunResult['steady']['inbox_reloads']) => (x ? `${x.per_s} (${fmt(x.p99_ms)})` : '–');
const latency = (l: RunResult['steady']['latency_ms']) => `${fmt(l.p50)} / ${fmt(l.p95)} / ${fmt(l.p99)}`;
const perMsg = (c: Record<string, number | null> | undefined) =>
  `${fmt(c?.server)} / ${fmt(c?.postgres)} / ${fmt(c?.redis)}`;
const cpu = (c: Record<string, number>) =>
  `${fmt(c.server_pct)} / ${fmt(c.postgres_pct)} / ${fmt(c.loadgen_pct)}`;

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * Left: latency by percentile of the steady phase (log latency against a tail scale where 90,
 * 99 and 99.9 are evenly spaced). Right: delivered msg/s per second, steady then capacity phase.
 */
export function renderSvg(r: BenchResult): string {
  const W = 980;
  const legendRows = r.runs.length;
  const pad = { l: 60, r: 20, t: 50, b: 50 + legendRows * 14 };
  const H = 400 + legendRows * 14;
  const pw = (W - 3 * pad.l) / 2;
  const ph = H - pad.t - pad.b;
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, extra = '') =>
    parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${esc(s)}</text>`);
  const legend = (x: number, i: number, s: string) =>
    text(x, pad.t + ph + 36 + i * 14, s, `fill="${COLORS[i % 4]}"`);

  // Latency by percentile.
  const sorted = r.runs.map((x) => x.steady.latencies).filter((s) => s.length);
  const lo = Math.max(0.1, Math.min(1, ...sorted.map((s) => s[0]!)));
  const hi = Math.max(10, ...sorted.map((s) => s.at(-1)!));
  const tailMax = 3; // 99.9th percentile
  const tail = (q: number) => Math.min(tailMax, -Math.log10(Math.max(1 - q, 10 ** -tailMax)));
  const lx = (q: number) => pad.l + (tail(q) / tailMax) * pw;
  const ly = (v: number) =>
    pad.t + ph - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  parts.push(`<rect x="${pad.l}" y="${pad.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  text(
    pad.l,
    pad.t - 12,
    `Delivery latency by percentile, steady phase (${r.params.rate} msg/s offered)`,
    'font-weight="bold"',
  );
  for (let d = Math.ceil(Math.log10(lo)); d <= Math.log10(hi); d++) {
    const y = ly(10 ** d);
    parts.push(`<line x1="${pad.l}" y1="${y}" x2="${pad.l + pw}" y2="${y}" stroke="#eee"/>`);
    text(pad.l - 50, y + 4, `${10 ** d} ms`);
  }
  for (const [q, label] of [
    [0, 'p0'],
    [0.5, 'p50'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [0.999, 'p99.9'],
  ] as const) {
    parts.push(`<line x1="${lx(q)}" y1="${pad.t}" x2="${lx(q)}" y2="${pad.t + ph}" stroke="#eee"/>`);
    text(lx(q) - 10, pad.t + ph + 16, label);
  }
  r.runs.forEach((run, i) => {
    const s = run.steady.latencies;
    if (s.length) {
      const pts: string[] = [];
      for (let k = 0; k <= 300; k++) {
        const q = 1 - 10 ** (-(k / 300) * tailMax);
        const v = s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
        pts.push(`${lx(q).toFixed(1)},${ly(v).toFixed(1)}`);
      }
      parts.push(
        `<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[i % 4]}" stroke-width="2"/>`,
      );
    }
    const l = run.steady.latency_ms;
    legend(pad.l, i, `${run.name}: p50 ${fmt(l.p50)} · p95 ${fmt(l.p95)} · p99 ${fmt(l.p99)} ms`);
  });

  // Throughput over time: every run's steady seconds, then its capacity seconds from one offset.
  const ox = 2 * pad.l + pw;
  const cut = Math.max(...r.runs.map((run) => run.steady.timeline.length)) + 1;
  const series = r.runs.map((run) => ({
    steady: run.steady.timeline.map(([, d]) => d),
    capacity: run.capacity.timeline.map(([, d]) => d),
  }));
  const len = Math.max(cut + 1, ...series.map((s) => cut + s.capacity.length));
  const top = Math.max(10, ...series.flatMap((s) => [...s.steady, ...s.capacity])) * 1.1;
  const tx = (i: number) => ox + (i / (len - 1)) * pw;
  const ty = (v: number) => pad.t + ph - (v / top) * ph;
  parts.push(`<rect x="${ox}" y="${pad.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  text(ox, pad.t - 12, 'Delivered messages per second: steady | capacity', 'font-weight="bold"');
  for (let k = 0; k <= 4; k++) {
    const v = (top / 4) * k;
    parts.push(`<line x1="${ox}" y1="${ty(v)}" x2="${ox + pw}" y2="${ty(v)}" stroke="#eee"/>`);
    text(ox - 45, ty(v) + 4, String(Math.round(v)));
  }
  parts.push(
    `<line x1="${tx(cut - 0.5)}" y1="${pad.t}" x2="${tx(cut - 0.5)}" y2="${pad.t + ph}" stroke="#999" stroke-dasharray="4"/>`,
  );
  text(ox, pad.t + ph + 16, '0 s');
  text(tx(cut) + 4, pad.t + ph + 16, 'capacity phase');
  series.forEach((s, i) => {
    const line = (vals: number[], from: number) =>
      vals.length &&
      parts.push(
        `<polyline points="${vals.map((d, k) => `${tx(from + k).toFixed(1)},${ty(d).toFixed(1)}`).join(' ')}" fill="none" stroke="${COLORS[i % 4]}" stroke-width="2"/>`,
      );
    line(s.steady, 0);
    line(s.capacity, cut);
    const run = r.runs[i]!;
    legend(ox, i, `${run.name}: steady ${run.steady.msgs_per_s}/s · capacity ${run.capacity.msgs_per_s}/s`);
  });
  const m = r.machine;
  text(
    pad.l,
    H - 8,
    `${r.date} · ${String(m.cpus)} × ${String(m.cpu_model)} · ${r.params.visitors} visitors + ${r.params.agents} agents${r.quick ? ' · quick' : ''}`,
    'fill="#666"',
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}
