// The suite's database (a fresh one in the local PostgreSQL, dropped at the end), its seed, and
// the two server processes (`src/server.ts`) that reach it through the TCP proxy.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createServices } from '../../src/services.js';
import { loadConfig } from '../../src/config.js';
import { openPostgres, type Database } from '../../src/shared/db.js';
import { createEventBus } from '../../src/shared/events.js';
import type { AgentActor } from '../../src/shared/auth/actor.js';
import { entryArgs } from '../../test/helpers/process.js';
import { track, untrack } from './procs.js';

export const rootDir = path.resolve(import.meta.dirname, '../..');

export const CHAOS_SECRETS = {
  SESSION_SECRET: 'chaos-session-secret-chaos-session-secret',
  ENCRYPTION_KEY: '5a'.repeat(32),
};
export const AGENT_PASSWORD = 'chaos-password-1';

export type ChaosDb = {
  name: string;
  /** Direct URL (the suite's own queries); the nodes get it through the proxy. */
  url: string;
  database: Database;
  drop: () => Promise<void>;
};

/** Creates and migrates `chaos_<random>` next to `adminUrl`'s database. */
export async function createChaosDatabase(adminUrl: string): Promise<ChaosDb> {
  const name = `chaos_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const database = openPostgres(url, { poolSize: 4 });
  try {
    await database.migrate();
  } catch (err) {
    await database.close().catch(() => {});
    await dropDatabase(adminUrl, name);
    throw err;
  }
  return {
    name,
    url,
    database,
    drop: async () => {
      await database.close().catch(() => {});
      await dropDatabase(adminUrl, name);
    },
  };
}

async function dropDatabase(adminUrl: string, name: string) {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

export type ChaosOrg = {
  organizationId: string;
  embedToken: string;
  mobileChannelId: string;
  /** What the tenant's backend signs its app users' ids with (`user_hash`). */
  tenantSecret: string;
  agents: { id: string; email: string }[];
};

/**
 * One organization per scenario (identity mode `verified`, the default): a web-chat embed token,
 * the bot's mobile channel, two agents, and the tenant secret app users' hashes are made with.
 */
export async function seedOrg(db: ChaosDb, label: string): Promise<ChaosOrg> {
  const config = loadConfig({ DATABASE_URL: db.url, ...CHAOS_SECRETS });
  const services = createServices({ database: db.database, config, bus: createEventBus(() => {}) });
  const { organization, tenantSecret } = await services.tenants.createOrganization({
    name: `Chaos ${label}`,
    allowedOrigins: [],
    rateLimitPerMin: 10_000_000, // the tenant quota never refuses the suite's traffic
  });
  const organizationId = organization.id;
  const { token, botId } = await services.channels.createEmbedToken({
    organizationId,
    name: 'Chaos',
    allowedOrigins: [],
  });
  const agents = await Promise.all(
    [0, 1].map(async (i) => {
      const email = `agent${i}-${randomBytes(3).toString('hex')}@chaos.invalid`;
      const user = await services.agents.createAgent({
        organizationId,
        email,
        password: AGENT_PASSWORD,
        role: i === 0 ? 'owner' : 'agent',
        routingKeys: [],
      });
      return { id: user.id, email, role: user.role, displayName: user.displayName };
    }),
  );
  const owner: AgentActor = {
    kind: 'agent',
    userId: agents[0]!.id,
    organizationId,
    role: agents[0]!.role,
    displayName: agents[0]!.displayName,
    routingKeys: [],
  };
  const { channel } = await services.channels.createMobileChannel(owner, botId);
  return {
    organizationId,
    embedToken: token,
    mobileChannelId: channel.id,
    tenantSecret,
    agents: agents.map((a) => ({ id: a.id, email: a.email })),
  };
}

/** Messages of the organization's traffic: stored rows, and rows stored more than once. */
export async function countStored(db: ChaosDb, organizationId: string, prefix: string) {
  const rows = await db.database.prisma.$queryRawUnsafe<{ stored: bigint; distinct_content: bigint }[]>(
    `SELECT count(*) AS stored, count(DISTINCT content) AS distinct_content
       FROM messages WHERE organization_id = $1::uuid AND content LIKE $2`,
    organizationId,
    `${prefix}%`,
  );
  const stored = Number(rows[0]?.stored ?? 0);
  return { stored, duplicated: stored - Number(rows[0]?.distinct_content ?? 0) };
}

export type NodeExit = { node: string; code: number | null; signal: string | null; tail: string };

export type ChaosNode = {
  name: string;
  port: number;
  url: string;
  /** Whether the process is running. */
  alive(): boolean;
  /** kill -9, not counted as a crash. */
  kill9(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** SIGTERM (then SIGKILL after 8 s); not counted as a crash. */
  stop(): Promise<void>;
  output(): string;
};

export type NodeOptions = {
  name: string;
  port: number;
  env: Record<string, string>;
  logFile: string;
  /** Called when the process exits without the suite having asked it to. */
  onCrash: (exit: NodeExit) => void;
};

/** Starts the server (`entryArgs`: the build under `npm test`) as a node; resolves once GET /healthz answers. */
export async function startNode(opts: NodeOptions): Promise<ChaosNode> {
  const url = `http://127.0.0.1:${opts.port}`;
  let proc: ChildProcess | null = null;
  let tail = '';
  let log: WriteStream | null = createWriteStream(opts.logFile, { flags: 'a' });
  let stopped = false;

  const launch = async () => {
    const p = spawn(process.execPath, entryArgs('server'), {
      cwd: rootDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...opts.env,
        PORT: String(opts.port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(p);
    proc = p;
    p.on('error', (err) => log?.write(`\n--- ${opts.name}: ${err.message}\n`));
    let expected = false;
    (p as ChildProcess & { expectExit?: () => void }).expectExit = () => (expected = true);
    const keep = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-8000);
      log?.write(d);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    p.once('exit', (code, signal) => {
      log?.write(`\n--- ${opts.name} exited: code ${code} signal ${signal}${expected ? '' : ' (CRASH)'}\n`);
      if (!expected) opts.onCrash({ node: opts.name, code, signal, tail: tail.slice(-2000) });
    });
    const end = Date.now() + 60_000;
    for (;;) {
      if (p.exitCode !== null || p.signalCode !== null)
        throw new Error(`node ${opts.name} exited with ${p.exitCode ?? p.signalCode} at start:\n${tail}`);
      const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > end) throw new Error(`node ${opts.name} did not start in 60 s:\n${tail}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const halt = async (signal: NodeJS.Signals) => {
    const p = proc as (ChildProcess & { expectExit?: () => void }) | null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.expectExit?.();
    const exited = once(p, 'exit');
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
    untrack(p);
  };

  await launch();
  return {
    name: opts.name,
    port: opts.port,
    url,
    alive: () => proc !== null && proc.exitCode === null && proc.signalCode === null,
    kill9: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGKILL');
      if (!stopped) await launch();
    },
    stop: async () => {
      stopped = true;
      await halt('SIGTERM');
      log?.end();
      log = null;
    },
    output: () => tail,
  };
}

/** GET /readyz: the status and the body's message (or checks). */
export async function readyz(url: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let message = text;
    try {
      const body = JSON.parse(text) as { status?: string; message?: string; checks?: Record<string, string> };
      // The failing checks name the cause ("redis: error: …"), the message only what failed.
      const failing = Object.entries(body.checks ?? {}).filter(([, v]) => v !== 'ok');
      message = [body.message ?? body.status ?? text, ...failing.map(([k, v]) => `${k}: ${v}`)].join('; ');
    } catch {
      // not JSON: the text as it is
    }
    return { status: res.status, body: message.slice(0, 200) };
  } catch (err) {
    return { status: 0, body: (err as Error).message };
  }
}
