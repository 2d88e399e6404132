import { Router, type Response } from 'express';
import { messageDto } from '../conversations/conversations.dto.js';
import { AppError } from '../shared/errors.js';
import { idParams } from '../shared/validation.js';
import { valid, validate } from '../shared/http.js';
import type { Config } from '../config.js';
import type { Services } from '../services.js';
import type { Redis } from '../shared/redis.js';
import type { Usage } from './usage.js';
import { reply } from './relay.envelope.js';
import {
  backendMessageSchema,
  listConversationsSchema,
  listMessagesSchema,
  mintVisitorTokenSchema,
  openConversationSchema,
  rotateSecretSchema,
  usageQuerySchema,
} from './backend.schemas.js';
import type { Conversation } from '../generated/prisma/client.js';
import { createNonceStore, requireSigned, type SignedCaller } from './hmac.middleware.js';
import { signedUploadBody, storeSignedUpload } from '../attachments/attachments.routes.js';
import { publicLimitsOf } from '../shared/public-ratelimit.js';
import { operatorRoutes } from './operators.routes.js';
import { createVisitorTokens } from './tokens.js';
import { sessionTokenDto } from './visitor.dto.js';
import { createOperatorTokens } from './operator.tokens.js';
import { signedWebhookRoutes } from './webhooks.routes.js';
import { signedTicketRoutes } from './tickets.routes.js';
import { signedKnowledgeRoutes } from './knowledge.routes.js';

/** The tenant a request was signed by (set by `requireSigned`). */
function signed(res: Response): SignedCaller {
  const caller = res.locals.signed;
  if (!caller) throw new AppError('internal', 'Unsigned request reached a signed endpoint');
  return caller;
}

/** What the signed API needs of the relay's dependencies (`RelayDeps`). */
export type BackendDeps = {
  services: Services;
  config: Config;
  /** Nonces shared by every node; this process's memory without it. */
  redis: Redis | undefined;
  /** The clock timestamps are checked against (tests move it); `Date.now` otherwise. */
  now?: (() => number) | undefined;
  usage?: Usage | undefined;
};

type WithEndUser = Conversation & { endUser: { externalId: string; displayName: string | null } };

/** A conversation as the signed API shows it. */
const conversationDto = (c: WithEndUser) => ({
  // Both names: the SDKs read `id`, the relay's other answers say `conversation_id`.
  id: c.id,
  conversation_id: c.id,
  visitor_user_id: c.endUser.externalId,
  visitor_display_name: c.endUser.displayName,
  locale: c.locale,
  /** `bot` while the bot answers, `human` once escalated (or from the start). */
  mode: c.mode,
  metadata: c.metadata,
  routing_key: c.routingKey,
  last_message_at: c.lastMessageAt?.toISOString() ?? null,
  created_at: c.createdAt.toISOString(),
});

/**
 * The tenant backend's API, `/api/v1/relay/*`: every request signed with HMAC#1 (docs/hmac.md),
 * every answer in the envelope.
 */
export function backendRoutes(deps: BackendDeps): Router {
  const { services, config } = deps;
  const now = deps.now ?? Date.now;
  const backend = services.relayBackend;
  const router = Router();
  const uploads = {
    attachments: services.attachments,
    config,
    redis: deps.redis,
    limits: publicLimitsOf(config.limits),
  };
  // An upload's bytes are what HMAC#1 signs: read before the check (bounded, limited per address).
  router.post('/conversations/:id/attachments', ...signedUploadBody(uploads));
  router.use(
    requireSigned({
      tenants: services.tenants,
      encryptionKey: config.encryptionKey,
      nonces: createNonceStore({ redis: deps.redis, prefix: config.realtime.redisPrefix, now }),
      quota: services.quota,
      usage: deps.usage,
      windowS: config.relay.hmacWindowS,
      now,
    }),
  );

  router.get('/usage', validate('query', usageQuerySchema), async (req, res) => {
    const { days } = valid(req, 'query', usageQuerySchema);
    reply(res, 200, await services.tenants.usage(signed(res).org.id, days), 'Usage.');
  });

  router.post('/conversations', validate('body', openConversationSchema), async (req, res) => {
    const { org, secret } = signed(res);
    const input = valid(req, 'body', openConversationSchema);
    const { conversation: c, created } = await backend.openConversation(org, secret, input);
    reply(
      res,
      created ? 201 : 200,
      { ...conversationDto(c), created },
      created ? 'Conversation created.' : 'Conversation found.',
    );
  });

  router.post(
    '/conversations/:id/messages',
    validate('params', idParams),
    validate('body', backendMessageSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const input = valid(req, 'body', backendMessageSchema);
      const result = await backend.sendMessage(signed(res).org, id, input);
      reply(
        res,
        result.duplicate ? 200 : 201,
        { ...messageDto(result.message), role: input.role, duplicate: result.duplicate },
        result.duplicate ? 'Message already sent.' : 'Message sent.',
      );
    },
  );
  router.get('/conversations', validate('query', listConversationsSchema), async (req, res) => {
    const q = valid(req, 'query', listConversationsSchema);
    const page = await backend.listConversations(signed(res).org, q);
    reply(
      res,
      200,
      { items: page.items.map(conversationDto), next_cursor: page.nextCursor },
      'Conversations.',
    );
  });

  // The backend's file into one of its conversations; sent on as an image/file message.
  router.post('/conversations/:id/attachments', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    const conversation = await backend.requireConversation(signed(res).org, id);
    reply(res, 201, await storeSignedUpload(uploads, req, conversation), 'Attachment stored.');
  });

  router.get('/conversations/:id', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    const c = await backend.requireConversation(signed(res).org, id);
    // The visitor's latest rating of a resolved session (null: none).
    reply(
      res,
      200,
      { ...conversationDto(c), rating: await services.ratings.latestFor(c.id) },
      'Conversation.',
    );
  });

  router.get(
    '/conversations/:id/messages',
    validate('params', idParams),
    validate('query', listMessagesSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const q = valid(req, 'query', listMessagesSchema);
      const page = await backend.listMessages(signed(res).org, id, q);
      reply(res, 200, { items: page.items.map(messageDto), next_cursor: page.nextCursor }, 'Messages.');
    },
  );

  // The token is spent at `/auth/operator` (app.ts), where the used ids are recorded.
  const operatorTokens = createOperatorTokens({
    secrets: config.relay.tokenSecrets,
    now,
    used: createNonceStore({
      redis: deps.redis,
      prefix: config.realtime.redisPrefix,
      now,
      kind: 'operator:jti',
    }),
  });
  router.use(
    operatorRoutes({
      operators: services.operators,
      tokens: operatorTokens,
      publicUrl: config.publicUrl,
      signed,
    }),
  );

  router.use(signedWebhookRoutes({ webhooks: services.webhooks, signed }));
  router.use(
    signedTicketRoutes({
      tickets: services.tickets,
      escalations: services.escalations,
      operators: services.operators,
      signed,
    }),
  );
  router.use(signedKnowledgeRoutes({ knowledge: services.knowledge, signed }));

  const visitorTokens = createVisitorTokens({
    secrets: config.relay.tokenSecrets,
    ttlS: config.relay.tokenTtlS,
    now,
  });
  // The in-app SDKs' session, vouched for by the backend: the token works with the visitor
  // WebSocket and `refresh/visitor-token` like one the widget got.
  router.post('/visitor-token', validate('body', mintVisitorTokenSchema), async (req, res) => {
    const { org, secret } = signed(res);
    const input = valid(req, 'body', mintVisitorTokenSchema);
    const clock = { now: new Date(now()), sessionTtlDays: config.relay.sessionTtlDays };
    const session = await backend.openVisitorSession(org, secret, input, clock);
    const token = await visitorTokens.signVisitorToken(
      {
        sessionId: session.id,
        tenantId: org.id,
        widgetPublicKey: session.widgetPublicKey,
        origin: session.origin,
        conversationId: session.conversationId,
      },
      input.ttl_seconds,
    );
    reply(res, 201, sessionTokenDto(session, token), 'Visitor token created.');
  });

  router.post('/rotate/widget-key', async (_req, res) => {
    const key = await services.tenants.rotateWidgetKey(signed(res).org.id);
    reply(res, 200, { widget_public_key: key }, 'Widget key rotated. Give the new key to your widgets.');
  });

  // The new secret is in this answer only; the one that signed this call verifies for grace_hours.
  router.post('/rotate/tenant-secret', validate('body', rotateSecretSchema), async (req, res) => {
    const { grace_hours } = valid(req, 'body', rotateSecretSchema);
    const { tenantSecret } = await services.tenants.rotateSecret(signed(res).org.id, grace_hours);
    reply(
      res,
      200,
      { tenant_secret: tenantSecret, previous_secret_valid_hours: grace_hours },
      'Tenant secret rotated. Save tenant_secret now — it will not be shown again.',
    );
  });
  return router;
}
