import { Router } from 'express';

export type Probe = () => Promise<void>;

const withTimeout = (p: Promise<void>, ms: number) =>
  Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer in ${ms} ms`)), ms).unref()),
  ]);

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
          await withTimeout(probe(), 2000);
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, `error: ${(err as Error).message || 'unreachable'}`] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const failed = entries.filter(([, v]) => v !== 'ok').map(([k]) => k);
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
