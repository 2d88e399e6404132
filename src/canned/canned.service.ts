import { Prisma, type CannedReply } from '../generated/prisma/client.js';
import { hasRole, type AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import { visibleTo } from '../conversations/conversations.service.js';
import { cannedDto } from './canned.dto.js';
import type { CannedVariable } from './canned.fill.js';
import type { CreateCanned, UpdateCanned } from './canned.schemas.js';

export type CannedService = ReturnType<typeof createCannedService>;

const notFound = () => new AppError('not_found', 'Canned reply not found');
const adminsOnly = () =>
  new AppError('auth/forbidden', "Only admins manage the organization's canned replies");
const duplicate = (shortcut: string, tenant: boolean) =>
  new AppError(
    'conflict',
    `The shortcut /${shortcut} is already used by ${tenant ? "one of the organization's" : 'one of your'} canned replies`,
    { param: 'shortcut' },
  );

const isUniqueViolation = (err: unknown) =>
  err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

/**
 * Canned replies: the organization's (no owner; admins manage them) and each agent's own. An
 * agent sees both; another agent's own replies, like another organization's, do not exist for them.
 */
export function createCannedService({ db }: { db: Db }) {
  const editable = (actor: AgentActor, c: CannedReply) =>
    c.ownerId === actor.userId || (c.ownerId === null && hasRole(actor, 'admin'));

  /** The reply if the actor sees it (404 otherwise), and may change it (403 otherwise). */
  async function requireEditable(actor: AgentActor, id: string) {
    const c = await db.cannedReply.findFirst({
      where: { id, organizationId: actor.organizationId, OR: [{ ownerId: null }, { ownerId: actor.userId }] },
    });
    if (!c) throw notFound();
    if (!editable(actor, c)) throw adminsOnly();
    return c;
  }

  return {
    /** The organization's canned replies and the actor's own, by shortcut (theirs first on a tie). */
    async list(actor: AgentActor) {
      const rows = await db.cannedReply.findMany({
        where: {
          organizationId: actor.organizationId,
          OR: [{ ownerId: null }, { ownerId: actor.userId }],
        },
        orderBy: [{ shortcut: 'asc' }, { ownerId: { sort: 'asc', nulls: 'last' } }],
      });
      return rows.map((c) => cannedDto(c, editable(actor, c)));
    },

    /** Creates one of the actor's own, or (admins) one of the organization's; 409 on a taken shortcut. */
    async create(actor: AgentActor, input: CreateCanned) {
      const tenant = input.scope === 'tenant';
      if (tenant && !hasRole(actor, 'admin')) throw adminsOnly();
      try {
        const c = await db.cannedReply.create({
          data: {
            organizationId: actor.organizationId,
            ownerId: tenant ? null : actor.userId,
            shortcut: input.shortcut,
            title: input.title,
            body: input.body,
          },
        });
        return cannedDto(c, true);
      } catch (err) {
        if (isUniqueViolation(err)) throw duplicate(input.shortcut, tenant);
        throw err;
      }
    },

    /** Changes a reply the actor may edit; 409 when the new shortcut is taken in its scope. */
    async update(actor: AgentActor, id: string, input: UpdateCanned) {
      const current = await requireEditable(actor, id);
      try {
        const c = await db.cannedReply.update({ where: { id: current.id }, data: input });
        return cannedDto(c, true);
      } catch (err) {
        if (isUniqueViolation(err)) throw duplicate(input.shortcut ?? current.shortcut, !current.ownerId);
        throw err;
      }
    },

    /** Deletes a reply the actor may edit. */
    async remove(actor: AgentActor, id: string) {
      const current = await requireEditable(actor, id);
      await db.cannedReply.delete({ where: { id: current.id } });
    },

    /**
     * What the variables stand for in one of the actor's conversations (404 for one they do not
     * see); null where there is no value, so the variable stays visible.
     */
    async variables(
      actor: AgentActor,
      conversationId: string,
    ): Promise<Record<CannedVariable, string | null>> {
      const conv = await db.conversation.findFirst({
        where: { id: conversationId, ...visibleTo(actor) },
        select: { id: true, endUser: { select: { displayName: true, email: true } } },
      });
      if (!conv) throw new AppError('conversation/not_found', 'Conversation not found');
      return {
        'visitor.name': conv.endUser.displayName,
        'visitor.email': conv.endUser.email,
        'agent.name': actor.displayName,
        'conversation.id': conv.id,
      };
    },
  };
}
