import type { AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { hashPassword } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import { createAgentSchema, type CreateAgentInput } from './agents.schemas.js';

export type AgentService = ReturnType<typeof createAgentService>;

export function createAgentService({ db }: { db: Db }) {
  return {
    /** The actor for a signed-in user id, or null if the user is gone or deactivated. */
    async actorFor(userId: string): Promise<AgentActor | null> {
      const u = await db.user.findUnique({ where: { id: userId } });
      if (!u || u.status !== 'active') return null;
      return {
        kind: 'agent',
        userId: u.id,
        organizationId: u.organizationId,
        role: u.role,
        displayName: u.displayName,
        routingKeys: u.routingKeys,
      };
    },

    /** Adds an agent to an organization. The email must be new to the whole platform. */
    async createAgent(input: CreateAgentInput) {
      const data = createAgentSchema.parse(input);
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
    },
  };
}
