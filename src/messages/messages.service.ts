import { randomUUID } from 'node:crypto';
import { Prisma, type Conversation, type SenderType } from '../generated/prisma/client.js';
import { seesAllQueues, type Actor, type AgentActor } from '../shared/auth/actor.js';
import type { Database, Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { agentSees } from '../conversations/conversations.service.js';
import { requireOwnAttachment } from '../attachments/attachments.service.js';
import type { HistoryQuery, MarkRead, SendMessage } from './messages.schemas.js';
import { createMessageWriter, messageFromRow, type Stored } from './messages.writer.js';
import { createDeliveryBatcher } from './delivery.js';
import { batchedReads, batchedReadsById } from '../shared/batched-reads.js';

export type MessageService = ReturnType<typeof createMessageService>;

export type SendResult = Stored;

/**
 * Ticks after a reload. `agent_*`: what the agents' side received / read of the visitor's
 * messages; `visitor_*`: what the visitor's side received / read of the agents' and bot's.
 */
export type DeliveryState = {
  agent_delivered_seq: number;
  visitor_delivered_seq: number;
  agent_read_seq: number;
  agent_read_at: string | null;
  visitor_read_seq: number;
  visitor_read_at: string | null;
};

/** What sending into a conversation needs of it. */
type ConversationRef = Pick<
  Conversation,
  'id' | 'organizationId' | 'channelId' | 'endUserId' | 'routingKey' | 'mode'
> & { endUser: { externalId: string } };

type ConversationRow = Omit<ConversationRef, 'endUser'> & { externalId: string };

const forbidden = () => new AppError('auth/forbidden', 'Not allowed to access this conversation');
const notFound = () => new AppError('conversation/not_found', 'Conversation not found');

/**
 * A unique violation: from the driver (SQLSTATE 23505), a Prisma query (P2002) or a raw statement
 * through Prisma (P2010 carrying 23505, the embedded database).
 */
function isUniqueViolation(err: unknown): boolean {
  if ((err as { code?: unknown } | null)?.code === '23505') return true;
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return false;
  return (
    err.code === 'P2002' ||
    (err.code === 'P2010' && /23505|unique/i.test(`${JSON.stringify(err.meta)} ${err.message}`))
  );
}

/** One reader's reading of some messages of a conversation (`recordRead`). */
type ReadAsk = {
  readerId: string;
  readerKind: Actor['kind'];
  conversationId: string;
  ids: string[];
  readAt: string;
};

/**
 * The reads of a batch: each message once, with every reader who has not read it yet (a reader
 * never reads their own messages; end users never see notes); the rows locked in id order, so two
 * statements (two nodes, or an agent opening a conversation) wait for each other instead of
 * deadlocking. Answers (ask, message) for every read recorded, in conversation order. A reader
 * asking twice in one batch is answered twice; the stored time is one of the two.
 */
const READ_MESSAGES = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
      k int, reader_id text, reader_kind text, conversation_id uuid, ids uuid[], read_at text)
  ), wanted AS (
    -- Each message a LATERAL with LIMIT: one index probe. As a plain join the planner, which cannot
    -- tell how few ids come in, hashed the whole table (a sequential scan per statement).
    SELECT m.id, jsonb_object_agg(i.reader_id, i.read_at) AS add, array_agg(i.k) AS ks
    FROM input i CROSS JOIN LATERAL unnest(i.ids) AS x(id)
    JOIN LATERAL (
      SELECT m.id FROM messages m
      WHERE m.id = x.id AND m.conversation_id = i.conversation_id AND NOT (m.read_by ? i.reader_id)
        AND NOT (m.sender_type::text = i.reader_kind AND m.sender_id = i.reader_id)
        AND (i.reader_kind = 'agent' OR NOT m.internal)
      LIMIT 1
    ) m ON true
    GROUP BY m.id
  ), locked AS MATERIALIZED (
    SELECT m.id FROM messages m WHERE m.id IN (SELECT id FROM wanted) ORDER BY m.id FOR UPDATE
  ), read AS (
    UPDATE messages m SET read_by = m.read_by || w.add
    FROM wanted w WHERE m.id = w.id AND m.id IN (SELECT id FROM locked)
    RETURNING m.id, m.seq, w.ks
  )
  SELECT k, read.id::text AS id FROM read CROSS JOIN LATERAL unnest(read.ks) AS k ORDER BY read.seq`;

/** An agent opening a conversation: every end-user message they have not read, as READ_MESSAGES. */
const READ_ALL = `
  WITH locked AS MATERIALIZED (
    SELECT id FROM messages
    WHERE conversation_id = $1::uuid AND sender_type = 'end_user' AND NOT (read_by ? $2::text)
    ORDER BY id FOR UPDATE
  ), read AS (
    UPDATE messages m SET read_by = m.read_by || jsonb_build_object($2::text, $3::text)
    WHERE m.id IN (SELECT id FROM locked) AND NOT (m.read_by ? $2::text)
    RETURNING m.id, m.seq
  )
  SELECT id::text AS id FROM read ORDER BY seq`;

/** The most a catch-up replays at once; the client asks again from where it got to. */
const REPLAY_LIMIT = 500;

export function createMessageService({
  db,
  query,
  transaction,
  bus,
  logger,
}: {
  db: Db;
  query: Database['query'];
  transaction: Database['transaction'];
  bus: EventBus;
  logger?: Logger | undefined;
}) {
  const writer = createMessageWriter({ query, logger });
  const delivery = createDeliveryBatcher({ db, bus, logger });

  /** Conversations by id with their end user's external_id, the reads of a turn in one statement. */
  const conversationOf = batchedReadsById(async (ids) => {
    const rows = await query<ConversationRow>(
      'sb_conversation_of',
      `SELECT c.id::text, c.organization_id::text AS "organizationId", c.channel_id::text AS "channelId",
              c.end_user_id::text AS "endUserId", c.routing_key AS "routingKey", c.mode::text AS mode,
              e.external_id AS "externalId"
       FROM conversations c JOIN end_users e ON e.id = c.end_user_id
       WHERE c.id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map(({ externalId, ...conv }) => [conv.id, { ...conv, endUser: { externalId } }]));
  });

  /**
   * The conversation the actor may write to, with its end user's external_id: an agent's in their
   * organization (and queues), an end user's own. Through the driver: every first message and
   * every receipt starts here.
   */
  async function requireConversation(actor: Actor, conversationId: string): Promise<ConversationRef> {
    const conv = await conversationOf(conversationId);
    if (actor.kind === 'agent') {
      if (!conv || !agentSees(actor, conv)) throw notFound();
      return conv;
    }
    // Same answer for "no such conversation" and "not yours": a guess reveals nothing.
    if (!conv || conv.endUserId !== actor.endUserId || conv.organizationId !== actor.organizationId)
      throw forbidden();
    return conv;
  }

  /** The message stored under this id (a batch that committed after all), or this client_msg_id. */
  async function findDuplicate(conversationId: string, id: string, clientMsgId: string | undefined) {
    const byId = await db.message.findUnique({ where: { id } });
    if (byId?.conversationId === conversationId) return byId;
    if (!clientMsgId) return null;
    return db.message.findUnique({ where: { conversationId_clientMsgId: { conversationId, clientMsgId } } });
  }

  /** An agent's message opened the session: theirs (`redelivered` when a retry tells it again). */
  function outreachAssigned(
    { message, conversation }: Stored,
    agentId: string,
    at: Date,
    redelivered = false,
  ) {
    bus.publish('conversation.assigned', {
      organizationId: conversation.organizationId,
      conversationId: conversation.id,
      routingKey: conversation.routingKey,
      sessionId: message.sessionId,
      agentId,
      assignedAt: at,
      ...(redelivered ? { redelivered: true as const } : {}),
    });
  }

  /**
   * The session `message` opened (no earlier message in it), while it is still open: who holds it.
   * Null when the message did not open its session or the session has ended.
   */
  async function openedStillOpen(message: { sessionId: string; seq: number }) {
    const [row] = await db.$queryRaw<{ holder: string | null; assigned_at: Date | null }[]>`
      SELECT s.assigned_agent_id::text AS holder, s.assigned_at
        FROM conversation_sessions s
       WHERE s.id = ${message.sessionId}::uuid AND s.status = 'open'
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.seq < ${message.seq})`;
    return row ? { holder: row.holder, assignedAt: row.assigned_at } : null;
  }

  /**
   * One message on its own, under the conversation's lock: opens a session when none is open,
   * and answers a retry of a stored `client_msg_id` (or of the id its batch gave it) with the
   * stored message.
   */
  async function sendAlone(actor: Actor, senderId: string, input: SendMessage, id: string): Promise<Stored> {
    const conv = await requireConversation(actor, input.conversation_id);
    const agentId = actor.kind === 'agent' ? actor.userId : null;
    return storeAlone(conv, { type: actor.kind, id: senderId, agentId }, input, id);
  }

  /** `sendAlone` once the conversation is known to be the sender's. */
  async function storeAlone(
    conv: ConversationRef,
    sender: { type: SenderType; id: string; agentId: string | null },
    input: Pick<SendMessage, 'content_type' | 'content' | 'rich_media' | 'client_msg_id'> &
      Partial<Pick<SendMessage, 'internal'>>,
    id: string,
  ): Promise<Stored> {
    const internal = input.internal === true;
    const conversation = {
      id: conv.id,
      organizationId: conv.organizationId,
      channelId: conv.channelId,
      endUserId: conv.endUserId,
      endUserExternalId: conv.endUser.externalId,
      routingKey: conv.routingKey,
      // As the batch writer's EFFECTIVE_MODE: no knowledge base, no bot.
      mode:
        conv.mode === 'bot' &&
        (
          await query(
            'sb_has_knowledge',
            'SELECT 1 FROM knowledge_documents WHERE organization_id = $1::uuid LIMIT 1',
            [conv.organizationId],
          )
        ).length
          ? ('bot' as const)
          : ('human' as const),
    };
    try {
      // Through the driver, not the ORM's transaction: every conversation's first message comes
      // this way, a thousand of them when a thousand visitors say hello at once.
      return await transaction(async (q) => {
        const now = new Date();
        // Locks the conversation row: concurrent sends to one conversation open one session.
        // The insert's trigger then bumps its times (a note leaves the last message time alone).
        const locked = await q(
          'sb_lock_conversation',
          'SELECT 1 FROM conversations WHERE id = $1::uuid FOR UPDATE',
          [conv.id],
        );
        if (!locked.length) throw notFound();
        const [open] = await q<{ id: string }>(
          'sb_session_open',
          `SELECT id::text FROM conversation_sessions WHERE conversation_id = $1::uuid AND status = 'open'`,
          [conv.id],
        );
        let sessionId = open?.id;
        // A note never opens a session (that would start an interaction, assign it and tell
        // webhooks): it joins the latest one, resolved or not.
        if (!sessionId && internal) {
          const [latest] = await q<{ id: string }>(
            'sb_session_latest',
            `SELECT id::text FROM conversation_sessions WHERE conversation_id = $1::uuid
             ORDER BY created_at DESC LIMIT 1`,
            [conv.id],
          );
          if (!latest)
            throw new AppError(
              'conversation/no_open_session',
              'Nothing to note yet: this conversation has no messages',
            );
          sessionId = latest.id;
        }
        const sessionOpened = !sessionId;
        if (!sessionId) {
          // An agent writing first (outreach) owns the interaction they start.
          const [created] = await q<{ id: string }>(
            'sb_session_create',
            `INSERT INTO conversation_sessions (id, organization_id, conversation_id, first_message_at,
               assigned_agent_id, assigned_at, created_at, updated_at)
             VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5::uuid, $6, $4, $4)
             RETURNING id::text`,
            [randomUUID(), conv.organizationId, conv.id, now, sender.agentId, sender.agentId ? now : null],
          );
          sessionId = created!.id;
        }
        const [row] = await q(
          'sb_message_alone',
          `INSERT INTO messages (id, organization_id, conversation_id, session_id, sender_type,
             sender_id, content_type, content, rich_media, client_msg_id, internal, created_at)
           VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::"SenderType", $6, $7::"ContentType",
             $8, $9::jsonb, $10, $11, $12)
           RETURNING *`,
          [
            id,
            conv.organizationId,
            conv.id,
            sessionId,
            sender.type,
            sender.id,
            input.content_type,
            input.content,
            input.rich_media ? JSON.stringify(input.rich_media) : null,
            input.client_msg_id ?? null,
            internal,
            now,
          ],
        );
        return { message: messageFromRow(row!), conversation, sessionOpened, duplicate: false };
      });
    } catch (err) {
      // A retry, or the same retry racing itself: the unique id and (conversation, client_msg_id) decide.
      if (isUniqueViolation(err)) {
        const again = await findDuplicate(conv.id, id, input.client_msg_id);
        if (again) return { message: again, conversation, sessionOpened: false, duplicate: true };
      }
      throw err;
    }
  }

  /**
   * Reads of one turn in one statement (`batchedReads`): the inbox reads each visitor message that
   * arrives in the conversation in front of the agent, and the widget each agent message while it
   * is open, so a busy server marks about as many messages read as it stores; one statement and
   * one commit each cost more than the message itself. Answers, per ask, the ids newly read.
   */
  const readMessages = batchedReads<ReadAsk, string[]>(async (asks) => {
    const input = asks.map((a, k) => ({
      k,
      reader_id: a.readerId,
      reader_kind: a.readerKind,
      conversation_id: a.conversationId,
      ids: a.ids,
      read_at: a.readAt,
    }));
    const rows = await query<{ k: number; id: string }>('sb_read_messages', READ_MESSAGES, [
      JSON.stringify(input),
    ]);
    const out = asks.map((): string[] => []);
    for (const r of rows) out[r.k]!.push(r.id);
    return out;
  });

  /**
   * Read state, in `read_by` as `{ reader id: ISO time }`: records the reader only where they are
   * not recorded yet, and never on their own messages. `ids` names the messages (through the
   * turn's batch), or 'all' the end users' messages of the conversation (an agent opening it).
   */
  async function recordRead(
    actor: Actor,
    conv: { id: string; organizationId: string },
    ids: string[] | 'all',
  ) {
    const readerId = actor.kind === 'agent' ? actor.userId : actor.externalId;
    const readAt = new Date();
    const ask: ReadAsk = {
      readerId,
      readerKind: actor.kind,
      conversationId: conv.id,
      ids: ids === 'all' ? [] : [...new Set(ids.map((id) => id.toLowerCase()))],
      readAt: readAt.toISOString(),
    };
    const messageIds =
      ids === 'all'
        ? (await query<{ id: string }>('sb_read_all', READ_ALL, [conv.id, readerId, ask.readAt])).map(
            (r) => r.id,
          )
        : ((await readMessages(ask)) ?? []);
    if (messageIds.length) {
      bus.publish('messages.read', {
        organizationId: conv.organizationId,
        conversationId: conv.id,
        readerId,
        readerType: actor.kind,
        messageIds,
        readAt,
      });
    }
    return {
      conversation_id: conv.id,
      message_ids: messageIds,
      reader_id: readerId,
      read_at: readAt.toISOString(),
    };
  }

  const noDelivery: DeliveryState = {
    agent_delivered_seq: 0,
    visitor_delivered_seq: 0,
    agent_read_seq: 0,
    agent_read_at: null,
    visitor_read_seq: 0,
    visitor_read_at: null,
  };

  /**
   * The last seq and where both sides stand (`deliveryState`) of many conversations, one
   * statement; a join asks for one through `joinStateOf`, which reads a turn's joins together.
   */
  const joinStateOf = batchedReadsById(async (ids) => {
    // Through the driver, not the ORM, like the batch writer: one per join, thousands after a restart.
    const rows = await query<DeliveryState & { id: string; last_seq: number }>(
      'sb_join_state',
      `SELECT c.id::text AS id, c.last_seq, c.agent_delivered_seq, c.visitor_delivered_seq,
        coalesce(ar.seq, 0) AS agent_read_seq, ar.at AS agent_read_at,
        coalesce(vr.seq, 0) AS visitor_read_seq, vr.at AS visitor_read_at
      FROM conversations c JOIN end_users u ON u.id = c.end_user_id
      LEFT JOIN LATERAL (
        SELECT m.seq, (SELECT min(value) FROM jsonb_each_text(m.read_by)) AS at FROM messages m
        WHERE m.conversation_id = c.id AND m.sender_type = 'end_user' AND m.read_by <> '{}'::jsonb
        ORDER BY m.seq DESC LIMIT 1) ar ON true
      LEFT JOIN LATERAL (
        SELECT m.seq, m.read_by->>u.external_id AS at FROM messages m
        WHERE m.conversation_id = c.id AND m.sender_type <> 'end_user' AND NOT m.internal
          AND m.read_by ? u.external_id
        ORDER BY m.seq DESC LIMIT 1) vr ON true
      WHERE c.id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(
      rows.map(({ id, last_seq, ...delivery }) => [id, { lastSeq: Number(last_seq), delivery }]),
    );
  });

  /** The conversation's last seq and where both sides stand (`deliveryState`). */
  async function joinState(conversationId: string): Promise<{ lastSeq: number; delivery: DeliveryState }> {
    return (await joinStateOf(conversationId)) ?? { lastSeq: 0, delivery: noDelivery };
  }

  return {
    requireConversation,

    /** Messages stored by batch statements, statements run, and statements that failed. */
    writerStats: writer.stats,

    /** Receipts received and UPDATEs they cost (the batcher's bound). */
    deliveryStats: delivery.stats,

    /** Writes the pending receipts now. */
    flushDelivery: () => delivery.flush(),

    /**
     * The actor's clients received the conversation up to `seq`. `checked`: the gateway already
     * knows the actor may see it (a joined room, a relay session), so no read is spent on it.
     * Batched: see `createDeliveryBatcher`.
     */
    async delivered(actor: Actor, conversationId: string, seq: number, checked = false) {
      const organizationId = checked
        ? actor.organizationId
        : (await requireConversation(actor, conversationId)).organizationId;
      delivery.ack({ organizationId, conversationId, side: actor.kind, seq });
      return { conversation_id: conversationId, seq };
    },

    /**
     * Where both sides stand, to draw ticks after a reload (joins, the relay welcome): the highest
     * seq each side's clients received, and the latest message of the other side each side read
     * (reading a later message means the earlier ones were seen) with when. One statement.
     */
    async deliveryState(conversationId: string): Promise<DeliveryState> {
      return (await joinState(conversationId)).delivery;
    },

    /**
     * A join's answer without a catch-up: the conversation's last seq and `deliveryState`, the
     * joins of one turn of the event loop in one statement.
     */
    joinState,

    /**
     * Stores a message from an end user or an agent and publishes `message.created`.
     * The first message after a resolve opens a new session; an agent who writes first owns it
     * (`conversation.assigned`). A retry with the same `client_msg_id` returns the stored message
     * with `duplicate: true` and publishes it again (`redelivered`): the first answer may have been
     * lost before it was broadcast (its node died, its connection dropped after the commit).
     */
    async send(actor: Actor, input: SendMessage): Promise<SendResult> {
      if (input.sender_type !== actor.kind) {
        throw new AppError(
          'request/invalid',
          `Invalid parameter 'sender_type': must be ${actor.kind} for this client`,
          { param: 'sender_type' },
        );
      }
      if (input.internal && actor.kind !== 'agent') {
        throw new AppError(
          'request/invalid',
          "Invalid parameter 'internal': only agents write internal notes",
          {
            param: 'internal',
          },
        );
      }
      // An attachment's link travels only within its own conversation.
      await requireOwnAttachment(db, input.conversation_id, input.content_type, input.rich_media);
      const senderId = actor.kind === 'agent' ? actor.userId : actor.externalId;
      // Notes are rare and never open a session: the one-message path, not the batch writer.
      const result = input.internal
        ? await sendAlone(actor, senderId, input, randomUUID())
        : await writer.append(actor, senderId, input, (id) => sendAlone(actor, senderId, input, id));
      const { message, conversation, sessionOpened } = result;
      if (result.duplicate) {
        // The first answer's events may never have gone out: a retry of the message that opened a
        // session still open tells again what the opening told (the queue, the outreach's holder).
        const opened = await openedStillOpen(message);
        if (opened && actor.kind === 'agent' && opened.holder === actor.userId) {
          outreachAssigned(result, actor.userId, opened.assignedAt ?? message.createdAt, true);
        }
        bus.publish('message.created', {
          message,
          conversation,
          sessionOpened: opened !== null,
          redelivered: true,
        });
        return result;
      }
      if (sessionOpened && actor.kind === 'agent') outreachAssigned(result, actor.userId, message.createdAt);
      bus.publish('message.created', {
        message,
        conversation,
        sessionOpened,
        redelivered: false,
        ...(result.webhooks === false ? { webhooks: false as const } : {}),
      });
      return result;
    },

    /**
     * A bot's or the system's message (the tenant's signed API, the bot), into a conversation the
     * caller has checked is the tenant's. Rare, so it takes the one-message transaction, not the
     * batch writer; published as `message.created` like any other (a retry: `redelivered`).
     */
    async sendAsService(
      conv: Conversation & { endUser: { externalId: string } },
      sender: { type: 'bot' | 'system'; id: string },
      input: Pick<SendMessage, 'content'> &
        Partial<Pick<SendMessage, 'content_type' | 'rich_media' | 'client_msg_id'>>,
    ): Promise<SendResult> {
      await requireOwnAttachment(db, conv.id, input.content_type ?? 'text', input.rich_media);
      const result = await storeAlone(
        conv,
        { ...sender, agentId: null },
        {
          content_type: input.content_type ?? 'text',
          content: input.content,
          rich_media: input.rich_media ?? null,
          client_msg_id: input.client_msg_id,
        },
        randomUUID(),
      );
      const { message, conversation, duplicate } = result;
      bus.publish('message.created', {
        message,
        conversation,
        sessionOpened: duplicate ? false : result.sessionOpened,
        redelivered: duplicate,
      });
      return result;
    },

    /** Agent history: a page counted back from the newest message, returned oldest first. */
    async history(actor: AgentActor, conversationId: string, { limit, offset }: HistoryQuery) {
      const conv = await requireConversation(actor, conversationId);
      const rows = await db.message.findMany({
        where: { conversationId: conv.id },
        orderBy: { seq: 'desc' },
        take: limit,
        skip: offset,
      });
      return rows.reverse();
    },

    /**
     * The last `limit` messages, oldest first, for an end user proven by external_id: never the
     * agents' internal notes.
     */
    async recent(conversationId: string, limit = 100) {
      const rows = await db.message.findMany({
        where: { conversationId, internal: false },
        orderBy: { seq: 'desc' },
        take: limit,
      });
      return rows.reverse();
    },

    /** The seq of the conversation's latest message (0: none), for a client that starts fresh. */
    async lastSeq(conversationId: string) {
      const conv = await db.conversation.findUnique({
        where: { id: conversationId },
        select: { lastSeq: true },
      });
      return conv?.lastSeq ?? 0;
    },

    /**
     * Catch-up: the messages after `seq` (or after the message `afterId`), oldest first, at most
     * `limit`; with the conversation's last seq when they were read, so a client that got them all
     * holds everything up to it, numbers that were skipped included. Internal notes only with
     * `internal: true` (agents): an end user's copy skips their numbers.
     */
    async since(
      conversationId: string,
      after: { seq: number } | { id: string },
      limit = REPLAY_LIMIT,
      { internal = false }: { internal?: boolean } = {},
    ) {
      let seq: number;
      if ('seq' in after) seq = after.seq;
      else {
        const last = await db.message.findFirst({
          where: { id: after.id, conversationId },
          select: { seq: true },
        });
        // An unknown id (another conversation's, or made up): nothing to replay from.
        if (!last) return { messages: [], lastSeq: 0, hasMore: false };
        seq = last.seq;
      }
      // One snapshot for both reads: the last seq must not be newer than the messages.
      const [conv, messages] = await db.$transaction(
        [
          db.conversation.findUnique({ where: { id: conversationId }, select: { lastSeq: true } }),
          db.message.findMany({
            where: { conversationId, seq: { gt: seq }, ...(internal ? {} : { internal: false }) },
            orderBy: { seq: 'asc' },
            take: limit + 1,
          }),
        ],
        { isolationLevel: 'RepeatableRead' },
      );
      const hasMore = messages.length > limit;
      if (hasMore) messages.length = limit;
      return {
        messages,
        lastSeq: hasMore ? messages.at(-1)!.seq : Math.max(conv?.lastSeq ?? 0, messages.at(-1)?.seq ?? 0),
        hasMore,
      };
    },

    /**
     * Records that the actor read these messages (their own are skipped) and publishes
     * `messages.read` with the ids newly read. `checked`: the gateway already knows the actor may
     * see the conversation (a joined room, a relay session), so no read is spent on it.
     */
    async markRead(actor: Actor, { conversation_id, message_ids }: MarkRead, checked = false) {
      const conv = checked
        ? { id: conversation_id, organizationId: actor.organizationId }
        : await requireConversation(actor, conversation_id);
      return recordRead(actor, conv, message_ids);
    },

    /**
     * Opening a conversation in the inbox reads it: every end-user message the agent has not
     * read yet is marked, in one statement, with one `messages.read`.
     */
    async markAllRead(actor: AgentActor, conversationId: string) {
      const conv = await requireConversation(actor, conversationId);
      const { message_ids } = await recordRead(actor, conv, 'all');
      return { conversation_id: conv.id, read: message_ids.length };
    },

    /**
     * Unread counts for the inbox: end-user messages the agent has not read yet in open sessions
     * that are theirs or nobody's (another agent's conversation is not their backlog), per
     * conversation. Survives a reload, unlike counts kept in the page.
     */
    async unreadCounts(actor: AgentActor): Promise<Record<string, number>> {
      const all = seesAllQueues(actor);
      const rows = await db.$queryRaw<{ conversation_id: string; n: number }[]>`
        SELECT m.conversation_id::text AS conversation_id, count(*)::int AS n
        FROM messages m
        -- The organization's open sessions first (its index), never every tenant's backlog.
        JOIN conversation_sessions s ON s.id = m.session_id AND s.status = 'open'
          AND s.organization_id = ${actor.organizationId}::uuid
          AND (s.assigned_agent_id IS NULL OR s.assigned_agent_id = ${actor.userId}::uuid)
        JOIN conversations c ON c.id = m.conversation_id
        WHERE m.organization_id = ${actor.organizationId}::uuid
          AND m.sender_type = 'end_user'
          AND NOT (m.read_by ? ${actor.userId}::text)
          AND (${all} OR c.routing_key = ANY(${actor.routingKeys}::text[]))
        GROUP BY m.conversation_id`;
      return Object.fromEntries(rows.map((r) => [r.conversation_id, r.n]));
    },
  };
}
