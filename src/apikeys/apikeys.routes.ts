import { Router } from 'express';
import { agentOf, requireRole } from '../auth/auth.middleware.js';
import { idParams } from '../shared/validation.js';
import { valid, validate } from '../shared/http.js';
import { createApiKeySchema } from './apikeys.schemas.js';
import type { ApiKeyService } from './apikeys.service.js';

/**
 * Company → API Keys, under `/api/api-keys` (mounted behind `agentApi`: session, CSRF).
 * Admins and owners only; agents get 403.
 */
export function apiKeyRoutes(deps: { apiKeys: ApiKeyService }): Router {
  const { apiKeys } = deps;
  const router = Router();
  router.use(requireRole('admin'));

  router.get('/', async (req, res) => {
    res.json(await apiKeys.list(agentOf(req)));
  });

  router.post('/', validate('body', createApiKeySchema), async (req, res) => {
    res.status(201).json(await apiKeys.create(agentOf(req), valid(req, 'body', createApiKeySchema)));
  });

  router.delete('/:id', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    res.json(await apiKeys.revoke(agentOf(req), id));
  });

  return router;
}
