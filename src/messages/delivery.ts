import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { createOutage, isDatabaseUnavailable } from '../shared/outage.js';

/** Whose clients received: the agents' (inbox) or the visitor's (widget, element, SDK). */
export type DeliverySide = 'agent' | 'end_user';

/** How often acknowledged receipts are written and broadcast, at most, per conversation and side. */
export const DELIVERY_FLUSH_MS = 250;

/** Conversations whose receipts one statement writes, at most. */
const WRITE_BATCH = 500;

type Pending = { organizationId: string; conversationId: string; side: DeliverySide; seq: number };

/**
 * Receipts ("my client has everything up to seq N") are coalesced in memory: whatever the number
 * of acks, a flush writes each side's receipts of every conversation in one statement (per 500
 * conversations) on this node, and a row only changes when its stored seq grows (guarded by `<`).
 * `seq` is capped at the conversation's `last_seq`, so a client cannot claim messages that do not
 * exist yet.
 * The flush publishes `messages.delivered` for each row that moved, which the listeners turn into
 * `messages_delivered` (Socket.IO, through the adapter) and `delivered` frames (relay fan-out).
 */
export function createDeliveryBatcher({
  db,
  bus,
  logger,
  flushMs = DELIVERY_FLUSH_MS,
}: {
  db: Db;
  bus: EventBus;
  logger?: Logger | undefined;
  flushMs?: number;
}) {
  const pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();
  const stats = { acks: 0, writes: 0 };
  const outage = createOutage('database (delivery receipts)', logger, 'receipts wait in memory');

  /**
   * One side's receipts in one statement (up to `WRITE_BATCH` conversations): each row moves only
   * forward and never past `last_seq`. A row another transaction holds (a message being stored in
   * it) is skipped, not waited for, so this never deadlocks with the message writer; it goes back
   * into the pending receipts for the next flush.
   */
  async function write(side: DeliverySide, batch: Pending[]) {
    const column = side === 'agent' ? 'agent_delivered_seq' : 'visitor_delivered_seq';
    stats.writes++;
    const rows = await db.$queryRawUnsafe<
      { id: string; organization_id: string; seq: number; skipped: boolean }[]
    >(
      `WITH wanted AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS w(id, organization_id, seq)
       ), needed AS (
         SELECT c.id, c.organization_id, LEAST(w.seq, c.last_seq) AS seq
         FROM conversations c JOIN wanted w ON w.id = c.id AND w.organization_id = c.organization_id
         WHERE c.${column} < LEAST(w.seq, c.last_seq)
       ), locked AS (
         SELECT c.id FROM conversations c WHERE c.id IN (SELECT id FROM needed)
         ORDER BY c.id FOR UPDATE OF c SKIP LOCKED
       ), moved AS (
         UPDATE conversations c SET ${column} = LEAST(n.seq, c.last_seq)
         FROM needed n WHERE c.id = n.id AND c.id IN (SELECT id FROM locked)
           AND c.${column} < LEAST(n.seq, c.last_seq)
         RETURNING c.id, c.organization_id, c.${column} AS seq
       )
       SELECT id::text, organization_id::text, seq, false AS skipped FROM moved
       UNION ALL
       SELECT id::text, organization_id::text, seq, true FROM needed
       WHERE id NOT IN (SELECT id FROM locked)`,
      batch.map((p) => p.conversationId),
      batch.map((p) => p.organizationId),
      batch.map((p) => p.seq),
    );
    const deliveredAt = new Date();
    for (const row of rows) {
      if (row.skipped) {
        pend({ organizationId: row.organization_id, conversationId: row.id, side, seq: row.seq });
        continue;
      }
      bus.publish('messages.delivered', {
        organizationId: row.organization_id,
        conversationId: row.id,
        recipientType: side,
        seq: row.seq,
        deliveredAt,
      });
    }
  }

  function flush() {
    timer = null;
    const batch = [...pending.values()];
    pending.clear();
    flushing = flushing.then(async () => {
      for (const side of ['agent', 'end_user'] as const) {
        const mine = batch.filter((p) => p.side === side);
        for (let i = 0; i < mine.length; i += WRITE_BATCH) {
          const chunk = mine.slice(i, i + WRITE_BATCH);
          try {
            await write(side, chunk);
            outage.ok();
          } catch (err) {
            // The database is away: the receipts wait for the next flush (a newer one replaces
            // its conversation's), logged once per outage. Anything else is logged and dropped.
            if (isDatabaseUnavailable(err)) {
              outage.failed(err);
              for (const p of chunk) pend(p);
            } else {
              logger?.warn({ err, receipts: chunk.length }, 'delivery receipts not stored');
            }
          }
        }
      }
    });
    return flushing;
  }

  /** Pending for the next flush (the highest seq per conversation and side wins). */
  function pend(p: Pending) {
    const key = `${p.conversationId}:${p.side}`;
    const had = pending.get(key);
    if (!had || had.seq < p.seq) pending.set(key, p);
    if (!timer) timer = setTimeout(() => void flush(), flushMs).unref();
  }

  return {
    stats,
    /** Records that `side`'s clients received the conversation up to `seq`; written on the next flush. */
    ack(p: Pending) {
      stats.acks++;
      pend(p);
    },
    /** Writes what is pending now (shutdown, tests). */
    async flush() {
      if (timer) clearTimeout(timer);
      await flush();
    },
  };
}

export type DeliveryBatcher = ReturnType<typeof createDeliveryBatcher>;
