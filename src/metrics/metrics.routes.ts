import { timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import { AppError } from '../shared/errors.js';
import type { Metrics } from './metrics.js';

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * `GET /metrics` (Prometheus text): absent (404) unless a token is configured, then only for
 * `Authorization: Bearer <token>` (401 otherwise).
 */
export function metricsRoutes(deps: { metrics: Metrics; token: string | undefined }): Router {
  const router = Router();
  const { token } = deps;
  if (!token) return router;
  router.get('/metrics', async (req, res) => {
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!same(given, token)) throw new AppError('auth/unauthenticated', 'A metrics token is required');
    const { registry } = deps.metrics;
    res.setHeader('Content-Type', registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(await registry.metrics());
  });
  return router;
}
