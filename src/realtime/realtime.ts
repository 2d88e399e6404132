import { ServerResponse, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import type { RequestHandler } from 'express';
import type { Session } from 'express-session';
import { Server } from 'socket.io';
import type { Services } from '../services.js';
import type { Config } from '../config.js';
import type { AgentActor } from '../shared/auth/actor.js';
import { SESSION_COOKIE } from '../shared/auth/session.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import type { Outage } from '../shared/outage.js';
import { clientIp, createFailureThrottle, type FailureThrottle } from '../shared/public-ratelimit.js';
import { closeRedis, duplicateRedis, onReconnect, type Redis } from '../shared/redis.js';
import { batchPublishes, flushTurnWrites, holdClientWrites } from '../shared/turn-writes.js';
import { createAdapterParser } from './adapter-parser.js';
import { createPresence } from './presence.js';
import type {
  ClientToServerEvents,
  InterServerEvents,
  ServerToClientEvents,
  SocketData,
} from './realtime.contract.js';
import { registerAccessListener } from './access.listener.js';
import { createSocketGuard } from './realtime.guard.js';
import { registerRealtimeListeners } from './realtime.listeners.js';
import { createLiveRooms } from './live-rooms.js';
import { createEndUserLimiter } from './realtime.ratelimit.js';
import { createSocketHandlers } from './realtime.socket.js';
import type { RealtimeServer, RealtimeSocket } from './realtime.types.js';
import { convRoom, endUserRoom, presenceRoom } from './rooms.js';
import { inSlices } from '../shared/slices.js';
import { createTypingTracker, type TypingTracker } from './typing.js';

export type RealtimeDeps = {
  server: HttpServer;
  sessionMiddleware: RequestHandler;
  /** The agent as read with the handshake's session (undefined: not read, ask). */
  agentReadWithSession?: (req: IncomingMessage, userId: string) => AgentActor | null | undefined;
  services: Services;
  bus: EventBus;
  redis?: Redis | undefined;
  config: Config;
  logger: Logger;
  /** The database's outages: events that fail for want of it report here (logged once each). */
  outage?: Outage | undefined;
  /** Failed end-user proofs per IP, shared with the HTTP history endpoint (else one of its own). */
  failures?: FailureThrottle | undefined;
};

/** Whether an end user has a socket open (the push feature asks before alerting a device). */
export type EndUserSockets = {
  /** A socket of theirs is connected to this node: local rooms only, no I/O. */
  here(endUserId: string): boolean;
  /**
   * A socket of theirs is connected to any node (the adapter asks the others). When that cannot
   * be told (a node did not answer in time, Redis is down) the answer is false, logged: the caller
   * decides what an unsure "no" means (for push, a duplicate alert beats a missed one).
   */
  anywhere(endUserId: string): Promise<boolean>;
};

export type Realtime = {
  io: RealtimeServer;
  /** Typing indicators of this node (the relay WebSocket's visitors type here too). */
  typing: TypingTracker;
  /**
   * Anonymous connections per client IP (`SOCKETS_PER_IP`, across nodes): the relay WebSocket's
   * visitors count with Socket.IO's anonymous sockets. `acquire` is false over the limit.
   */
  slots: { acquire: (ip: string, id: string) => Promise<boolean>; release: (ip: string, id: string) => void };
  endUsers: EndUserSockets;
  /** Throws while the adapter's connections to Redis are down (for /readyz). */
  checkAdapter: () => void;
  /** Counters for operators and tests. */
  stats: () => {
    droppedMessages: number;
    refusedEvents: number;
    /** Nodes this node found dead and reaped. */
    nodesLost: number;
    /** Sockets told to `resync`, by reason (after a Redis outage, after a lost node). */
    resyncs: Record<'redis_reconnected' | 'node_lost', number>;
  };
  /** Agents of the organization with a socket on any node (the relay's `is_online`). */
  onlineAgents: (organizationId: string) => Promise<string[]>;
  /**
   * Calls `listener` when this node tells its sockets another node was lost (`resync`
   * `node_lost`), with the time before which a connection may have missed its events; the relay
   * WebSocket's visitors catch up too. Returns the unsubscribe.
   */
  onNodeLost: (listener: (openedBefore: number) => void) => () => void;
  /**
   * Calls `listener` on the one node that reaped a lost node (see presence.ts), with the time by
   * which it had died (`Date.now()` terms): work it never did (the bot's answers, pushes) is done
   * here.
   */
  onNodeReaped: (listener: (diedBy: number) => void) => () => void;
  close: () => Promise<void>;
};

type HandshakeRequest = IncomingMessage & {
  _query?: Record<string, string>;
  session?: Session & { passport?: { user?: string } };
  sessionID?: string;
};

/**
 * The session cookie counts only on handshakes from our own pages (or from native apps, which
 * send no Origin): another site must not open an agent's socket with the agent's cookie.
 */
function sameOrigin(req: IncomingMessage, publicUrl: string): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    const o = new URL(origin);
    return o.origin === new URL(publicUrl).origin || o.host === req.headers.host;
  } catch {
    return false;
  }
}

/** Failed end-user proofs per IP (the same Redis counter as the HTTP history endpoint's). */
export function createRealtimeFailureThrottle(redis: Redis | undefined, config: Config): FailureThrottle {
  return createFailureThrottle(redis, `${config.realtime.redisPrefix}:rl`, {
    freePerIp: config.limits.joinFailuresFreePerIp,
    windowS: config.limits.joinFailureWindowS,
    maxDelayMs: config.limits.joinFailureMaxDelayMs,
  });
}

/** The Socket.IO gateway on the app's HTTP server: auth, handlers, rooms, presence, adapter. */
export async function createRealtime(deps: RealtimeDeps): Promise<Realtime> {
  const { services, bus, redis, config, logger } = deps;
  const rt = config.realtime;
  // Typed by the wire contract: every emit here, in the listeners and in the handlers is checked.
  const io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(
    deps.server,
    // Other upgrade paths (the relay's visitor WebSocket) are not Socket.IO's to destroy: their
    // owner answers them, possibly after more than engine.io's one-second grace.
    { maxHttpBufferSize: 256 * 1024, destroyUpgrade: false },
  );

  let pubSub: Redis[] = [];
  if (redis) {
    // @socket.io/redis-adapter (pub/sub): every emit reaches every node at once. Missed messages
    // after a reconnect come from the database (join_conversation's last_seq), so the Streams
    // adapter's connection-state recovery is not needed.
    const [pub, sub] = await Promise.all([
      duplicateRedis(redis, 'redis (adapter publish)', logger),
      duplicateRedis(redis, 'redis (adapter subscribe)', logger),
    ]);
    pubSub = [pub, sub];
    // A turn's broadcasts reach Redis in one write, before any client sees a frame of that turn.
    batchPublishes(pub);
    const adapterParser = createAdapterParser();
    io.adapter(createAdapter(pub, sub, { key: `${rt.redisPrefix}:sio`, parser: adapterParser.parser }));
    adapterParser.own((io.of('/').adapter as unknown as { uid: string }).uid);
    // While either link was down, other nodes' broadcasts did not reach this node's sockets (nor
    // this node's, if its queue was cut off): every client here catches up from the database.
    for (const c of pubSub) onReconnect(c, resyncSoon);
  }
  const [publisher, subscriber] = pubSub;
  const liveRooms = createLiveRooms({
    io,
    links: publisher && subscriber ? { publisher, subscriber } : undefined,
    logger,
  });

  // One resync once both links are back (the subscription restored): a link that was lost calls
  // this when it is ready again, so the last of them to return does it, once the other nodes
  // know this node's live activity rooms again.
  function resyncSoon() {
    if (pubSub.every((c) => c.status === 'ready')) void liveRooms.relinked().then(resyncAll);
  }

  /** When this node last told every socket to catch up (`resync`). */
  let resyncedAt = 0;
  const resyncs = { redis_reconnected: 0, node_lost: 0 };
  let nodesLost = 0;
  /** Tells `sockets` to catch up, 250 every `gapMs`, those still connected then. */
  const resync = (sockets: RealtimeSocket[], reason: keyof typeof resyncs, gapMs: number) =>
    inSlices(sockets, 250, gapMs, (s) => {
      if (!s.connected) return;
      s.emit('resync', { reason });
      resyncs[reason]++;
    });
  /**
   * Tells every socket of this node to catch up (`resync`), spread over a moment so thousands of
   * clients do not ask the database at once.
   */
  function resyncAll() {
    const sockets = [...io.of('/').sockets.values()];
    logger.info({ sockets: sockets.length }, 'redis link restored; clients told to resync');
    resyncedAt = Date.now();
    resync(sockets, 'redis_reconnected', 50);
  }

  /**
   * The latest a node silent for `silentMs` can have died, in `Date.now()` terms: its last beat
   * plus one (it would have beaten again).
   */
  const diedBy = (silentMs: number) => Date.now() - silentMs + rt.presenceHeartbeatMs;
  const nodeLostListeners = new Set<(openedBefore: number) => void>();
  const nodeReapedListeners = new Set<(diedBy: number) => void>();
  /**
   * A node was reaped (see presence.ts) `silentMs` after its last heartbeat: it stopped without
   * closing before its next beat was due, so what it committed by then and had not yet published
   * (a message, a claim, a conversation's first message) reached no socket. Every socket of this
   * node that was already connected then catches up, more slowly than after a Redis outage: the
   * loss is at least MISSED_BEATS heartbeats old and nothing waits on it. Sockets connected more
   * than a beat after its last beat caught up when they joined (after a crash of the only node,
   * reaped by its successor, only clients back within that beat are told); so did every socket if
   * this node resynced since (its Redis links were down meanwhile), and if a link is down now, its
   * own resync is still to come.
   */
  function nodeLost(node: string, silentMs: number) {
    if (node === presence.nodeId || !Number.isFinite(silentMs)) return;
    const openedBefore = diedBy(silentMs);
    if (resyncedAt >= openedBefore || pubSub.some((c) => c.status !== 'ready')) return;
    const sockets = [...io.of('/').sockets.values()].filter((s) => s.handshake.issued < openedBefore);
    logger.warn({ node, sockets: sockets.length }, 'a node stopped without closing; clients told to resync');
    resync(sockets, 'node_lost', 250);
    for (const listener of nodeLostListeners) listener(openedBefore);
  }

  // A client's frames of one turn go out in one write, after the turn's publishes (turn-writes.ts):
  // Engine.IO emits `flush` just before it hands a socket's packets to its transport. A WebSocket's
  // TCP connection is held; a long-polling response is not, so the publishes go out first.
  io.engine.on('flush', (socket: { transport?: { name?: string; socket?: { _socket?: Socket } } }) => {
    const tcp = socket.transport?.name === 'websocket' ? socket.transport.socket?._socket : undefined;
    if (tcp) holdClientWrites(tcp);
    else flushTurnWrites();
  });

  // A WebSocket upgrade's request stays reachable, for the connection's life, from the stand-in
  // response engine.io gives middlewares (a `close` listener on the TCP socket holds it): raw
  // headers, parser state, about 0.8 KB an idle socket. It is let go once the upgrade's headers
  // are written (the `headers` event, after every middleware and express-session's cookie).
  const upgrades = new WeakMap<object, { req?: unknown }>();
  io.engine.on('headers', (_headers: unknown, req: object) => {
    const res = upgrades.get(req);
    upgrades.delete(req);
    if (res) res.req = undefined;
  });

  // Sessions are read on the handshake only, not on every long-polling request, and only when it
  // carries a session cookie: for a visitor express-session would make an empty session whose
  // closures, cookie and hooks on the response live as long as the connection (engine.io keeps
  // the upgrade's response until the socket closes): about a tenth of an idle socket's memory.
  io.engine.use(((req: HandshakeRequest, res, next) => {
    if (!(res instanceof ServerResponse)) upgrades.set(req, res as { req?: unknown });
    if (req._query?.sid === undefined && req.headers.cookie?.includes(`${SESSION_COOKIE}=`)) {
      deps.sessionMiddleware(req as never, res as never, next);
    } else next();
  }) as RequestHandler);

  const presence = createPresence({
    redis,
    prefix: rt.redisPrefix,
    heartbeatMs: rt.presenceHeartbeatMs,
    logger,
    onChange: (organizationId, userId, status) =>
      io.to(presenceRoom(organizationId)).emit('agent_status_changed', { agent_id: userId, status }),
    // Only the node that reaped it learns of it: the others are told.
    onNodeLost: (node, silentMs) => {
      nodesLost++;
      io.serverSideEmit('node_lost', node, silentMs);
      nodeLost(node, silentMs);
      for (const listener of nodeReapedListeners) listener(diedBy(silentMs));
    },
  });
  io.on('node_lost', (node, silentMs) => typeof node === 'string' && nodeLost(node, Number(silentMs)));
  const typing = createTypingTracker({
    timeoutMs: rt.typingTimeoutMs,
    relayIntervalMs: config.limits.typingRelayIntervalMs,
    onClear: (conversationId, typist) => {
      io.to(convRoom(conversationId)).emit('typing_cleared', { conversation_id: conversationId });
      bus.publish('typing.changed', { conversationId, typist, state: 'stop' });
    },
    onRelay: (conversationId, typist) =>
      bus.publish('typing.changed', { conversationId, typist, state: 'start' }),
  });
  const limiter = createEndUserLimiter({
    redis,
    prefix: rt.redisPrefix,
    points: rt.endUserRateLimit,
    durationS: rt.endUserRateWindowS,
    logger,
  });
  const guard = createSocketGuard({
    redis,
    prefix: rt.redisPrefix,
    limits: config.limits,
    failures: deps.failures ?? createRealtimeFailureThrottle(redis, config),
    logger,
  });
  const unsubscribeListeners = registerRealtimeListeners({
    io,
    bus,
    typing,
    liveRooms,
    rowOf: (id) => services.conversations.row(id),
  });
  const unsubscribeAccess = registerAccessListener({ io, bus, conversations: services.conversations });
  const unsubscribe = () => {
    unsubscribeListeners();
    unsubscribeAccess();
  };

  // Presence updates of one socket run in order (a quick disconnect must not overtake its connect).
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    const q = p.catch((err: unknown) => logger.warn({ err }, 'presence update failed'));
    pending.add(q);
    void q.finally(() => pending.delete(q));
    return q;
  };

  // Event handlers under way (a message being stored) finish before the database closes.
  let closing = false;
  const working = new Set<Promise<void>>();
  const trackWork = (work: Promise<void>) => {
    working.add(work);
    void work.finally(() => working.delete(work));
  };

  // Agents are resolved before the connection is accepted, so handlers exist before any event.
  const agents = new WeakMap<object, AgentActor>();
  io.use((socket, next) => {
    const req = socket.request as HandshakeRequest;
    const userId = sameOrigin(req, config.publicUrl) ? req.session?.passport?.user : undefined;
    if (!userId) return next();
    const read = deps.agentReadWithSession?.(req, userId);
    void (read !== undefined ? Promise.resolve(read) : services.agents.actorFor(userId))
      .then((agent) => {
        if (agent) {
          agents.set(socket, agent);
          socket.data = { userId: agent.userId, organizationId: agent.organizationId } satisfies SocketData;
        }
        next();
      })
      .catch(() => next(new Error('unavailable')));
  });

  // Anonymous sockets per client IP, across nodes: over the limit the connection is refused
  // (`connect_error` "rate_limited"). Agents' sockets are signed in and do not count.
  const addresses = new WeakMap<object, string>();
  io.use((socket, next) => {
    const ip = clientIp(socket.request, config.trustProxy);
    addresses.set(socket, ip);
    if (agents.has(socket)) return next();
    guard
      .acquireSlot(ip, socket.id)
      .then((ok) => {
        if (ok) {
          next();
          // Connected in the tick `next` queued (before this one), the slot goes with `disconnect`
          // (onDisconnect). Otherwise socket.io dropped a connection that closed while this waited,
          // or a later middleware still holds it: then the slot goes when it closes.
          process.nextTick(() => {
            if (socket.connected) return;
            const release = () => guard.releaseSlot(ip, socket.id);
            if (socket.conn.readyState === 'open') socket.conn.once('close', release);
            else release();
          });
          return;
        }
        const err = new Error('rate_limited') as Error & { data?: unknown };
        err.data = { message: 'Too many connections from this address', retry_after: 60 };
        next(err);
      })
      .catch(() => next());
  });

  // The event handlers, once for the node; each socket gets a context and one middleware.
  const attachHandlers = createSocketHandlers({
    services,
    presence,
    typing,
    limiter,
    logger,
    ...(deps.outage ? { outage: deps.outage } : {}),
    inflight: { closing: () => closing, track: (work) => void trackWork(work) },
    liveRooms,
  });

  const connectionLog = logger.child({ component: 'realtime' });
  // One line per connection and per disconnection, for operators (a visitor's tenant is known
  // only once it joins a conversation).
  const connectionFields = (socket: RealtimeSocket) => ({
    tenant_id: socket.data?.organizationId ?? null,
    socket_id: socket.id,
    kind: agents.has(socket) ? 'agent' : 'visitor',
    // Read at the handshake (the request itself is dropped once connected).
    ip: addresses.get(socket) ?? null,
  });
  // The disconnection frees the connection slot and logs. The node's one listener, not a closure
  // per socket: what it needs is on the socket. (A listener of its own on the connection's `close`
  // grew that emitter's list to 19 slots: 0.2 KB a socket.)
  const onDisconnect = function (this: RealtimeSocket, reason: string) {
    const ip = addresses.get(this);
    if (ip !== undefined) guard.releaseSlot(ip, this.id);
    connectionLog.info(
      { ...connectionFields(this), reason, duration_ms: Date.now() - this.handshake.issued },
      'socket disconnected',
    );
  };
  io.on('connection', (socket) => {
    const agent = agents.get(socket) ?? null;
    const req = socket.request as HandshakeRequest;
    const ip = addresses.get(socket) ?? clientIp(req, config.trustProxy);
    connectionLog.info(connectionFields(socket), 'socket connected');
    socket.on('disconnect', onDisconnect);
    attachHandlers(
      socket,
      agent,
      agent ? req.sessionID : undefined,
      guard.forSocket({ ip, agentId: agent?.userId }, socket),
    );
    // The handshake's request (headers, session, parser state) is read only up to here: dropped,
    // it costs nothing for the life of the connection (Socket.IO's memory-usage advice).
    (socket.conn as { request: unknown }).request = null;
    if (agent) {
      const who = { userId: agent.userId, organizationId: agent.organizationId };
      const connected = track(presence.connect(who));
      socket.on('disconnect', () => void track(connected.then(() => presence.disconnect(who))));
    }
  });

  const endUsers: EndUserSockets = {
    here: (endUserId) => (io.of('/').adapter.rooms.get(endUserRoom(endUserId))?.size ?? 0) > 0,
    async anywhere(endUserId) {
      if (endUsers.here(endUserId)) return true;
      try {
        return (await io.in(endUserRoom(endUserId)).fetchSockets()).length > 0;
      } catch (err) {
        logger.warn({ err, endUserId }, 'could not tell whether the end user is connected');
        return false;
      }
    },
  };

  return {
    io,
    typing,
    slots: { acquire: guard.acquireSlot, release: guard.releaseSlot },
    endUsers,
    checkAdapter() {
      const down = pubSub.filter((c) => c.status !== 'ready');
      if (down.length) throw new Error(`adapter connection ${down.map((c) => c.status).join(', ')}`);
    },
    stats: () => ({
      droppedMessages: limiter.dropped,
      refusedEvents: guard.refused,
      nodesLost,
      resyncs: { ...resyncs },
    }),
    onlineAgents: (organizationId) => presence.online(organizationId),
    onNodeLost(listener) {
      nodeLostListeners.add(listener);
      return () => nodeLostListeners.delete(listener);
    },
    onNodeReaped(listener) {
      nodeReapedListeners.add(listener);
      return () => nodeReapedListeners.delete(listener);
    },
    async close() {
      closing = true;
      await Promise.all(working);
      unsubscribe();
      typing.close();
      guard.close();
      liveRooms.close();
      // Takes this node's agents offline for everyone else while the adapter still runs.
      await Promise.all(pending);
      await presence.close();
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      await Promise.all(pubSub.map((c) => closeRedis(c)));
    },
  };
}
