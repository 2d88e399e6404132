import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Config } from './config.js';
import { createAgentService } from './agents/agents.service.js';
import { createChannelService } from './channels/channels.service.js';
import { demoRoutes } from './demo/demo.routes.js';
import { healthRoutes, type Probe } from './health/health.routes.js';
import type { Database } from './shared/db.js';
import { createEventBus, type EventBus } from './shared/events.js';
import { errorHandler, notFoundHandler } from './shared/http.js';
import type { Logger } from './shared/logger.js';
import { paths } from './shared/paths.js';
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

/** Builds the HTTP app and server from ready dependencies. Wiring only. */
export function createApp(deps: AppDeps): {
  app: express.Express;
  server: Server;
  services: Services;
  bus: EventBus;
} {
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

  app.use(notFoundHandler);
  app.use(errorHandler);

  const server = createServer(app);
  return { app, server, services, bus };
}
