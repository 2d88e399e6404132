import { Router } from 'express';
import type { RelayDeps } from './relay.routes.js';

/** The visitor side: widget config, visitor sessions and tokens, identify. */
export function visitorRoutes(_deps: RelayDeps): Router {
  return Router();
}
