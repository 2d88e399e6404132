import type { Prisma, Rating } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { ContactInput, RatingInput } from './ratings.schemas.js';

export type RatingService = ReturnType<typeof createRatingService>;

/** The visitor a gateway authenticated (relay token, widget external id), and their conversation. */
export type RatingActor = { organizationId: string; conversationId: string; endUserId: string };

const asObject = (v: Prisma.JsonValue | undefined): Prisma.JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};

/** A rating as agents and the visitor see it. */
export function ratingDto(r: Rating) {
  return {
    session_id: r.sessionId,
    conversation_id: r.conversationId,
    score: r.score,
    comment: r.comment,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}
export type RatingDto = ReturnType<typeof ratingDto>;

/** The email a visitor left (`metadata.email`), unverified: they typed it, nobody checked it. */
export function contactOf(metadata: Prisma.JsonValue): { email: string; verified: boolean } | null {
  const m = asObject(metadata);
  return typeof m.email === 'string' && m.email
    ? { email: m.email, verified: m.email_verified === true }
    : null;
}

/** How many ratings were given since `from`, their average (null: none) and how many of each score. */
export async function ratingSummary(db: Db, organizationId: string, from: Date) {
  const rows = await db.rating.groupBy({
    by: ['score'],
    where: { organizationId, createdAt: { gte: from } },
    _count: { _all: true },
  });
  const by_score: Record<'1' | '2' | '3' | '4' | '5', number> = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 };
  let count = 0;
  let sum = 0;
  for (const r of rows) {
    const key = String(r.score) as keyof typeof by_score;
    if (!(key in by_score)) continue;
    by_score[key] = r._count._all;
    count += r._count._all;
    sum += r.score * r._count._all;
  }
  return { count, average: count ? Math.round((sum / count) * 100) / 100 : null, by_score };
}

/**
 * Visitors' ratings of resolved support interactions (one per session; rating again replaces it)
 * and the email a visitor leaves to be answered at while nobody is there.
 */
export function createRatingService({ db, bus }: { db: Db; bus: EventBus }) {
  return {
    /**
     * Rates the conversation's latest resolved session (or `session_id`, one of its resolved ones).
     * `rating/not_resolved` (409) while none is; `created` is false when it replaced a rating.
     */
    async rate(actor: RatingActor, input: RatingInput) {
      const session = await db.conversationSession.findFirst({
        where: {
          conversationId: actor.conversationId,
          organizationId: actor.organizationId,
          status: 'resolved',
          ...(input.session_id ? { id: input.session_id } : {}),
        },
        orderBy: [{ resolvedAt: 'desc' }, { createdAt: 'desc' }],
        select: { id: true, conversation: { select: { routingKey: true } } },
      });
      if (!session) {
        throw new AppError(
          'rating/not_resolved',
          'There is nothing to rate yet: a conversation can be rated once an agent has resolved it',
        );
      }
      const before = await db.rating.findUnique({ where: { sessionId: session.id }, select: { id: true } });
      const data = { score: input.score, comment: input.comment ?? null };
      const rating = await db.rating.upsert({
        where: { sessionId: session.id },
        create: {
          organizationId: actor.organizationId,
          conversationId: actor.conversationId,
          sessionId: session.id,
          endUserId: actor.endUserId,
          ...data,
        },
        update: data,
      });
      bus.publish('conversation.rated', {
        organizationId: actor.organizationId,
        conversationId: actor.conversationId,
        routingKey: session.conversation.routingKey,
        rating: ratingDto(rating),
      });
      return { rating: ratingDto(rating), created: !before };
    },

    /** The conversation's latest rating, or null. */
    async latestFor(conversationId: string): Promise<RatingDto | null> {
      const r = await db.rating.findFirst({ where: { conversationId }, orderBy: { updatedAt: 'desc' } });
      return r ? ratingDto(r) : null;
    },

    summary: (organizationId: string, from: Date) => ratingSummary(db, organizationId, from),

    /**
     * Records the email a visitor left to be answered at (`metadata.email`, unverified) on their end
     * user; agents see it on the conversation.
     */
    async leaveContact(actor: RatingActor, { email }: ContactInput) {
      const routingKey = await db.$transaction(async (tx) => {
        const [row] = await tx.$queryRaw<{ metadata: Prisma.JsonValue; routingKey: string | null }[]>`
          SELECT e.metadata, c.routing_key AS "routingKey"
          FROM end_users e JOIN conversations c ON c.end_user_id = e.id AND c.id = ${actor.conversationId}::uuid
          WHERE e.id = ${actor.endUserId}::uuid FOR UPDATE OF e`;
        if (!row) throw new AppError('conversation/not_found', 'Conversation not found');
        await tx.endUser.update({
          where: { id: actor.endUserId },
          data: { metadata: { ...asObject(row.metadata), email, email_verified: false } },
        });
        return row.routingKey;
      });
      bus.publish('conversation.contact_left', {
        organizationId: actor.organizationId,
        conversationId: actor.conversationId,
        routingKey,
        email,
      });
      return { email, verified: false };
    },
  };
}
