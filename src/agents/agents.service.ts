import { agentActor, hasRole, type AgentActor } from '../shared/auth/actor.js';
import type { User, UserStatus } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import { hashPassword } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { AddMemberBody, CreateAgent, UpdateMemberBody } from './agents.schemas.js';

export type AgentService = ReturnType<typeof createAgentService>;

/**
 * Agents and their team: who may sign in, with which role and queues. Team calls are scoped to
 * the actor's organization (another tenant's member is "not found"); role gates are the routes'.
 */
export function createAgentService({ db, bus }: { db: Db; bus: EventBus }) {
  /** Adds an agent to an organization. The email must be new to the whole platform. */
  async function createAgent(data: CreateAgent) {
    const org = await db.organization.findUnique({
      where: { id: data.organizationId },
      select: { id: true },
    });
    if (!org) throw new AppError('organization/not_found', 'Organization not found');
    if (await db.user.findUnique({ where: { email: data.email }, select: { id: true } })) {
      throw new AppError('user/email_taken', `An account with email ${data.email} already exists`);
    }
    return db.user.create({
      data: {
        organizationId: data.organizationId,
        email: data.email,
        passwordHash: await hashPassword(data.password),
        role: data.role,
        displayName: data.displayName ?? data.email.split('@')[0]!,
        routingKeys: data.routingKeys,
      },
    });
  }

  // Their sockets are closed and their sessions end (realtime listeners).
  const deactivated = (user: { id: string; organizationId: string }) =>
    bus.publish('agent.deactivated', { organizationId: user.organizationId, userId: user.id });

  /** The member's role or queues changed: their sockets follow (realtime listeners). */
  const accessChanged = (before: User, after: User) => {
    const sameKeys =
      before.routingKeys.length === after.routingKeys.length &&
      before.routingKeys.every((k) => after.routingKeys.includes(k));
    if (before.role === after.role && sameKeys) return;
    bus.publish('agent.access_changed', {
      organizationId: after.organizationId,
      userId: after.id,
      role: after.role,
      routingKeys: after.routingKeys,
    });
  };

  async function requireMember(actor: AgentActor, id: string) {
    const user = await db.user.findFirst({ where: { id, organizationId: actor.organizationId } });
    if (!user) throw new AppError('not_found', 'Team member not found');
    return user;
  }

  return {
    createAgent,
    accessChanged,

    /**
     * The actor for a signed-in user id, or null if the user is gone or deactivated or their
     * organization is suspended (sessions then end, sockets are refused at the next check).
     */
    async actorFor(userId: string): Promise<AgentActor | null> {
      // One statement (the organization is a filter, not a second read): every agent request
      // and socket handshake asks this.
      const u = await db.user.findFirst({
        where: { id: userId, status: 'active', organization: { status: 'active' } },
        select: { id: true, organizationId: true, role: true, displayName: true, routingKeys: true },
      });
      if (!u) return null;
      return agentActor({ ...u, userId: u.id });
    },

    /** The team, by name: admins see everyone, agents only active members. */
    async listTeam(actor: AgentActor) {
      const users = await db.user.findMany({
        where: { organizationId: actor.organizationId },
        orderBy: [{ displayName: 'asc' }, { id: 'asc' }],
      });
      return hasRole(actor, 'admin') ? users : users.filter((u) => u.status === 'active');
    },

    /** Admins add agents and admins; only an owner makes another owner. */
    async addMember(actor: AgentActor, input: AddMemberBody) {
      if (input.role === 'owner' && !hasRole(actor, 'owner')) {
        throw new AppError('auth/forbidden', 'Only an owner can add an owner');
      }
      return createAgent({
        organizationId: actor.organizationId,
        email: input.email,
        password: input.password,
        role: input.role,
        displayName: input.display_name,
        routingKeys: input.routing_keys,
      });
    },

    /**
     * Changes a member's role, status, name or queues (routing keys). Nobody changes their own
     * role or status (so an organization can't lock itself out), and only owners touch owners.
     * Deactivating publishes `agent.deactivated` (their sockets are closed); a new role or new
     * queues `agent.access_changed` (their sockets follow without a new sign-in).
     */
    async updateMember(actor: AgentActor, id: string, input: UpdateMemberBody) {
      const user = await requireMember(actor, id);
      const changesAccess = input.role !== undefined || input.status !== undefined;
      if (changesAccess && user.id === actor.userId) {
        throw new AppError('auth/forbidden', 'You cannot change your own role or status');
      }
      if ((user.role === 'owner' || input.role === 'owner') && !hasRole(actor, 'owner')) {
        throw new AppError('auth/forbidden', 'Only an owner can change an owner or make one');
      }
      const updated = await db.user.update({
        where: { id: user.id },
        data: {
          ...(input.role ? { role: input.role } : {}),
          ...(input.status ? { status: input.status } : {}),
          ...(input.display_name ? { displayName: input.display_name } : {}),
          ...(input.routing_keys ? { routingKeys: input.routing_keys } : {}),
        },
      });
      if (input.status === 'deactivated' && user.status !== 'deactivated') deactivated(user);
      else accessChanged(user, updated);
      return updated;
    },

    /**
     * Sets a member's status without an acting agent (the tenant backend manages its delegated
     * operators): deactivating publishes `agent.deactivated` as `updateMember` does.
     */
    async setStatus(user: { id: string; organizationId: string; status: string }, status: UserStatus) {
      const updated = await db.user.update({ where: { id: user.id }, data: { status } });
      if (status === 'deactivated' && user.status !== 'deactivated') deactivated(user);
      return updated;
    },
  };
}
