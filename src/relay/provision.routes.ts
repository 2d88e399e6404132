import { Router } from 'express';
import type { RelayDeps } from './relay.routes.js';

/** Tenant provisioning (`POST /provision/tenant`, `X-Admin-Key`). */
export function provisionRoutes(_deps: RelayDeps): Router {
  return Router();
}
