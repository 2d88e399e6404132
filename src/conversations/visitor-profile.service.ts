import { UAParser } from 'ua-parser-js';
import type { Prisma } from '../generated/prisma/client.js';
import { contactOf } from '../ratings/ratings.service.js';
import type { AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import { visibleTo } from './conversations.service.js';
import type { VisitorPatch } from './visitor-profile.schemas.js';

export type VisitorProfileService = ReturnType<typeof createVisitorProfileService>;

const notFound = () => new AppError('conversation/not_found', 'Conversation not found');

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const asObject = (v: Prisma.JsonValue | undefined): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? v : {};

/** Browser and OS of a User-Agent, by ua-parser-js (null parts: not recognised). */
export function parseUserAgent(ua: string | null) {
  if (!ua) return { browser: null, os: null, device: null };
  const r = new UAParser(ua).getResult();
  const part = (p: { name?: string | undefined; version?: string | undefined }) =>
    p.name ? { name: p.name, version: p.version ?? null } : null;
  return {
    browser: part(r.browser),
    os: part(r.os),
    device: r.device.type ?? null,
  };
}

/** The agents' visitor panel: who the visitor is, where they are, what came before. */
export function createVisitorProfileService({ db, bus }: { db: Db; bus: EventBus }) {
  async function requireConversation(actor: AgentActor, id: string) {
    const conv = await db.conversation.findFirst({
      where: { id, ...visibleTo(actor) },
      include: {
        endUser: true,
        sessions: { orderBy: { createdAt: 'desc' }, take: 20 },
        visitorSessions: { orderBy: { createdAt: 'desc' }, take: 1 },
      },
    });
    if (!conv) throw notFound();
    return conv;
  }

  return {
    /** The visitor of a conversation the agent may see, with their other conversations. */
    async get(actor: AgentActor, id: string) {
      const conv = await requireConversation(actor, id);
      const eu = conv.endUser;
      const meta = asObject(eu.metadata);
      // A relay visitor's page, referrer and locale come from their session (the tenant's backend).
      const relay = conv.visitorSessions[0];
      const relayMeta = asObject(relay?.metadata);
      const userAgent = str(meta.user_agent) ?? str(relayMeta.user_agent);
      const others = await db.conversation.findMany({
        where: { endUserId: eu.id, id: { not: conv.id }, ...visibleTo(actor) },
        orderBy: { updatedAt: 'desc' },
        take: 20,
        include: { sessions: { orderBy: { createdAt: 'desc' }, take: 1 } },
      });
      const open = conv.sessions.find((s) => s.status === 'open');
      const contact = contactOf(eu.metadata);
      return {
        conversation_id: conv.id,
        end_user: {
          id: eu.id,
          display_name: eu.displayName,
          email: eu.email ?? contact?.email ?? null,
          external_id: eu.externalId,
          /** A valid user_hash (or the tenant's identify) vouched for this external_id. */
          verified: eu.verifiedAt !== null,
          verified_at: eu.verifiedAt?.toISOString() ?? null,
          page_url: str(meta.page_url) ?? str(relayMeta.page_url) ?? str(relay?.origin),
          referrer: str(meta.referrer) ?? str(relayMeta.referrer),
          locale: str(meta.locale) ?? conv.locale ?? str(relay?.locale),
          user_agent: userAgent,
          ...parseUserAgent(userAgent),
          first_seen_at: eu.createdAt.toISOString(),
          last_seen_at: (eu.lastSeenAt ?? eu.updatedAt).toISOString(),
        },
        tags: open?.tags ?? conv.sessions[0]?.tags ?? [],
        /** Earlier support interactions in this conversation, newest first. */
        past_sessions: conv.sessions
          .filter((s) => s.status !== 'open')
          .map((s) => ({
            id: s.id,
            status: s.status,
            tags: s.tags,
            created_at: s.createdAt.toISOString(),
            resolved_at: s.resolvedAt?.toISOString() ?? null,
          })),
        /** The visitor's other conversations (other channels) the agent may open. */
        other_conversations: others.map((c) => ({
          id: c.id,
          channel_id: c.channelId,
          status: c.sessions[0]?.status ?? null,
          updated_at: c.updatedAt.toISOString(),
        })),
      };
    },

    /** Corrects the visitor's name or email; every inbox that sees the conversation hears it. */
    async update(actor: AgentActor, id: string, patch: VisitorPatch) {
      const conv = await requireConversation(actor, id);
      const eu = await db.endUser.update({
        where: { id: conv.endUserId },
        data: {
          ...(patch.display_name !== undefined ? { displayName: patch.display_name } : {}),
          ...(patch.email !== undefined ? { email: patch.email } : {}),
        },
      });
      bus.publish('visitor.updated', {
        organizationId: conv.organizationId,
        conversationId: conv.id,
        routingKey: conv.routingKey,
        endUserId: eu.id,
        displayName: eu.displayName,
        email: eu.email,
      });
      return { id: eu.id, display_name: eu.displayName, email: eu.email };
    },
  };
}
