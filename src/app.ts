import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Server as SocketServer } from 'socket.io';
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Config } from './config.js';
import { createAgentService } from './agents/agents.service.js';
import { createChannelService } from './channels/channels.service.js';
import { createConversationService } from './conversations/conversations.service.js';
import { createMessageService } from './messages/messages.service.js';
import { demoRoutes } from './demo/demo.routes.js';
import { healthRoutes, type Probe } from './health/health.routes.js';
import type { Database } from './shared/db.js';
import { createEventBus, type EventBus } from './shared/events.js';
import { errorHandler, notFoundHandler } from './shared/http.js';
import type { Logger } from './shared/logger.js';
import { paths } from './shared/paths.js';
import { createSessionMiddleware } from './shared/auth/session.js';
import { createPassport } from './auth/auth.passport.js';
import { createLoginLimiter } from './auth/auth.ratelimit.js';
import { authRoutes } from './auth/auth.routes.js';
import { inboxRoutes } from './inbox/inbox.routes.js';
import { createRealtime } from './realtime/realtime.js';
import type { Redis } from './shared/redis.js';
import { createTenantService } from './tenants/tenants.service.js';

export type Services = ReturnType<typeof createServices>;

/** Every domain service, wired to its explicit dependencies. */
export function createServices({
  database,
  config,
  bus,
}: {
  database: Database;
  config: Config;
  bus: EventBus;
}) {
  const db = database.prisma;
  return {
    tenants: createTenantService({ db, encryptionKey: config.encryptionKey, bus }),
    agents: createAgentService({ db }),
    channels: createChannelService({ db }),
    conversations: createConversationService({ db, bus }),
    messages: createMessageService({ db, bus }),
  };
}

export type AppDeps = {
  config: Config;
  logger: Logger;
  database: Database;
  redis?: Redis | undefined;
  bus?: EventBus;
};

const REQUEST_ID = /^[\w.:-]{1,64}$/;

export type App = {
  app: express.Express;
  server: Server;
  io: SocketServer;
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
  const services = createServices({ database, config, bus });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(
    pinoHttp({
      logger,
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
          url: req.url,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
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
  app.use(express.json({ limit: '256kb' }));
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  const probes: Record<string, Probe> = { database: () => database.ping() };
  if (redis) probes.redis = async () => void (await redis.ping());
  app.use(healthRoutes(probes));
  app.use('/static', express.static(`${paths.public}/static`, { maxAge: '1h' }));
  app.use(demoRoutes({ publicUrl: config.publicUrl }));

  // Everything below knows the agent's session.
  const sessions = createSessionMiddleware({ config, db: database.prisma, redis });
  const passport = createPassport({ db: database.prisma, agents: services.agents });
  app.use(sessions.middleware);
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(authRoutes({ passport, limiter: createLoginLimiter(redis), bus }));
  app.use(inboxRoutes());

  app.use(notFoundHandler);
  app.use(errorHandler);

  const server = createServer(app);
  const realtime = await createRealtime({
    server,
    sessionMiddleware: sessions.middleware,
    services,
    bus,
    redis,
    config,
    logger,
  });
  return {
    app,
    server,
    io: realtime.io,
    services,
    bus,
    async close() {
      await realtime.close();
      sessions.close();
    },
  };
}
