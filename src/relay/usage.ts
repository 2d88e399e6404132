import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { isDatabaseUnavailable, mayHaveCommitted } from '../shared/outage.js';

export type Usage = ReturnType<typeof createUsage>;

type Counter = 'sessions' | 'messages' | 'apiCalls' | 'webhooksSent';
type Counts = Record<Counter, number>;

/** How often the counts reach the database. */
export const USAGE_FLUSH_MS = 5000;

const zero = (): Counts => ({ sessions: 0, messages: 0, apiCalls: 0, webhooksSent: 0 });

/**
 * Per-tenant usage per UTC day (`usage_daily`): visitor sessions, end users' messages, signed API
 * calls, webhooks sent. Counting is a map increment on the hot path; every `flushMs` each
 * (organization, day) touched is written with one upsert that adds to the row, so every node
 * counts into the same rows. `stop()` (from `app.close()`) writes what is left. A crash loses at
 * most the counts of the last `flushMs`; counts held while the database is away are kept for the
 * next flush.
 */
export function createUsage(deps: { db: Db; bus: EventBus; logger: Logger; flushMs?: number }) {
  const { db, logger } = deps;
  let pending = new Map<string, Counts>();
  let flushing: Promise<void> = Promise.resolve();

  function count(organizationId: string, counter: Counter) {
    const key = `${organizationId}|${new Date().toISOString().slice(0, 10)}`;
    let c = pending.get(key);
    if (!c) pending.set(key, (c = zero()));
    c[counter] += 1;
  }

  /** Puts counts back, for the next flush (added to whatever was counted meanwhile). */
  function keep(key: string, c: Counts) {
    const now = pending.get(key);
    if (!now) return void pending.set(key, c);
    for (const counter of Object.keys(c) as Counter[]) now[counter] += c[counter];
  }

  async function write(batch: Map<string, Counts>) {
    const entries = [...batch];
    for (const [i, [key, c]] of entries.entries()) {
      const [organizationId, day] = key.split('|') as [string, string];
      try {
        await db.$executeRaw`
          INSERT INTO usage_daily (organization_id, day, sessions, messages, api_calls, webhooks_sent)
          VALUES (${organizationId}::uuid, ${day}::date, ${c.sessions}, ${c.messages}, ${c.apiCalls}, ${c.webhooksSent})
          ON CONFLICT (organization_id, day) DO UPDATE SET
            sessions = usage_daily.sessions + EXCLUDED.sessions,
            messages = usage_daily.messages + EXCLUDED.messages,
            api_calls = usage_daily.api_calls + EXCLUDED.api_calls,
            webhooks_sent = usage_daily.webhooks_sent + EXCLUDED.webhooks_sent`;
      } catch (err) {
        if (isDatabaseUnavailable(err)) {
          // The rest would wait for the same timeout: it is kept for the next flush, and so is this
          // one unless its answer was lost after it was sent (counting twice is worse than once less).
          for (const [k, kept] of entries.slice(mayHaveCommitted(err) ? i + 1 : i)) keep(k, kept);
          return;
        }
        // A deleted organization (foreign key): nothing to count it against.
        logger.warn({ err, organizationId, day }, 'usage counts dropped');
      }
    }
  }

  /** Writes what was counted so far; flushes run one after another. */
  function flush(): Promise<void> {
    flushing = flushing.then(() => {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      return write(batch);
    });
    return flushing;
  }

  const unsubscribe = [
    deps.bus.subscribe('visitor_session.created', ({ organizationId }) => count(organizationId, 'sessions')),
    // A redelivered message was counted when it was first stored; agents' and bots' are not usage.
    deps.bus.subscribe('message.created', ({ message, redelivered }) => {
      if (message.senderType === 'end_user' && !redelivered) count(message.organizationId, 'messages');
    }),
  ];
  const timer = setInterval(() => void flush(), deps.flushMs ?? USAGE_FLUSH_MS);
  timer.unref();

  return {
    /** One signed backend API call of the tenant. */
    countApiCall: (organizationId: string) => count(organizationId, 'apiCalls'),
    /** One webhook delivered (or attempted) to the tenant's backend. */
    countWebhookSent: (organizationId: string) => count(organizationId, 'webhooksSent'),
    flush,
    /** Stops counting and writes what is left (shutdown). */
    async stop() {
      clearInterval(timer);
      for (const off of unsubscribe) off();
      await flush();
    },
  };
}
