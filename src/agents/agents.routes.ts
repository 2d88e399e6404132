import { Router } from 'express';
import { agentApi, agentOf, requireRole } from '../auth/auth.middleware.js';
import { hasRole } from '../shared/auth/actor.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { memberDto } from './agents.dto.js';
import { addMemberBodySchema, updateMemberBodySchema } from './agents.schemas.js';
import type { AgentService } from './agents.service.js';

/**
 * The team under `/api/team`: every agent lists it (the inbox shows everyone's presence; emails
 * for admins only), admins add and change members. Session cookie plus X-CSRFToken on writes.
 */
export function teamRoutes({ agents }: { agents: AgentService }): Router {
  const router = Router();
  const admin = [...agentApi, requireRole('admin')];

  router.get('/api/team', ...agentApi, async (req, res) => {
    const actor = agentOf(req);
    const admins = hasRole(actor, 'admin');
    res.json((await agents.listTeam(actor)).map((u) => memberDto(u, admins)));
  });
  router.post('/api/team', ...admin, validate('body', addMemberBodySchema), async (req, res) => {
    const user = await agents.addMember(agentOf(req), valid(req, 'body', addMemberBodySchema));
    res.status(201).json(memberDto(user, true));
  });
  router.patch(
    '/api/team/:id',
    ...admin,
    validate('params', idParams),
    validate('body', updateMemberBodySchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const user = await agents.updateMember(agentOf(req), id, valid(req, 'body', updateMemberBodySchema));
      res.json(memberDto(user, true));
    },
  );
  return router;
}
