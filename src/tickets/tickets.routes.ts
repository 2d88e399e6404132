import { Router, type Request } from 'express';
import { agentOf } from '../auth/auth.middleware.js';
import { seesAllQueues } from '../shared/auth/actor.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { createTicketSchema, listTicketsSchema, updateTicketSchema } from './tickets.schemas.js';
import type { TicketScope, TicketService } from './tickets.service.js';

/** The signed-in agent's tickets: their organization's, in the queues they see. */
function scopeOf(req: Request): TicketScope {
  const actor = agentOf(req);
  return {
    organizationId: actor.organizationId,
    routingKeys: seesAllQueues(actor) ? null : actor.routingKeys,
  };
}

/**
 * The agents' tickets under `/api/tickets` (mounted behind `agentApi`: session, CSRF on writes):
 * list (filtered, newest first, cursor paging), one, create, and change status, priority, subject
 * or assignee.
 */
export function ticketRoutes({ tickets }: { tickets: TicketService }): Router {
  const router = Router();
  router.get('/', validate('query', listTicketsSchema), async (req, res) => {
    res.json(await tickets.list(scopeOf(req), valid(req, 'query', listTicketsSchema)));
  });
  router.post('/', validate('body', createTicketSchema), async (req, res) => {
    res.status(201).json(await tickets.create(scopeOf(req), valid(req, 'body', createTicketSchema)));
  });
  router.get('/:id', validate('params', idParams), async (req, res) => {
    res.json(await tickets.get(scopeOf(req), valid(req, 'params', idParams).id));
  });
  router.patch(
    '/:id',
    validate('params', idParams),
    validate('body', updateTicketSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.json(await tickets.update(scopeOf(req), id, valid(req, 'body', updateTicketSchema)));
    },
  );
  return router;
}
