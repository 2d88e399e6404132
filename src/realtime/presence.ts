import { randomUUID } from 'node:crypto';
import type { Logger } from '../shared/logger.js';
import { createOutage } from '../shared/outage.js';
import type { Redis } from '../shared/redis.js';

export type AgentStatus = 'online' | 'offline';
export type PresenceAgent = { userId: string; organizationId: string };

/**
 * Which agents are online: from their first socket to their last, on any node. Transitions
 * are reported once, through `onChange`, by whichever node observed them.
 */
export interface Presence {
  /** One more socket of this agent on this node. */
  connect(agent: PresenceAgent): Promise<void>;
  /** One socket fewer. */
  disconnect(agent: PresenceAgent): Promise<void>;
  /** Agents of the organization online now, on any node. */
  online(organizationId: string): Promise<string[]>;
  /** Stops the heartbeat and takes this node's agents offline. */
  close(): Promise<void>;
  /** This node's id among the others (`onNodeLost` names theirs). */
  readonly nodeId: string;
}

type Deps = {
  redis?: Redis | undefined;
  prefix: string;
  heartbeatMs: number;
  logger: Logger;
  onChange: (organizationId: string, userId: string, status: AgentStatus) => void;
  /**
   * Another node fell silent for MISSED_BEATS heartbeats without closing (killed, cut off, stalled)
   * and this node reaped it: whatever it committed and had not yet published is lost to the others.
   * Called on the one node whose reaping removed it, with the time since its last heartbeat.
   */
  onNodeLost?: (node: string, silentMs: number) => void;
};

export function createPresence(deps: Deps): Presence {
  return deps.redis ? redisPresence(deps, deps.redis) : memoryPresence(deps);
}

/** One node, no Redis: counts in memory. */
function memoryPresence({ onChange }: Deps): Presence {
  const sockets = new Map<string, { organizationId: string; count: number }>();
  return {
    nodeId: randomUUID(),
    async connect({ userId, organizationId }) {
      const entry = sockets.get(userId) ?? { organizationId, count: 0 };
      entry.count += 1;
      sockets.set(userId, entry);
      if (entry.count === 1) onChange(organizationId, userId, 'online');
    },
    async disconnect({ userId, organizationId }) {
      const entry = sockets.get(userId);
      if (!entry) return;
      entry.count -= 1;
      if (entry.count > 0) return;
      sockets.delete(userId);
      onChange(organizationId, userId, 'offline');
    },
    async online(organizationId) {
      return [...sockets].filter(([, e]) => e.organizationId === organizationId).map(([id]) => id);
    },
    async close() {
      sockets.clear();
    },
  };
}

// Keys (P = prefix):  P:presence:nodes            zset  node id → last heartbeat (Redis clock, ms)
//                     P:presence:node:{node}      hash  user id → org id, agents with sockets there
//                     P:presence:agent:{user}     hash  node id → number of sockets on that node
//                     P:presence:org:{org}        set   user ids online
// Each change is one Lua script, so nodes racing on one agent cannot disagree.

const CONNECT = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return redis.call('SADD', KEYS[3], ARGV[2])`;

const DISCONNECT = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[2])
end
if redis.call('HLEN', KEYS[1]) == 0 then
  return redis.call('SREM', KEYS[3], ARGV[2])
end
return 0`;

/** Re-registers an agent after this node was presumed dead (e.g. a long Redis outage). */
const RESTORE = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return redis.call('SADD', KEYS[3], ARGV[2])`;

/**
 * Beats for this node; answers whether it had been reaped, which nodes are silent too long, with
 * their last beats ([node, ms, node, ms, …]), and the time now (all on Redis's clock).
 */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'WITHSCORES')
return { added, dead, now }`;

/**
 * Removes a node's sockets; returns whether the node was still listed (1, else 0: another node
 * reaped it first), then [user, org, user, org, …] of agents now offline everywhere.
 */
const REAP = `
local users = redis.call('HGETALL', KEYS[1])
local offline = {}
for i = 1, #users, 2 do
  local uid, org = users[i], users[i + 1]
  local akey = ARGV[2] .. ':presence:agent:' .. uid
  redis.call('HDEL', akey, ARGV[1])
  if redis.call('HLEN', akey) == 0 then
    if redis.call('SREM', ARGV[2] .. ':presence:org:' .. org, uid) == 1 then
      table.insert(offline, uid)
      table.insert(offline, org)
    end
  end
end
redis.call('DEL', KEYS[1])
return { redis.call('ZREM', KEYS[2], ARGV[1]), offline }`;

/** A node silent for this many heartbeats is dead. */
const MISSED_BEATS = 3;

function redisPresence({ prefix, heartbeatMs, logger, onChange, onNodeLost }: Deps, redis: Redis): Presence {
  const nodeId = randomUUID();
  const nodes = `${prefix}:presence:nodes`;
  const nodeKey = (id: string) => `${prefix}:presence:node:${id}`;
  const agentKey = (userId: string) => `${prefix}:presence:agent:${userId}`;
  const orgKey = (orgId: string) => `${prefix}:presence:org:${orgId}`;
  const keys = (a: PresenceAgent) => [agentKey(a.userId), nodeKey(nodeId), orgKey(a.organizationId)];
  // This node's own view, kept to restore Redis if the node was presumed dead.
  const local = new Map<string, { organizationId: string; count: number }>();
  let closed = false;
  /** ioredis takes the number of keys, then the keys, then the arguments. */
  const run = (script: string, keys: string[], args: string[]) =>
    redis.eval(script, keys.length, ...keys, ...args);

  async function reap(deadNode: string) {
    const [listed, offline] = (await run(REAP, [nodeKey(deadNode), nodes], [deadNode, prefix])) as [
      number,
      string[],
    ];
    for (let i = 0; i < offline.length; i += 2) onChange(offline[i + 1]!, offline[i]!, 'offline');
    return { reaped: listed === 1, offline: offline.length / 2 };
  }

  async function beat() {
    const deadAfterMs = String(heartbeatMs * MISSED_BEATS);
    const [added, dead, now] = (await run(HEARTBEAT, [nodes], [nodeId, deadAfterMs])) as [
      number,
      string[],
      number,
    ];
    if (added === 1 && !first) {
      logger.warn({ nodeId }, 'presence: this node was presumed dead; restoring its agents');
      for (const [userId, e] of local) {
        const a = { userId, organizationId: e.organizationId };
        const fresh = await run(RESTORE, keys(a), [nodeId, userId, e.organizationId, String(e.count)]);
        if (fresh === 1) onChange(e.organizationId, userId, 'online');
      }
    }
    first = false;
    for (let i = 0; i < dead.length; i += 2) {
      const node = dead[i]!;
      if (node === nodeId) continue;
      const { reaped, offline } = await reap(node);
      if (!reaped) continue;
      logger.info({ node, agentsOffline: offline }, 'presence: reaped a silent node');
      onNodeLost?.(node, now - Number(dead[i + 1]));
    }
  }

  let first = true;
  // Failing beats are an outage of Redis, logged once (at its start and end), not every beat.
  const beats = createOutage('redis (presence heartbeat)', logger, 'agents on this node keep their status');
  const safeBeat = () =>
    beat().then(
      () => beats.ok(),
      (err: unknown) => beats.failed(err),
    );
  void safeBeat();
  const timer = setInterval(() => void safeBeat(), heartbeatMs);
  timer.unref();

  return {
    nodeId,
    async connect(a) {
      const e = local.get(a.userId) ?? { organizationId: a.organizationId, count: 0 };
      e.count += 1;
      local.set(a.userId, e);
      const fresh = await run(CONNECT, keys(a), [nodeId, a.userId, a.organizationId]);
      if (fresh === 1) onChange(a.organizationId, a.userId, 'online');
    },
    async disconnect(a) {
      // After close() this node's entries are already gone.
      if (closed) return;
      const e = local.get(a.userId);
      if (e && --e.count <= 0) local.delete(a.userId);
      const gone = await run(DISCONNECT, keys(a), [nodeId, a.userId, a.organizationId]);
      if (gone === 1) onChange(a.organizationId, a.userId, 'offline');
    },
    async online(organizationId) {
      return redis.smembers(orgKey(organizationId));
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      local.clear();
      // Bounded: with Redis unreachable the command would wait for a reconnect forever; the
      // other nodes' heartbeat reaper then takes this node's agents offline instead.
      const giveUp = new Promise<void>((resolve) => setTimeout(resolve, 3000).unref());
      await Promise.race([
        reap(nodeId).catch((err: unknown) => logger.warn({ err }, 'presence: cleanup failed')),
        giveUp,
      ]);
    },
  };
}
