import { Router } from 'express';
import { agentOf } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import type { Redis } from '../shared/redis.js';
import { createPublicLimiter } from '../shared/public-ratelimit.js';
import {
  apnsCredentialSchema,
  channelParamsSchema,
  createChannelSchema,
  deviceBodySchema,
  fcmCredentialSchema,
  openBodySchema,
  providerParamsSchema,
} from './mobile.schemas.js';
import type { MobileService } from './mobile.service.js';

/**
 * Public endpoints a native app calls (no cookie, no CSRF): open a conversation, register and
 * unregister push tokens. Mounted at `/api/mobile`.
 */
export function mobilePublicRoutes(mobile: MobileService, redis: Redis | undefined) {
  const router = Router();
  const openLimit = createPublicLimiter(redis, 'open');
  const deviceLimit = createPublicLimiter(redis, 'device');
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  router.post(
    '/conversations',
    openLimit((b) => b.channel_id),
    validate('body', openBodySchema),
    async (req, res) => {
      const b = valid(req, 'body', openBodySchema);
      res.json(
        await mobile.open({
          channelId: b.channel_id,
          externalId: b.external_id,
          displayName: b.display_name,
          routingKey: b.routing_key,
        }),
      );
    },
  );

  router.post(
    '/devices',
    deviceLimit((b) => b.conversation_id),
    validate('body', deviceBodySchema),
    async (req, res) => {
      const { created, device } = await mobile.registerDevice(valid(req, 'body', deviceBodySchema));
      res.status(created ? 201 : 200).json(device);
    },
  );

  router.delete(
    '/devices',
    deviceLimit((b) => b.conversation_id),
    validate('body', deviceBodySchema),
    async (req, res) => {
      await mobile.unregisterDevice(valid(req, 'body', deviceBodySchema));
      res.status(204).end();
    },
  );
  return router;
}

/**
 * Admin API behind the agent session + CSRF (`agentApi`), mounted at `/api/mobile/channels`:
 * one mobile channel per bot and its FCM / APNs credentials, which are write-only.
 */
export function mobileAdminRoutes(mobile: MobileService) {
  const router = Router();
  router.get('/', async (req, res) => {
    res.json(await mobile.listChannels(agentOf(req)));
  });
  router.post('/', validate('body', createChannelSchema), async (req, res) => {
    const { bot_id } = valid(req, 'body', createChannelSchema);
    const { created, channel } = await mobile.createChannel(agentOf(req), bot_id);
    res.status(created ? 201 : 200).json(channel);
  });
  router.get('/:id', validate('params', channelParamsSchema), async (req, res) => {
    res.json(await mobile.getChannel(agentOf(req), valid(req, 'params', channelParamsSchema).id));
  });
  router.put(
    '/:id/push/fcm',
    validate('params', channelParamsSchema),
    validate('body', fcmCredentialSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', channelParamsSchema);
      res.json(await mobile.setFcm(agentOf(req), id, valid(req, 'body', fcmCredentialSchema)));
    },
  );
  router.put(
    '/:id/push/apns',
    validate('params', channelParamsSchema),
    validate('body', apnsCredentialSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', channelParamsSchema);
      res.json(await mobile.setApns(agentOf(req), id, valid(req, 'body', apnsCredentialSchema)));
    },
  );
  router.delete('/:id/push/:provider', validate('params', providerParamsSchema), async (req, res) => {
    const { id, provider } = valid(req, 'params', providerParamsSchema);
    await mobile.deleteCredential(agentOf(req), id, provider);
    res.status(204).end();
  });
  return router;
}
