import { Router } from 'express';
import { agentOf } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { createCannedSchema, updateCannedSchema, variablesQuerySchema } from './canned.schemas.js';
import type { CannedService } from './canned.service.js';

/**
 * Canned replies under `/api/canned-replies` (mounted behind `agentApi`: session, CSRF on
 * writes): the organization's and the agent's own, and the values of their variables in a
 * conversation.
 */
export function cannedRoutes({ canned }: { canned: CannedService }): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    res.json({ items: await canned.list(agentOf(req)) });
  });
  router.get('/variables', validate('query', variablesQuerySchema), async (req, res) => {
    const { conversation_id } = valid(req, 'query', variablesQuerySchema);
    res.json(await canned.variables(agentOf(req), conversation_id));
  });
  router.post('/', validate('body', createCannedSchema), async (req, res) => {
    res.status(201).json(await canned.create(agentOf(req), valid(req, 'body', createCannedSchema)));
  });
  router.patch(
    '/:id',
    validate('params', idParams),
    validate('body', updateCannedSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.json(await canned.update(agentOf(req), id, valid(req, 'body', updateCannedSchema)));
    },
  );
  router.delete('/:id', validate('params', idParams), async (req, res) => {
    await canned.remove(agentOf(req), valid(req, 'params', idParams).id);
    res.status(204).end();
  });
  return router;
}
