import {
  Prisma,
  type Conversation,
  type ConversationSession,
  type Message,
  type OrgStatus,
} from '../generated/prisma/client.js';
import { seesAllQueues, type AgentActor, type EndUserActor } from '../shared/auth/actor.js';
import type { Database, Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { TenantQuota } from '../shared/tenant-quota.js';
import type { Identity, IdentityFacts, IdentityMode, IdentityProof } from '../tenants/identity.js';
import type { ListQuery, ResolveBody, TagsBody } from './conversations.schemas.js';
import { conversationDto, lastMessageDto, lastMessagesOf } from './conversations.dto.js';
import type { ConversationListItem } from '../realtime/realtime.contract.js';
import { ratingDto } from '../ratings/ratings.service.js';
import { settingsOf } from '../tenants/settings.js';
import type { SearchQuery } from './search.schemas.js';
import { batchedReads, batchedReadsById, isUuid } from '../shared/batched-reads.js';
import { inQueues, searchConversations } from './search.service.js';

export type ConversationService = ReturnType<typeof createConversationService>;

const include = {
  endUser: true,
  sessions: { where: { status: 'open' as const }, take: 1 },
} satisfies Prisma.ConversationInclude;

/**
 * The most conversations a list counts: past it `X-Total-Count` is left out (as GitLab's API does
 * past 10,000) and the list pages on by its `Link` while pages come back full.
 */
export const LIST_COUNT_CAP = 10_000;

/** The most tags one session holds (a request adds at most as many). */
export const SESSION_TAGS_MAX = 50;

const notFound = () => new AppError('conversation/not_found', 'Conversation not found');

/** What a gateway (widget page, native open) gives to open an end user's conversation. */
export type OpenConversation = {
  organizationId: string;
  channelId: string;
  externalId: string;
  /** The tenant backend's `user_hash` for this id (required or not by the identity mode). */
  userHash?: string | undefined;
  displayName?: string | undefined;
  /** A queue the end user asks for: only a `user_hash` over it allows one. */
  routingKey?: string | undefined;
  /** The web-chat embed token it is opened with: the conversation lives as long as that token. */
  embedTokenId?: string | undefined;
  /** Where and with what the end user opened it, kept in their `metadata` for the visitor panel. */
  visit?: VisitContext | undefined;
};

/** The page, referrer, User-Agent and locale of a visit (null: not known). */
export type VisitContext = {
  page_url: string | null;
  referrer: string | null;
  user_agent: string | null;
  locale: string | null;
};

/** The identity columns both end-user queries read (organization, channel, end user). */
type IdentityRow = {
  orgMode: IdentityMode;
  channelMode: IdentityMode | null;
  secretEnc: string;
  prevSecretEnc: string | null;
  prevSecretUntil: Date | null;
  verifiedAt: Date | null;
};

const identityFacts = (organizationId: string, row: IdentityRow): IdentityFacts => ({
  organizationId,
  mode: row.channelMode ?? row.orgMode,
  secretEnc: row.secretEnc,
  prevSecretEnc: row.prevSecretEnc,
  prevSecretUntil: row.prevSecretUntil,
  verifiedAt: row.verifiedAt,
});

/** What decides whether a proven end user may still reach their conversation. */
type EndUserAccessRow = IdentityRow & {
  id: string;
  rateLimitPerMin: number;
  organizationId: string;
  endUserId: string;
  routingKey: string | null;
  orgStatus: OrgStatus;
  channelType: string;
  channelRevoked: boolean;
  /** The token the conversation was last opened with is revoked (null: none recorded). */
  tokenRevoked: boolean | null;
  /** The web-chat channel still has a live token (what counts when no token is recorded). */
  channelLive: boolean;
};

/**
 * Why a proven end user is refused, if they are: a suspended organization, a revoked channel, or
 * (web chat) a revoked embed token. Codes match the widget page's and native open's.
 */
function endUserRefusal(row: EndUserAccessRow): AppError | null {
  if (row.orgStatus !== 'active') {
    return new AppError(
      'organization/suspended',
      'This organization is suspended and is not accepting conversations',
    );
  }
  if (row.channelRevoked) return new AppError('channel/revoked', 'This channel has been revoked');
  if (row.channelType === 'webchat' && (row.tokenRevoked ?? !row.channelLive)) {
    return new AppError('embed_token/revoked', "This chat's embed token has been revoked");
  }
  return null;
}

/** The where-clause that limits an agent to their organization and, if set, their queues. */
/** `visibleTo`'s rule on a conversation already read: its organization, and its queue if restricted. */
export function agentSees(
  actor: AgentActor,
  conv: { organizationId: string; routingKey: string | null } | null | undefined,
): conv is { organizationId: string; routingKey: string | null } {
  return (
    conv?.organizationId === actor.organizationId &&
    (seesAllQueues(actor) || (conv.routingKey !== null && actor.routingKeys.includes(conv.routingKey)))
  );
}

export function visibleTo(actor: AgentActor): Prisma.ConversationWhereInput {
  return seesAllQueues(actor)
    ? { organizationId: actor.organizationId }
    : { organizationId: actor.organizationId, routingKey: { in: actor.routingKeys } };
}

/**
 * The inbox list's filter in SQL (alias `c`): what the agent sees (their organization, and their
 * queues when restricted), one queue if asked, and the filter. `unassigned` leaves out what the bot
 * answers (it reaches the queue when it escalates), unless the tenant has no knowledge base (no bot).
 */
function listWhere(actor: AgentActor, q: Pick<ListQuery, 'filter' | 'routing_key'>): Prisma.Sql {
  const conds = [Prisma.sql`c.organization_id = ${actor.organizationId}::uuid`];
  if (!seesAllQueues(actor)) conds.push(inQueues(actor));
  if (q.routing_key !== undefined) conds.push(Prisma.sql`c.routing_key = ${q.routing_key}`);
  const open = (assignee: Prisma.Sql) => Prisma.sql`EXISTS (
    SELECT 1 FROM conversation_sessions s
    WHERE s.conversation_id = c.id AND s.status = 'open' AND ${assignee})`;
  if (q.filter === 'unassigned') {
    conds.push(open(Prisma.sql`s.assigned_agent_id IS NULL`));
    conds.push(Prisma.sql`NOT (c.mode = 'bot' AND EXISTS (
      SELECT 1 FROM knowledge_documents k WHERE k.organization_id = c.organization_id))`);
  }
  // An agent's own open sessions are few: read first, as an array, and their conversations probed
  // by id. As EXISTS the planner may test every conversation of the tenant instead (20 ms at 10,000
  // with the statistics of a busy hour before, for a count the inbox reads after every claim).
  if (q.filter === 'mine') {
    conds.push(Prisma.sql`c.id = ANY (ARRAY(
      SELECT s.conversation_id FROM conversation_sessions s
      WHERE s.organization_id = ${actor.organizationId}::uuid AND s.status = 'open'
        AND s.assigned_agent_id = ${actor.userId}::uuid))`);
  }
  return Prisma.join(conds, ' AND ');
}

/** A row of the inbox list's statement: the conversation, its end user, open session, last message. */
type ListRow = {
  id: string;
  organization_id: string;
  channel_id: string;
  routing_key: string | null;
  mode: Conversation['mode'];
  last_message_at: Date | null;
  created_at: Date;
  updated_at: Date;
  end_user_id: string;
  display_name: string | null;
  external_id: string;
  metadata: Prisma.JsonValue;
  session_id: string | null;
  session_status: ConversationSession['status'] | null;
  assigned_agent_id: string | null;
  tags: string[] | null;
  first_message_at: Date | null;
  assigned_at: Date | null;
  m_sender_type: Message['senderType'] | null;
  m_sender_id: string | null;
  m_content_type: Message['contentType'] | null;
  m_content: string | null;
  m_created_at: Date | null;
  m_internal: boolean | null;
};

function listItem(r: ListRow): ConversationListItem {
  return {
    ...conversationDto({
      id: r.id,
      organizationId: r.organization_id,
      channelId: r.channel_id,
      routingKey: r.routing_key,
      mode: r.mode,
      lastMessageAt: r.last_message_at,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      endUser: {
        id: r.end_user_id,
        displayName: r.display_name,
        externalId: r.external_id,
        metadata: r.metadata,
      },
      sessions:
        r.session_id === null
          ? []
          : [
              {
                id: r.session_id,
                status: r.session_status!,
                assignedAgentId: r.assigned_agent_id,
                tags: r.tags ?? [],
                firstMessageAt: r.first_message_at,
                assignedAt: r.assigned_at,
              },
            ],
    }),
    last_message:
      r.m_sender_type === null
        ? null
        : lastMessageDto({
            senderType: r.m_sender_type,
            senderId: r.m_sender_id!,
            contentType: r.m_content_type!,
            content: r.m_content!,
            createdAt: r.m_created_at!,
            internal: r.m_internal!,
          }),
  };
}

/**
 * The inbox list's statement: the page of conversations `where` (alias `c`) selects, newest first,
 * with each one's end user, open session and last message.
 */
function listRows(db: Db, where: Prisma.Sql, limit: number, offset: number) {
  return db.$queryRaw<ListRow[]>`
    SELECT c.id, c.organization_id, c.channel_id, c.routing_key, c.mode::text AS mode,
           c.last_message_at, c.created_at, c.updated_at,
           e.id AS end_user_id, e.display_name, e.external_id, e.metadata,
           s.id AS session_id, s.status::text AS session_status, s.assigned_agent_id, s.tags,
           s.first_message_at, s.assigned_at,
           m.sender_type::text AS m_sender_type, m.sender_id AS m_sender_id,
           m.content_type::text AS m_content_type, left(m.content, 141) AS m_content,
           m.created_at AS m_created_at, m.internal AS m_internal
    FROM (
      SELECT * FROM conversations c WHERE ${where}
      ORDER BY c.updated_at DESC, c.id DESC LIMIT ${limit} OFFSET ${offset}
    ) c
    JOIN end_users e ON e.id = c.end_user_id
    LEFT JOIN LATERAL (
      SELECT * FROM conversation_sessions
      WHERE conversation_id = c.id AND status = 'open' ORDER BY created_at DESC LIMIT 1
    ) s ON true
    LEFT JOIN LATERAL (
      SELECT * FROM messages WHERE conversation_id = c.id ORDER BY seq DESC LIMIT 1
    ) m ON true
    ORDER BY c.updated_at DESC, c.id DESC`;
}

/**
 * A conversation (id, organization, queue) with its open session if any: what claiming, releasing
 * and transferring start from.
 */
export type WithOpenSession = {
  id: string;
  organizationId: string;
  routingKey: string | null;
  open: { id: string; assignedAgentId: string | null; assignedAt: Date | null } | null;
};

type OpenSessionRow = {
  id: string;
  organization_id: string;
  routing_key: string | null;
  session_id: string | null;
  assigned_agent_id: string | null;
  assigned_at: Date | null;
};

/** Merges a visit into the end user's metadata in place (one statement: no lost update). */
export async function recordVisit(db: Db, endUserId: string, visit: VisitContext) {
  const known = Object.fromEntries(Object.entries(visit).filter(([, v]) => v !== null));
  if (!Object.keys(known).length) return;
  await db.$executeRaw`
    UPDATE end_users SET metadata = metadata || ${JSON.stringify(known)}::jsonb
    WHERE id = ${endUserId}::uuid`;
}

export function createConversationService({
  db,
  query,
  bus,
  identity,
  quota,
}: {
  db: Db;
  /** Hot-path reads: prepared once per pooled connection, outside the ORM (`Database.query`). */
  query: Database['query'];
  bus: EventBus;
  identity: Identity;
  /** The organization's `rate_limit_per_min` on new end users (none in tools). */
  quota?: TenantQuota | undefined;
}) {
  /** Records the first valid hash of an end user: from then on, every request needs one. */
  async function markVerified(organizationId: string, endUserId: string) {
    const { count } = await db.endUser.updateMany({
      where: { id: endUserId, verifiedAt: null },
      data: { verifiedAt: new Date() },
    });
    if (count) verifiedNow(organizationId, endUserId);
  }

  /**
   * An end user was verified just now: sockets that proved them without a hash before (an `off`
   * mode) are disconnected, so from now on only the hash reaches them; the verifying socket (and
   * any other that gave the hash) is not among them.
   */
  function verifiedNow(organizationId: string, endUserId: string) {
    bus.publish('identity.tightened', { organizationId, endUserIds: [endUserId], unprovenOnly: true });
  }

  /** The conversation if the agent may see it; another tenant's is "not found", never "forbidden". */
  async function requireForAgent(actor: AgentActor, id: string) {
    const conv = await db.conversation.findFirst({ where: { id, ...visibleTo(actor) }, include });
    if (!conv) throw notFound();
    return conv;
  }

  /**
   * Adds then removes tags on an open session (resolving it too, with `resolvedAt`), in one
   * statement on the row's latest version: two agents tagging at once both get their tags (a read
   * then a write lost one of them). Null when no session is open; `conversation/too_many_tags`, and
   * nothing changed, when the session would hold more than SESSION_TAGS_MAX tags.
   */
  async function retag(
    sessionId: string,
    add: string[],
    remove: string[],
    resolve?: { resolvedAt: Date },
  ): Promise<{ tags: string[]; updatedAt: Date; holder: string | null } | null> {
    const [row] = await db.$queryRaw<{ tags: string[]; holder: string | null; updated_at: Date | null }[]>`
      WITH next AS (
        SELECT s.id, s.assigned_agent_id, ARRAY(
                 SELECT u.t FROM unnest(s.tags || ${add}::text[]) WITH ORDINALITY AS u(t, n)
                 WHERE NOT (u.t = ANY(${remove}::text[]))
                 GROUP BY u.t ORDER BY min(u.n)) AS tags
          FROM conversation_sessions s
         WHERE s.id = ${sessionId}::uuid AND s.status = 'open'
           FOR UPDATE
      ), done AS (
        UPDATE conversation_sessions s
           SET tags = n.tags, updated_at = now(),
               status = CASE WHEN ${resolve !== undefined} THEN 'resolved'::"SessionStatus" ELSE s.status END,
               resolved_at = CASE WHEN ${resolve !== undefined} THEN ${resolve?.resolvedAt ?? null}::timestamptz
                                  ELSE s.resolved_at END
          FROM next n
         WHERE s.id = n.id AND cardinality(n.tags) <= ${SESSION_TAGS_MAX}
        RETURNING s.updated_at
      )
      SELECT n.tags, n.assigned_agent_id::text AS holder, d.updated_at FROM next n LEFT JOIN done d ON true`;
    if (!row) return null;
    if (!row.updated_at) {
      throw new AppError(
        'conversation/too_many_tags',
        `A session holds at most ${SESSION_TAGS_MAX} tags; remove some first`,
        { max: SESSION_TAGS_MAX },
      );
    }
    return { tags: row.tags, updatedAt: row.updated_at, holder: row.holder };
  }

  /** Whose queue a conversation is in, the reads of one turn of the event loop in one statement. */
  const queueOf = batchedReadsById(async (ids) => {
    const rows = await db.$queryRaw<{ id: string; organization_id: string; routing_key: string | null }[]>`
      SELECT id::text, organization_id::text, routing_key FROM conversations WHERE id = ANY(${ids}::uuid[])`;
    return new Map(rows.map((r) => [r.id, r]));
  });

  /**
   * Conversations with their open session, the reads of one turn of the event loop in one
   * statement through the driver: every agent's claim starts here, a hundred agents taking ten
   * thousand conversations at a ramp or a restart.
   */
  const openSessionOf = batchedReadsById(async (ids) => {
    const rows = await query<OpenSessionRow>(
      'sb_open_session',
      `SELECT c.id::text, c.organization_id::text, c.routing_key, s.id::text AS session_id,
              s.assigned_agent_id::text, s.assigned_at
       FROM conversations c
       LEFT JOIN conversation_sessions s ON s.conversation_id = c.id AND s.status = 'open'
       WHERE c.id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r]));
  });

  /** The conversation with its open session if any, when the agent may see it; "not found" otherwise. */
  async function requireWithOpenSession(actor: AgentActor, id: string): Promise<WithOpenSession> {
    const r = await openSessionOf(id);
    if (!r || !agentSees(actor, { organizationId: r.organization_id, routingKey: r.routing_key }))
      throw notFound();
    return {
      id: r.id,
      organizationId: r.organization_id,
      routingKey: r.routing_key,
      open: r.session_id
        ? { id: r.session_id, assignedAgentId: r.assigned_agent_id, assignedAt: r.assigned_at }
        : null,
    };
  }

  /**
   * A conversation with what decides an end user's access to it, if `externalId` is its end
   * user's: what may have cut them off since (organization, channel, embed token) and what proves
   * their identity. One statement for every widget and app join of a turn of the event loop.
   */
  const endUserAccess = batchedReads<{ id: string; externalId: string }, EndUserAccessRow>(
    async (keys) => {
      // Through the driver, not the ORM: a reconnect wave is thousands of these rows. With 10,100
      // clients, all were back 7.8–11.0 s after a restart this way, 16.0–16.9 s through the ORM.
      const rows = await query<EndUserAccessRow & { n: string | number | bigint }>(
        'sb_end_user_access',
        `SELECT k.n, c.id, c.organization_id AS "organizationId", c.end_user_id AS "endUserId",
               c.routing_key AS "routingKey", e.verified_at AS "verifiedAt",
               o.rate_limit_per_min AS "rateLimitPerMin",
               o.identity_mode::text AS "orgMode", ch.identity_mode::text AS "channelMode",
               o.tenant_secret_enc AS "secretEnc", o.tenant_secret_prev_enc AS "prevSecretEnc",
               o.tenant_secret_prev_until AS "prevSecretUntil",
               o.status::text AS "orgStatus", ch.type::text AS "channelType",
               (ch.config ->> 'revoked_at') IS NOT NULL AS "channelRevoked",
               CASE WHEN t.id IS NULL THEN NULL ELSE t.revoked_at IS NOT NULL END AS "tokenRevoked",
               (t.id IS NULL AND ch.type = 'webchat' AND (
                 -- A relay visitor's conversation lives by its visitor session, not by an embed token.
                 c.metadata ->> 'source' = 'relay' OR EXISTS (
                   SELECT 1 FROM embed_tokens lt WHERE lt.channel_id = c.channel_id AND lt.revoked_at IS NULL
                 )
               )) AS "channelLive"
        FROM unnest($1::uuid[], $2::text[])
          WITH ORDINALITY AS k(id, external_id, n)
        JOIN conversations c ON c.id = k.id
        JOIN end_users e ON e.id = c.end_user_id AND e.external_id = k.external_id
        JOIN organizations o ON o.id = c.organization_id
        JOIN channels ch ON ch.id = c.channel_id
        LEFT JOIN embed_tokens t ON t.id = (c.metadata ->> 'embed_token_id')::uuid`,
        [keys.map((k) => k.id), keys.map((k) => k.externalId)],
      );
      const byN = new Map(rows.map(({ n, ...row }) => [Number(n), row]));
      return keys.map((_, i) => byN.get(i + 1) ?? null);
    },
    (k) => isUuid(k.id),
  );

  return {
    requireForAgent,
    requireWithOpenSession,

    /**
     * That the agent may see the conversation (`visibleTo`'s rule), without reading it: what a
     * socket's join or typing needs. Read with every other check of the same turn (a restart's
     * thousands of rejoins are a few statements). Another tenant's is "not found".
     */
    async requireVisible(actor: AgentActor, id: string): Promise<void> {
      const conv = await queueOf(id);
      if (!conv || !agentSees(actor, { organizationId: conv.organization_id, routingKey: conv.routing_key }))
        throw notFound();
    },

    /**
     * The conversation if `proof` speaks for its end user: the external_id is theirs, and the
     * identity mode is satisfied (a valid `user_hash` where one is needed). Any mismatch of id,
     * including an unknown conversation, is the same 403, so a guess reveals nothing.
     */
    async requireForEndUser(
      id: string,
      proof: IdentityProof,
    ): Promise<EndUserActor & { conversationId: string; rateLimitPerMin: number }> {
      const { externalId } = proof;
      const conv = await endUserAccess({ id, externalId });
      if (!conv) {
        throw new AppError('auth/forbidden', 'Not allowed to access this conversation');
      }
      // Only the conversation's own end user learns why they are refused.
      const refusal = endUserRefusal(conv);
      if (refusal) throw refusal;
      const { verified } = identity.check(identityFacts(conv.organizationId, conv), proof, {
        routingKeys: [conv.routingKey],
      });
      if (verified && !conv.verifiedAt) await markVerified(conv.organizationId, conv.endUserId);
      return {
        kind: 'end_user',
        organizationId: conv.organizationId,
        endUserId: conv.endUserId,
        externalId,
        conversationId: conv.id,
        rateLimitPerMin: conv.rateLimitPerMin,
      };
    },

    /**
     * Creates or gets the end user and their conversation on a channel (widget, native app), once
     * the identity mode of the channel is satisfied.
     */
    async openForEndUser(data: OpenConversation) {
      const [row] = await db.$queryRaw<
        (IdentityRow & {
          endUserId: string | null;
          rateLimitPerMin: number;
          orgConfig: Prisma.JsonValue;
          hasKnowledge: boolean;
        })[]
      >`
        SELECT o.identity_mode::text AS "orgMode", ch.identity_mode::text AS "channelMode",
               o.tenant_secret_enc AS "secretEnc", o.tenant_secret_prev_enc AS "prevSecretEnc",
               o.tenant_secret_prev_until AS "prevSecretUntil", e.verified_at AS "verifiedAt",
               e.id AS "endUserId", o.rate_limit_per_min AS "rateLimitPerMin", o.config AS "orgConfig",
               EXISTS (SELECT 1 FROM knowledge_documents k WHERE k.organization_id = o.id) AS "hasKnowledge"
        FROM organizations o
        JOIN channels ch ON ch.id = ${data.channelId}::uuid AND ch.organization_id = o.id
        LEFT JOIN end_users e ON e.organization_id = o.id AND e.external_id = ${data.externalId}
        WHERE o.id = ${data.organizationId}::uuid`;
      if (!row) throw new AppError('channel/not_found', 'Channel not found');
      const { verified } = identity.check(
        identityFacts(data.organizationId, row),
        { externalId: data.externalId, userHash: data.userHash },
        { signedRoutingKey: data.routingKey },
      );
      const verifiedAt = verified && !row.verifiedAt ? { verifiedAt: new Date() } : {};
      // A new end user counts against the organization's minute; returning ones never do.
      if (!row.endUserId) await quota?.take('visitors', data.organizationId, row.rateLimitPerMin);
      const endUser = await db.endUser.upsert({
        where: {
          organizationId_externalId: { organizationId: data.organizationId, externalId: data.externalId },
        },
        create: {
          organizationId: data.organizationId,
          externalId: data.externalId,
          displayName: data.displayName ?? null,
          lastSeenAt: new Date(),
          ...verifiedAt,
        },
        update: {
          lastSeenAt: new Date(),
          ...verifiedAt,
          ...(data.displayName ? { displayName: data.displayName } : {}),
        },
      });
      if (data.visit) await recordVisit(db, endUser.id, data.visit);
      // A known end user verified for the first time: their unproven sockets are cut off.
      if (row.endUserId && 'verifiedAt' in verifiedAt) verifiedNow(data.organizationId, endUser.id);
      const key = { channelId_endUserId: { channelId: data.channelId, endUserId: endUser.id } };
      const find = () => db.conversation.findUnique({ where: key, include });
      let conversation = await find();
      if (!conversation) {
        try {
          conversation = await db.conversation.create({
            data: {
              organizationId: data.organizationId,
              channelId: data.channelId,
              endUserId: endUser.id,
              routingKey: data.routingKey ?? null,
              // The bot answers first where the tenant says so (its default mode) and has a
              // knowledge base to answer from; without one there is no bot: a person from the start.
              mode: row.hasKnowledge ? settingsOf(row.orgConfig).default_mode : 'human',
              ...(data.embedTokenId ? { metadata: { embed_token_id: data.embedTokenId } } : {}),
            },
            include,
          });
        } catch (err) {
          // Two tabs opening at once: the loser reads the winner's row.
          conversation = await find();
          if (!conversation) throw err;
        }
      }
      // Opened with another token of the channel (a rotated one): it now lives by that one.
      const meta = conversation.metadata as Prisma.JsonObject | null;
      if (data.embedTokenId && meta?.embed_token_id !== data.embedTokenId) {
        conversation = await db.conversation.update({
          where: { id: conversation.id },
          data: { metadata: { ...meta, embed_token_id: data.embedTokenId } },
          include,
        });
      }
      return { endUser, conversation };
    },

    /**
     * The inbox list: unassigned (open, nobody on it), mine (open, on me), or all. Newest first.
     * `total` is exact up to `LIST_COUNT_CAP`, null past it.
     */
    async list(actor: AgentActor, q: ListQuery) {
      const where = listWhere(actor, q);
      // The page with each row's end user, open session and last message: one statement, and no
      // ORM row mapping (the inbox asks this on every load and every filter change).
      const rows = listRows(db, where, q.limit, q.offset);
      // Counted meanwhile, up to the cap only: an exact count past it reads every row of a big
      // tenant's list (21 ms at 100k conversations) for a figure nobody pages through. In the
      // list's order, so the cap is read off its index.
      const count = db.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM (
          SELECT 1 FROM conversations c WHERE ${where}
          ORDER BY c.updated_at DESC LIMIT ${LIST_COUNT_CAP + 1}
        ) t`;
      const [page, [counted]] = await Promise.all([rows, count]);
      const total = counted?.n ?? 0;
      return {
        items: page.map(listItem),
        total: total > LIST_COUNT_CAP ? null : total,
        limit: q.limit,
        offset: q.offset,
      };
    },

    /**
     * One conversation as the inbox list shows it, for no agent in particular (the realtime layer
     * sends it with `conversation_updated` to the queue rooms, which hold only agents who see it).
     */
    async row(id: string): Promise<ConversationListItem | null> {
      const [r] = await listRows(db, Prisma.sql`c.id = ${id}::uuid`, 1, 0);
      return r ? listItem(r) : null;
    },

    /** Conversations the agent may see matching `q` (name, external_id, tag, message text), best first. */
    search(actor: AgentActor, q: SearchQuery) {
      return searchConversations(db, actor, q, visibleTo(actor));
    },

    /**
     * The agent's own conversations (an open session they hold, in a queue they see), newest
     * first, `limit` at most: ids only, for their sockets to follow (`follow_mine`).
     */
    async heldIds(actor: AgentActor, limit: number): Promise<string[]> {
      const rows = await db.$queryRaw<{ id: string }[]>`
        SELECT c.id::text AS id FROM conversations c WHERE ${listWhere(actor, { filter: 'mine' })}
        ORDER BY c.updated_at DESC, c.id DESC LIMIT ${limit}`;
      return rows.map((r) => r.id);
    },

    /** Which of these conversations the agent may see (their sockets keep only those rooms). */
    async visibleAmong(actor: AgentActor, ids: string[]): Promise<Set<string>> {
      if (!ids.length) return new Set();
      const rows = await db.conversation.findMany({
        where: { id: { in: ids }, ...visibleTo(actor) },
        select: { id: true },
      });
      return new Set(rows.map((r) => r.id));
    },

    /**
     * The queues an agent may pick in the inbox: the tenant's (every routing key its active agents
     * are restricted to) for those who see every queue, their own when they have several.
     */
    async queues(actor: AgentActor): Promise<string[]> {
      if (!seesAllQueues(actor)) return actor.routingKeys.length > 1 ? [...actor.routingKeys].sort() : [];
      const rows = await db.user.findMany({
        where: {
          organizationId: actor.organizationId,
          status: 'active',
          NOT: { routingKeys: { isEmpty: true } },
        },
        select: { routingKeys: true },
      });
      return [...new Set(rows.flatMap((r) => r.routingKeys))].sort();
    },

    /** The conversation, with the visitor's latest rating of a resolved session (null: none). */
    async get(actor: AgentActor, id: string) {
      const conv = await requireForAgent(actor, id);
      const rating = await db.rating.findFirst({
        where: { conversationId: id },
        orderBy: { updatedAt: 'desc' },
      });
      const last = await lastMessagesOf(db, [id]);
      return {
        ...conversationDto(conv),
        last_message: last.get(id) ?? null,
        rating: rating ? ratingDto(rating) : null,
      };
    },

    /**
     * Puts the open session on the agent. Atomic: of agents racing for one conversation exactly
     * one wins; the others get 409. Claiming one's own conversation again is a no-op.
     */
    async assign(actor: AgentActor, id: string) {
      const conv = await requireWithOpenSession(actor, id);
      const current = conv.open;
      // Already theirs (a second click, a reconnecting inbox): nothing to write.
      if (current?.assignedAgentId === actor.userId && current.assignedAt) {
        return {
          id: conv.id,
          session_id: current.id,
          assigned_agent_id: actor.userId,
          assigned_at: current.assignedAt.toISOString(),
        };
      }
      // Compare-and-set: only an unassigned open session is taken. The read after a miss is a
      // statement of its own, so it sees whoever won the race.
      const assignedAt = new Date();
      const [taken] = await query<{ id: string; assigned_at: Date }>(
        'sb_claim',
        `UPDATE conversation_sessions SET assigned_agent_id = $2::uuid, assigned_at = $3
         WHERE conversation_id = $1::uuid AND status = 'open' AND assigned_agent_id IS NULL
         RETURNING id::text, assigned_at`,
        [conv.id, actor.userId, assignedAt],
      );
      const [open] = taken
        ? [{ id: taken.id, assigned_agent_id: actor.userId, assigned_at: taken.assigned_at }]
        : await query<{ id: string; assigned_agent_id: string | null; assigned_at: Date | null }>(
            'sb_open_session_now',
            `SELECT id::text, assigned_agent_id::text, assigned_at FROM conversation_sessions
             WHERE conversation_id = $1::uuid AND status = 'open'`,
            [conv.id],
          );
      if (!open)
        throw new AppError('conversation/no_open_session', 'The conversation has no open session to claim');
      if (open.assigned_agent_id !== actor.userId) {
        throw new AppError(
          'conversation/already_assigned',
          'Another agent has already claimed this conversation',
        );
      }
      if (taken) {
        bus.publish('conversation.assigned', {
          organizationId: conv.organizationId,
          conversationId: conv.id,
          routingKey: conv.routingKey,
          sessionId: open.id,
          agentId: actor.userId,
          previousAgentId: null,
          assignedAt: open.assigned_at!,
        });
      }
      return {
        id: conv.id,
        session_id: open.id,
        assigned_agent_id: actor.userId,
        assigned_at: open.assigned_at!.toISOString(),
      };
    },

    /** Ends the open session, adding the final tags. 409 when nothing is open. */
    async resolve(actor: AgentActor, id: string, { tags }: ResolveBody) {
      const conv = await requireForAgent(actor, id);
      const open = conv.sessions[0];
      const resolvedAt = new Date();
      const row = open ? await retag(open.id, tags, [], { resolvedAt }) : null;
      if (!open || !row) {
        throw new AppError(
          'conversation/no_open_session',
          'The conversation has no open session; it is already resolved',
        );
      }
      const finalTags = row.tags;
      bus.publish('conversation.resolved', {
        organizationId: conv.organizationId,
        conversationId: conv.id,
        routingKey: conv.routingKey,
        sessionId: open.id,
        agentId: actor.userId,
        holderId: row.holder,
        tags: finalTags,
        resolvedAt,
      });
      return {
        id: conv.id,
        session_id: open.id,
        status: 'resolved' as const,
        tags: finalTags,
        resolved_at: resolvedAt.toISOString(),
      };
    },

    /** Adds and removes tags on the open session. */
    async updateTags(actor: AgentActor, id: string, { add, remove }: TagsBody) {
      const conv = await requireForAgent(actor, id);
      const open = conv.sessions[0];
      const row = open ? await retag(open.id, add, remove) : null;
      if (!open || !row)
        throw new AppError('conversation/no_open_session', 'The conversation has no open session to tag');
      const { tags, updatedAt } = row;
      bus.publish('conversation.tagged', {
        organizationId: conv.organizationId,
        conversationId: conv.id,
        routingKey: conv.routingKey,
        sessionId: open.id,
        tags,
        taggedAt: updatedAt,
      });
      return { id: conv.id, session_id: open.id, tags, tagged_at: updatedAt.toISOString() };
    },
  };
}
