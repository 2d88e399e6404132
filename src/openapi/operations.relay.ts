import {
  createDocumentSchema,
  listDocumentsSchema,
  searchSchema,
  updateDocumentSchema,
} from '../knowledge/knowledge.schemas.js';
import { contactSchema, ratingSchema } from '../ratings/ratings.schemas.js';
import {
  backendMessageSchema,
  listConversationsSchema,
  listMessagesSchema,
  mintVisitorTokenSchema,
  openConversationSchema,
  rotateSecretSchema,
  usageQuerySchema,
} from '../relay/backend.schemas.js';
import {
  createOperatorSchema,
  listOperatorsSchema,
  operatorParams,
  operatorTokenSchema,
  updateOperatorSchema,
} from '../relay/operators.schemas.js';
import { provisionTenantSchema } from '../relay/provision.schemas.js';
import {
  createVisitorSessionSchema,
  identifyVisitorSchema,
  widgetConfigQuerySchema,
} from '../relay/visitor.schemas.js';
import { idParams } from '../shared/validation.js';
import {
  createTicketSchema,
  escalateSchema,
  listTicketsSchema,
  signedUpdateTicketSchema,
} from '../tickets/tickets.schemas.js';
import {
  deliveriesQuerySchema,
  webhookConfigSchema,
  webhookTestSchema,
} from '../webhooks/webhooks.schemas.js';
import type { Operation, Security } from './openapi.registry.js';

const v1 = '/api/v1';
const r = `${v1}/relay`;
const docs = `${r}/knowledge/documents`;

/** Every relay answer is in the envelope; `tag` and `security` are per group. */
const group =
  (tag: string, security: Security) =>
  (op: Omit<Operation, 'tag' | 'security' | 'envelope'>): Operation => ({
    ...op,
    tag,
    security,
    envelope: true,
  });
const provision = group('relay-provisioning', 'admin');
const visitor = group('relay-visitor', 'visitor');
const publicVisitor = group('relay-visitor', 'none');
const signed = group('relay', 'hmac');

/** The relay: provisioning (admin key), the visitor side (visitor token), the signed API (HMAC#1). */
export const relayOperations: Operation[] = [
  provision({
    method: 'post',
    path: `${v1}/provision/tenant`,
    summary: 'Provision a tenant (its secret is in this answer only)',
    body: provisionTenantSchema,
    status: 201,
  }),

  publicVisitor({
    method: 'get',
    path: `${v1}/fetch/widget-config`,
    summary: "The widget's configuration for a tenant and its public key",
    query: widgetConfigQuerySchema,
  }),
  publicVisitor({
    method: 'post',
    path: `${v1}/create/visitor-session`,
    summary: 'Open or resume a visitor session; returns the visitor token (201 when new)',
    body: createVisitorSessionSchema,
    status: 201,
  }),
  publicVisitor({
    method: 'get',
    path: `${v1}/create/visitor-session`,
    summary: 'As the POST, with query parameters (`metadata` as JSON text)',
    query: createVisitorSessionSchema,
    status: 201,
  }),
  visitor({
    method: 'post',
    path: `${v1}/refresh/visitor-token`,
    summary: 'A fresh visitor token for a live session (the old token may have expired)',
  }),
  visitor({
    method: 'post',
    path: `${v1}/identify/visitor`,
    summary: 'Identify the visitor as a signed-in user of the site',
    body: identifyVisitorSchema,
  }),
  visitor({
    method: 'post',
    path: `${v1}/visitor/contact`,
    summary: 'Leave an email to be answered at',
    body: contactSchema,
  }),
  visitor({
    method: 'post',
    path: `${v1}/visitor/rating`,
    summary: 'Rate the resolved conversation (201 the first time, 200 when it changes)',
    body: ratingSchema,
    status: 201,
  }),
  visitor({
    method: 'post',
    path: `${v1}/attachments`,
    summary: "Upload the visitor's file (raw bytes)",
    upload: true,
    status: 201,
  }),

  signed({ method: 'get', path: `${r}/usage`, summary: 'Usage per day', query: usageQuerySchema }),
  signed({
    method: 'post',
    path: `${r}/conversations`,
    summary: 'Open a conversation for a visitor (201 when new)',
    body: openConversationSchema,
    status: 201,
  }),
  signed({
    method: 'get',
    path: `${r}/conversations`,
    summary: 'List conversations',
    query: listConversationsSchema,
  }),
  signed({ method: 'get', path: `${r}/conversations/{id}`, summary: 'One conversation', params: idParams }),
  signed({
    method: 'post',
    path: `${r}/conversations/{id}/messages`,
    summary: 'Post a message (201; 200 for a duplicate `client_message_id`)',
    params: idParams,
    body: backendMessageSchema,
    status: 201,
  }),
  signed({
    method: 'get',
    path: `${r}/conversations/{id}/messages`,
    summary: "A conversation's messages (paged)",
    params: idParams,
    query: listMessagesSchema,
  }),
  signed({
    method: 'post',
    path: `${r}/conversations/{id}/attachments`,
    summary: 'Upload a file into the conversation (raw bytes, signed as they are)',
    params: idParams,
    upload: true,
    status: 201,
  }),
  signed({
    method: 'post',
    path: `${r}/conversations/{id}/escalate`,
    summary: 'Hand the conversation to the humans (201; 200 when already with them)',
    params: idParams,
    body: escalateSchema,
    status: 201,
  }),

  signed({
    method: 'post',
    path: `${r}/operators`,
    summary: 'Create an operator',
    body: createOperatorSchema,
    status: 201,
  }),
  signed({ method: 'get', path: `${r}/operators`, summary: 'List operators', query: listOperatorsSchema }),
  signed({
    method: 'get',
    path: `${r}/operators/{external_id}`,
    summary: 'One operator',
    params: operatorParams,
  }),
  signed({
    method: 'patch',
    path: `${r}/operators/{external_id}`,
    summary: 'Change an operator',
    params: operatorParams,
    body: updateOperatorSchema,
  }),
  ...(['deactivate', 'reactivate'] as const).map((action) =>
    signed({
      method: 'post',
      path: `${r}/operators/{external_id}/${action}`,
      summary: action === 'deactivate' ? 'Deactivate an operator' : 'Reactivate an operator',
      params: operatorParams,
    }),
  ),
  signed({
    method: 'post',
    path: `${r}/operators/{external_id}/token`,
    summary: 'A one-time sign-in link for the operator (spent at /auth/operator)',
    params: operatorParams,
    body: operatorTokenSchema,
  }),

  signed({ method: 'get', path: `${r}/webhooks`, summary: 'Webhook configuration' }),
  signed({ method: 'put', path: `${r}/webhooks`, summary: 'Configure webhooks', body: webhookConfigSchema }),
  signed({
    method: 'post',
    path: `${r}/webhooks/test`,
    summary: 'Queue a test event',
    body: webhookTestSchema,
    status: 202,
  }),
  signed({
    method: 'get',
    path: `${r}/webhooks/deliveries`,
    summary: 'Recent deliveries',
    query: deliveriesQuerySchema,
  }),
  signed({ method: 'get', path: `${r}/webhooks/deliveries/{id}`, summary: 'One delivery', params: idParams }),
  signed({
    method: 'post',
    path: `${r}/webhooks/deliveries/{id}/redeliver`,
    summary: 'Deliver again',
    params: idParams,
    status: 202,
  }),

  signed({ method: 'get', path: `${r}/tickets`, summary: 'List tickets', query: listTicketsSchema }),
  signed({
    method: 'post',
    path: `${r}/tickets`,
    summary: 'Create a ticket',
    body: createTicketSchema,
    status: 201,
  }),
  signed({ method: 'get', path: `${r}/tickets/{id}`, summary: 'One ticket', params: idParams }),
  signed({
    method: 'patch',
    path: `${r}/tickets/{id}`,
    summary: 'Update a ticket',
    params: idParams,
    body: signedUpdateTicketSchema,
  }),

  signed({
    method: 'post',
    path: docs,
    summary: 'Add a knowledge document',
    body: createDocumentSchema,
    status: 201,
  }),
  signed({ method: 'get', path: docs, summary: 'List knowledge documents', query: listDocumentsSchema }),
  signed({ method: 'get', path: `${docs}/{id}`, summary: 'One knowledge document', params: idParams }),
  signed({
    method: 'patch',
    path: `${docs}/{id}`,
    summary: 'Edit a knowledge document',
    params: idParams,
    body: updateDocumentSchema,
  }),
  signed({
    method: 'delete',
    path: `${docs}/{id}`,
    summary: 'Delete a knowledge document',
    params: idParams,
  }),
  signed({
    method: 'get',
    path: `${r}/knowledge/search`,
    summary: 'Search the knowledge base',
    query: searchSchema,
  }),

  signed({
    method: 'post',
    path: `${r}/visitor-token`,
    summary: "A visitor token for an in-app SDK's user, vouched for by the backend",
    body: mintVisitorTokenSchema,
    status: 201,
  }),
  signed({ method: 'post', path: `${r}/rotate/widget-key`, summary: 'Rotate the widget public key' }),
  signed({
    method: 'post',
    path: `${r}/rotate/tenant-secret`,
    summary: 'Rotate the tenant secret (the one that signed this call verifies for `grace_hours`)',
    body: rotateSecretSchema,
  }),
];
