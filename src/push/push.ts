import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { createApnsSender } from './apns.js';
import { createFcmSender } from './fcm.js';
import { pushListener } from './push.listener.js';
import type { PushService } from './push.service.js';
import type { EndUserPresence } from './push.types.js';
import { createPushWorker } from './push.worker.js';

export type Push = ReturnType<typeof createPush>;

/**
 * Push notifications: the `message.created` listener fills the outbox at once; the worker sends
 * it once `start()`ed (the server starts it; so may a test).
 */
export function createPush(deps: {
  db: Db;
  config: Config;
  logger: Logger;
  bus: EventBus;
  /** Whether the end user is connected (then no push): provided by the realtime gateway. */
  endUsers: EndUserPresence;
  credentials: Pick<PushService, 'credentialFor'>;
  /** Each send's provider and outcome (metrics). */
  onAttempt?: ((provider: string, outcome: string) => void) | undefined;
}) {
  const { config } = deps;
  const ca = config.push.caFile ? readFileSync(config.push.caFile, 'utf8') : undefined;
  const logger = deps.logger.child({ component: 'push' });
  const worker = createPushWorker({
    db: deps.db,
    credentials: deps.credentials,
    fcm: createFcmSender({ apiUrl: config.push.fcmApiUrl, tokenUrl: config.push.googleTokenUrl, ca }),
    apns: createApnsSender({ host: config.push.apnsHost, ca }),
    logger,
    retry: { baseMs: config.push.retryBaseMs, maxAttempts: config.push.maxAttempts, maxDelayMs: 15 * 60_000 },
    onAttempt: deps.onAttempt,
  });
  const listener = pushListener({
    db: deps.db,
    bus: deps.bus,
    endUsers: deps.endUsers,
    kick: worker.kick,
    logger,
  });
  return {
    start: () => worker.start(),
    /** What a dead node stored and never queued a push for (see `pushListener`). */
    recover: listener.recover,
    async stop() {
      listener.off();
      await worker.stop();
    },
  };
}
