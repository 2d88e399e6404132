import { z } from 'zod';
import { externalId, routingKey, text, uuid } from '../shared/validation.js';

export const ticketStatuses = ['open', 'pending', 'resolved', 'closed'] as const;
export const ticketPriorities = ['low', 'normal', 'high', 'urgent'] as const;
export type TicketPriority = (typeof ticketPriorities)[number];

const status = z.enum(ticketStatuses, { error: `must be one of ${ticketStatuses.join(', ')}` });
const priority = z.enum(ticketPriorities, { error: `must be one of ${ticketPriorities.join(', ')}` });
const subject = text().trim().min(1, 'must not be empty').max(200);
const summary = text().max(10_000);

/** Where a status may go: forward, and back to open (a reopened ticket). */
export const ticketTransitions: Record<(typeof ticketStatuses)[number], readonly string[]> = {
  open: ['pending', 'resolved', 'closed'],
  pending: ['open', 'resolved', 'closed'],
  resolved: ['open', 'closed'],
  closed: ['open'],
};

/** `GET …/tickets?status=&priority=&assignee_id=&routing_key=&conversation_id=&limit=&cursor=`: newest first. */
export const listTicketsSchema = z.object({
  status: status.optional(),
  priority: priority.optional(),
  assignee_id: uuid.optional(),
  routing_key: routingKey.optional(),
  conversation_id: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(100, 'must be at most 100').default(20),
  cursor: text().trim().min(1).max(200).optional(),
});
export type ListTickets = z.infer<typeof listTicketsSchema>;

/** `PATCH …/tickets/:id`: any of these (at least one); `assignee_id: null` unassigns. */
export const updateTicketSchema = z
  .strictObject({
    status: status.optional(),
    priority: priority.optional(),
    subject: subject.optional(),
    assignee_id: uuid.nullable().optional(),
  })
  .refine(
    (v) => Object.keys(v).length > 0,
    'must change at least one of status, priority, subject, assignee_id',
  );
export type UpdateTicket = z.infer<typeof updateTicketSchema>;

/** The signed API names an assignee by operator `external_id` too. */
export const signedUpdateTicketSchema = z
  .strictObject({
    status: status.optional(),
    priority: priority.optional(),
    subject: subject.optional(),
    assignee_id: uuid.nullable().optional(),
    assignee_external_id: externalId.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'must change at least one field')
  .refine(
    (v) => !(v.assignee_id !== undefined && v.assignee_external_id !== undefined),
    'give assignee_id or assignee_external_id, not both',
  );
export type SignedUpdateTicket = z.infer<typeof signedUpdateTicketSchema>;

/** `POST …/tickets`: a ticket by hand, on a conversation or on its own. */
export const createTicketSchema = z.strictObject({
  subject,
  summary: summary.optional(),
  priority: priority.default('normal'),
  conversation_id: uuid.optional(),
  routing_key: routingKey.optional(),
});
export type CreateTicket = z.infer<typeof createTicketSchema>;

/** `POST /api/v1/relay/conversations/:id/escalate`: the backend hands the conversation to the humans. */
export const escalateSchema = z.strictObject({
  reason: text().trim().min(1).max(200).default('backend_request'),
  subject: subject.optional(),
  priority: priority.default('normal'),
});
export type Escalate = z.infer<typeof escalateSchema>;
