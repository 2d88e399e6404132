import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from './config.js';
import { createAgentService } from './agents/agents.service.js';
import { createOperatorService } from './relay/operators.service.js';
import { createApiKeyService } from './apikeys/apikeys.service.js';
import { createCannedService } from './canned/canned.service.js';
import { createChannelService } from './channels/channels.service.js';
import { createConversationService } from './conversations/conversations.service.js';
import { createHandoverService } from './conversations/handover.service.js';
import { createVisitorProfileService } from './conversations/visitor-profile.service.js';
import { createMessageService } from './messages/messages.service.js';
import { createRatingService } from './ratings/ratings.service.js';
import { createMobileService } from './mobile/mobile.service.js';
import { createPushService } from './push/push.service.js';
import { createBackendService } from './relay/backend.service.js';
import { createVisitorService } from './relay/visitor.service.js';
import type { Database } from './shared/db.js';
import type { Logger } from './shared/logger.js';
import type { EventBus } from './shared/events.js';
import type { TenantQuota } from './shared/tenant-quota.js';
import { createIdentity } from './tenants/identity.js';
import { createTenantService } from './tenants/tenants.service.js';
import { createWebhookService } from './webhooks/webhooks.service.js';
import { createEscalationService } from './tickets/escalation.service.js';
import { createTicketService } from './tickets/tickets.service.js';
import { createKnowledgeService } from './knowledge/knowledge.service.js';
import { createWidgetService } from './widget/widget.service.js';
import { createAttachmentService, DEFAULT_MAX_BYTES } from './attachments/attachments.service.js';
import { createStorage } from './attachments/storage.js';

export type Services = ReturnType<typeof createServices>;

export type ServiceDeps = {
  /** The database; `prisma` may be a transaction's client (first run builds its demo in one). */
  database: Pick<Database, 'prisma' | 'query' | 'transaction'>;
  config: Pick<Config, 'encryptionKey'> & {
    webhooks?: Pick<Config['webhooks'], 'allowPrivate'>;
    /** Attachment storage and cap; tools without it keep files in the system's temporary directory. */
    attachments?: Config['attachments'];
  };
  bus: EventBus;
  /** For what services log themselves (a failed message batch); optional in tools and tests. */
  logger?: Logger | undefined;
  /** Each organization's `rate_limit_per_min` (the app's; none in tools). */
  quota?: TenantQuota | undefined;
  /** The time grace periods start from (the app's `now`; tests move it). */
  now?: (() => number) | undefined;
};

/**
 * The one wiring list: every domain service, built from its explicit dependencies. Gateways
 * (HTTP routes, Socket.IO, the CLI) and jobs (push) take what they need from here; nothing here
 * knows HTTP or sockets. Services publish domain events on `bus` after they commit.
 */
export function createServices({ database, config, bus, logger, quota, now }: ServiceDeps) {
  const db = database.prisma;
  const { encryptionKey } = config;
  const tenants = createTenantService({
    db,
    encryptionKey,
    bus,
    quota,
    // A tenant's own attachment limit stays within the platform's.
    attachmentMaxBytes: config.attachments?.maxBytes ?? DEFAULT_MAX_BYTES,
    ...(now ? { now } : {}),
  });
  const agents = createAgentService({ db, bus });
  const channels = createChannelService({ db, bus });
  const identity = createIdentity(encryptionKey);
  const conversations = createConversationService({ db, query: database.query, bus, identity, quota });
  const handover = createHandoverService({ db, bus, conversations });
  const visitorProfiles = createVisitorProfileService({ db, bus });
  const ratings = createRatingService({ db, bus });
  const messages = createMessageService({
    db,
    query: database.query,
    transaction: database.transaction,
    bus,
    logger,
  });
  const push = createPushService({ db, encryptionKey, channels, conversations });
  const apiKeys = createApiKeyService({ db });
  const canned = createCannedService({ db });
  const widget = createWidgetService({ channels, conversations, messages });
  const mobile = createMobileService({ channels, conversations });
  const visitors = createVisitorService({ db, bus, channels, conversations, identity });
  const operators = createOperatorService({ db, agents });
  const relayBackend = createBackendService({
    db,
    channels,
    conversations,
    messages,
    visitors,
    operators,
    agents,
  });
  const knowledge = createKnowledgeService({ db });
  const webhooks = createWebhookService({ db, bus, allowPrivate: config.webhooks?.allowPrivate ?? false });
  const tickets = createTicketService({ db, bus });
  const escalations = createEscalationService({ db, bus, tickets });
  const attachmentSettings = config.attachments ?? {
    maxBytes: DEFAULT_MAX_BYTES,
    storage: { driver: 'local' as const, dir: path.join(tmpdir(), 'switchboard-attachments') },
  };
  const attachments = createAttachmentService({
    db,
    storage: createStorage(attachmentSettings.storage),
    maxBytes: attachmentSettings.maxBytes,
    logger,
  });
  return {
    tenants,
    ratings,
    agents,
    channels,
    conversations,
    handover,
    visitorProfiles,
    messages,
    push,
    apiKeys,
    canned,
    widget,
    mobile,
    visitors,
    relayBackend,
    operators,
    webhooks,
    knowledge,
    tickets,
    escalations,
    attachments,
    quota,
  };
}
