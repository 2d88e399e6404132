import { Router } from 'express';

/**
 * A readiness check: rejects when the dependency does not answer; resolves with a note (such as
 * `busy (pool saturated, 12 waiting)`) when it answers but is under load, which is still ready.
 */
export type Probe = () => Promise<void | string>;

/** How long a probe may take before its dependency counts as unreachable. */
const PROBE_TIMEOUT_MS = 2000;

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer in ${ms} ms`)), ms).unref()),
  ]);

/**
 * The database's probe: a round trip on the probe's own connection (`ping`), then the pool's state,
 * so a pool saturated by traffic reads "busy" (ready: the database answers) and a dead database
 * "unreachable".
 */
export function databaseProbe(database: {
  ping: () => Promise<void>;
  poolState?: (() => { idle: number; waiting: number }) | undefined;
}): Probe {
  return async () => {
    await database.ping();
    const pool = database.poolState?.();
    if (pool && pool.waiting > 0 && pool.idle === 0) return `busy (pool saturated, ${pool.waiting} waiting)`;
  };
}

/** `/healthz`: the process answers. `/readyz`: every dependency answers, else 503 naming it. */
export function healthRoutes(probes: Record<string, Probe>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const entries = await Promise.all(
      Object.entries(probes).map(async ([name, probe]) => {
        try {
          const note = await withTimeout(probe(), PROBE_TIMEOUT_MS);
          return [name, note || 'ok', true] as const;
        } catch (err) {
          return [name, `error: ${(err as Error).message || 'unreachable'}`, false] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries.map(([name, v]) => [name, v]));
    const failed = entries.filter(([, , up]) => !up).map(([k]) => k);
    res
      .status(failed.length ? 503 : 200)
      .json(
        failed.length
          ? { status: 'unavailable', message: `Not ready: ${failed.join(', ')} unreachable`, checks }
          : { status: 'ok', checks },
      );
  });
  return router;
}
