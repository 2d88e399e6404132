import { Router } from 'express';
import { agentApi, agentOf, requireRole } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { deliveriesQuerySchema, webhookConfigSchema, webhookTestSchema } from './webhooks.schemas.js';
import type { WebhookService } from './webhooks.service.js';

/**
 * The console's webhooks under `/api/organization/webhooks` (admins): the callback URL and events,
 * a test event, the delivery log with every attempt, redelivery. The same service and answers as
 * the signed API's `/api/v1/relay/webhooks`, without the envelope. Writes need X-CSRFToken.
 */
export function webhookConsoleRoutes({ webhooks }: { webhooks: WebhookService }): Router {
  const router = Router();
  const admin = [...agentApi, requireRole('admin')];
  const base = '/api/organization/webhooks';

  router.get(base, ...admin, async (req, res) => {
    res.json(await webhooks.getConfig(agentOf(req).organizationId));
  });
  router.put(base, ...admin, validate('body', webhookConfigSchema), async (req, res) => {
    res.json(await webhooks.setConfig(agentOf(req).organizationId, valid(req, 'body', webhookConfigSchema)));
  });
  router.post(`${base}/test`, ...admin, validate('body', webhookTestSchema), async (req, res) => {
    const { event } = valid(req, 'body', webhookTestSchema);
    res.status(202).json(await webhooks.sendTest(agentOf(req).organizationId, event));
  });
  router.get(`${base}/deliveries`, ...admin, validate('query', deliveriesQuerySchema), async (req, res) => {
    res.json(
      await webhooks.listDeliveries(agentOf(req).organizationId, valid(req, 'query', deliveriesQuerySchema)),
    );
  });
  router.get(`${base}/deliveries/:id`, ...admin, validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    res.json(await webhooks.getDelivery(agentOf(req).organizationId, id));
  });
  router.post(
    `${base}/deliveries/:id/redeliver`,
    ...admin,
    validate('params', idParams),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.status(202).json(await webhooks.redeliver(agentOf(req).organizationId, id));
    },
  );
  return router;
}
