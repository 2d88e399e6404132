import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../../config.js';
import type { Services } from '../../services.js';
import { AppError } from '../../shared/errors.js';
import type { EventBus } from '../../shared/events.js';
import { errorSummary, toAppError } from '../../shared/http.js';
import { redactUrl, type Logger } from '../../shared/logger.js';
import type { Outage } from '../../shared/outage.js';
import type { Redis } from '../../shared/redis.js';
import { createEndUserLimiter } from '../../realtime/realtime.ratelimit.js';
import type { Realtime } from '../../realtime/realtime.js';
import type { RealtimeServer } from '../../realtime/realtime.types.js';
import { clientIp, isProofFailure, type FailureThrottle } from '../../shared/public-ratelimit.js';
import type { TypingTracker } from '../../realtime/typing.js';
import { headerOrigin } from '../cors.js';
import { createVisitorTokens } from '../tokens.js';
import { widgetConfigDto } from '../visitor.dto.js';
import { createConnection, type Connection, type VisitorActor } from './ws.connection.js';
import { createFanout, type FanoutMessage } from './ws.fanout.js';
import { CLOSE, closeCodeOf, msgFrame, typistRole } from './ws.frames.js';
import { connectQuerySchema } from './ws.schemas.js';
import { inSlices } from '../../shared/slices.js';

/** The paths of the visitor WebSocket: the document uses both. */
export const WIDGET_WS_PATHS = new Set(['/api/v1/ws/widget', '/ws/widget']);

/** How many recent messages a welcome without a cursor carries. */
const WELCOME_HISTORY = 50;
/** Connections pinged per turn of the event loop by the heartbeat. */
const BEAT_SLICE = 500;

export type WidgetSocketDeps = {
  server: HttpServer;
  io: RealtimeServer;
  typing: TypingTracker;
  services: Services;
  bus: EventBus;
  redis: Redis | undefined;
  config: Config;
  logger: Logger;
  outage?: Outage | undefined;
  /** The clock tokens and sessions are checked against (tests move it). */
  now?: (() => number) | undefined;
  agentsOnline: (organizationId: string) => Promise<boolean>;
  /** Anonymous connections per client IP, shared with Socket.IO (`SOCKETS_PER_IP`). */
  slots?: Realtime['slots'] | undefined;
  /** Failed proofs per client IP, shared with Socket.IO's joins and the history reads. */
  failures?: FailureThrottle | undefined;
  /** Another node was lost (Socket.IO's `resync` `node_lost`): these visitors catch up too. */
  onNodeLost?: Realtime['onNodeLost'] | undefined;
};

type Authorized = {
  actor: VisitorActor;
  welcome: Record<string, unknown>;
  after: { seq: number } | { id: string } | null;
};

/**
 * The relay's visitor WebSocket (`/api/v1/ws/widget?token=`), a gateway beside Socket.IO on the
 * same HTTP server and the same core: `ws` in noServer mode answers only its own paths' upgrades.
 * The token and the session are checked before the upgrade completes; a refusal still completes
 * it and closes at once with the documented code (4401, 4404, 4403…), the only answer a browser
 * can read. Frames of a conversation reach its visitors on every node through Redis.
 */
export async function createWidgetSocketGateway(deps: WidgetSocketDeps) {
  const { services, config, logger, bus } = deps;
  const wsConfig = config.relay.ws;
  const now = deps.now ?? Date.now;
  const tokens = createVisitorTokens({
    secrets: config.relay.tokenSecrets,
    ttlS: config.relay.tokenTtlS,
    now,
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: wsConfig.maxPayloadBytes });
  // The same Redis keys as the Socket.IO gateway's limiter: one visitor, one budget, both gateways.
  const limiter = createEndUserLimiter({
    redis: deps.redis,
    prefix: config.realtime.redisPrefix,
    points: config.realtime.endUserRateLimit,
    durationS: config.realtime.endUserRateWindowS,
    logger,
  });

  /** This node's connections, by conversation. */
  const byConversation = new Map<string, Set<Connection>>();
  const all = new Set<Connection>();
  let closing = false;
  const working = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    working.add(work);
    void work.finally(() => working.delete(work));
  };

  function deliver(m: FanoutMessage) {
    if (m.kind === 'frame') {
      for (const c of byConversation.get(m.conversationId) ?? []) c.deliver(m.frame);
      return;
    }
    const ids = new Set(m.endUserIds ?? []);
    for (const c of all) {
      if (c.actor.organizationId === m.organizationId || ids.has(c.actor.endUserId))
        c.close(m.code, m.reason);
    }
  }
  const resyncs = { redis_reconnected: 0, node_lost: 0 };
  const fanout = await createFanout({
    redis: deps.redis,
    prefix: config.realtime.redisPrefix,
    logger,
    deliver,
    onResync: () => {
      logger.info({ connections: all.size }, 'relay ws: redis link restored; visitors told to resync');
      for (const c of all) c.sendNow({ type: 'resync', reason: 'redis_reconnected' });
      resyncs.redis_reconnected += all.size;
    },
  });

  const offs = [
    // What a lost node stored and never published: connections older than it send `resume`.
    deps.onNodeLost?.((openedBefore) => {
      const stale = [...all].filter((c) => c.openedAt < openedBefore);
      logger.info({ connections: stale.length }, 'relay ws: a node was lost; visitors told to resync');
      inSlices(stale, 250, 250, (c) => {
        if (!all.has(c)) return;
        c.sendNow({ type: 'resync', reason: 'node_lost' });
        resyncs.node_lost++;
      });
    }) ?? (() => {}),
    // Every stored message, whoever wrote it: its conversation's visitors, on every node.
    bus.subscribe('message.created', ({ message, conversation }) => {
      // Internal notes are the agents' own: never on the visitor's WebSocket.
      if (message.internal) return;
      fanout.publish({ kind: 'frame', conversationId: conversation.id, frame: msgFrame(message) });
    }),
    // Agents' (and bots') typing; the visitor's own is not echoed.
    bus.subscribe('typing.changed', ({ conversationId, typist, state }) => {
      const role = typistRole(typist);
      if (role === 'visitor') return;
      fanout.publish({ kind: 'frame', conversationId, frame: { type: 'typing', role, state } });
    }),
    // The support interaction ended: the visitor is asked to rate it.
    bus.subscribe('conversation.resolved', ({ conversationId, sessionId, resolvedAt }) => {
      fanout.publish({
        kind: 'frame',
        conversationId,
        frame: {
          type: 'rating_request',
          conversation_id: conversationId,
          session_id: sessionId,
          resolved_at: resolvedAt.toISOString(),
        },
      });
    }),
    // Receipts of the agents' side: the visitor's ticks (their own side's are not echoed).
    bus.subscribe('messages.delivered', ({ conversationId, recipientType, seq, deliveredAt }) => {
      if (recipientType !== 'agent') return;
      fanout.publish({
        kind: 'frame',
        conversationId,
        frame: { type: 'delivered', role: 'agent', seq, delivered_at: deliveredAt.toISOString() },
      });
    }),
    bus.subscribe('messages.read', ({ conversationId, readerType, messageIds, readAt }) => {
      if (readerType !== 'agent') return;
      fanout.publish({
        kind: 'frame',
        conversationId,
        frame: { type: 'read', role: 'agent', message_ids: messageIds, read_at: readAt.toISOString() },
      });
    }),
    bus.subscribe('organization.suspended', ({ organizationId }) => {
      fanout.publish({ kind: 'close', organizationId, code: CLOSE.forbidden, reason: 'Tenant suspended' });
    }),
    // Sessions made with the old key have ended: their sockets are told so (4404).
    bus.subscribe('widget_key.rotated', ({ organizationId }) => {
      fanout.publish({
        kind: 'close',
        organizationId,
        code: CLOSE.sessionExpired,
        reason: 'Widget key rotated',
      });
    }),
    bus.subscribe('access.revoked', ({ endUserIds }) => {
      fanout.publish({ kind: 'close', endUserIds, code: CLOSE.forbidden, reason: 'Access revoked' });
    }),
  ];

  /** Checks the token and the session; builds the welcome's fixed part. */
  async function authorize(req: IncomingMessage, url: URL): Promise<Authorized> {
    const q = connectQuerySchema.safeParse(Object.fromEntries(url.searchParams));
    if (!q.success) {
      const tokenBad = q.error.issues.some((i) => i.path[0] === 'token');
      throw new AppError(
        tokenBad ? 'token/invalid' : 'request/invalid',
        tokenBad ? 'Give the visitor token as ?token=' : 'Invalid last_seq or last_message_id',
      );
    }
    const token = await tokens.verifyVisitorToken(q.data.token, { allowExpired: false });
    const { session, org, endUser } = await services.visitors.connect(
      token,
      headerOrigin(req.headers.origin),
      {
        now: new Date(now()),
        sessionTtlDays: config.relay.sessionTtlDays,
      },
    );
    const actor: VisitorActor = {
      kind: 'end_user',
      organizationId: org.id,
      endUserId: endUser.id,
      externalId: endUser.externalId,
      conversationId: session.conversationId,
      rateLimitPerMin: org.rateLimitPerMin,
    };
    const isOnline = await deps.agentsOnline(org.id).catch(() => false);
    const welcome = {
      type: 'welcome',
      session_id: session.id,
      conversation_id: session.conversationId,
      visitor_id: endUser.externalId,
      mode: session.mode,
      locale: session.locale,
      expires_at: token.expiresAt.toISOString(),
      session_expires_at: session.expiresAt.toISOString(),
      widget_config: widgetConfigDto(org, { isOnline, locale: session.locale, now: new Date(now()) }),
      heartbeat_s: wsConfig.heartbeatMs / 1000,
      max_frame_bytes: wsConfig.maxPayloadBytes,
    };
    const after =
      q.data.last_seq !== undefined
        ? { seq: q.data.last_seq }
        : q.data.last_message_id
          ? { id: q.data.last_message_id }
          : null;
    return { actor, welcome, after };
  }

  /**
   * Registered and subscribed first, then the history read: nothing falls between the read and
   * the live frames.
   */
  async function start(ws: WebSocket, connId: string, { actor, welcome, after }: Authorized) {
    const conn = createConnection(connId, ws, actor, {
      services,
      io: deps.io,
      typing: deps.typing,
      limiter,
      logger,
      outage: deps.outage,
      maxBufferedBytes: wsConfig.maxBufferedBytes,
      framesPerWindow: config.limits.socketEvents,
      windowMs: config.limits.eventWindowS * 1000,
      closing: () => closing,
      track,
    });
    all.add(conn);
    let set = byConversation.get(actor.conversationId);
    if (!set) byConversation.set(actor.conversationId, (set = new Set()));
    set.add(conn);
    const watching = fanout.watch(actor.conversationId);
    ws.on('close', () => {
      all.delete(conn);
      set.delete(conn);
      if (!set.size && byConversation.get(actor.conversationId) === set)
        byConversation.delete(actor.conversationId);
      fanout.unwatch(actor.conversationId);
      conn.dispose();
    });
    ws.on('error', (err) => logger.debug({ err, conn: conn.id }, 'relay ws socket error'));
    try {
      // Subscribed before the history read, as registered before it.
      await watching;
      if (after) {
        const [{ messages, lastSeq, hasMore }, delivery] = await Promise.all([
          services.messages.since(actor.conversationId, after),
          services.messages.deliveryState(actor.conversationId),
        ]);
        const history = messages.map(msgFrame);
        conn.welcome(
          {
            ...welcome,
            type: 'welcome',
            history,
            resumed: true,
            last_seq: lastSeq,
            has_more: hasMore,
            delivery,
          },
          history.map((m) => m.id),
        );
      } else {
        const [messages, { lastSeq, delivery }] = await Promise.all([
          services.messages.recent(actor.conversationId, WELCOME_HISTORY),
          services.messages.joinState(actor.conversationId),
        ]);
        const history = messages.map(msgFrame);
        conn.welcome(
          {
            ...welcome,
            type: 'welcome',
            history,
            resumed: false,
            last_seq: Math.max(lastSeq, history.at(-1)?.seq ?? 0),
            has_more: false,
            delivery,
          },
          history.map((m) => m.id),
        );
      }
    } catch (err) {
      const e = toAppError(err);
      if (e.code === 'unavailable' && !(err instanceof AppError)) deps.outage?.failed(err);
      else logger.error({ err: errorSummary(err) }, 'relay ws welcome failed');
      conn.close(closeCodeOf(e.code), e.message.slice(0, 120));
    }
  }

  /** One line when a visitor's WebSocket opens and one when it closes (the URL without its token). */
  const connectionLog = logger.child({ component: 'relay' });
  function logConnection(
    ws: WebSocket,
    c: { connId: string; ip: string; actor: VisitorActor; path: string },
  ) {
    const opened = Date.now();
    const fields = {
      tenant_id: c.actor.organizationId,
      socket_id: c.connId,
      kind: 'websocket',
      ip: c.ip,
      path: redactUrl(c.path),
    };
    connectionLog.info(fields, 'websocket connected');
    ws.once('close', (code: number) =>
      connectionLog.info({ ...fields, code, duration_ms: Date.now() - opened }, 'websocket disconnected'),
    );
  }

  /** Completes the upgrade and closes at once: browsers read the close code, not an HTTP status. */
  function refuse(req: IncomingMessage, socket: Duplex, head: Buffer, code: number, reason: string) {
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(code, reason.slice(0, 120)));
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://relay.invalid');
    } catch {
      return destroyUnanswered(socket);
    }
    if (!WIDGET_WS_PATHS.has(url.pathname)) {
      // Socket.IO answers its own path; anything nobody answers is hung up (Node's default).
      if (!url.pathname.startsWith('/socket.io/')) destroyUnanswered(socket);
      return;
    }
    socket.on('error', (err) => logger.debug({ err }, 'relay ws upgrade socket error'));
    if (closing) return refuse(req, socket, head, CLOSE.restart, 'Server restarting');
    const connId = `ws:${randomUUID()}`;
    const ip = clientIp(req, config.trustProxy);
    const release = () => deps.slots?.release(ip, connId);
    // However the connection ends (refused, closed, or the client gone while it was checked).
    socket.once('close', release);
    void (async () => {
      // A slot first (no I/O beyond the counter), so a flood of upgrades costs no database work.
      const slot = (await deps.slots?.acquire(ip, connId).catch(() => true)) ?? true;
      if (!slot)
        return refuse(req, socket, head, CLOSE.rateLimited, 'Too many connections from this address');
      let ok: Authorized;
      try {
        ok = await authorize(req, url);
      } catch (err) {
        const e = toAppError(err);
        if (e.code === 'unavailable' && !(err instanceof AppError)) deps.outage?.failed(err);
        else if (e.status >= 500) logger.error({ err: errorSummary(err) }, 'relay ws authorization failed');
        // A refused token or session counts against the address, as a failed join does: past the
        // free ones the refusal waits, its slot held meanwhile, so guessing from one address is slow.
        if (isProofFailure(err)) await deps.failures?.failed(ip);
        release();
        return refuse(req, socket, head, closeCodeOf(e.code), e.message);
      }
      if (closing) {
        release();
        return refuse(req, socket, head, CLOSE.restart, 'Server restarting');
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        logConnection(ws, { connId, ip, actor: ok.actor, path: req.url ?? '' });
        void start(ws, connId, ok);
      });
    })();
  }
  deps.server.on('upgrade', onUpgrade);

  // Dead connections (no pong, no frame for a whole beat) are dropped on the next beat. The pings go
  // out BEAT_SLICE at a time, each slice a turn of the event loop of its own: 10,000 of them in one
  // loop would hold every other connection's messages back for as long as they take.
  let beating = false;
  const beatAll = async () => {
    if (beating) return;
    beating = true;
    try {
      let n = 0;
      for (const c of [...all]) {
        if (!all.has(c)) continue;
        if (!c.beat()) c.ws.terminate();
        if (++n % BEAT_SLICE === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      beating = false;
    }
  };
  const heartbeat = setInterval(() => void beatAll(), wsConfig.heartbeatMs);
  heartbeat.unref();

  return {
    /** Connections open on this node (operators and tests). */
    connections: () => all.size,
    /** Visitors' messages dropped by the flood limit on this node since it started (metrics). */
    dropped: () => limiter.dropped,
    /** Connections told to `resync` since it started, by reason (metrics). */
    resyncs: () => ({ ...resyncs }),

    /**
     * Shutdown: new messages are refused, those under way are stored and acked, then every
     * connection is closed with 1012 so its client reconnects (to another node).
     */
    async close() {
      closing = true;
      await Promise.all(working);
      clearInterval(heartbeat);
      offs.forEach((off) => off());
      const closed = [...all].map(
        (c) =>
          new Promise<void>((resolve) => {
            c.ws.once('close', () => resolve());
            c.close(CLOSE.restart, 'Server restarting');
            setTimeout(() => {
              c.ws.terminate();
              resolve();
            }, 2000).unref();
          }),
      );
      await Promise.all(closed);
      deps.server.off('upgrade', onUpgrade);
      wss.close();
      await fanout.close();
    },
  };
}

/** Hangs up an upgrade nobody answered within a second (what Node does when nobody listens). */
function destroyUnanswered(socket: Duplex) {
  socket.on('error', () => {});
  setTimeout(() => {
    const s = socket as Duplex & { bytesWritten?: number };
    if (s.writable && (s.bytesWritten ?? 0) <= 0) s.destroy();
  }, 1000).unref();
}

export type WidgetSocketGateway = Awaited<ReturnType<typeof createWidgetSocketGateway>>;
