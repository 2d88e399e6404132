import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import { ticketDto } from './tickets.dto.js';
import {
  ticketTransitions,
  type CreateTicket,
  type ListTickets,
  type UpdateTicket,
} from './tickets.schemas.js';

export type TicketService = ReturnType<typeof createTicketService>;

/** Whose tickets a caller sees: an organization's, all queues (null) or only these. */
export type TicketScope = { organizationId: string; routingKeys: string[] | null };

/** A transaction's client, or the database's. */
type Tx = Prisma.TransactionClient | Db;

const notFound = () => new AppError('ticket/not_found', 'Ticket not found');
const badCursor = () =>
  new AppError('request/invalid', "Invalid parameter 'cursor': use the next_cursor of the previous page", {
    param: 'cursor',
  });

const assigneeSelect = { select: { id: true, displayName: true, externalId: true } } as const;

const cursorOf = (t: { createdAt: Date; id: string }) =>
  Buffer.from(`${t.createdAt.toISOString()}|${t.id}`, 'utf8').toString('base64url');

function readCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(createdAt.getTime())) throw badCursor();
  return { createdAt, id };
}

/** The tickets a scope sees: its organization's, in its queues (a ticket with no queue: everyone's). */
const visible = (scope: TicketScope): Prisma.TicketWhereInput => ({
  organizationId: scope.organizationId,
  ...(scope.routingKeys ? { OR: [{ routingKey: null }, { routingKey: { in: scope.routingKeys } }] } : {}),
});

/**
 * Tickets: numbered per organization, created on escalation (or by hand), worked from open to
 * closed, assigned to agents who see their queue. The database's triggers queue their webhooks
 * (`ticket-created`, `ticket-assigned`, `ticket-resolved`) in the same transaction; `ticket.changed`
 * tells the inboxes.
 */
export function createTicketService({ db, bus }: { db: Db; bus: EventBus }) {
  async function requireTicket(scope: TicketScope, id: string) {
    const ticket = await db.ticket.findFirst({
      where: { id, ...visible(scope) },
      include: { assignee: assigneeSelect },
    });
    if (!ticket) throw notFound();
    return ticket;
  }

  /** An active agent of the organization who sees the queue, or `ticket/bad_assignee`. */
  async function requireAssignee(organizationId: string, userId: string, routingKey: string | null) {
    const user = await db.user.findFirst({ where: { id: userId, organizationId, status: 'active' } });
    const seesQueue =
      user &&
      (user.role !== 'agent' ||
        user.routingKeys.length === 0 ||
        routingKey === null ||
        user.routingKeys.includes(routingKey));
    if (!seesQueue) {
      throw new AppError(
        'ticket/bad_assignee',
        "Invalid parameter 'assignee_id': not an active agent of this organization who sees the ticket's queue",
        { param: 'assignee_id' },
      );
    }
    return user;
  }

  const changed = (
    t: { id: string; organizationId: string; routingKey: string | null },
    kind: 'created' | 'updated',
  ) =>
    bus.publish('ticket.changed', {
      organizationId: t.organizationId,
      ticketId: t.id,
      routingKey: t.routingKey,
      kind,
    });

  return {
    requireTicket,

    /**
     * A new ticket in `tx` (an escalation's transaction, or its own): the organization's next
     * number (its row lock orders concurrent creations). The caller publishes `ticket.changed`.
     */
    async createIn(
      tx: Tx,
      organizationId: string,
      input: Omit<CreateTicket, 'priority'> & { priority?: CreateTicket['priority'] },
    ) {
      const { lastTicketNumber } = await tx.organization.update({
        where: { id: organizationId },
        data: { lastTicketNumber: { increment: 1 } },
        select: { lastTicketNumber: true },
      });
      return tx.ticket.create({
        data: {
          organizationId,
          number: lastTicketNumber,
          subject: input.subject,
          summary: input.summary ?? '',
          priority: input.priority ?? 'normal',
          conversationId: input.conversation_id ?? null,
          routingKey: input.routing_key ?? null,
        },
        include: { assignee: assigneeSelect },
      });
    },

    /** A ticket by hand. A conversation given must be the scope's; its queue becomes the ticket's. */
    async create(scope: TicketScope, input: CreateTicket) {
      let routingKey = input.routing_key ?? null;
      if (input.conversation_id) {
        const conv = await db.conversation.findFirst({
          where: {
            id: input.conversation_id,
            organizationId: scope.organizationId,
            ...(scope.routingKeys ? { routingKey: { in: scope.routingKeys } } : {}),
          },
          select: { routingKey: true },
        });
        if (!conv) throw new AppError('conversation/not_found', 'Conversation not found');
        routingKey = conv.routingKey;
      }
      if (scope.routingKeys && (routingKey === null || !scope.routingKeys.includes(routingKey))) {
        // An agent restricted to queues files tickets in one of them.
        routingKey = routingKey ?? scope.routingKeys[0] ?? null;
      }
      const ticket = await db.$transaction((tx) =>
        this.createIn(tx, scope.organizationId, { ...input, routing_key: routingKey ?? undefined }),
      );
      changed(ticket, 'created');
      return ticketDto(ticket);
    },

    /** Tickets newest first, filtered, a page at a time. */
    async list(scope: TicketScope, q: ListTickets) {
      const after = q.cursor ? readCursor(q.cursor) : undefined;
      const rows = await db.ticket.findMany({
        where: {
          AND: [
            visible(scope),
            {
              ...(q.status ? { status: q.status } : {}),
              ...(q.priority ? { priority: q.priority } : {}),
              ...(q.assignee_id ? { assigneeId: q.assignee_id } : {}),
              ...(q.routing_key ? { routingKey: q.routing_key } : {}),
              ...(q.conversation_id ? { conversationId: q.conversation_id } : {}),
            },
            after
              ? {
                  OR: [
                    { createdAt: { lt: after.createdAt } },
                    { createdAt: after.createdAt, id: { lt: after.id } },
                  ],
                }
              : {},
          ],
        },
        include: { assignee: assigneeSelect },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: q.limit + 1,
      });
      const items = rows.slice(0, q.limit);
      const last = items.at(-1);
      return {
        items: items.map(ticketDto),
        next_cursor: rows.length > q.limit && last ? cursorOf(last) : null,
      };
    },

    async get(scope: TicketScope, id: string) {
      return ticketDto(await requireTicket(scope, id));
    },

    /**
     * Changes status (along `ticketTransitions`; 409 `ticket/bad_transition` otherwise), priority,
     * subject or assignee (an active agent who sees the queue; null unassigns). Resolving and
     * closing record their times; reopening clears them.
     */
    async update(scope: TicketScope, id: string, patch: UpdateTicket) {
      const ticket = await requireTicket(scope, id);
      const data: Prisma.TicketUpdateInput = {};
      if (patch.status !== undefined && patch.status !== ticket.status) {
        if (!ticketTransitions[ticket.status].includes(patch.status)) {
          throw new AppError(
            'ticket/bad_transition',
            `A ${ticket.status} ticket cannot become ${patch.status}: it may become ${ticketTransitions[ticket.status].join(', ')}`,
          );
        }
        data.status = patch.status;
        const now = new Date();
        if (patch.status === 'resolved') data.resolvedAt = now;
        if (patch.status === 'closed') data.closedAt = now;
        if (patch.status === 'open') {
          data.resolvedAt = null;
          data.closedAt = null;
        }
      }
      if (patch.priority !== undefined) data.priority = patch.priority;
      if (patch.subject !== undefined) data.subject = patch.subject;
      if (patch.assignee_id !== undefined) {
        if (patch.assignee_id === null) data.assignee = { disconnect: true };
        else {
          await requireAssignee(ticket.organizationId, patch.assignee_id, ticket.routingKey);
          data.assignee = { connect: { id: patch.assignee_id } };
        }
      }
      const updated = await db.ticket.update({
        where: { id: ticket.id },
        data,
        include: { assignee: assigneeSelect },
      });
      changed(updated, 'updated');
      return ticketDto(updated);
    },
  };
}
