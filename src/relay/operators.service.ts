import type { AgentService } from '../agents/agents.service.js';
import type { Organization, User } from '../generated/prisma/client.js';
import { randomToken } from '../shared/crypto.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { OperatorClaims } from './operator.tokens.js';
import type { CreateOperator, ListOperators, UpdateOperator } from './operators.schemas.js';

export type OperatorService = ReturnType<typeof createOperatorService>;

/**
 * A placeholder for an operator created without an email: `users.email` is unique and required,
 * and `.invalid` (RFC 2606) can never be delivered to nor registered.
 */
const placeholderEmail = () => `${randomToken('op', 12).toLowerCase()}@operators.invalid`;

const operatorNotFound = () => new AppError('operator/not_found', 'Operator not found');

/**
 * Operators: agents whose identity the tenant backend vouches for (`externalId`, no password).
 * Every call is scoped to the signing tenant; another tenant's operator is "not found".
 */
export function createOperatorService({ db, agents }: { db: Db; agents: AgentService }) {
  /** The tenant's operator `externalId`, or `operator/not_found`. */
  async function requireOperator(org: Organization, externalId: string): Promise<User> {
    const user = await db.user.findUnique({
      where: { organizationId_externalId: { organizationId: org.id, externalId } },
    });
    if (!user) throw operatorNotFound();
    return user;
  }

  return {
    requireOperator,

    /** A new operator; 409 `operator/exists` for an external id already used by the tenant. */
    async create(org: Organization, input: CreateOperator) {
      const taken = await db.user.findUnique({
        where: { organizationId_externalId: { organizationId: org.id, externalId: input.external_id } },
        select: { id: true },
      });
      if (taken) throw new AppError('operator/exists', `Operator ${input.external_id} already exists`);
      if (
        input.email &&
        (await db.user.findUnique({ where: { email: input.email }, select: { id: true } }))
      ) {
        throw new AppError('user/email_taken', `An account with email ${input.email} already exists`);
      }
      return db.user.create({
        data: {
          organizationId: org.id,
          externalId: input.external_id,
          email: input.email ?? placeholderEmail(),
          passwordHash: null,
          role: input.role,
          displayName: input.display_name ?? input.external_id,
          routingKeys: input.routing_keys,
        },
      });
    },

    /** The tenant's operators by external id, a page at a time (the cursor is the last id seen). */
    async list(org: Organization, q: ListOperators) {
      const rows = await db.user.findMany({
        where: {
          organizationId: org.id,
          externalId: q.cursor === undefined ? { not: null } : { gt: q.cursor },
        },
        orderBy: { externalId: 'asc' },
        take: q.limit + 1,
      });
      const items = rows.slice(0, q.limit);
      return { items, nextCursor: rows.length > q.limit ? (items.at(-1)?.externalId ?? null) : null };
    },

    async update(org: Organization, externalId: string, input: UpdateOperator) {
      const user = await requireOperator(org, externalId);
      const updated = await db.user.update({
        where: { id: user.id },
        data: {
          ...(input.routing_keys ? { routingKeys: input.routing_keys } : {}),
          ...(input.display_name ? { displayName: input.display_name } : {}),
          ...(input.role ? { role: input.role } : {}),
        },
      });
      // Signed into the inbox already: their sockets follow the new queues at once.
      agents.accessChanged(user, updated);
      return updated;
    },

    /** The operator a token may be minted for: an active one. */
    async requireActive(org: Organization, externalId: string) {
      const user = await requireOperator(org, externalId);
      if (user.status !== 'active') {
        throw new AppError('operator/deactivated', 'This operator is deactivated: reactivate it first');
      }
      return user;
    },

    /**
     * The agent a spent operator token signs in (its login time recorded), or null: no claims, an
     * operator gone, renamed, deactivated, or of a suspended organization.
     */
    async signIn(claims: OperatorClaims | null) {
      if (!claims) return null;
      const user = await db.user.findFirst({
        where: { id: claims.userId, organizationId: claims.tenantId, externalId: claims.externalId },
        select: { id: true },
      });
      const actor = user ? await agents.actorFor(user.id) : null;
      if (!actor) return null;
      await db.user.update({ where: { id: actor.userId }, data: { lastLoginAt: new Date() } });
      return actor;
    },

    /** Deactivation closes the operator's sockets and sessions (`agent.deactivated`). */
    async setActive(org: Organization, externalId: string, active: boolean) {
      const user = await requireOperator(org, externalId);
      return agents.setStatus(user, active ? 'active' : 'deactivated');
    },
  };
}
