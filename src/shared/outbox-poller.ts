import type { Logger } from './logger.js';
import { createOutage, isDatabaseUnavailable } from './outage.js';

/**
 * The loop of an outbox worker (push, webhooks): passes claim and handle batches until none is
 * left, and start again at once when kicked meanwhile; a timer polls for retries and for rows other
 * nodes queued. One pass at a time. A database outage is logged when it starts and when it ends,
 * not at every poll.
 */
export function createOutboxPoller(opts: {
  /** What the outbox holds, for the logs ("push outbox", "webhook outbox"). */
  name: string;
  /** What waits while the database is out ("pushes wait in the outbox"). */
  effect: string;
  logger: Logger;
  /** Claims and handles one batch; answers how many rows it took (0: nothing due). */
  batch: () => Promise<number>;
  /** After a pass that emptied the due rows (housekeeping). */
  afterPass?: () => Promise<void>;
}) {
  const { logger } = opts;
  const outage = createOutage(`database (${opts.name})`, logger, opts.effect);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;

  async function pass() {
    do {
      again = false;
      while ((await opts.batch()) > 0) if (stopped) return;
    } while (again && !stopped);
    await opts.afterPass?.();
  }

  function run() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .then(
        () => outage.ok(),
        (err: unknown) => {
          if (isDatabaseUnavailable(err)) outage.failed(err);
          else logger.error({ err }, `${opts.name} pass failed`);
        },
      )
      .finally(() => {
        running = undefined;
      });
  }

  return {
    /** Starts polling every `pollMs`, and a pass now. */
    start(pollMs: number) {
      if (!stopped) return;
      stopped = false;
      timer = setInterval(run, pollMs);
      timer.unref();
      run();
    },
    /** Rows were queued: a pass now rather than at the next poll. */
    kick: run,
    /** Stops claiming; waits for the pass under way, at most `graceMs`. */
    async stop(graceMs = Infinity) {
      stopped = true;
      if (timer) clearInterval(timer);
      if (graceMs === Infinity) return void (await running);
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise((r) => (wait = setTimeout(r, graceMs)))]);
      clearTimeout(wait);
    },
  };
}

/** Logs the rows of a batch whose handling failed (their lease expires and they are tried again). */
export function logRejected(logger: Logger, what: string, results: PromiseSettledResult<unknown>[]) {
  for (const r of results) {
    if (r.status === 'rejected') logger.error({ err: r.reason as unknown }, `${what} bookkeeping failed`);
  }
}
