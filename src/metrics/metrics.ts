import { PerformanceObserver, constants } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import type { Redis } from '../shared/redis.js';

/** What is read at scrape time, once the gateways exist (`observe`). */
export type MetricSources = {
  /** Connected sockets of this node by kind: `agent`, `visitor` (Socket.IO), `websocket` (relay). */
  sockets?: () => Record<string, number>;
  /** Counters kept by the gateways since start: end users' dropped messages, refused socket events. */
  floodDrops?: () => Record<string, number>;
  socketRefusals?: () => number;
  /** The batch writer's counts since start. */
  writer?: () => { written: number; statements: number; failed: number };
  /** Nodes this node found dead and reaped, since start. */
  nodesLost?: () => number;
  /** Clients told to `resync` since start, by transport, then reason. */
  resyncs?: () => Record<string, Record<string, number>>;
};

const PREFIX = 'switchboard_';
/** Distinct paths of `rate_limit_refusals_total`; any further one counts as `other`. */
const MAX_PATHS = 200;

/** Ids in paths (uuids, numbers, tokens) become `:id`: one series per route, not per resource. */
export function pathLabel(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path
    .split('/')
    .map((s) => (/^[0-9a-f-]{32,36}$/i.test(s) || /^\d+$/.test(s) || s.length >= 24 ? ':id' : s))
    .join('/')
    .slice(0, 120);
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * prom-client's default process metrics, with `nodejs_gc_duration_seconds` counting every
 * collection. prom-client's (15.1.3) observes only the first entry of each list its observer is
 * handed, and a busy event loop hands several at once: twelve young collections in one turn
 * counted as one.
 */
export function collectProcessMetrics(registry: Registry, prefix: string) {
  collectDefaultMetrics({ register: registry, prefix });
  const name = `${prefix}nodejs_gc_duration_seconds`;
  // Its observer keeps feeding the histogram it made, now in no registry.
  registry.removeSingleMetric(name);
  const durations = new Histogram({
    name,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } | null };
      const kind = GC_KINDS[detail?.kind ?? -1] ?? 'other';
      durations.observe({ kind }, entry.duration / 1000);
    }
  }).observe({ entryTypes: ['gc'] });
}

/**
 * This app's Prometheus metrics in a registry of its own (tests run several apps in one process).
 * Events are counted where they happen (the domain bus, a few direct calls); gauges (sockets,
 * outbox depth, pool, Redis) are read at scrape time.
 */
export function createMetrics(deps: { database: Database; redis?: Redis | undefined; bus: EventBus }) {
  const registry = new Registry();
  collectProcessMetrics(registry, PREFIX);
  const sources: MetricSources = {};

  /**
   * A counter mirrored from running totals kept elsewhere, one per label set (`totals` reads them
   * at each scrape): each series is raised by what its total grew since the last scrape.
   */
  function mirroredCounter(
    name: string,
    help: string,
    labelNames: readonly string[],
    totals: () => [labels: Record<string, string>, total: number][],
  ) {
    const last = new Map<string, number>();
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const [labels, n] of totals()) {
          const key = JSON.stringify(labels);
          const grew = n - (last.get(key) ?? 0);
          if (grew > 0) {
            if (labelNames.length) this.inc(labels, grew);
            else this.inc(grew);
          }
          last.set(key, n);
        }
      },
    });
  }

  const messagesStored = new Counter({
    name: `${PREFIX}messages_stored_total`,
    help: 'Messages stored (a retry found stored is not counted), by sender type.',
    labelNames: ['sender'] as const,
    registers: [registry],
  });
  const messagesDelivered = new Counter({
    name: `${PREFIX}messages_delivered_total`,
    help: 'Stored messages handed to a gateway broadcast (Socket.IO rooms, relay WebSocket fan-out).',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  const messageLatency = new Histogram({
    name: `${PREFIX}message_latency_seconds`,
    help: 'From a send being received to its commit (stage=commit) and to its broadcast (stage=broadcast).',
    labelNames: ['stage'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: `${PREFIX}message_batch_size`,
    help: 'Messages written by one statement of the group-commit message writer.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  mirroredCounter(
    'message_batch_failures_total',
    'Statements of the message writer that failed (their messages retried one by one or refused).',
    [],
    () => [[{}, sources.writer?.().failed ?? 0]],
  );
  mirroredCounter(
    'flood_drops_total',
    "End users' messages dropped by the per-visitor flood limit, by gateway.",
    ['transport'],
    () => Object.entries(sources.floodDrops?.() ?? {}).map(([transport, n]) => [{ transport }, n]),
  );
  mirroredCounter(
    'nodes_lost_total',
    'Other nodes this node found silent for three heartbeats without closing, and reaped.',
    [],
    () => [[{}, sources.nodesLost?.() ?? 0]],
  );
  mirroredCounter(
    'resyncs_total',
    'Clients told to catch up from the database (resync), by gateway and reason.',
    ['transport', 'reason'],
    () =>
      Object.entries(sources.resyncs?.() ?? {}).flatMap(([transport, byReason]) =>
        Object.entries(byReason).map(([reason, n]): [Record<string, string>, number] => [
          { transport, reason },
          n,
        ]),
      ),
  );
  let socketRefused = 0;
  const refusedPaths = new Set<string>();
  const refusals = new Counter({
    name: `${PREFIX}rate_limit_refusals_total`,
    help: 'Requests and socket events refused by a rate limit: HTTP 429 by path, socket events.',
    labelNames: ['transport', 'path'] as const,
    registers: [registry],
    collect() {
      const n = sources.socketRefusals?.() ?? 0;
      if (n > socketRefused) this.inc({ transport: 'socketio', path: 'events' }, n - socketRefused);
      socketRefused = n;
    },
  });
  new Gauge({
    name: `${PREFIX}connected_sockets`,
    help: 'Sockets connected to this node, by kind (agent, visitor: Socket.IO; websocket: the relay).',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      for (const [kind, n] of Object.entries(sources.sockets?.() ?? {})) this.set({ kind }, n);
    },
  });

  const pushAttempts = new Counter({
    name: `${PREFIX}push_attempts_total`,
    help: 'Push sends by provider and outcome (ok, invalid_token, transient, permanent).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const webhookAttempts = new Counter({
    name: `${PREFIX}webhook_attempts_total`,
    help: "Webhook POSTs by the receiver's HTTP status (error: no answer).",
    labelNames: ['status'] as const,
    registers: [registry],
  });
  new Gauge({
    name: `${PREFIX}outbox_depth`,
    help: 'Pending rows of the push and webhook outboxes (all nodes: read from the database).',
    labelNames: ['outbox'] as const,
    registers: [registry],
    async collect() {
      try {
        const rows = await deps.database.query(
          'sb_metrics_outbox',
          `SELECT (SELECT count(*) FROM push_jobs WHERE status = 'pending') AS push,
                  (SELECT count(*) FROM webhook_events WHERE status = 'pending') AS webhook`,
          [],
        );
        this.set({ outbox: 'push' }, Number(rows[0]?.push ?? 0));
        this.set({ outbox: 'webhook' }, Number(rows[0]?.webhook ?? 0));
      } catch {
        // The database is away: the scrape still answers (its probe on /readyz says why).
      }
    },
  });
  new Gauge({
    name: `${PREFIX}db_pool_connections`,
    help: 'PostgreSQL pool: connections open (total), idle, requests waiting for one (waiting), max.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const p = deps.database.poolState?.();
      if (!p) return;
      for (const state of ['total', 'idle', 'waiting', 'max'] as const) this.set({ state }, p[state]);
    },
  });
  new Gauge({
    name: `${PREFIX}redis_roundtrip_seconds`,
    help: 'Time of a Redis PING at scrape (-1 when it failed).',
    registers: [registry],
    async collect() {
      if (!deps.redis) return;
      const start = performance.now();
      try {
        await Promise.race([
          deps.redis.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
        ]);
        this.set((performance.now() - start) / 1000);
      } catch {
        this.set(-1);
      }
    },
  });

  const sinceSend = (createdAt: Date) => Math.max(0, Date.now() - createdAt.getTime()) / 1000;
  // Subscribed now, before the gateways: a message's commit is timed before its broadcast.
  deps.bus.subscribe('message.created', ({ message, redelivered }) => {
    if (redelivered) return;
    messagesStored.inc({ sender: message.senderType });
    messageLatency.observe({ stage: 'commit' }, sinceSend(message.createdAt));
  });

  return {
    registry,
    /** Gateways and the writer, once they exist: read at each scrape. */
    observe(more: MetricSources) {
      Object.assign(sources, more);
    },
    /**
     * Counts broadcasts and their latency from `message.created`: call it once the gateways have
     * subscribed (listeners run in order, so this one runs after they have broadcast).
     */
    afterGateways() {
      return deps.bus.subscribe('message.created', ({ message, redelivered }) => {
        if (redelivered) return;
        messagesDelivered.inc({ transport: 'socketio' });
        if (!message.internal) messagesDelivered.inc({ transport: 'websocket' });
        messageLatency.observe({ stage: 'broadcast' }, sinceSend(message.createdAt));
      });
    },
    /** Express middleware: every 429 answered, by path (ids folded). */
    http(): RequestHandler {
      return (req, res, next) => {
        res.once('finish', () => {
          if (res.statusCode !== 429) return;
          // Paths a client makes up must not grow the series without bound.
          let path = pathLabel(req.originalUrl ?? req.url);
          if (!refusedPaths.has(path)) path = refusedPaths.size < MAX_PATHS ? path : 'other';
          refusedPaths.add(path);
          refusals.inc({ transport: 'http', path });
        });
        next();
      };
    },
    /**
     * The database as the services see it, with the writer's batch statements measured: the
     * messages each stored (the statement's rows).
     */
    instrument(database: Database): Database {
      const query = (async (name: string, sql: string, params: unknown[]) => {
        const rows = await database.query(name, sql, params);
        if (name === 'sb_append_messages') batchSize.observe(rows.length);
        return rows;
      }) as Database['query'];
      return { ...database, query };
    },
    pushAttempt(provider: string, outcome: string) {
      pushAttempts.inc({ provider, outcome });
    },
    webhookAttempt(status: string) {
      webhookAttempts.inc({ status });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
