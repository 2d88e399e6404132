import { Router } from 'express';
import { agentOf } from '../auth/auth.middleware.js';
import type { ChannelService } from '../channels/channels.service.js';
import { mobileChannelDto } from '../channels/channels.dto.js';
import { deviceDto } from '../push/push.dto.js';
import {
  apnsCredentialSchema,
  deviceBodySchema,
  fcmCredentialSchema,
  providerParamsSchema,
} from '../push/push.schemas.js';
import type { PushService } from '../push/push.service.js';
import { valid, validate } from '../shared/http.js';
import type { Redis } from '../shared/redis.js';
import { createPublicLimiter, type PublicLimits } from '../shared/public-ratelimit.js';
import { idParams } from '../shared/validation.js';
import { createChannelSchema, openBodySchema } from './mobile.schemas.js';
import type { MobileService } from './mobile.service.js';

/**
 * Public endpoints a native app calls (no cookie, no CSRF): open a conversation, register and
 * unregister push tokens. Mounted at `/api/mobile`.
 */
export function mobilePublicRoutes(
  { mobile, push }: { mobile: MobileService; push: PushService },
  redis: Redis | undefined,
  limits?: PublicLimits,
) {
  const router = Router();
  const openLimit = createPublicLimiter(redis, 'open', limits);
  const deviceLimit = createPublicLimiter(redis, 'device', limits);
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  router.post(
    '/conversations',
    openLimit((b) => b.channel_id),
    validate('body', openBodySchema),
    async (req, res) => {
      res.json(await mobile.open(valid(req, 'body', openBodySchema)));
    },
  );

  router.post(
    '/devices',
    deviceLimit((b) => b.conversation_id),
    validate('body', deviceBodySchema),
    async (req, res) => {
      const { created, device } = await push.registerDevice(valid(req, 'body', deviceBodySchema));
      res.status(created ? 201 : 200).json(deviceDto(device));
    },
  );

  router.delete(
    '/devices',
    deviceLimit((b) => b.conversation_id),
    validate('body', deviceBodySchema),
    async (req, res) => {
      await push.unregisterDevice(valid(req, 'body', deviceBodySchema));
      res.status(204).end();
    },
  );
  return router;
}

/**
 * Admin API behind the agent session + CSRF and the admin role, mounted at
 * `/api/mobile/channels`: one mobile channel per bot and its FCM / APNs credentials, which are
 * write-only.
 */
export function mobileAdminRoutes({ channels, push }: { channels: ChannelService; push: PushService }) {
  const router = Router();
  const id = validate('params', idParams);
  router.get('/', async (req, res) => {
    const bots = await channels.listMobileChannels(agentOf(req));
    res.json({
      items: bots.map((b) => ({
        bot_id: b.id,
        bot_name: b.name,
        channel: b.channels[0] ? mobileChannelDto(b.channels[0]) : null,
      })),
    });
  });
  router.post('/', validate('body', createChannelSchema), async (req, res) => {
    const { bot_id } = valid(req, 'body', createChannelSchema);
    const { created, channel } = await channels.createMobileChannel(agentOf(req), bot_id);
    res.status(created ? 201 : 200).json(mobileChannelDto(channel));
  });
  router.get('/:id', id, async (req, res) => {
    const channel = await channels.requireMobileChannel(agentOf(req), valid(req, 'params', idParams).id);
    res.json(mobileChannelDto(channel));
  });
  router.put('/:id/push/fcm', id, validate('body', fcmCredentialSchema), async (req, res) => {
    const channelId = valid(req, 'params', idParams).id;
    const body = valid(req, 'body', fcmCredentialSchema);
    res.json(mobileChannelDto(await push.setFcm(agentOf(req), channelId, body)));
  });
  router.put('/:id/push/apns', id, validate('body', apnsCredentialSchema), async (req, res) => {
    const channelId = valid(req, 'params', idParams).id;
    const body = valid(req, 'body', apnsCredentialSchema);
    res.json(mobileChannelDto(await push.setApns(agentOf(req), channelId, body)));
  });
  router.delete('/:id/push/:provider', validate('params', providerParamsSchema), async (req, res) => {
    const { id: channelId, provider } = valid(req, 'params', providerParamsSchema);
    await push.deleteCredential(agentOf(req), channelId, provider);
    res.status(204).end();
  });
  return router;
}
