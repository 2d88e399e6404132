import { addMemberBodySchema, updateMemberBodySchema } from '../agents/agents.schemas.js';
import { createApiKeySchema } from '../apikeys/apikeys.schemas.js';
import { botBodySchema, channelPatchSchema, embedTokenBodySchema } from '../channels/channels.schemas.js';
import {
  answerSchema,
  createDocumentSchema,
  listDocumentsSchema,
  searchSchema,
  updateDocumentSchema,
} from '../knowledge/knowledge.schemas.js';
import { createChannelSchema } from '../mobile/mobile.schemas.js';
import { apnsCredentialSchema, fcmCredentialSchema, providerParamsSchema } from '../push/push.schemas.js';
import { idParams } from '../shared/validation.js';
import {
  deleteOrganizationSchema,
  organizationPatchSchema,
  rotateSecretSchema,
  usageQuerySchema,
} from '../tenants/tenants.schemas.js';
import {
  deliveriesQuerySchema,
  webhookConfigSchema,
  webhookTestSchema,
} from '../webhooks/webhooks.schemas.js';
import type { Operation } from './openapi.registry.js';

const session = 'session' as const;
const org = '/api/organization';
const docs = `${org}/knowledge/documents`;
const hooks = `${org}/webhooks`;
const mobile = '/api/mobile/channels';

/**
 * The agent API's settings (session cookie; `X-CSRFToken` on every state-changing call): API keys,
 * the team, the organization, webhooks, the knowledge base, bots and channels. Admins, mostly.
 */
export const adminOperations: Operation[] = [
  // API keys (admins).
  { method: 'get', path: '/api/api-keys', tag: 'api-keys', summary: 'List API keys', security: session },
  {
    method: 'post',
    path: '/api/api-keys',
    tag: 'api-keys',
    summary: 'Create an API key (shown once)',
    security: session,
    body: createApiKeySchema,
    status: 201,
  },
  {
    method: 'delete',
    path: '/api/api-keys/{id}',
    tag: 'api-keys',
    summary: 'Revoke an API key',
    security: session,
    params: idParams,
  },

  // Team.
  { method: 'get', path: '/api/team', tag: 'team', summary: "The organization's agents", security: session },
  {
    method: 'post',
    path: '/api/team',
    tag: 'team',
    summary: 'Add an agent (admins)',
    security: session,
    body: addMemberBodySchema,
    status: 201,
  },
  {
    method: 'patch',
    path: '/api/team/{id}',
    tag: 'team',
    summary: 'Change an agent (admins)',
    security: session,
    params: idParams,
    body: updateMemberBodySchema,
  },

  // Organization (admins; deleting it: owners).
  {
    method: 'get',
    path: org,
    tag: 'organization',
    summary: 'The organization and its settings',
    security: session,
  },
  {
    method: 'patch',
    path: org,
    tag: 'organization',
    summary: 'Change the organization settings',
    security: session,
    body: organizationPatchSchema,
  },
  {
    method: 'delete',
    path: org,
    tag: 'organization',
    summary: 'Delete the organization and everything in it (owners; its name typed again)',
    security: session,
    body: deleteOrganizationSchema,
    status: 204,
  },
  {
    method: 'post',
    path: `${org}/widget-key/rotate`,
    tag: 'organization',
    summary: 'Rotate the widget public key',
    security: session,
  },
  {
    method: 'get',
    path: `${org}/usage`,
    tag: 'organization',
    summary: 'Usage per day',
    security: session,
    query: usageQuerySchema,
  },
  {
    method: 'post',
    path: `${org}/secret/rotate`,
    tag: 'organization',
    summary: 'Rotate the tenant secret (the old one verifies for `grace_hours`)',
    security: session,
    body: rotateSecretSchema,
  },

  // Webhooks.
  { method: 'get', path: hooks, tag: 'webhooks', summary: 'Webhook configuration', security: session },
  {
    method: 'put',
    path: hooks,
    tag: 'webhooks',
    summary: 'Configure webhooks',
    security: session,
    body: webhookConfigSchema,
  },
  {
    method: 'post',
    path: `${hooks}/test`,
    tag: 'webhooks',
    summary: 'Queue a test event',
    security: session,
    body: webhookTestSchema,
    status: 202,
  },
  {
    method: 'get',
    path: `${hooks}/deliveries`,
    tag: 'webhooks',
    summary: 'Recent deliveries',
    security: session,
    query: deliveriesQuerySchema,
  },
  {
    method: 'get',
    path: `${hooks}/deliveries/{id}`,
    tag: 'webhooks',
    summary: 'One delivery',
    security: session,
    params: idParams,
  },
  {
    method: 'post',
    path: `${hooks}/deliveries/{id}/redeliver`,
    tag: 'webhooks',
    summary: 'Deliver again',
    security: session,
    params: idParams,
    status: 202,
  },

  // Knowledge base.
  {
    method: 'post',
    path: docs,
    tag: 'knowledge',
    summary: 'Add a document',
    security: session,
    body: createDocumentSchema,
    status: 201,
  },
  {
    method: 'get',
    path: docs,
    tag: 'knowledge',
    summary: 'List documents',
    security: session,
    query: listDocumentsSchema,
  },
  {
    method: 'get',
    path: `${docs}/{id}`,
    tag: 'knowledge',
    summary: 'One document',
    security: session,
    params: idParams,
  },
  {
    method: 'patch',
    path: `${docs}/{id}`,
    tag: 'knowledge',
    summary: 'Edit a document',
    security: session,
    params: idParams,
    body: updateDocumentSchema,
  },
  {
    method: 'delete',
    path: `${docs}/{id}`,
    tag: 'knowledge',
    summary: 'Delete a document',
    security: session,
    params: idParams,
  },
  {
    method: 'get',
    path: `${org}/knowledge/search`,
    tag: 'knowledge',
    summary: 'Search the knowledge base',
    security: session,
    query: searchSchema,
  },
  {
    method: 'get',
    path: `${org}/knowledge/answer`,
    tag: 'knowledge',
    summary: "The bot's answer to a question (dry run)",
    security: session,
    query: answerSchema,
  },

  // Bots, embed tokens and channels (admins).
  { method: 'get', path: '/api/bots', tag: 'channels', summary: 'List bots', security: session },
  {
    method: 'post',
    path: '/api/bots',
    tag: 'channels',
    summary: 'Create a bot',
    security: session,
    body: botBodySchema,
    status: 201,
  },
  {
    method: 'patch',
    path: '/api/bots/{id}',
    tag: 'channels',
    summary: 'Rename a bot',
    security: session,
    params: idParams,
    body: botBodySchema,
  },
  {
    method: 'get',
    path: '/api/embed-tokens',
    tag: 'channels',
    summary: 'List embed tokens',
    security: session,
  },
  {
    method: 'post',
    path: '/api/embed-tokens',
    tag: 'channels',
    summary: 'Create an embed token (shown once)',
    security: session,
    body: embedTokenBodySchema,
    status: 201,
  },
  {
    method: 'delete',
    path: '/api/embed-tokens/{id}',
    tag: 'channels',
    summary: 'Delete an embed token',
    security: session,
    params: idParams,
  },
  ...(['revoke', 'restore'] as const).map((action): Operation => ({
    method: 'post',
    path: `/api/channels/{id}/${action}`,
    tag: 'channels',
    summary: action === 'revoke' ? 'Revoke a channel' : 'Restore a revoked channel',
    security: session,
    params: idParams,
  })),
  {
    method: 'patch',
    path: '/api/channels/{id}',
    tag: 'channels',
    summary: 'Change a channel',
    security: session,
    params: idParams,
    body: channelPatchSchema,
  },

  // Mobile channels and their push credentials (admins).
  { method: 'get', path: mobile, tag: 'mobile', summary: 'List mobile channels', security: session },
  {
    method: 'post',
    path: mobile,
    tag: 'mobile',
    summary: 'Create a mobile channel',
    security: session,
    body: createChannelSchema,
  },
  {
    method: 'get',
    path: `${mobile}/{id}`,
    tag: 'mobile',
    summary: 'One mobile channel',
    security: session,
    params: idParams,
  },
  {
    method: 'put',
    path: `${mobile}/{id}/push/fcm`,
    tag: 'mobile',
    summary: 'Set the FCM credential',
    security: session,
    params: idParams,
    body: fcmCredentialSchema,
  },
  {
    method: 'put',
    path: `${mobile}/{id}/push/apns`,
    tag: 'mobile',
    summary: 'Set the APNs credential',
    security: session,
    params: idParams,
    body: apnsCredentialSchema,
  },
  {
    method: 'delete',
    path: `${mobile}/{id}/push/{provider}`,
    tag: 'mobile',
    summary: 'Remove a push credential',
    security: session,
    params: providerParamsSchema,
    status: 204,
  },
];
