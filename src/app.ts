import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { RealtimeServer } from './realtime/realtime.types.js';
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Config } from './config.js';
import { createServices, type Services } from './services.js';
import { createTenantQuota } from './shared/tenant-quota.js';
import { demoRoutes } from './demo/demo.routes.js';
import { databaseProbe, healthRoutes, type Probe } from './health/health.routes.js';
import type { Database } from './shared/db.js';
import { createEventBus, type EventBus } from './shared/events.js';
import { createErrorHandler, notFoundHandler, publishesBeforeResponse } from './shared/http.js';
import { accessFields, redactUrl, type Logger } from './shared/logger.js';
import { paths } from './shared/paths.js';
import { createSessionMiddleware } from './shared/auth/session.js';
import { createPassport } from './auth/auth.passport.js';
import { createLoginLimiter } from './auth/auth.ratelimit.js';
import { authRoutes } from './auth/auth.routes.js';
import { agentApi, requireRole } from './auth/auth.middleware.js';
import { apiKeyRoutes } from './apikeys/apikeys.routes.js';
import { conversationRoutes } from './conversations/conversations.routes.js';
import { visitorProfileRoutes } from './conversations/visitor-profile.routes.js';
import { ticketRoutes } from './tickets/tickets.routes.js';
import { cannedRoutes } from './canned/canned.routes.js';
import { createBot, type Bot } from './bot/bot.js';
import { openAiAnswerer } from './bot/openai-answerer.js';
import { widgetHistoryRoutes } from './conversations/widget-history.routes.js';
import { widgetRatingRoutes } from './ratings/ratings.routes.js';
import { inboxRoutes } from './inbox/inbox.routes.js';
import { tenantRoutes } from './tenants/tenants.routes.js';
import { webhookConsoleRoutes } from './webhooks/webhooks.routes.js';
import { openApiRoutes } from './openapi/openapi.routes.js';
import { knowledgeConsoleRoutes } from './knowledge/knowledge.routes.js';
import { createWebhooks, type Webhooks } from './webhooks/webhooks.js';
import { relayRoutes } from './relay/relay.routes.js';
import { createNonceStore } from './relay/hmac.middleware.js';
import { createOperatorTokens } from './relay/operator.tokens.js';
import { relayErrorHandler } from './relay/relay.envelope.js';
import { createUsage, type Usage } from './relay/usage.js';
import { createWidgetSocketGateway, type WidgetSocketGateway } from './relay/ws/ws.gateway.js';
import { channelRoutes } from './channels/channels.routes.js';
import { teamRoutes } from './agents/agents.routes.js';
import { dashboardRoutes } from './dashboard/dashboard.routes.js';
import { createRealtime, createRealtimeFailureThrottle, type Realtime } from './realtime/realtime.js';
import { createPublicLimiter, publicLimitsOf } from './shared/public-ratelimit.js';
import { mobileAdminRoutes, mobilePublicRoutes } from './mobile/mobile.routes.js';
import { createPush, type Push } from './push/push.js';
import type { Redis } from './shared/redis.js';
import { retryWhileUnavailable } from './shared/outage.js';
import { widgetRoutes } from './widget/widget.routes.js';
import {
  agentAttachmentRoutes,
  downloadRoutes,
  rawUploadBodies,
  relayAttachmentRoutes,
  widgetAttachmentRoutes,
} from './attachments/attachments.routes.js';
import { configureAttachmentUrls } from './attachments/urls.js';
import { createMetrics } from './metrics/metrics.js';
import { metricsRoutes } from './metrics/metrics.routes.js';

export type AppDeps = {
  config: Config;
  logger: Logger;
  database: Database;
  redis?: Redis | undefined;
  bus?: EventBus;
  /** The time the relay's tokens are checked against (tests move it); `Date.now` otherwise. */
  now?: () => number;
};

const REQUEST_ID = /^[\w.:-]{1,64}$/;

export type App = {
  app: express.Express;
  server: Server;
  io: RealtimeServer;
  /** The Socket.IO gateway's own handle (counters such as dropped end-user messages). */
  realtime: Realtime;
  /** Push notifications: queued from the start; `push.start()` runs the sender (the server does). */
  push: Push;
  /** Per-tenant usage counters (sessions, messages, API calls, webhooks), flushed every 5 s. */
  usage: Usage;
  /** Webhook delivery: queued by the database from the start; `webhooks.start()` sends (the server does). */
  webhooks: Webhooks;
  /** The bot of conversations in `bot` mode (answers from the knowledge base, escalates). */
  bot: Bot;
  /** The relay's visitor WebSocket (`/api/v1/ws/widget`), beside Socket.IO. */
  widgetSocket: WidgetSocketGateway;
  services: Services;
  bus: EventBus;
  /** Stops accepting, disconnects sockets, lets requests under way finish. */
  close: () => Promise<void>;
};

/** Builds the HTTP app, the Socket.IO gateway and the listeners from ready dependencies. Wiring only. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, logger, database, redis } = deps;
  const bus =
    deps.bus ?? createEventBus((err, event) => logger.error({ err, event }, 'event listener failed'));
  const quota = createTenantQuota({
    redis,
    prefix: config.realtime.redisPrefix,
    windowS: config.limits.tenantQuotaWindowS,
    logger,
  });
  // Prometheus metrics of this app (served at /metrics only when METRICS_TOKEN is set).
  const metrics = createMetrics({ database, redis, bus });
  const services = createServices({
    database: metrics.instrument(database),
    config,
    bus,
    logger,
    quota,
    now: deps.now,
  });
  // Attachment links are signed wherever a message leaves the server (DTOs, relay frames).
  configureAttachmentUrls({ publicUrl: () => config.publicUrl, sessionSecret: config.sessionSecret });

  const app = express();
  app.disable('x-powered-by');
  app.use(publishesBeforeResponse);
  app.use(metrics.http());
  app.set('trust proxy', config.trustProxy);
  app.use(
    pinoHttp({
      logger: logger.child({ component: 'http' }),
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customAttributeKeys: { reqId: 'reqId' },
      quietReqLogger: true,
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          // Visitors' credentials travel in query strings (external_id, session_id, tokens).
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      // A 503 is a dependency's outage, logged once by its tracker; any other 5xx was logged once,
      // with its stack at debug, by the error handler: the access line is a plain warning.
      customLogLevel: (_req, res, err) =>
        res.statusCode === 503 ? 'info' : err || res.statusCode >= 500 ? 'warn' : 'info',
      // One line per request with what an operator filters on (see accessFields).
      customSuccessObject: (req, res, val: Record<string, unknown>) => ({
        ...val,
        ...accessFields(req, res, val),
      }),
      customErrorObject: (req, res, _err, val: Record<string, unknown>) => ({
        ...val,
        ...accessFields(req, res, val),
        err: undefined,
      }),
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'script-src': ["'self'"],
          'connect-src': ["'self'"],
          'img-src': ["'self'", 'data:', 'https:'],
          // Plain-HTTP deployments (a laptop, a private network) must keep working.
          'upgrade-insecure-requests': null,
        },
      },
    }),
  );
  // Uploads are raw file bytes, whatever their Content-Type: no body parser may take them.
  app.use(rawUploadBodies);
  app.use(
    express.json({
      limit: '256kb',
      // The signed API (HMAC#1) signs the exact body bytes: they are kept for its verification.
      verify: (req, _res, buf) => {
        if (req.url?.startsWith('/api/v1/relay')) (req as { rawBody?: Buffer }).rawBody = buf;
      },
    }),
  );
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  // The database's probe has a connection of its own: a saturated pool reads busy, not down.
  const probes: Record<string, Probe> = { database: databaseProbe(database) };
  // Redis's probe is completed once the adapter exists (below): its links count too.
  if (redis) probes.redis = async () => void (await redis.ping());
  app.use(healthRoutes(probes));
  // The REST surfaces described for client generators (OpenAPI 3.1, from the routes' zod schemas).
  app.use(openApiRoutes());
  app.use(metricsRoutes({ metrics, token: config.metrics.token }));
  app.use('/static', express.static(`${paths.public}/static`, { maxAge: '1h' }));
  // Browser bundles: pages link them with ?v=<mtime>, so revalidating is cheap and never stale.
  app.use('/build', express.static(`${paths.public}/build`, { maxAge: 0 }));
  app.use(demoRoutes({ publicUrl: config.publicUrl }));
  // Public, before the agent session: the widget (embed.js, the iframe page) and native apps
  // (open a conversation, register push tokens); both rate-limited per IP and target.
  const publicLimits = publicLimitsOf(config.limits);
  app.use(widgetRoutes({ widget: services.widget, redis, limits: publicLimits }));
  app.use('/api/mobile', mobilePublicRoutes(services, redis, publicLimits));
  // Attachments: signed downloads, and the widget's end users' uploads (proven as its history is).
  const uploads = { attachments: services.attachments, config, redis, limits: publicLimits, services };
  app.use(downloadRoutes(uploads));
  app.use(widgetAttachmentRoutes(uploads));
  // The relay (its own envelope, CORS and credentials; no agent session) and its usage counts.
  const usage = createUsage({ db: database.prisma, bus, logger });
  // Presence belongs to the Socket.IO gateway, created below: the relay asks it once it exists.
  const late: { realtime?: Realtime } = {};
  const agentsOnline = async (organizationId: string) =>
    ((await late.realtime?.onlineAgents(organizationId)) ?? []).length > 0;
  app.use(
    '/api/v1/attachments',
    relayAttachmentRoutes({ ...uploads, now: deps.now, outage: database.outage }),
  );
  app.use(
    '/api/v1',
    relayRoutes({ services, config, redis, outage: database.outage, now: deps.now, agentsOnline, usage }),
  );
  // The embed widget's availability, email and rating (its end user proven as for its history).
  app.use(widgetRatingRoutes({ services, redis, limits: publicLimits, now: deps.now, agentsOnline }));
  // Errors raised before the relay's router (a malformed JSON body) are in its envelope too.
  app.use('/api/v1', relayErrorHandler(database.outage));
  // Failed end-user proofs per IP: history reads and socket joins share one counter.
  const failures = createRealtimeFailureThrottle(redis, config);

  // Everything below knows the agent's session.
  const sessions = createSessionMiddleware({ config, db: database.prisma, redis });
  const passport = createPassport({
    db: database.prisma,
    agents: services.agents,
    readWithSession: (req, id) => sessions.store.agentReadWith(req, id),
  });
  app.use(sessions.middleware);
  app.use(passport.initialize());
  app.use(passport.session());
  const operatorTokens = createOperatorTokens({
    secrets: config.relay.tokenSecrets,
    now: deps.now,
    used: createNonceStore({
      redis,
      prefix: config.realtime.redisPrefix,
      now: deps.now ?? Date.now,
      kind: 'operator:jti',
    }),
  });
  app.use(
    authRoutes({
      passport,
      limiter: createLoginLimiter(redis),
      bus,
      operatorSignIn: async (token) => services.operators.signIn(await operatorTokens.consume(token)),
    }),
  );
  app.use(
    '/chat-widget/history',
    createPublicLimiter(redis, 'history', publicLimits)((_b, req) => req.path),
  );
  app.use(widgetHistoryRoutes(services));
  // A refused history read counts as a failed proof of its IP and is answered after its delay.
  app.use('/chat-widget/history', failures.http());
  // So does a refused attachment upload of the widget (mounted above, before the session).
  app.use('/api/widget/attachments', failures.http());
  app.use('/api/conversations', ...agentApi, agentAttachmentRoutes(uploads));
  app.use('/api/conversations', ...agentApi, conversationRoutes(services));
  app.use('/api/conversations', ...agentApi, visitorProfileRoutes(services));
  app.use('/api/api-keys', ...agentApi, apiKeyRoutes(services));
  app.use('/api/tickets', ...agentApi, ticketRoutes(services));
  app.use('/api/canned-replies', ...agentApi, cannedRoutes(services));
  app.use(channelRoutes(services));
  app.use(tenantRoutes(services));
  app.use(webhookConsoleRoutes(services));
  // The console's dry run answers with the bot's own answerer (the model when one is configured).
  const botModel = config.bot.llm ? openAiAnswerer(config.bot.llm) : undefined;
  app.use(knowledgeConsoleRoutes({ ...services, botModel }));
  app.use(teamRoutes(services));
  app.use('/api/mobile/channels', ...agentApi, requireRole('admin'), mobileAdminRoutes(services));
  app.use(inboxRoutes(services));
  app.use(dashboardRoutes());

  app.use(notFoundHandler);
  app.use(createErrorHandler(database.outage));

  const server = createServer(app);
  const realtime = await createRealtime({
    server,
    sessionMiddleware: sessions.middleware,
    agentReadWithSession: (req, id) => sessions.store.agentReadWith(req, id),
    services,
    bus,
    redis,
    config,
    logger,
    outage: database.outage,
    failures,
  });
  late.realtime = realtime;
  const widgetSocket = await createWidgetSocketGateway({
    server,
    io: realtime.io,
    typing: realtime.typing,
    services,
    bus,
    redis,
    config,
    logger,
    outage: database.outage,
    now: deps.now,
    agentsOnline,
    slots: realtime.slots,
    failures,
    onNodeLost: realtime.onNodeLost,
  });
  metrics.observe({
    sockets: () => {
      let agent = 0;
      for (const s of realtime.io.of('/').sockets.values()) if (s.data?.userId) agent += 1;
      const all = realtime.io.of('/').sockets.size;
      return { agent, visitor: all - agent, websocket: widgetSocket.connections() };
    },
    floodDrops: () => ({ socketio: realtime.stats().droppedMessages, websocket: widgetSocket.dropped() }),
    socketRefusals: () => realtime.stats().refusedEvents,
    nodesLost: () => realtime.stats().nodesLost,
    resyncs: () => ({ socketio: realtime.stats().resyncs, websocket: widgetSocket.resyncs() }),
    writer: services.messages.writerStats,
  });
  metrics.afterGateways();
  if (redis) {
    probes.redis = async () => {
      await redis.ping();
      realtime.checkAdapter();
    };
  }
  const push = createPush({
    db: database.prisma,
    config,
    logger,
    bus,
    endUsers: realtime.endUsers,
    credentials: services.push,
    onAttempt: metrics.pushAttempt,
  });
  const webhooks = createWebhooks({
    db: database.prisma,
    config,
    logger,
    bus,
    usage,
    onAttempt: metrics.webhookAttempt,
  });
  const bot = createBot({
    db: database.prisma,
    bus,
    logger: logger.child({ component: 'bot' }),
    knowledge: services.knowledge,
    messages: services.messages,
    escalations: services.escalations,
    model: botModel,
    agentsOnline,
    recoveryGraceMs: config.bot.recoveryGraceMs,
  });
  // What a node stored and died before it followed up on, done here if this node found it dead:
  // the questions its bot never answered, and the pushes it never queued (a beat's grace past its
  // death for the database's clock; pushes from a beat before its last one).
  const hb = config.realtime.presenceHeartbeatMs;
  const pushRecoveries = new Set<() => void>();
  const offReaped = realtime.onNodeReaped((diedBy) => {
    const storedBy = new Date(diedBy + hb);
    bot.recoverLost(storedBy);
    retryWhileUnavailable(
      () =>
        push.recover(new Date(diedBy - 2 * hb), storedBy).then((n) => {
          if (n) logger.info({ messages: n }, 'push: queued what a lost node left');
        }),
      { logger, what: 'push: queueing what a lost node left', pending: pushRecoveries },
    );
  });
  return {
    app,
    server,
    io: realtime.io,
    realtime,
    push,
    usage,
    webhooks,
    bot,
    widgetSocket,
    services,
    bus,
    async close() {
      // First: its visitors' messages under way are acked, then told to reconnect (1012).
      await widgetSocket.close();
      await push.stop();
      offReaped();
      for (const cancel of pushRecoveries) cancel();
      bot.stop();
      await bot.idle();
      await webhooks.stop();
      await realtime.close();
      sessions.close();
      // Last, after the sockets: what they counted and acknowledged reaches the database.
      await usage.stop();
      await services.messages.flushDelivery();
    },
  };
}
