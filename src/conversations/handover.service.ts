import { hasRole, seesAllQueues, type AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { TransferBody } from './conversations.schemas.js';
import type { ConversationService } from './conversations.service.js';

export type HandoverService = ReturnType<typeof createHandoverService>;

const badTarget = (message: string) => new AppError('conversation/bad_transfer_target', message);

/**
 * Release (back to the queue) and transfer (to another agent) of a conversation's open session.
 * Both are compare-and-set on the current assignee, as `assign` is: of two racing changes exactly
 * one wins and the other gets 409, so an agent never loses a conversation they did not give away.
 */
export function createHandoverService({
  db,
  bus,
  conversations,
}: {
  db: Db;
  bus: EventBus;
  conversations: Pick<ConversationService, 'requireWithOpenSession'>;
}) {
  /**
   * The conversation and its open, assigned session, if the actor may hand it over: they hold it,
   * or they are an admin or owner. Another tenant's (or another queue's) is 404.
   */
  async function requireHeld(actor: AgentActor, id: string) {
    const conv = await conversations.requireWithOpenSession(actor, id);
    const { open } = conv;
    if (!open?.assignedAgentId) {
      throw new AppError('conversation/not_assigned', 'The conversation is not assigned to anyone');
    }
    if (open.assignedAgentId !== actor.userId && !hasRole(actor, 'admin')) {
      throw new AppError('conversation/not_assigned', 'The conversation is not assigned to you');
    }
    return { conv, open: { id: open.id, assignedAgentId: open.assignedAgentId } };
  }

  /** The assignee changed between the read and the write: somebody else's change won. */
  const lostRace = () =>
    new AppError('conversation/not_assigned', 'The conversation changed hands meanwhile; reload it');

  return {
    /** Puts the open session back in the queue (unassigned). The holder, an admin or an owner. */
    async release(actor: AgentActor, id: string) {
      const { conv, open } = await requireHeld(actor, id);
      const releasedAt = new Date();
      const { count } = await db.conversationSession.updateMany({
        where: { id: open.id, status: 'open', assignedAgentId: open.assignedAgentId },
        data: { assignedAgentId: null, assignedAt: null },
      });
      if (count === 0) throw lostRace();
      bus.publish('conversation.released', {
        organizationId: conv.organizationId,
        conversationId: conv.id,
        routingKey: conv.routingKey,
        sessionId: open.id,
        agentId: open.assignedAgentId,
        releasedBy: actor.userId,
        releasedAt,
      });
      return {
        id: conv.id,
        session_id: open.id,
        assigned_agent_id: null,
        released_from: open.assignedAgentId,
        released_at: releasedAt.toISOString(),
      };
    },

    /**
     * Moves the open session to another active agent of the organization who may see the
     * conversation (their routing keys include its queue). The holder, an admin or an owner.
     */
    async transfer(actor: AgentActor, id: string, { agent_id: to }: TransferBody) {
      const { conv, open } = await requireHeld(actor, id);
      const target = await db.user.findFirst({
        where: { id: to, organizationId: conv.organizationId },
        select: { id: true, status: true, role: true, routingKeys: true },
      });
      // An unknown id and another tenant's agent are the same answer.
      if (!target) throw badTarget('No such agent in this organization');
      if (target.status !== 'active') throw badTarget('That agent is deactivated');
      const sees =
        seesAllQueues({ ...actor, role: target.role, routingKeys: target.routingKeys }) ||
        (conv.routingKey !== null && target.routingKeys.includes(conv.routingKey));
      if (!sees) throw badTarget("That agent's queues do not include this conversation");
      if (target.id === open.assignedAgentId) throw badTarget('That agent already holds the conversation');
      const transferredAt = new Date();
      const { count } = await db.conversationSession.updateMany({
        where: { id: open.id, status: 'open', assignedAgentId: open.assignedAgentId },
        data: { assignedAgentId: target.id, assignedAt: transferredAt },
      });
      if (count === 0) throw lostRace();
      bus.publish('conversation.transferred', {
        organizationId: conv.organizationId,
        conversationId: conv.id,
        routingKey: conv.routingKey,
        sessionId: open.id,
        fromAgentId: open.assignedAgentId,
        toAgentId: target.id,
        transferredBy: actor.userId,
        transferredAt,
      });
      return {
        id: conv.id,
        session_id: open.id,
        assigned_agent_id: target.id,
        transferred_from: open.assignedAgentId,
        assigned_at: transferredAt.toISOString(),
      };
    },
  };
}
