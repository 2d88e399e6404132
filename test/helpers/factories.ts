import { randomUUID } from 'node:crypto';
import type { Services } from '../../src/services.js';
import type { AgentActor } from '../../src/shared/auth/actor.js';
import type { UserRole } from '../../src/generated/prisma/client.js';
import { createAgentSchema } from '../../src/agents/agents.schemas.js';
import { createEmbedTokenSchema } from '../../src/channels/channels.schemas.js';
import { sendMessageSchema, type SendMessage } from '../../src/messages/messages.schemas.js';
import { createOrganizationSchema } from '../../src/tenants/tenants.schemas.js';
import { isRandomVisitorId, userHash as signUser } from '../../src/tenants/identity.js';

export const PASSWORD = 'correct-horse-battery';

/** A new organization with a web-chat channel; every test makes its own and touches only it. */
export async function createOrg(
  services: Services,
  name = `Org ${randomUUID().slice(0, 8)}`,
  opts: { rateLimitPerMin?: number } = {},
) {
  const { organization, tenantSecret } = await services.tenants.createOrganization(
    createOrganizationSchema.parse({ name, ...opts }),
  );
  const { token, channelId, botId } = await services.channels.createEmbedToken(
    createEmbedTokenSchema.parse({ organizationId: organization.id }),
  );
  return { org: organization, tenantSecret, embedToken: token, channelId, botId };
}

export async function createAgent(
  services: Services,
  organizationId: string,
  opts: { role?: UserRole; routingKeys?: string[]; password?: string } = {},
) {
  const user = await services.agents.createAgent(
    createAgentSchema.parse({
      organizationId,
      email: `agent-${randomUUID()}@example.com`,
      password: opts.password ?? PASSWORD,
      role: opts.role ?? 'agent',
      routingKeys: opts.routingKeys ?? [],
    }),
  );
  const actor: AgentActor = {
    kind: 'agent',
    userId: user.id,
    organizationId,
    role: user.role,
    displayName: user.displayName,
    routingKeys: user.routingKeys,
  };
  return { user, actor, password: opts.password ?? PASSWORD };
}

/** An end user with a conversation on the channel, as the widget would open it. */
export async function createConversation(
  services: Services,
  o: {
    organizationId: string;
    channelId: string;
    externalId?: string;
    displayName?: string;
    routingKey?: string;
  },
) {
  // A random visitor id, as the widget makes; a chosen id or a routing key is signed, as the
  // tenant's backend would.
  const externalId = o.externalId ?? `v_${randomUUID()}`;
  const signed = o.routingKey !== undefined || !isRandomVisitorId(externalId);
  const userHash = signed
    ? signUser(await services.tenants.tenantSecret(o.organizationId), externalId, o.routingKey)
    : undefined;
  const { endUser, conversation } = await services.conversations.openForEndUser({
    organizationId: o.organizationId,
    channelId: o.channelId,
    externalId,
    userHash,
    displayName: o.displayName ?? 'Visitor',
    routingKey: o.routingKey,
  });
  const actor = {
    kind: 'end_user' as const,
    organizationId: o.organizationId,
    endUserId: endUser.id,
    externalId,
  };
  return { endUser, conversation, externalId, userHash, actor };
}

/** A send_message payload as the gateways hand it to the message service: parsed (defaults filled in). */
export const message = (payload: unknown): SendMessage => sendMessageSchema.parse(payload);
