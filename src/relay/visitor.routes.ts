import { Router, type Request } from 'express';
import type { VisitorSession } from '../generated/prisma/client.js';
import { AppError } from '../shared/errors.js';
import { valid, validate } from '../shared/http.js';
import type { Config } from '../config.js';
import type { Services } from '../services.js';
import { createPublicLimiter, publicLimitsOf } from '../shared/public-ratelimit.js';
import type { Redis } from '../shared/redis.js';
import { contactSchema, ratingSchema } from '../ratings/ratings.schemas.js';
import { reply } from './relay.envelope.js';
import { headerOrigin, visitorCors } from './cors.js';
import { createVisitorTokens } from './tokens.js';
import { defaultLocale, sessionTokenDto, widgetConfigDto } from './visitor.dto.js';
import {
  createVisitorSessionSchema,
  identifyVisitorSchema,
  widgetConfigQuerySchema,
} from './visitor.schemas.js';
import type { SessionClock } from './visitor.service.js';

const PATHS = [
  '/fetch/widget-config',
  '/create/visitor-session',
  '/refresh/visitor-token',
  '/identify/visitor',
  '/visitor/contact',
  '/visitor/rating',
];

/** What the visitor side needs of the relay's dependencies (`RelayDeps`). */
export type VisitorDeps = {
  services: Services;
  config: Config;
  /** The clock tokens and sessions are checked against (tests move it); `Date.now` otherwise. */
  now?: (() => number) | undefined;
  /** Whether an agent of the organization is online now; without it, never. */
  agentsOnline?: ((organizationId: string) => Promise<boolean>) | undefined;
  /** The public limits' counters across nodes; this process's memory without it. */
  redis?: Redis | undefined;
};

/** The visitor token of `Authorization: Bearer <token>`. */
function bearer(req: Request): string {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) throw new AppError('token/invalid', 'Send the visitor token as Authorization: Bearer <token>');
  return m[1]!;
}

/**
 * The visitor side: widget config, visitor sessions and their tokens, identify. Public and
 * CORS-gated by each tenant's `allowed_origins`; a visitor is authenticated by the token.
 */
export function visitorRoutes(deps: VisitorDeps): Router {
  const { services, config } = deps;
  const visitors = services.visitors;
  const now = deps.now ?? Date.now;
  const tokens = createVisitorTokens({
    secrets: config.relay.tokenSecrets,
    ttlS: config.relay.tokenTtlS,
    now,
  });
  const clock = (): SessionClock => ({ now: new Date(now()), sessionTtlDays: config.relay.sessionTtlDays });
  // Presence is a nicety: if it cannot be asked, the launcher shows "offline".
  const isOnline = (organizationId: string) =>
    (deps.agentsOnline?.(organizationId) ?? Promise.resolve(false)).catch(() => false);

  const router = Router();
  router.use(
    PATHS,
    visitorCors((origin, tenantId) => visitors.corsAllows(origin, tenantId)),
  );

  router.get('/fetch/widget-config', validate('query', widgetConfigQuerySchema), async (req, res) => {
    const q = valid(req, 'query', widgetConfigQuerySchema);
    const org = await visitors.requireWidget(q.tenant_id, q.widget_public_key, {
      claimed: q.origin,
      header: headerOrigin(req.headers.origin),
    });
    const data = widgetConfigDto(org, {
      isOnline: await isOnline(org.id),
      locale: q.locale ?? defaultLocale(org),
      now: new Date(now()),
    });
    reply(res, 200, data, 'Widget config.');
  });

  /** A token for the session as it now is (its conversation may have changed on identify). */
  const tokenFor = (session: VisitorSession, tenantId: string) =>
    tokens.signVisitorToken({
      sessionId: session.id,
      tenantId,
      widgetPublicKey: session.widgetPublicKey,
      origin: session.origin,
      conversationId: session.conversationId,
    });

  const create = (part: 'body' | 'query') => async (req: Request, res: Parameters<typeof reply>[0]) => {
    const input = valid(req, part, createVisitorSessionSchema);
    const { session, org } = await visitors.create(input, headerOrigin(req.headers.origin), clock());
    const token = await tokenFor(session, org.id);
    reply(
      res,
      201,
      {
        ...sessionTokenDto(session, token),
        widget_config: widgetConfigDto(org, {
          isOnline: await isOnline(org.id),
          locale: session.locale,
          now: new Date(now()),
        }),
      },
      'Visitor session created.',
    );
  };
  // A new session spends the tenant's quota (`rate_limit_per_min`): one address may open only so
  // many per tenant and in all (PUBLIC_RATE_LIMIT_PER_TARGET / _PER_IP), so a script cannot use up
  // a tenant's quota for its real visitors.
  const sessionLimit = createPublicLimiter(
    deps.redis,
    `${config.realtime.redisPrefix}:relay-session`,
    publicLimitsOf(config.limits),
  );
  const tenantOf = (b: Record<string, unknown>, req: Request) => b.tenant_id ?? req.query.tenant_id;
  router.post(
    '/create/visitor-session',
    sessionLimit(tenantOf),
    validate('body', createVisitorSessionSchema),
    create('body'),
  );
  // The lifecycle the SDKs follow starts with a GET (query parameters, metadata as JSON text).
  router.get(
    '/create/visitor-session',
    sessionLimit(tenantOf),
    validate('query', createVisitorSessionSchema),
    create('query'),
  );

  router.post('/refresh/visitor-token', async (req, res) => {
    const old = await tokens.verifyVisitorToken(bearer(req), { allowExpired: true });
    const { session, org } = await visitors.resume(old, headerOrigin(req.headers.origin), clock());
    const token = await tokenFor(session, org.id);
    reply(res, 200, sessionTokenDto(session, token), 'Visitor token refreshed.');
  });

  router.post('/identify/visitor', async (req, res) => {
    // The token first: an unauthenticated caller learns nothing about what the body should be.
    const current = await tokens.verifyVisitorToken(bearer(req), { allowExpired: false });
    const input = identifyVisitorSchema.parse(req.body ?? {});
    const { session, org, userId } = await visitors.identify(
      current,
      headerOrigin(req.headers.origin),
      input,
      clock(),
    );
    const token = await tokenFor(session, org.id);
    reply(res, 200, { ...sessionTokenDto(session, token), user_id: userId }, 'Visitor identified.');
  });

  // The visitor's own conversation, from a live token: what leaving an email and rating act on.
  const visitorOf = async (req: Request) => {
    const token = await tokens.verifyVisitorToken(bearer(req), { allowExpired: false });
    const { org, conversation } = await visitors.connect(token, headerOrigin(req.headers.origin), clock());
    return { organizationId: org.id, conversationId: conversation.id, endUserId: conversation.endUserId };
  };
  // Per address and token: a script cannot flood one conversation's ratings or its email.
  const visitorWriteLimit = createPublicLimiter(
    deps.redis,
    `${config.realtime.redisPrefix}:relay-visitor-write`,
    publicLimitsOf(config.limits),
  )((_b, req) => req.headers.authorization);

  // Outside business hours or with nobody online: an email to be answered at (unverified).
  router.post('/visitor/contact', visitorWriteLimit, async (req, res) => {
    const actor = await visitorOf(req);
    const input = contactSchema.parse(req.body ?? {});
    reply(res, 200, await services.ratings.leaveContact(actor, input), 'Email saved.');
  });

  // After an agent resolved the conversation (409 before): 201 the first time, 200 when it changes.
  router.post('/visitor/rating', visitorWriteLimit, async (req, res) => {
    const actor = await visitorOf(req);
    const input = ratingSchema.parse(req.body ?? {});
    const { rating, created } = await services.ratings.rate(actor, input);
    reply(res, created ? 201 : 200, rating, created ? 'Rating saved.' : 'Rating updated.');
  });

  return router;
}
