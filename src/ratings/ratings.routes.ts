import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Services } from '../services.js';
import { validate } from '../shared/http.js';
import { createPublicLimiter, type PublicLimits } from '../shared/public-ratelimit.js';
import type { Redis } from '../shared/redis.js';
import { externalId, userHash, uuid } from '../shared/validation.js';
import { isOpen } from '../tenants/hours.js';
import { hoursOf, settingsOf } from '../tenants/settings.js';
import { contactSchema, ratingSchema } from './ratings.schemas.js';

/** The widget's end user, proven as its history proves them (same origin as the widget page). */
export const proof = z.object({
  conversation_id: uuid,
  external_id: externalId,
  user_hash: userHash.optional(),
});

/**
 * The embed widget's offline and rating calls under `/api/widget/*`: availability (business hours
 * and presence), leaving an email, rating a resolved conversation. The end user is proven by the
 * widget's `external_id` (and `user_hash`) as `GET /chat-widget/history/:id` proves them.
 */
export function widgetRatingRoutes(deps: {
  services: Services;
  redis?: Redis | undefined;
  limits?: PublicLimits;
  /** The app's clock (tests move it). */
  now?: (() => number) | undefined;
  /** Whether an agent of the organization is online now; unknown → offline. */
  agentsOnline?: ((organizationId: string) => Promise<boolean>) | undefined;
}): Router {
  const { services } = deps;
  const now = deps.now ?? Date.now;
  const router = Router();
  const limit = createPublicLimiter(deps.redis, 'widget-rating', deps.limits);
  const byConversation = limit((b, req) => b.conversation_id ?? req.query.conversation_id);
  const ownerOf = async (req: Request, part: 'body' | 'query') => {
    const p = proof.parse(part === 'body' ? req.body : req.query);
    const owner = await services.conversations.requireForEndUser(p.conversation_id, {
      externalId: p.external_id,
      userHash: p.user_hash,
    });
    return {
      organizationId: owner.organizationId,
      conversationId: owner.conversationId,
      endUserId: owner.endUserId,
    };
  };

  // What the widget shows: within business hours, someone online, and the tenant's wording.
  router.get('/api/widget/availability', byConversation, validate('query', proof), async (req, res) => {
    const owner = await ownerOf(req, 'query');
    const org = await services.tenants.requireOrganization(owner.organizationId);
    const online = await (deps.agentsOnline?.(org.id) ?? Promise.resolve(false)).catch(() => false);
    const open = isOpen(hoursOf(org.config), new Date(now()));
    const settings = settingsOf(org.config);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      is_online: online,
      is_open: open,
      available: open && online,
      greeting: settings.greeting ?? null,
      offline_message: settings.offline_message ?? null,
    });
  });

  router.post('/api/widget/contact', byConversation, async (req, res) => {
    const owner = await ownerOf(req, 'body');
    const { email } = contactSchema.parse({ email: (req.body as { email?: unknown }).email });
    res.json(await services.ratings.leaveContact(owner, { email }));
  });

  router.post('/api/widget/rating', byConversation, async (req, res) => {
    const owner = await ownerOf(req, 'body');
    const b = req.body as Record<string, unknown>;
    const input = ratingSchema.parse({
      score: b.score,
      ...(b.comment !== undefined ? { comment: b.comment } : {}),
      ...(b.session_id !== undefined ? { session_id: b.session_id } : {}),
    });
    const { rating, created } = await services.ratings.rate(owner, input);
    res.status(created ? 201 : 200).json(rating);
  });
  return router;
}
