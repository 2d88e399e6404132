// One run of a scenario: its own Redis, TCP proxy in front of PostgreSQL, two nodes, an
// organization, visitors and agents; traffic, the fault, the settling, the counting.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { loginAgent } from '../../test/helpers/http.js';
import { userHash } from '../../src/tenants/identity.js';
import { Agent, Ledger, openConversation, Visitor } from './clients.js';
import {
  AGENT_PASSWORD,
  CHAOS_SECRETS,
  countStored,
  readyz,
  seedOrg,
  startNode,
  type ChaosDb,
  type ChaosNode,
  type NodeExit,
} from './nodes.js';
import { mapLimit } from '../../bench/lib/seed.js';
import { freePort } from './procs.js';
import { startRedis, type ChaosRedis } from './redis.js';
import type { FaultCtx, Probe, Scenario } from './scenarios.js';

export type RunProfile = {
  visitors: number;
  /** Messages per second, each way (visitors → agents, agents → visitors). */
  rate: number;
  warmMs: number;
  /** Traffic after the fault ends, before it stops and the rest settles. */
  afterMs: number;
  /** How long a scenario may take to deliver everything once traffic stops. */
  settleMs: number;
  ackTimeoutMs: number;
};

export const FULL: RunProfile = {
  visitors: 100,
  rate: 30,
  warmMs: 5000,
  afterMs: 5000,
  settleMs: 30_000,
  ackTimeoutMs: 5000,
};
export const SHORT: RunProfile = {
  visitors: 30,
  rate: 15,
  warmMs: 2000,
  afterMs: 2000,
  settleMs: 15_000,
  ackTimeoutMs: 5000,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ScenarioResult = {
  name: string;
  sent: number;
  stored: number;
  delivered: number;
  lost: number;
  duplicated: number;
  settle_ms: number | null;
  crashed_nodes: number;
  readyz_during?: Record<string, Probe>;
  readyz_after?: Record<string, Probe>;
  /** GET /api/conversations with each agent's cookie after the fault. */
  agent_sessions_after?: number[];
  acked: number;
  rejected: Record<string, number>;
  ack_errors: Record<string, number>;
  ack_timeouts: number;
  join_errors: Record<string, number>;
  reconnects: number;
  resyncs: number;
  gaps: number;
  retried_duplicate_acks: number;
  duration_ms: number;
  ok: boolean;
  failures: string[];
  crashes?: { node: string; code: number | null; signal: string | null }[];
  error?: string;
  [k: string]: unknown;
};

export type RunContext = {
  db: ChaosDb;
  profile: RunProfile;
  logDir: string;
  log: (msg: string) => void;
  /** Set by Ctrl-C: scenarios stop at the next step. */
  aborted: () => boolean;
};

/** The log directory of a run: one file per node and scenario. */
export function makeLogDir(): string {
  const dir = path.join(tmpdir(), `switchboard-chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs one scenario within a hard time limit and always tears everything down. */
export async function runScenario(sc: Scenario, ctx: RunContext): Promise<ScenarioResult> {
  const p = ctx.profile;
  const settleMs = Math.max(p.settleMs, sc.settleMs ?? 0);
  const budget = 120_000 + p.warmMs + sc.faultMs + p.afterMs + settleMs;
  const started = Date.now();
  const res = new ScenarioRun(sc, ctx, settleMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), budget)));
  let outcome: ScenarioResult | 'timeout';
  try {
    outcome = await Promise.race([res.run(), timeout]);
  } catch (err) {
    res.stop();
    outcome = await res.summary(`${(err as Error).message}`).catch((e: Error) => res.bare(e.message));
  } finally {
    clearTimeout(timer);
  }
  if (outcome === 'timeout') {
    res.stop();
    outcome = await res
      .summary(`hard timeout after ${budget} ms`)
      .catch((e: Error) => res.bare(`hard timeout; ${e.message}`));
  }
  const t0 = Date.now();
  await res.teardown();
  outcome.teardown_ms = Date.now() - t0;
  outcome.duration_ms = Date.now() - started;
  return outcome;
}

class ScenarioRun {
  private readonly ledger = new Ledger();
  private readonly prefix: string;
  private redis: ChaosRedis | null = null;
  private proxy: TcpProxy | null = null;
  private nodes: ChaosNode[] = [];
  private visitors: Visitor[] = [];
  private agents: Agent[] = [];
  private organizationId: string | null = null;
  private readonly crashes: NodeExit[] = [];
  private readonly note: Record<string, unknown> = {};
  private readyDuring: Record<string, Probe> | undefined;
  private readyAfter: Record<string, Probe> | undefined;
  private sessionsAfter: number[] | undefined;
  private faultStart = 0;
  private faultEnd = 0;
  private trafficTimer: NodeJS.Timeout | null = null;
  /** Each visitor and the agent who claimed their conversation. */
  private readonly owners = new Map<Visitor, { agent: Agent; sameNode: boolean }>();
  private stopped = false;
  private tornDown = false;

  constructor(
    private readonly sc: Scenario,
    private readonly ctx: RunContext,
    private readonly settleMs: number,
  ) {
    this.prefix = `chaos:${sc.name}:`;
  }

  private log(msg: string) {
    this.ctx.log(`[${this.sc.name}] ${msg}`);
  }

  private check() {
    if (this.stopped) throw new Error('stopped');
    if (this.ctx.aborted()) throw new Error('aborted');
  }

  stop() {
    this.stopped = true;
    this.stopTraffic();
  }

  /** Keeps a new client for teardown; one made after a timeout's teardown is closed at once. */
  private adopt<T extends Visitor | Agent>(client: T, into: T[]) {
    if (this.tornDown) {
      client.close();
      throw new Error('stopped');
    }
    into.push(client);
  }

  async run(): Promise<ScenarioResult> {
    const p = this.ctx.profile;
    const t0 = Date.now();
    await this.setup();
    this.note.setup_ms = Date.now() - t0;
    this.check();
    this.log(`traffic: ${p.visitors} visitors, 2 agents, ${p.rate} msg/s each way`);
    this.startTraffic();
    await sleep(p.warmMs);
    this.check();
    this.log('fault');
    const c: FaultCtx = {
      redis: this.redis!,
      proxy: this.proxy!,
      nodes: this.nodes,
      agents: this.agents,
      log: (m) => this.log(m),
      probeDuring: async () => {
        this.readyDuring = await this.probeAll();
      },
      note: this.note,
      endNow: () => (this.faultEnd = Date.now()),
    };
    this.faultStart = Date.now();
    await this.sc.run(c);
    if (!this.faultEnd) this.faultEnd = Date.now();
    this.log('fault over');
    const ready = this.waitReady();
    await sleep(p.afterMs);
    this.stopTraffic();
    this.check();
    await this.settle();
    this.readyAfter = await ready;
    this.sessionsAfter = await this.sessions();
    return this.summary();
  }

  // ---- setup ----------------------------------------------------------------------------------

  private async setup() {
    const { db, profile: p, logDir } = this.ctx;
    const t0 = Date.now();
    this.redis = await startRedis();
    const pg = new URL(db.url);
    this.proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    const env = {
      DATABASE_URL: this.proxy.url(db.url),
      REDIS_URL: this.redis.url,
      ...CHAOS_SECRETS,
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
      // As behind a load balancer: each visitor has an address of its own (X-Forwarded-For), so
      // the per-IP limits of the public endpoints see 100 visitors, not one.
      TRUST_PROXY: 'true',
      // Teardown stops nodes with SIGTERM; a node stuck on a dependency must not hold the run.
      SHUTDOWN_TIMEOUT_S: '3',
    };
    const ports = [await freePort(), await freePort()];
    const starting = Promise.all(
      ['A', 'B'].map(async (name, i) => {
        const node = await startNode({
          name,
          port: ports[i]!,
          env,
          logFile: path.join(logDir, `${this.sc.name}-${name}.log`),
          onCrash: (exit) => {
            this.crashes.push(exit);
            this.log(`node ${exit.node} CRASHED (code ${exit.code}, signal ${exit.signal}):\n${exit.tail}`);
          },
        });
        this.nodes[i] = node;
        return node;
      }),
    );
    // The organization is seeded while the nodes start.
    const seeding = seedOrg(db, this.sc.name).then((o) => {
      this.organizationId = o.organizationId;
      return o;
    });
    const [org] = await Promise.all([seeding, starting]);
    this.note.nodes_start_ms = Date.now() - t0;
    const urls = this.nodes.map((n) => n.url);
    const order = (home: number) => [urls[home]!, urls[1 - home]!];
    this.check();

    // Agents: one per node.
    const agents = await Promise.all(
      org.agents.map(async (a, i) => {
        const { cookie } = await loginAgent(urls[i]!, a.email, AGENT_PASSWORD);
        const agent = new Agent(
          { id: `agent${i}`, urls: order(i), ledger: this.ledger, ackTimeoutMs: p.ackTimeoutMs },
          cookie,
        );
        this.adopt(agent, this.agents);
        await agent.start();
        return agent;
      }),
    );

    this.note.agents_ms = Date.now() - t0 - (this.note.nodes_start_ms as number);
    // Visitors: half on each node, half through the widget page and half through the native open.
    await mapLimit(
      Array.from({ length: p.visitors }, (_, i) => i),
      20,
      async (i) => {
        this.check();
        const home = i % 2;
        // As real clients identify: the widget (embed.js) by a random visitor id, `v_` and 128
        // random bits in hex; the native app by its stable user id and the user_hash its backend
        // computed (identity mode `verified`, the default, refuses any other id without one).
        const kind = i % 4 < 2 ? 'widget' : 'mobile';
        const externalId = kind === 'widget' ? `v_${randomBytes(16).toString('hex')}` : `chaos-app-user-${i}`;
        const hash = kind === 'mobile' ? userHash(org.tenantSecret, externalId) : undefined;
        const conversationId = await openConversation(urls[home]!, kind, {
          embedToken: org.embedToken,
          mobileChannelId: org.mobileChannelId,
          externalId,
          ...(hash !== undefined && { userHash: hash }),
          ip: `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`,
        });
        const v = new Visitor(
          { id: `visitor${i}`, urls: order(home), ledger: this.ledger, ackTimeoutMs: p.ackTimeoutMs },
          conversationId,
          externalId,
          hash,
        );
        this.adopt(v, this.visitors);
        await v.start();
        await v.follow(conversationId);
        await v.hello(`chaos-setup:${this.sc.name}:`);
        // Most conversations cross nodes: one in four is claimed by the visitor's own node's agent.
        const sameNode = i % 4 === 0;
        const agent = agents[sameNode ? home : 1 - home]!;
        await agent.claim(conversationId);
        this.owners.set(v, { agent, sameNode });
      },
    );
  }

  // ---- traffic --------------------------------------------------------------------------------

  private startTraffic() {
    const rate = this.ctx.profile.rate;
    const pairs = [...this.owners.entries()];
    let last = Date.now();
    let up = 0;
    let down = 0;
    this.trafficTimer = setInterval(() => {
      const now = Date.now();
      const dt = (now - last) / 1000;
      last = now;
      up += rate * dt;
      down += rate * dt;
      for (; up >= 1; up--) {
        const [v, { agent, sameNode }] = pairs[Math.floor(Math.random() * pairs.length)]!;
        v.send(
          { conversationId: v.conversationId, expected: agent.id, from: 'visitor', sameNode },
          this.prefix,
        );
      }
      for (; down >= 1; down--) {
        const [v, { agent, sameNode }] = pairs[Math.floor(Math.random() * pairs.length)]!;
        agent.send(
          { conversationId: v.conversationId, expected: v.id, from: 'agent', sameNode },
          this.prefix,
        );
      }
    }, 50);
  }

  private stopTraffic() {
    if (this.trafficTimer) clearInterval(this.trafficTimer);
    this.trafficTimer = null;
  }

  /** Waits until every message is delivered or given up, or the settle time is over. */
  private async settle() {
    const end = Date.now() + this.settleMs;
    let lastLog = 0;
    while (Date.now() < end) {
      this.check();
      const pending = this.ledger.pending();
      if (pending === 0) return;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        this.log(`settling: ${pending} not delivered yet`);
      }
      await sleep(100);
    }
  }

  // ---- checks ---------------------------------------------------------------------------------

  private async probeAll(): Promise<Record<string, Probe>> {
    const out: Record<string, Probe> = {};
    await Promise.all(this.nodes.map(async (n) => (out[n.name] = await readyz(n.url))));
    return out;
  }

  /** /readyz of every node until all answer 200 (or 30 s): what they answered last. */
  private async waitReady(): Promise<Record<string, Probe>> {
    const end = Date.now() + 30_000;
    for (;;) {
      const probes = await this.probeAll();
      if (Object.values(probes).every((p) => p.status === 200) || Date.now() > end || this.stopped) {
        this.note.ready_after_ms = Date.now() - this.faultEnd;
        return probes;
      }
      await sleep(250);
    }
  }

  private async sessions(): Promise<number[]> {
    return Promise.all(
      this.agents.map(async (a, i) => {
        const node = this.nodes[i]!.alive() ? this.nodes[i]! : this.nodes[1 - i]!;
        try {
          const res = await fetch(`${node.url}/api/conversations?filter=mine`, {
            headers: { cookie: a.cookie },
            redirect: 'manual',
            signal: AbortSignal.timeout(5000),
          });
          return res.status;
        } catch {
          return 0;
        }
      }),
    );
  }

  // ---- results --------------------------------------------------------------------------------

  /** The result without database counts (when even those failed). */
  bare(error: string): ScenarioResult {
    return this.build({ stored: -1, duplicated: -1 }, error);
  }

  async summary(error?: string): Promise<ScenarioResult> {
    const counts = this.organizationId
      ? await countStored(this.ctx.db, this.organizationId, this.prefix)
      : { stored: 0, duplicated: 0 };
    return this.build(counts, error);
  }

  private build(counts: { stored: number; duplicated: number }, error?: string): ScenarioResult {
    const l = this.ledger;
    const recs = [...l.msgs.values()];
    const delivered = recs.filter((r) => r.deliveredAt !== undefined);
    const lost = recs.length - delivered.length;
    const beforeEnd = recs.filter((r) => this.faultEnd && r.firstSentAt <= this.faultEnd);
    const settle =
      lost === 0 && this.faultEnd
        ? Math.max(0, ...beforeEnd.map((r) => r.deliveredAt! - this.faultEnd))
        : null;
    // Messages sent during the fault and delivered before it ended: same-node traffic should
    // keep flowing through a Redis outage, cross-node traffic resumes after it.
    const during = (same: boolean) => {
      const sent = recs.filter(
        (r) => r.sameNode === same && r.firstSentAt >= this.faultStart && r.firstSentAt < this.faultEnd,
      );
      return {
        sent: sent.length,
        delivered_in_fault: sent.filter((r) => r.deliveredAt !== undefined && r.deliveredAt < this.faultEnd)
          .length,
      };
    };
    const rejected: Record<string, number> = {};
    for (const r of recs) if (r.rejected) rejected[r.rejected] = (rejected[r.rejected] ?? 0) + 1;

    const failures: string[] = [];
    if (error) failures.push(error);
    if (lost) failures.push(`${lost} of ${recs.length} messages never reached the other side`);
    if (counts.duplicated > 0) failures.push(`${counts.duplicated} messages stored more than once`);
    if (this.crashes.length)
      failures.push(
        `node crashed: ${this.crashes.map((c) => `${c.node} (code ${c.code}, signal ${c.signal})`).join(', ')}`,
      );
    if (this.sc.down === 'redis' && this.readyDuring) {
      for (const [n, pr] of Object.entries(this.readyDuring))
        if (pr.status !== 503 || !/redis/i.test(pr.body))
          failures.push(`/readyz of ${n} during the fault: ${pr.status} ${pr.body.slice(0, 120)}`);
    }
    if (this.readyAfter) {
      for (const [n, pr] of Object.entries(this.readyAfter))
        if (pr.status !== 200)
          failures.push(`/readyz of ${n} after the fault: ${pr.status} ${pr.body.slice(0, 120)}`);
    }
    if (this.sessionsAfter?.some((s) => s !== 200))
      failures.push(`agent sessions after the fault answered ${this.sessionsAfter.join(', ')}`);
    const own = this.sc.check?.({ resyncs: l.resyncs });
    if (own) failures.push(own);

    return {
      name: this.sc.name,
      sent: recs.length,
      stored: counts.stored,
      delivered: delivered.length,
      lost,
      duplicated: counts.duplicated,
      settle_ms: settle,
      crashed_nodes: this.crashes.length,
      ...(this.readyDuring && { readyz_during: this.readyDuring }),
      ...(this.readyAfter && { readyz_after: this.readyAfter }),
      ...(this.sessionsAfter && { agent_sessions_after: this.sessionsAfter }),
      ...(this.faultEnd && { during_fault: { same_node: during(true), cross_node: during(false) } }),
      acked: recs.filter((r) => r.ackedAt !== undefined).length,
      rejected,
      ack_errors: l.ackErrors,
      ack_timeouts: l.ackTimeouts,
      join_errors: l.joinErrors,
      reconnects: l.reconnects,
      resyncs: l.resyncs,
      gaps: l.gaps,
      retried_duplicate_acks: recs.filter((r) => r.duplicateAck).length,
      ...this.note,
      duration_ms: 0,
      ok: failures.length === 0,
      failures,
      ...(this.crashes.length && {
        crashes: this.crashes.map(({ node, code, signal }) => ({ node, code, signal })),
      }),
      ...(error && { error }),
    };
  }

  async teardown() {
    this.stop();
    this.tornDown = true;
    for (const c of [...this.visitors, ...this.agents]) c.close();
    await Promise.all(this.nodes.filter(Boolean).map((n) => n.stop().catch(() => {})));
    await this.proxy?.close().catch(() => {});
    await this.redis?.close().catch(() => {});
  }
}
