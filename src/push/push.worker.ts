import type { DeviceToken, PushJob } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import { createOutboxPoller, logRejected } from '../shared/outbox-poller.js';
import type { createApnsSender } from './apns.js';
import type { createFcmSender } from './fcm.js';
import type { PushService } from './push.service.js';
import type { PushCredentialFor, PushOutcome, PushPayload } from './push.types.js';

export type PushWorker = ReturnType<typeof createPushWorker>;

export type RetryPolicy = { baseMs: number; maxAttempts: number; maxDelayMs: number };

/** While a worker sends a job, no other worker (on any node) takes it; a crash frees it after this. */
const LEASE_S = 60;
const BATCH = 20;

/** Exponential backoff with ±20 % jitter, so a recovering provider is not hit all at once. */
export function backoffMs(attempt: number, p: RetryPolicy): number {
  const raw = Math.min(p.maxDelayMs, p.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/**
 * Sends the push outbox: claims due jobs (`FOR UPDATE SKIP LOCKED`, so several nodes share the
 * work), sends each through its provider, and records the outcome: sent; retried later with
 * backoff; failed for good; or, when the provider says the token is dead, the device disabled.
 */
export function createPushWorker(deps: {
  db: Db;
  credentials: Pick<PushService, 'credentialFor'>;
  fcm: ReturnType<typeof createFcmSender>;
  apns: ReturnType<typeof createApnsSender>;
  logger: Logger;
  retry: RetryPolicy;
  /** Each send's provider and outcome (metrics). */
  onAttempt?: ((provider: string, outcome: string) => void) | undefined;
}) {
  const { db, logger, retry } = deps;

  async function claim(): Promise<(PushJob & { deviceToken: DeviceToken })[]> {
    const rows = await db.$queryRaw<{ id: string }[]>`
      UPDATE "push_jobs"
         SET "attempts" = "attempts" + 1,
             "next_attempt_at" = now() + make_interval(secs => ${LEASE_S}),
             "updated_at" = now()
       WHERE "id" IN (
         SELECT "id" FROM "push_jobs"
          WHERE "status" = 'pending' AND "next_attempt_at" <= now()
          ORDER BY "next_attempt_at"
          LIMIT ${BATCH}
          FOR UPDATE SKIP LOCKED)
      RETURNING "id"`;
    if (!rows.length) return [];
    return db.pushJob.findMany({
      where: { id: { in: rows.map((r) => r.id) } },
      include: { deviceToken: true },
    });
  }

  async function deliver(job: PushJob & { deviceToken: DeviceToken }): Promise<PushOutcome> {
    const device = job.deviceToken;
    if (device.disabledAt) return { ok: false, kind: 'permanent', reason: 'device token disabled' };
    const cred = device.channelId
      ? await deps.credentials.credentialFor(device.channelId, device.platform)
      : null;
    if (!cred)
      return { ok: false, kind: 'permanent', reason: `no ${device.platform} credentials on the channel` };
    const payload = job.payload as PushPayload;
    return device.platform === 'fcm'
      ? deps.fcm.send(cred as PushCredentialFor<'fcm'>, device.token, payload)
      : deps.apns.send(cred as PushCredentialFor<'apns'>, device.token, payload);
  }

  async function handle(job: PushJob & { deviceToken: DeviceToken }) {
    let outcome: PushOutcome;
    try {
      outcome = await deliver(job);
    } catch (err) {
      outcome = { ok: false, kind: 'transient', reason: `error: ${(err as Error).message}`.slice(0, 500) };
    }
    deps.onAttempt?.(job.deviceToken.platform, outcome.ok ? 'ok' : outcome.kind);
    const now = new Date();
    if (outcome.ok) {
      await db.pushJob.update({ where: { id: job.id }, data: { status: 'sent', lastError: null } });
      await db.deviceToken.update({ where: { id: job.deviceTokenId }, data: { lastUsedAt: now } });
      return;
    }
    const log = {
      jobId: job.id,
      deviceId: job.deviceTokenId,
      attempts: job.attempts,
      reason: outcome.reason,
    };
    if (outcome.kind === 'invalid_token') {
      logger.info(log, 'push token rejected by the provider; disabling it');
      await db.deviceToken.update({
        where: { id: job.deviceTokenId },
        data: { disabledAt: now, disabledReason: outcome.reason },
      });
      // Nothing else queued for this device can succeed either.
      await db.pushJob.updateMany({
        where: { deviceTokenId: job.deviceTokenId, status: 'pending' },
        data: { status: 'failed', lastError: outcome.reason },
      });
      return;
    }
    if (outcome.kind === 'transient' && job.attempts < retry.maxAttempts) {
      const wait = Math.max(backoffMs(job.attempts, retry), outcome.retryAfterMs ?? 0);
      logger.warn({ ...log, retryInMs: wait }, 'push failed; will retry');
      await db.pushJob.update({
        where: { id: job.id },
        data: { lastError: outcome.reason, nextAttemptAt: new Date(now.getTime() + wait) },
      });
      return;
    }
    logger.warn(log, 'push failed for good');
    await db.pushJob.update({ where: { id: job.id }, data: { status: 'failed', lastError: outcome.reason } });
  }

  const poller = createOutboxPoller({
    name: 'push outbox',
    effect: 'pushes wait in the outbox',
    logger,
    async batch() {
      const jobs = await claim();
      // A failing job must not stop the others; its lease expires and it is tried again.
      logRejected(logger, 'push job', await Promise.allSettled(jobs.map(handle)));
      return jobs.length;
    },
  });

  return {
    /** Starts polling; due retries are picked up within one poll interval. */
    start: (pollMs = Math.min(1000, retry.baseMs)) => poller.start(pollMs),
    /** New jobs were queued: send them now rather than at the next poll. */
    kick: poller.kick,
    async stop() {
      await poller.stop();
      await Promise.all([deps.fcm.close(), deps.apns.close()]);
    },
  };
}
