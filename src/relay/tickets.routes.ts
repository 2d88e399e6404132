import { Router, type Response } from 'express';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import type { EscalationService } from '../tickets/escalation.service.js';
import {
  createTicketSchema,
  escalateSchema,
  listTicketsSchema,
  signedUpdateTicketSchema,
} from '../tickets/tickets.schemas.js';
import type { TicketService } from '../tickets/tickets.service.js';
import type { SignedCaller } from './hmac.middleware.js';
import type { OperatorService } from './operators.service.js';
import { reply } from './relay.envelope.js';

/**
 * The tenant backend's tickets and escalation, `/api/v1/relay/*` (signed): list, get, create and
 * update tickets (the assignee by id or by operator `external_id`), and hand a conversation from
 * the bot to the humans.
 */
export function signedTicketRoutes({
  tickets,
  escalations,
  operators,
  signed,
}: {
  tickets: TicketService;
  escalations: EscalationService;
  operators: Pick<OperatorService, 'requireOperator'>;
  signed: (res: Response) => SignedCaller;
}): Router {
  const router = Router();
  const scope = (res: Response) => ({ organizationId: signed(res).org.id, routingKeys: null });

  router.get('/tickets', validate('query', listTicketsSchema), async (req, res) => {
    reply(res, 200, await tickets.list(scope(res), valid(req, 'query', listTicketsSchema)), 'Tickets.');
  });
  router.post('/tickets', validate('body', createTicketSchema), async (req, res) => {
    reply(
      res,
      201,
      await tickets.create(scope(res), valid(req, 'body', createTicketSchema)),
      'Ticket created.',
    );
  });
  router.get('/tickets/:id', validate('params', idParams), async (req, res) => {
    reply(res, 200, await tickets.get(scope(res), valid(req, 'params', idParams).id), 'Ticket.');
  });
  router.patch(
    '/tickets/:id',
    validate('params', idParams),
    validate('body', signedUpdateTicketSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const { assignee_external_id, ...patch } = valid(req, 'body', signedUpdateTicketSchema);
      if (assignee_external_id !== undefined) {
        patch.assignee_id = (await operators.requireOperator(signed(res).org, assignee_external_id)).id;
      }
      reply(res, 200, await tickets.update(scope(res), id, patch), 'Ticket updated.');
    },
  );
  router.post(
    '/conversations/:id/escalate',
    validate('params', idParams),
    validate('body', escalateSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const input = valid(req, 'body', escalateSchema);
      const result = await escalations.escalate(signed(res).org.id, id, input);
      reply(
        res,
        result.escalated ? 201 : 200,
        result,
        result.escalated ? 'Escalated: the conversation is in the human queue.' : 'Already with the humans.',
      );
    },
  );
  return router;
}
