import type { Ticket, User } from '../generated/prisma/client.js';

export type TicketWithAssignee = Ticket & {
  assignee: Pick<User, 'id' | 'displayName' | 'externalId'> | null;
};

/** A ticket as the inbox and the signed API show it (`Ticket` in the SDKs). */
export const ticketDto = (t: TicketWithAssignee) => ({
  id: t.id,
  number: t.number,
  conversation_id: t.conversationId,
  subject: t.subject,
  summary: t.summary,
  status: t.status,
  priority: t.priority,
  assignee_id: t.assigneeId,
  assignee: t.assignee
    ? { id: t.assignee.id, display_name: t.assignee.displayName, external_id: t.assignee.externalId }
    : null,
  routing_key: t.routingKey,
  created_at: t.createdAt.toISOString(),
  updated_at: t.updatedAt.toISOString(),
  resolved_at: t.resolvedAt?.toISOString() ?? null,
  closed_at: t.closedAt?.toISOString() ?? null,
});
