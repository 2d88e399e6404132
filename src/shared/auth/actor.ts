import type { UserRole } from '../../generated/prisma/client.js';

/** A signed-in agent, as services see them. Built from the session on every request/socket. */
export type AgentActor = {
  kind: 'agent';
  userId: string;
  organizationId: string;
  role: UserRole;
  displayName: string;
  /** Empty: every queue. Otherwise only conversations whose routing key is listed. */
  routingKeys: string[];
};

/** A visitor or app user, proven by the external_id their conversation was opened with. */
export type EndUserActor = {
  kind: 'end_user';
  organizationId: string;
  endUserId: string;
  externalId: string;
};

export type Actor = AgentActor | EndUserActor;

/** An agent as read from `users` (active, of an active organization): the actor they act as. */
export const agentActor = (u: Omit<AgentActor, 'kind'>): AgentActor => ({
  kind: 'agent',
  userId: u.userId,
  organizationId: u.organizationId,
  role: u.role,
  displayName: u.displayName,
  routingKeys: u.routingKeys,
});

const rank: Record<UserRole, number> = { agent: 0, admin: 1, owner: 2 };

export const hasRole = (actor: AgentActor, min: UserRole) => rank[actor.role] >= rank[min];

/** Owners and admins see every queue; agents with routing keys only theirs. */
export const seesAllQueues = (actor: AgentActor) => hasRole(actor, 'admin') || actor.routingKeys.length === 0;
