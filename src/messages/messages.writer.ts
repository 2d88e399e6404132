import { randomUUID } from 'node:crypto';
import type { Message } from '../generated/prisma/client.js';
import { seesAllQueues, type Actor } from '../shared/auth/actor.js';
import type { Database } from '../shared/db.js';
import type { DomainEvents } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { isDatabaseUnavailable, isWriteConflict, mayHaveCommitted } from '../shared/outage.js';
import type { SendMessage } from './messages.schemas.js';

export type Appended = {
  message: Message;
  conversation: DomainEvents['message.created']['conversation'];
  /** False when the statement found the organization without a webhook URL (see the event). */
  webhooks?: false;
};

/** A message as stored (or found stored, for a retry), with what listeners need to know. */
export type Stored = Appended & { sessionOpened: boolean; duplicate: boolean };

/**
 * The whole send, for what one statement does not cover: a new session, a retry, an error. It
 * stores the message under `id`, the id the batch gave it, so a message whose batch did commit
 * after all (its answer was lost) can never be stored a second time.
 */
export type Fallback = (id: string) => Promise<Stored>;

type Job = {
  row: Record<string, unknown>;
  fallback: Fallback;
  resolve: (r: Stored) => void;
  reject: (err: unknown) => void;
};

type Lane = { queue: Job[]; busy: boolean };

/** A `messages` row as PostgreSQL returns it, as Prisma's `Message`. */
export function messageFromRow(r: Record<string, unknown>): Message {
  return {
    id: r.id as string,
    seq: Number(r.seq),
    organizationId: r.organization_id as string,
    conversationId: r.conversation_id as string,
    sessionId: r.session_id as string,
    senderType: r.sender_type as Message['senderType'],
    senderId: r.sender_id as string,
    contentType: r.content_type as Message['contentType'],
    content: r.content as string,
    richMedia: (r.rich_media ?? null) as Message['richMedia'],
    readBy: (r.read_by ?? {}) as Message['readBy'],
    clientMsgId: (r.client_msg_id ?? null) as string | null,
    internal: r.internal === true,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at as string),
  };
}

/**
 * Group commit for messages. Sends go into lanes (by conversation, so one conversation's
 * messages keep their order and two lanes never lock the same conversation); a lane writes
 * whatever has queued up while its previous statement ran, in one statement and one commit.
 * An idle lane writes at once, so a quiet server adds no delay; a busy one writes more per
 * round trip instead of queueing round trips.
 *
 * The statement checks access (the end user's own conversation, or one in the agent's queues) and
 * appends to the open session; the insert numbers each message in its conversation and bumps the
 * conversation (a trigger). A message it does not store (no open session, a retry of a stored
 * `client_msg_id`, no access) takes the full path (`fallback`), in its lane and in order, which
 * opens the session or answers the duplicate or the error exactly as a single send would.
 *
 * A statement that fails is logged once, with its cause. When its answer was lost (the connection
 * dropped or timed out after it was sent) it may have committed: the messages it stored are looked
 * up by the ids it gave them before anything is written again. When the database cannot be asked,
 * every message of the batch fails with `unavailable`, for the sender to retry.
 */
export function createMessageWriter({
  query,
  logger,
  // Two: a first message's full path in one lane leaves the other writing. Each lane is a statement
  // in flight, so a PostgreSQL backend at work: at 1,000 msg/s four lanes wrote 4.3-4.6 messages per
  // statement and PostgreSQL used 41-47% of a core, two lanes 4.9-5.5 and 36-38% (one lane: 9.3-10.8,
  // 26-29%), the cores the server's event loop then waited for (benchmark, README → fourteenth pass).
  lanes: laneCount = 2,
  maxBatch = 256,
}: {
  query: Database['query'];
  logger?: Logger | undefined;
  lanes?: number;
  maxBatch?: number;
}) {
  const lanes: Lane[] = Array.from({ length: laneCount }, () => ({ queue: [], busy: false }));
  let written = 0;
  let statements = 0;
  let failed = 0;

  function laneOf(conversationId: string): Lane {
    // The uuid's last 8 hex digits are random (v4) and spread evenly.
    return lanes[parseInt(conversationId.slice(-8), 16) % lanes.length]!;
  }

  /**
   * After a failed statement: the messages it stored (none, when the server refused it), or null
   * when its senders must be told to retry (the database cannot serve, or cannot say what
   * committed).
   */
  async function recover(jobs: Job[], err: unknown): Promise<Map<string, Appended> | null> {
    failed += 1;
    const context = { err, messages: jobs.length };
    if (!mayHaveCommitted(err)) {
      // The server refused the statement, so none of it committed. A deadlock with another node
      // is worth the full path at once; a database that is shutting down or timing out is not.
      if (isDatabaseUnavailable(err) && !isWriteConflict(err)) {
        logger?.warn(context, 'message batch failed; its senders are told to retry');
        return null;
      }
      logger?.warn(context, 'message batch failed; its messages are sent one by one');
      return new Map();
    }
    // The pool may still hold other connections the same drop killed: a few quick tries.
    let lookupErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 250));
      try {
        const stored = await findStored(
          query,
          jobs.map((j) => j.row.id as string),
        );
        logger?.warn(
          { ...context, committed: stored.size },
          'message batch lost its answer; the rest are sent one by one',
        );
        return stored;
      } catch (e) {
        lookupErr = e;
        if (!isDatabaseUnavailable(e)) break;
      }
    }
    logger?.warn({ ...context, lookupErr }, 'message batch lost its answer; its senders are told to retry');
    return null;
  }

  async function runBatch(jobs: Job[]) {
    let stored: Map<string, Appended> | null;
    try {
      stored = await insertBatch(
        query,
        jobs.map((j) => j.row),
      );
      statements += 1;
    } catch (err) {
      stored = await recover(jobs, err);
      if (!stored) {
        for (const job of jobs) job.reject(err);
        return;
      }
    }
    for (const job of jobs) {
      const hit = stored.get(job.row.id as string);
      if (hit) {
        written += 1;
        job.resolve({ ...hit, sessionOpened: false, duplicate: false });
        continue;
      }
      try {
        job.resolve(await job.fallback(job.row.id as string));
      } catch (err) {
        job.reject(err);
      }
    }
  }

  async function drain(lane: Lane) {
    lane.busy = true;
    try {
      while (lane.queue.length) await runBatch(lane.queue.splice(0, maxBatch));
    } finally {
      lane.busy = false;
    }
  }

  return {
    /** Stores one message (through the next batch of its lane) and answers it. */
    append(actor: Actor, senderId: string, input: SendMessage, fallback: Fallback): Promise<Stored> {
      const row = {
        id: randomUUID(),
        organization_id: actor.organizationId,
        conversation_id: input.conversation_id,
        // The access rule travels with the row: the end user's own conversation, or the
        // agent's queues (null: every queue of the organization).
        end_user_id: actor.kind === 'end_user' ? actor.endUserId : null,
        routing_keys: actor.kind === 'agent' && !seesAllQueues(actor) ? actor.routingKeys : null,
        sender_type: actor.kind,
        sender_id: senderId,
        content_type: input.content_type,
        content: input.content,
        rich_media: input.rich_media ?? null,
        client_msg_id: input.client_msg_id ?? null,
        created_at: new Date().toISOString(),
      };
      const lane = laneOf(input.conversation_id);
      return new Promise((resolve, reject) => {
        lane.queue.push({ row, fallback, resolve, reject });
        // Started on the next turn of the event loop, so sends arriving together share a statement.
        if (!lane.busy) {
          lane.busy = true;
          setImmediate(() => void drain(lane));
        }
      });
    },

    /** Messages written by batch statements, statements run, and statements that failed. */
    stats: () => ({ written, statements, failed }),
  };
}

/**
 * The mode a conversation is in, as its messages' listeners see it: `bot` only when the tenant has
 * a knowledge base to answer from (without one there is no bot: the queue takes the conversation).
 * One index probe, for conversations in bot mode only.
 */
const EFFECTIVE_MODE = `CASE WHEN conv.mode = 'bot' AND EXISTS (
      SELECT 1 FROM knowledge_documents k WHERE k.organization_id = conv.organization_id)
    THEN 'bot' ELSE 'human' END AS mode`;

/**
 * A batch's messages, as JSON: the rows whose conversation the sender may write to and which has
 * an open session are inserted, in order, and their conversations bumped.
 */
const APPEND_MESSAGES = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
      ord int, id uuid, organization_id uuid, conversation_id uuid, end_user_id uuid,
      routing_keys text[], sender_type "SenderType", sender_id text, content_type "ContentType",
      content text, rich_media jsonb, client_msg_id text, created_at timestamptz)
  ), ok AS (
    -- Each lookup is a LATERAL with LIMIT: one index probe per message. As plain joins (or LATERALs
    -- without LIMIT, which the planner flattens into joins) the planner, which cannot tell how few
    -- rows come in, hashes every conversation and every open session instead.
    SELECT i.*, s.id AS session_id, s.assigned_agent_id AS holder_id, c.channel_id, c.routing_key,
      c.end_user_id AS conv_end_user_id, c.external_id, c.mode, c.webhooks
    FROM input i
    JOIN LATERAL (
      SELECT conv.channel_id, conv.routing_key, conv.end_user_id, e.external_id, ${EFFECTIVE_MODE},
        -- Whether the webhook trigger may queue an event for it: without a URL, nobody need look
        -- (one set meanwhile: its event waits for the worker's next poll).
        o.webhook_url IS NOT NULL AS webhooks
      FROM conversations conv JOIN end_users e ON e.id = conv.end_user_id
      JOIN organizations o ON o.id = conv.organization_id
      WHERE conv.id = i.conversation_id AND conv.organization_id = i.organization_id
        AND (i.end_user_id IS NULL OR conv.end_user_id = i.end_user_id)
        AND (i.routing_keys IS NULL OR conv.routing_key = ANY (i.routing_keys))
        -- A retry of a stored message goes down the full path, which answers it; left out here,
        -- it takes no number (the trigger numbers a row before ON CONFLICT could skip it). Inside
        -- the LATERAL these are index probes; as a WHERE of the outer query the planner hashes
        -- the whole messages table instead.
        AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.id = i.id)
        AND (i.client_msg_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM messages x WHERE x.conversation_id = i.conversation_id AND x.client_msg_id = i.client_msg_id))
      LIMIT 1
    ) c ON true
    JOIN LATERAL (
      SELECT id, assigned_agent_id FROM conversation_sessions
      WHERE conversation_id = i.conversation_id AND status = 'open' LIMIT 1
    ) s ON true
  ), m AS (
    -- Inserted by conversation, then in order: the trigger locks each conversation row in the same
    -- order on every node, so batches on two nodes seldom wait on each other; a deadlock PostgreSQL
    -- breaks sends that batch's messages down the full path.
    INSERT INTO messages (id, organization_id, conversation_id, session_id, sender_type, sender_id,
      content_type, content, rich_media, client_msg_id, created_at)
    SELECT id, organization_id, conversation_id, session_id, sender_type, sender_id, content_type,
      content, rich_media, client_msg_id, created_at
    FROM ok ORDER BY conversation_id, ord
    ON CONFLICT DO NOTHING
    RETURNING *
  )
  SELECT m.*, ok.channel_id, ok.routing_key, ok.conv_end_user_id, ok.external_id, ok.mode, ok.webhooks,
    ok.holder_id::text AS holder_id
  FROM m JOIN ok ON ok.id = m.id`;

/** The messages among `ids` that are stored, with what listeners need to know. */
const FIND_MESSAGES = `
  SELECT m.*, c.channel_id, c.routing_key, c.end_user_id AS conv_end_user_id, e.external_id,
    ${EFFECTIVE_MODE.replaceAll('conv.', 'c.')}
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN end_users e ON e.id = c.end_user_id
  WHERE m.id = ANY ($1::uuid[])`;

/** One statement for a batch; returns the messages stored, by id. */
async function insertBatch(
  query: Database['query'],
  rows: Record<string, unknown>[],
): Promise<Map<string, Appended>> {
  const input = JSON.stringify(rows.map((r, ord) => ({ ...r, ord })));
  return appendedByIds(await query('sb_append_messages', APPEND_MESSAGES, [input]));
}

/** The messages among `ids` already stored (after a statement whose answer was lost). */
async function findStored(query: Database['query'], ids: string[]): Promise<Map<string, Appended>> {
  return appendedByIds(await query('sb_find_messages', FIND_MESSAGES, [ids]));
}

function appendedByIds(result: Record<string, unknown>[]): Map<string, Appended> {
  const out = new Map<string, Appended>();
  for (const r of result) {
    const message = messageFromRow(r);
    out.set(message.id, {
      message,
      conversation: {
        id: message.conversationId,
        organizationId: message.organizationId,
        channelId: r.channel_id as string,
        endUserId: r.conv_end_user_id as string,
        endUserExternalId: r.external_id as string,
        routingKey: (r.routing_key ?? null) as string | null,
        mode: r.mode as Appended['conversation']['mode'],
        // Only the batch statement reads the session's holder.
        ...(r.holder_id !== undefined ? { holderId: (r.holder_id ?? null) as string | null } : {}),
      },
      // Only the batch statement says (a lookup after a lost answer does not).
      ...(r.webhooks === false ? { webhooks: false as const } : {}),
    });
  }
  return out;
}
