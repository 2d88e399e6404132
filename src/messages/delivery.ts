import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';

/** Whose clients received: the agents' (inbox) or the visitor's (widget, element, SDK). */
export type DeliverySide = 'agent' | 'end_user';

/** How often acknowledged receipts are written and broadcast, at most, per conversation and side. */
export const DELIVERY_FLUSH_MS = 250;

type Pending = { organizationId: string; conversationId: string; side: DeliverySide; seq: number };

/**
 * Receipts ("my client has everything up to seq N") are coalesced in memory: whatever the number
 * of acks, one conversation's side costs at most one UPDATE per flush interval on this node, and
 * the UPDATE only writes when the stored seq grows (`GREATEST`, guarded by `<`). `seq` is capped
 * at the conversation's `last_seq`, so a client cannot claim messages that do not exist yet.
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

  async function write(p: Pending) {
    const column = p.side === 'agent' ? 'agent_delivered_seq' : 'visitor_delivered_seq';
    stats.writes++;
    const rows = await db.$queryRawUnsafe<{ seq: number }[]>(
      `UPDATE conversations SET ${column} = LEAST($1::int, last_seq)
       WHERE id = $2::uuid AND organization_id = $3::uuid AND ${column} < LEAST($1::int, last_seq)
       RETURNING ${column} AS seq`,
      p.seq,
      p.conversationId,
      p.organizationId,
    );
    const row = rows[0];
    if (!row) return;
    bus.publish('messages.delivered', {
      organizationId: p.organizationId,
      conversationId: p.conversationId,
      recipientType: p.side,
      seq: row.seq,
      deliveredAt: new Date(),
    });
  }

  function flush() {
    timer = null;
    const batch = [...pending.values()];
    pending.clear();
    flushing = flushing.then(async () => {
      for (const p of batch) {
        await write(p).catch((err: unknown) => logger?.warn({ err }, 'delivery receipt not stored'));
      }
    });
    return flushing;
  }

  return {
    stats,
    /** Records that `side`'s clients received the conversation up to `seq`; written on the next flush. */
    ack(p: Pending) {
      stats.acks++;
      const key = `${p.conversationId}:${p.side}`;
      const had = pending.get(key);
      if (!had || had.seq < p.seq) pending.set(key, p);
      if (!timer) timer = setTimeout(() => void flush(), flushMs).unref();
    },
    /** Writes what is pending now (shutdown, tests). */
    async flush() {
      if (timer) clearTimeout(timer);
      await flush();
    },
  };
}

export type DeliveryBatcher = ReturnType<typeof createDeliveryBatcher>;
