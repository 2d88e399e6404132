import { randomBytes } from 'node:crypto';
import type { Organization, Prisma, VisitorSession } from '../generated/prisma/client.js';
import { channelRevoked, organizationRefusal, type ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import { randomToken, safeEqual } from '../shared/crypto.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import { isRandomVisitorId, type Identity } from '../tenants/identity.js';
import { settingsOf } from '../tenants/settings.js';
import type { CreateVisitorSession, IdentifyVisitor } from './visitor.schemas.js';
import { defaultLocale } from './visitor.dto.js';

export type VisitorService = ReturnType<typeof createVisitorService>;

/** The gateway's clock and the session lifetime (tests move the clock; no service reads Date). */
export type SessionClock = { now: Date; sessionTtlDays: number };

/** Where a request comes from: the body's or query's `origin`, and the browser's `Origin` header. */
export type Origins = { claimed: string; header: string | undefined };

/** What a token names (see `tokens.ts`); the service trusts it only because its signature held. */
export type TokenBinding = { sessionId: string; tenantId: string; widgetPublicKey: string; origin: string };

const DAY_MS = 86_400_000;

const unknownTenant = () =>
  new AppError('tenant/not_found', 'No tenant with this tenant_id and widget_public_key');

const sessionExpired = () =>
  new AppError('session/expired', 'This visitor session has expired: create a new one');

const originForbidden = (origin: string) =>
  new AppError('origin/forbidden', `Origin ${origin} is not in this tenant's allowed_origins`);

/** A fresh anonymous visitor id: `v_` and 128 random bits, as the identity rules expect. */
const newVisitorId = () => `v_${randomBytes(16).toString('hex')}`;

/** The tenant (organization) a widget names, with its key checked. */
export type WidgetTenant = Organization;

/**
 * The relay's visitor sessions: anonymous visitors of a tenant's widget, each with a conversation
 * on the organization's default bot's web-chat channel, a server-side session (`vs_…`, sliding
 * expiry) and short-lived tokens the gateway signs. Identify links a session to a tenant's user.
 */
export function createVisitorService({
  db,
  bus,
  channels,
  conversations,
  identity,
}: {
  db: Db;
  bus: EventBus;
  channels: ChannelService;
  conversations: ConversationService;
  identity: Identity;
}) {
  /**
   * The tenant a widget names, if its key matches and the origin is allowed. A wrong key and an
   * unknown tenant are the same 404; the suspension and the origin are told only to a right key.
   * Without an `Origin` header (a native app, a server) the claimed origin alone is checked;
   * with one, it must be the claimed origin.
   */
  async function requireWidget(tenantId: string, widgetPublicKey: string, origins: Origins) {
    const org = await db.organization.findUnique({ where: { id: tenantId } });
    if (!org || !safeEqual(org.widgetPublicKey, widgetPublicKey)) throw unknownTenant();
    const refusal = organizationRefusal(org.status);
    if (refusal) throw refusal;
    checkOrigin(org, origins);
    return org;
  }

  function checkOrigin(org: Organization, { claimed, header }: Origins) {
    if (header !== undefined && header !== claimed) {
      throw new AppError(
        'origin/forbidden',
        `The Origin header (${header}) is not the origin given (${claimed})`,
      );
    }
    // An empty list allows nothing: a tenant names every site and app its widget runs in.
    if (!org.allowedOrigins.includes(claimed)) throw originForbidden(claimed);
  }

  /** A routing key one of the tenant's active agents is restricted to: visitors cannot invent queues. */
  async function requireKnownQueue(organizationId: string, routingKey: string) {
    const agent = await db.user.findFirst({
      where: { organizationId, status: 'active', routingKeys: { has: routingKey } },
      select: { id: true },
    });
    if (!agent) {
      throw new AppError('routing_key/unknown', `routing_key '${routingKey}' is not a queue of this tenant`, {
        param: 'routing_key',
      });
    }
  }

  /**
   * The session a verified token names, if it is alive: not ended, not past its expiry, its
   * tenant's widget key unchanged since (a rotated key ends every session made with the old one)
   * and its origin still allowed. Anything else that went wrong is `session/expired`; a suspended
   * tenant is `organization/suspended`.
   */
  async function requireAlive(token: TokenBinding, headerOrigin: string | undefined, clock: SessionClock) {
    const session = await db.visitorSession.findUnique({
      where: { id: token.sessionId },
      include: { organization: true },
    });
    if (!session || session.organizationId !== token.tenantId) throw sessionExpired();
    const org = session.organization;
    const refusal = organizationRefusal(org.status);
    if (refusal) throw refusal;
    if (
      session.endedAt ||
      session.expiresAt.getTime() <= clock.now.getTime() ||
      session.widgetPublicKey !== token.widgetPublicKey ||
      !safeEqual(org.widgetPublicKey, session.widgetPublicKey) ||
      session.origin !== token.origin
    ) {
      throw sessionExpired();
    }
    checkOrigin(org, { claimed: session.origin, header: headerOrigin });
    return { session, org };
  }

  /** Pushes the session's expiry `sessionTtlDays` past now (and points it elsewhere, for identify). */
  async function slide(
    session: VisitorSession,
    clock: SessionClock,
    data: Prisma.VisitorSessionUncheckedUpdateInput = {},
  ) {
    const { count } = await db.visitorSession.updateMany({
      where: { id: session.id, endedAt: null },
      data: {
        ...data,
        lastSeenAt: clock.now,
        expiresAt: new Date(clock.now.getTime() + clock.sessionTtlDays * DAY_MS),
      },
    });
    if (count === 0) throw sessionExpired();
    return db.visitorSession.findUniqueOrThrow({ where: { id: session.id } });
  }

  /** The user's conversation on the channel, or null. */
  const conversationOf = (channelId: string, endUserId: string) =>
    db.conversation.findUnique({ where: { channelId_endUserId: { channelId, endUserId } } });

  return {
    requireKnownQueue,
    requireWidget,
    checkOrigin,

    /**
     * Whether a browser on `origin` may read the visitor endpoints' answers (CORS): it is in the
     * named tenant's allowed_origins, or, when none is named (a preflight carries no body), in
     * some tenant's. Suspended tenants count, so their widgets can read why they are refused.
     */
    async corsAllows(origin: string, tenantId: string | undefined): Promise<boolean> {
      const found = await db.organization.findFirst({
        where: { ...(tenantId ? { id: tenantId } : {}), allowedOrigins: { has: origin } },
        select: { id: true },
      });
      return found !== null;
    },

    /**
     * Opens a visitor session: a fresh anonymous visitor (`v_…`, counted against the tenant's
     * `rate_limit_per_min` as every new end user is) with a conversation on the default bot's
     * web-chat channel, in the requested mode and queue, and the server-side session row.
     */
    async create(input: CreateVisitorSession, headerOrigin: string | undefined, clock: SessionClock) {
      const org = await requireWidget(input.tenant_id, input.widget_public_key, {
        claimed: input.origin,
        header: headerOrigin,
      });
      if (input.routing_key !== undefined) await requireKnownQueue(org.id, input.routing_key);
      const mode = input.mode ?? settingsOf(org.config).default_mode;
      const bot = await channels.requireBot(org.id, undefined);
      const channel = await channels.channelFor(org.id, bot.id, 'webchat');
      if (channelRevoked(channel.config))
        throw new AppError('channel/revoked', 'This channel has been revoked');
      // A random visitor id needs no proof in any identity mode, so this never asks for a hash.
      const { endUser, conversation } = await conversations.openForEndUser({
        organizationId: org.id,
        channelId: channel.id,
        externalId: newVisitorId(),
      });
      // The queue was checked above (it exists); a visitor's routing key needs no signature here,
      // unlike native open's, because the relay accepts only the tenant's own queues.
      await db.conversation.update({
        where: { id: conversation.id },
        data: {
          mode,
          locale: input.locale,
          routingKey: input.routing_key ?? null,
          metadata: { source: 'relay' },
        },
      });
      const session = await db.visitorSession.create({
        data: {
          id: randomToken('vs', 18),
          organizationId: org.id,
          conversationId: conversation.id,
          endUserId: endUser.id,
          origin: input.origin,
          widgetPublicKey: org.widgetPublicKey,
          locale: input.locale,
          mode,
          metadata: (input.metadata ?? {}) as Prisma.InputJsonObject,
          createdAt: clock.now,
          lastSeenAt: clock.now,
          expiresAt: new Date(clock.now.getTime() + clock.sessionTtlDays * DAY_MS),
        },
      });
      bus.publish('visitor_session.created', {
        organizationId: org.id,
        sessionId: session.id,
        conversationId: conversation.id,
      });
      return { session, org };
    },

    /**
     * A session for a conversation the tenant's backend opened for its own user (signed API, the
     * user verified by the backend's word): the origin must be one of the tenant's allowed ones.
     */
    async openForConversation(
      org: Organization,
      c: { id: string; endUserId: string; locale: string | null; mode: VisitorSession['mode'] },
      origin: string,
      clock: SessionClock,
    ) {
      checkOrigin(org, { claimed: origin, header: undefined });
      const session = await db.visitorSession.create({
        data: {
          id: randomToken('vs', 18),
          organizationId: org.id,
          conversationId: c.id,
          endUserId: c.endUserId,
          origin,
          widgetPublicKey: org.widgetPublicKey,
          locale: c.locale ?? defaultLocale(org),
          mode: c.mode,
          metadata: { source: 'backend' },
          createdAt: clock.now,
          lastSeenAt: clock.now,
          expiresAt: new Date(clock.now.getTime() + clock.sessionTtlDays * DAY_MS),
        },
      });
      bus.publish('visitor_session.created', {
        organizationId: org.id,
        sessionId: session.id,
        conversationId: c.id,
      });
      return session;
    },

    /**
     * Who a visitor WebSocket speaks for: the session a verified token names, alive (the refresh
     * rules, expiry not pushed), with its conversation's end user. The session row, not the token,
     * names the conversation (identify may have moved it). A token whose tenant or widget key is not
     * its session's is `token/invalid`; a revoked channel is `channel/revoked`.
     */
    async connect(token: TokenBinding, headerOrigin: string | undefined, clock: SessionClock) {
      const found = await db.visitorSession.findUnique({
        where: { id: token.sessionId },
        select: { organizationId: true, widgetPublicKey: true },
      });
      if (
        found &&
        (found.organizationId !== token.tenantId || found.widgetPublicKey !== token.widgetPublicKey)
      ) {
        throw new AppError('token/invalid', 'This token does not belong to its session');
      }
      const { session, org } = await requireAlive(token, headerOrigin, clock);
      const conversation = await db.conversation.findUnique({
        where: { id: session.conversationId },
        include: {
          endUser: { select: { id: true, externalId: true } },
          channel: { select: { config: true } },
        },
      });
      if (
        !conversation ||
        conversation.organizationId !== org.id ||
        conversation.endUserId !== session.endUserId
      ) {
        throw sessionExpired();
      }
      if (channelRevoked(conversation.channel.config)) {
        throw new AppError('channel/revoked', 'This channel has been revoked');
      }
      return { session, org, conversation, endUser: conversation.endUser };
    },

    /** The same session, alive, its expiry pushed forward (a token refresh). */
    async resume(token: TokenBinding, headerOrigin: string | undefined, clock: SessionClock) {
      const { session, org } = await requireAlive(token, headerOrigin, clock);
      return { session: await slide(session, clock), org };
    },

    /**
     * Makes the session speak for the tenant's user `userId`, proven by
     * `hex(hmac_sha256(tenant_secret, user_id))` (the identity rules of every other gateway: a
     * constant-time compare, the previous secret during its grace). The session then points at
     * the user's conversation on the channel: their existing one if they have one (the anonymous
     * conversation stays as it was, and is dropped only if it has no message), else the anonymous
     * conversation itself, which becomes theirs. An `anonymous` identity mode refuses identify.
     */
    async identify(
      token: TokenBinding,
      headerOrigin: string | undefined,
      { userId, signature }: IdentifyVisitor,
      clock: SessionClock,
    ) {
      const { session, org } = await requireAlive(token, headerOrigin, clock);
      const current = await db.conversation.findUniqueOrThrow({
        where: { id: session.conversationId },
        include: { channel: { select: { identityMode: true } }, endUser: true },
      });
      const mode = current.channel.identityMode ?? org.identityMode;
      if (mode === 'anonymous') {
        throw new AppError(
          'identity/forbidden',
          'This chat takes anonymous visitors only: visitors cannot be identified',
        );
      }
      const known = await db.endUser.findUnique({
        where: { organizationId_externalId: { organizationId: org.id, externalId: userId } },
      });
      identity.check(
        {
          organizationId: org.id,
          mode,
          secretEnc: org.tenantSecretEnc,
          prevSecretEnc: org.tenantSecretPrevEnc,
          prevSecretUntil: org.tenantSecretPrevUntil,
          verifiedAt: known?.verifiedAt ?? null,
        },
        { externalId: userId, userHash: signature },
      );
      const user = await db.endUser.upsert({
        where: { organizationId_externalId: { organizationId: org.id, externalId: userId } },
        create: { organizationId: org.id, externalId: userId, lastSeenAt: clock.now, verifiedAt: new Date() },
        update: { lastSeenAt: clock.now, ...(known?.verifiedAt ? {} : { verifiedAt: new Date() }) },
      });

      // Still the anonymous visitor the session was created for (not a user identified before).
      const anonymous =
        current.endUserId === session.endUserId &&
        isRandomVisitorId(current.endUser.externalId) &&
        !current.endUser.verifiedAt;
      let target = current.endUserId === user.id ? current : await conversationOf(current.channelId, user.id);
      if (!target && anonymous) {
        // The user has no conversation here yet: the anonymous one (and its messages) becomes theirs.
        try {
          const { count } = await db.conversation.updateMany({
            where: { id: current.id, endUserId: current.endUserId },
            data: { endUserId: user.id },
          });
          if (count === 1) target = { ...current, endUserId: user.id };
        } catch (err) {
          // The user's conversation was opened meanwhile (another device): it is theirs.
          if ((err as { code?: string }).code !== 'P2002') throw err;
        }
        target ??= await conversationOf(current.channelId, user.id);
      }
      if (!target) {
        // A session that spoke for another user: that user's conversation stays theirs.
        try {
          target = await db.conversation.create({
            data: {
              organizationId: org.id,
              channelId: current.channelId,
              endUserId: user.id,
              routingKey: current.routingKey,
              mode: current.mode,
              locale: current.locale,
              metadata: { source: 'relay' },
            },
          });
        } catch (err) {
          target = await conversationOf(current.channelId, user.id);
          if (!target) throw err;
        }
      }
      const updated = await slide(session, clock, { conversationId: target.id, endUserId: user.id });
      if (anonymous) {
        // An anonymous conversation nobody wrote in is no use to anyone; one with messages stays
        // in the inbox under the visitor id it was written with. The visitor id itself is gone.
        if (target.id !== current.id) {
          await db.conversation.deleteMany({ where: { id: current.id, lastSeq: 0 } });
        }
        await db.endUser.deleteMany({
          where: { id: current.endUserId, conversations: { none: {} }, visitorSessions: { none: {} } },
        });
      }
      return { session: updated, org, userId };
    },
  };
}
