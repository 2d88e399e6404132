import { readFileSync } from 'node:fs';
import type { Server as SocketServer } from 'socket.io';
import type { Config } from '../config.js';
import type { MobileService } from '../mobile/mobile.service.js';
import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { createApnsSender } from './apns.js';
import { createFcmSender } from './fcm.js';
import { pushListener } from './push.listener.js';
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
  io: SocketServer;
  mobile: MobileService;
}) {
  const { config } = deps;
  const ca = config.push.caFile ? readFileSync(config.push.caFile, 'utf8') : undefined;
  const logger = deps.logger.child({ component: 'push' });
  const worker = createPushWorker({
    db: deps.db,
    mobile: deps.mobile,
    fcm: createFcmSender({ apiUrl: config.push.fcmApiUrl, tokenUrl: config.push.googleTokenUrl, ca }),
    apns: createApnsSender({ host: config.push.apnsHost, ca }),
    logger,
    retry: { baseMs: config.push.retryBaseMs, maxAttempts: config.push.maxAttempts, maxDelayMs: 15 * 60_000 },
  });
  const unsubscribe = pushListener({ db: deps.db, bus: deps.bus, io: deps.io, logger, kick: worker.kick });
  return {
    start: () => worker.start(),
    async stop() {
      unsubscribe();
      await worker.stop();
    },
  };
}
