// The scenarios: each one fault, run with traffic flowing (see runner.ts for everything around it).
import type { TcpProxy } from '../../test/helpers/tcp-proxy.js';
import type { Agent } from './clients.js';
import type { ChaosNode } from './nodes.js';
import type { ChaosRedis } from './redis.js';

export type Probe = { status: number; body: string };

/** What a scenario's fault function may use. */
export type FaultCtx = {
  redis: ChaosRedis;
  proxy: TcpProxy;
  nodes: ChaosNode[];
  agents: Agent[];
  log: (msg: string) => void;
  /** /readyz of every node now, kept as the scenario's `readyz_during`. */
  probeDuring: () => Promise<void>;
  /** Extra facts for the summary. */
  note: Record<string, unknown>;
  /** Marks the fault's end now (default: when `run` resolves), e.g. before recovery work. */
  endNow: () => void;
};

export type Scenario = {
  name: string;
  /** The fault's length, for the time budget. */
  faultMs: number;
  fullOnly?: boolean;
  /** During the fault /readyz must be 503 naming this dependency. */
  down?: 'redis';
  /** Runs the fault; resolves when it has ended (Redis or the database back, the node restarted). */
  run: (c: FaultCtx) => Promise<void>;
  /** Settling may take longer than the profile's (a long outage leaves a backlog). */
  settleMs?: number;
  /** A check of its own on what the clients met: the failure in words, or nothing. */
  check?: (met: { resyncs: number }) => string | undefined;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Sleeps until `ms` after now, whatever ran in between (a probe may take seconds). */
const deadline = (ms: number) => {
  const end = Date.now() + ms;
  return () => sleep(Math.max(0, end - Date.now()));
};

/** Kills Redis, probes /readyz while it is down, restarts it empty after `ms`. */
const redisDown = (ms: number) => async (c: FaultCtx) => {
  const until = deadline(ms);
  await c.redis.kill();
  await sleep(Math.min(1000, ms / 2));
  await c.probeDuring();
  await until();
  await c.redis.restart();
};

export const SCENARIOS: Scenario[] = [
  { name: 'redis-down-2s', faultMs: 2000, down: 'redis', run: redisDown(2000) },
  { name: 'redis-down-10s', faultMs: 10_000, down: 'redis', run: redisDown(10_000) },
  {
    name: 'redis-down-60s',
    faultMs: 60_000,
    fullOnly: true,
    down: 'redis',
    run: redisDown(60_000),
    settleMs: 60_000,
  },
  {
    name: 'redis-hang',
    faultMs: 8000,
    down: 'redis',
    run: async (c) => {
      const until = deadline(8000);
      c.redis.freeze();
      await sleep(3000);
      await c.probeDuring();
      await until();
      await c.redis.kill();
      await c.redis.restart();
    },
  },
  {
    name: 'redis-restart-empty',
    faultMs: 500,
    down: 'redis',
    run: async (c) => {
      await c.redis.kill();
      await c.probeDuring();
      await c.redis.restart();
      // A browser reload of each inbox: the agents' sessions must have survived Redis.
      await sleep(1000);
      for (const a of c.agents) a.reload();
    },
  },
  {
    name: 'pg-down-5s',
    faultMs: 5000,
    run: async (c) => {
      const until = deadline(5000);
      c.proxy.set('refuse');
      await sleep(2000);
      await c.probeDuring();
      await until();
      c.proxy.set('pass');
    },
  },
  {
    name: 'pg-partition',
    faultMs: 8000,
    run: async (c) => {
      const until = deadline(8000);
      c.proxy.set('blackhole');
      await sleep(3000);
      await c.probeDuring();
      await until();
      c.proxy.set('pass');
    },
  },
  {
    name: 'lost-commit',
    faultMs: 3000,
    run: async (c) => {
      c.proxy.set('drop-replies');
      await sleep(3000);
      c.note.connections_cut = c.proxy.connections();
      c.proxy.cut();
      c.proxy.set('pass');
    },
  },
  {
    // The node dies between commit and broadcast: its statements commit, their answers never
    // arrive, and it is killed before it learns of them. Its clients fail over and resend.
    name: 'commit-then-kill',
    faultMs: 3000,
    run: async (c) => {
      const b = c.nodes[1]!;
      c.proxy.set('drop-replies');
      await sleep(1500);
      await b.kill9();
      c.endNow();
      c.note.connections_cut = c.proxy.connections();
      c.proxy.cut();
      c.proxy.set('pass');
      await sleep(1000);
      await b.restart();
    },
  },
  {
    name: 'node-kill',
    faultMs: 5000,
    run: async (c) => {
      const b = c.nodes[1]!;
      await b.kill9();
      // Settling counts from the kill: how long until B's clients, failed over to A, have it all.
      c.endNow();
      const t0 = Date.now();
      await sleep(1000);
      await b.restart();
      c.note.restart_ms = Date.now() - t0;
    },
  },
  {
    // B stays down until A has found it dead (three missed 5 s heartbeats): A's clients that were
    // connected before the kill are told to resync (`node_lost`), and catch up once more.
    name: 'node-kill-reaped',
    faultMs: 22_000,
    fullOnly: true,
    run: async (c) => {
      const b = c.nodes[1]!;
      await b.kill9();
      c.endNow();
      const t0 = Date.now();
      await sleep(21_000);
      await b.restart();
      c.note.restart_ms = Date.now() - t0;
    },
    check: ({ resyncs }) => (resyncs > 0 ? undefined : 'no client was told to resync after B was found dead'),
  },
];
