import { Router } from 'express';
import { agentOf } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { visitorPatchSchema } from './visitor-profile.schemas.js';
import type { VisitorProfileService } from './visitor-profile.service.js';

/** `GET` and `PATCH /api/conversations/:id/visitor` (mounted behind `agentApi`: session, CSRF). */
export function visitorProfileRoutes(deps: { visitorProfiles: VisitorProfileService }): Router {
  const { visitorProfiles } = deps;
  const router = Router();

  router.get('/:id/visitor', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    res.json(await visitorProfiles.get(agentOf(req), id));
  });

  router.patch(
    '/:id/visitor',
    validate('params', idParams),
    validate('body', visitorPatchSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.json(await visitorProfiles.update(agentOf(req), id, valid(req, 'body', visitorPatchSchema)));
    },
  );

  return router;
}
