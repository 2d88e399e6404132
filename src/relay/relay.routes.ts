import { Router } from 'express';
import type { Services } from '../services.js';
import type { Config } from '../config.js';
import type { Outage } from '../shared/outage.js';
import type { Redis } from '../shared/redis.js';
import type { Usage } from './usage.js';
import { relayErrorHandler, relayNotFound } from './relay.envelope.js';
import { backendRoutes } from './backend.routes.js';
import { provisionRoutes } from './provision.routes.js';
import { visitorRoutes } from './visitor.routes.js';

export type RelayDeps = {
  services: Services;
  config: Config;
  redis: Redis | undefined;
  outage?: Outage | undefined;
  /** The time (tests move it to expire tokens); `Date.now` otherwise. */
  now?: (() => number) | undefined;
  /** Whether an agent of the organization is online now (presence); unknown → offline. */
  agentsOnline?: ((organizationId: string) => Promise<boolean>) | undefined;
  /** Per-tenant usage: the signed API counts its calls. */
  usage?: Usage | undefined;
};

/**
 * The relay's HTTP surface, mounted at `/api/v1`: tenant provisioning (admin key), the visitor
 * side (widget config, visitor sessions and tokens, identify), the tenant backend's signed API
 * (`/relay/*`, HMAC#1). Every answer, errors included, is
 * in the envelope `{status_code, data, message}`.
 */
export function relayRoutes(deps: RelayDeps): Router {
  const router = Router();
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use(provisionRoutes(deps));
  router.use(visitorRoutes(deps));
  router.use('/relay', backendRoutes(deps));
  router.use(relayNotFound);
  router.use(relayErrorHandler(deps.outage));
  return router;
}
