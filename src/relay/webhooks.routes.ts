import { Router, type Response } from 'express';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import type { WebhookService } from '../webhooks/webhooks.service.js';
import {
  deliveriesQuerySchema,
  webhookConfigSchema,
  webhookTestSchema,
} from '../webhooks/webhooks.schemas.js';
import type { SignedCaller } from './hmac.middleware.js';
import { reply } from './relay.envelope.js';

/**
 * The tenant backend's webhooks, `/api/v1/relay/webhooks` (signed): where they go and which, a
 * test event, the delivery log with every attempt, redelivery. Mounted behind `requireSigned`.
 */
export function signedWebhookRoutes({
  webhooks,
  signed,
}: {
  webhooks: WebhookService;
  signed: (res: Response) => SignedCaller;
}): Router {
  const router = Router();
  const org = (res: Response) => signed(res).org.id;

  router.get('/webhooks', async (_req, res) => {
    reply(res, 200, await webhooks.getConfig(org(res)), 'Webhooks.');
  });
  router.put('/webhooks', validate('body', webhookConfigSchema), async (req, res) => {
    const config = await webhooks.setConfig(org(res), valid(req, 'body', webhookConfigSchema));
    reply(res, 200, config, config.callback_base_url ? 'Webhooks configured.' : 'Webhooks turned off.');
  });
  router.post('/webhooks/test', validate('body', webhookTestSchema), async (req, res) => {
    const { event } = valid(req, 'body', webhookTestSchema);
    reply(res, 202, await webhooks.sendTest(org(res), event), 'Test event queued.');
  });
  router.get('/webhooks/deliveries', validate('query', deliveriesQuerySchema), async (req, res) => {
    reply(
      res,
      200,
      await webhooks.listDeliveries(org(res), valid(req, 'query', deliveriesQuerySchema)),
      'Deliveries.',
    );
  });
  router.get('/webhooks/deliveries/:id', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    reply(res, 200, await webhooks.getDelivery(org(res), id), 'Delivery.');
  });
  router.post('/webhooks/deliveries/:id/redeliver', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    reply(res, 202, await webhooks.redeliver(org(res), id), 'Delivery queued again.');
  });
  return router;
}
