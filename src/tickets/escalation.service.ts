import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import { ticketDto } from './tickets.dto.js';
import type { TicketPriority } from './tickets.schemas.js';
import type { TicketService } from './tickets.service.js';

export type EscalationService = ReturnType<typeof createEscalationService>;

/** Why a conversation went to the humans. */
export type EscalationReason = 'visitor_request' | 'no_answer' | (string & {});

const TRANSCRIPT_MESSAGES = 30;
const SUMMARY_CHARS = 4000;

const speaker: Record<string, string> = { end_user: 'Visitor', bot: 'Bot', agent: 'Agent', system: 'System' };

/**
 * Escalation: a conversation in `bot` mode goes to the humans. In one transaction its session is
 * opened if none is, its mode becomes `human` (so the bot stops and the queue sees it, waiting
 * unassigned), and a ticket is filed with the transcript so far; the triggers queue
 * `escalation-triggered` and `ticket-created`. Then `conversation.escalated` tells the queue and
 * the bot, which tells the visitor.
 */
export function createEscalationService({
  db,
  bus,
  tickets,
}: {
  db: Db;
  bus: EventBus;
  tickets: TicketService;
}) {
  return {
    /**
     * Escalates the organization's conversation; one already with the humans is left as it is
     * (`escalated: false`, with its latest ticket).
     */
    async escalate(
      organizationId: string,
      conversationId: string,
      opts: { reason: EscalationReason; subject?: string | undefined; priority?: TicketPriority | undefined },
    ) {
      const conv = await db.conversation.findFirst({
        where: { id: conversationId, organizationId },
        include: { endUser: { select: { externalId: true, displayName: true } } },
      });
      if (!conv) throw new AppError('conversation/not_found', 'Conversation not found');
      const result = await db.$transaction(async (tx) => {
        const now = new Date();
        // The row lock first: two escalations of one conversation file one ticket.
        const { count } = await tx.conversation.updateMany({
          where: { id: conv.id, mode: 'bot' },
          data: { botMisses: 0 },
        });
        if (count === 0) return null;
        let session = await tx.conversationSession.findFirst({
          where: { conversationId: conv.id, status: 'open' },
        });
        session ??= await tx.conversationSession.create({
          data: { organizationId, conversationId: conv.id, firstMessageAt: now },
        });
        await tx.conversation.update({
          where: { id: conv.id },
          data: { mode: 'human', escalatedAt: now, escalationReason: opts.reason, updatedAt: now },
        });
        const transcript = (
          await tx.message.findMany({
            // What the visitor and the bot said: agents' internal notes stay out of the ticket.
            where: { conversationId: conv.id, sessionId: session.id, internal: false },
            orderBy: { seq: 'desc' },
            take: TRANSCRIPT_MESSAGES,
          })
        ).reverse();
        const firstQuestion = transcript.find((m) => m.senderType === 'end_user' && m.content.trim());
        const lastVisitor = transcript.findLast((m) => m.senderType === 'end_user');
        const who = conv.endUser.displayName ?? conv.endUser.externalId;
        const summary = [
          `Escalated (${opts.reason}) from a conversation with ${who}.`,
          ...transcript.map(
            (m) => `${speaker[m.senderType] ?? m.senderType}: ${m.content.replace(/\s+/g, ' ').trim()}`,
          ),
        ]
          .join('\n')
          .slice(0, SUMMARY_CHARS);
        const subject =
          opts.subject ??
          (firstQuestion
            ? firstQuestion.content.replace(/\s+/g, ' ').trim().slice(0, 120)
            : `Conversation with ${who}`);
        const ticket = await tickets.createIn(tx, organizationId, {
          subject,
          summary,
          priority: opts.priority,
          conversation_id: conv.id,
          routing_key: conv.routingKey ?? undefined,
        });
        return { session, ticket, content: lastVisitor?.content ?? subject };
      });
      if (!result) {
        const latest = await db.ticket.findFirst({
          where: { conversationId: conv.id },
          orderBy: { createdAt: 'desc' },
          include: { assignee: { select: { id: true, displayName: true, externalId: true } } },
        });
        return { escalated: false, ticket: latest ? ticketDto(latest) : null };
      }
      const { session, ticket, content } = result;
      bus.publish('conversation.escalated', {
        organizationId,
        conversationId: conv.id,
        routingKey: conv.routingKey,
        sessionId: session.id,
        ticketId: ticket.id,
        reason: opts.reason,
        content,
      });
      bus.publish('ticket.changed', {
        organizationId,
        ticketId: ticket.id,
        routingKey: ticket.routingKey,
        kind: 'created',
      });
      return { escalated: true, ticket: ticketDto(ticket) };
    },
  };
}
