import type { Config } from '../config.js';
import type { Usage } from '../relay/usage.js';
import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { createWebhookWorker, type WebhookPolicy } from './webhooks.worker.js';

export type Webhooks = ReturnType<typeof createWebhooks>;

/**
 * The events whose causes (a session claimed, released, resolved; an event queued by hand) queue
 * webhooks; `message.created` too, see below.
 */
const CAUSES = [
  'conversation.assigned',
  'conversation.released',
  'conversation.transferred',
  'conversation.resolved',
  'webhook.queued',
] as const;

/** The longest wait between two attempts: with the defaults, 12 attempts span about a day. */
export const WEBHOOK_MAX_DELAY_MS = 6 * 3600_000;

/** The worker's policy as the configuration sets it. */
export function webhookPolicy(config: Pick<Config, 'webhooks'>): WebhookPolicy {
  return { ...config.webhooks, maxDelayMs: WEBHOOK_MAX_DELAY_MS };
}

/** The worker looks within this long of a cause on this node, instead of at its next poll. */
const KICK_DELAY_MS = 25;

/**
 * Webhook delivery on this node: the worker, woken shortly after a change that may have queued an
 * event (triggers queue them in the change's transaction; of the causes, only a message's batch
 * statement says whether its organization has a webhook URL) and polling for the rest (retries,
 * other nodes' events when theirs is down). `start()` runs it.
 */
export function createWebhooks(deps: {
  db: Db;
  config: Config;
  logger: Logger;
  bus: EventBus;
  usage?: Pick<Usage, 'countWebhookSent'> | undefined;
  /** Each delivery attempt's outcome: the receiver's status code, or `error` (the metrics). */
  onAttempt?: ((status: string) => void) | undefined;
}) {
  const { config } = deps;
  const worker = createWebhookWorker({
    db: deps.db,
    encryptionKey: config.encryptionKey,
    logger: deps.logger.child({ component: 'webhooks' }),
    usage: deps.usage,
    policy: webhookPolicy(config),
    onAttempt: deps.onAttempt,
  });
  let pending: NodeJS.Timeout | undefined;
  let kicks = 0;
  const kick = () => {
    kicks += 1;
    pending ??= setTimeout(() => {
      pending = undefined;
      worker.kick();
    }, KICK_DELAY_MS);
  };
  const unsubscribe = [
    ...CAUSES.map((e) => deps.bus.subscribe(e, kick)),
    // A message stored where no webhook URL is set queued nothing: no claim to run for it (at
    // load, one per message batch otherwise).
    deps.bus.subscribe('message.created', (e) => {
      if (e.webhooks !== false) kick();
    }),
  ];
  return {
    start: () => worker.start(),
    kick,
    /** Causes that woke the worker on this node (each a claim within `KICK_DELAY_MS`, shared). */
    kicks: () => kicks,
    async stop() {
      for (const u of unsubscribe) u();
      clearTimeout(pending);
      await worker.stop();
    },
  };
}
