import { loginSchema } from '../auth/auth.schemas.js';
import { createCannedSchema, updateCannedSchema, variablesQuerySchema } from '../canned/canned.schemas.js';
import {
  listQuerySchema,
  resolveBodySchema,
  tagsBodySchema,
  transferBodySchema,
} from '../conversations/conversations.schemas.js';
import { searchQuerySchema } from '../conversations/search.schemas.js';
import { visitorPatchSchema } from '../conversations/visitor-profile.schemas.js';
import { historyQuerySchema } from '../messages/messages.schemas.js';
import { idParams } from '../shared/validation.js';
import { createTicketSchema, listTicketsSchema, updateTicketSchema } from '../tickets/tickets.schemas.js';
import type { Operation } from './openapi.registry.js';

const session = 'session' as const;
const c = '/api/conversations';

/**
 * The agent's REST API: sign-in, conversations, inbox, tickets, canned replies (session cookie;
 * `X-CSRFToken` on every state-changing call).
 */
export const agentOperations: Operation[] = [
  // Sign-in (the console's form posts here too) and the signed-in agent.
  {
    method: 'post',
    path: '/auth/login',
    tag: 'auth',
    summary: 'Sign in with email and password (CSRF token of the login page required)',
    security: 'none',
    body: loginSchema,
    form: true,
    returns: 'Signed in; the `session` cookie is set (forms are redirected)',
  },
  { method: 'post', path: '/auth/logout', tag: 'auth', summary: 'Sign out', security: session },
  { method: 'get', path: '/auth/me', tag: 'auth', summary: 'The signed-in agent', security: session },

  // Conversations.
  {
    method: 'get',
    path: c,
    tag: 'conversations',
    summary: 'List conversations',
    security: session,
    query: listQuerySchema,
  },
  { method: 'get', path: `${c}/queues`, tag: 'conversations', summary: 'Queue counts', security: session },
  {
    method: 'get',
    path: `${c}/search`,
    tag: 'conversations',
    summary: 'Search conversations and messages',
    security: session,
    query: searchQuerySchema,
  },
  {
    method: 'get',
    path: `${c}/{id}`,
    tag: 'conversations',
    summary: 'One conversation',
    security: session,
    params: idParams,
  },
  {
    method: 'get',
    path: `${c}/{id}/messages`,
    tag: 'conversations',
    summary: "A conversation's messages (paged)",
    security: session,
    params: idParams,
    query: historyQuerySchema,
  },
  ...(['assign', 'release'] as const).map((action): Operation => ({
    method: 'post',
    path: `${c}/{id}/${action}`,
    tag: 'conversations',
    summary: action === 'assign' ? 'Take the conversation' : 'Release the conversation to its queue',
    security: session,
    params: idParams,
  })),
  {
    method: 'post',
    path: `${c}/{id}/transfer`,
    tag: 'conversations',
    summary: 'Transfer to another agent or queue',
    security: session,
    params: idParams,
    body: transferBodySchema,
  },
  {
    method: 'post',
    path: `${c}/{id}/resolve`,
    tag: 'conversations',
    summary: 'Resolve the conversation',
    security: session,
    params: idParams,
    body: resolveBodySchema,
  },
  {
    method: 'post',
    path: `${c}/{id}/tags`,
    tag: 'conversations',
    summary: "Set the conversation's tags",
    security: session,
    params: idParams,
    body: tagsBodySchema,
  },
  {
    method: 'post',
    path: `${c}/{id}/attachments`,
    tag: 'conversations',
    summary: 'Upload a file into the conversation (raw bytes; `?filename=`)',
    security: session,
    params: idParams,
    upload: true,
    status: 201,
  },
  {
    method: 'get',
    path: `${c}/{id}/visitor`,
    tag: 'conversations',
    summary: "The visitor's profile",
    security: session,
    params: idParams,
  },
  {
    method: 'patch',
    path: `${c}/{id}/visitor`,
    tag: 'conversations',
    summary: "Edit the visitor's profile",
    security: session,
    params: idParams,
    body: visitorPatchSchema,
  },

  // Inbox.
  { method: 'get', path: '/api/inbox/unread', tag: 'inbox', summary: 'Unread counts', security: session },
  {
    method: 'post',
    path: '/api/inbox/conversations/{id}/read',
    tag: 'inbox',
    summary: "Mark a conversation's messages read",
    security: session,
    params: idParams,
  },

  // Tickets.
  {
    method: 'get',
    path: '/api/tickets',
    tag: 'tickets',
    summary: 'List tickets',
    security: session,
    query: listTicketsSchema,
  },
  {
    method: 'post',
    path: '/api/tickets',
    tag: 'tickets',
    summary: 'Create a ticket',
    security: session,
    body: createTicketSchema,
    status: 201,
  },
  {
    method: 'get',
    path: '/api/tickets/{id}',
    tag: 'tickets',
    summary: 'One ticket',
    security: session,
    params: idParams,
  },
  {
    method: 'patch',
    path: '/api/tickets/{id}',
    tag: 'tickets',
    summary: 'Update a ticket',
    security: session,
    params: idParams,
    body: updateTicketSchema,
  },

  // Canned replies.
  {
    method: 'get',
    path: '/api/canned-replies',
    tag: 'canned-replies',
    summary: 'List canned replies',
    security: session,
  },
  {
    method: 'get',
    path: '/api/canned-replies/variables',
    tag: 'canned-replies',
    summary: 'The variables a reply may use, filled for a conversation',
    security: session,
    query: variablesQuerySchema,
  },
  {
    method: 'post',
    path: '/api/canned-replies',
    tag: 'canned-replies',
    summary: 'Create a canned reply',
    security: session,
    body: createCannedSchema,
    status: 201,
  },
  {
    method: 'patch',
    path: '/api/canned-replies/{id}',
    tag: 'canned-replies',
    summary: 'Edit a canned reply',
    security: session,
    params: idParams,
    body: updateCannedSchema,
  },
  {
    method: 'delete',
    path: '/api/canned-replies/{id}',
    tag: 'canned-replies',
    summary: 'Delete a canned reply',
    security: session,
    params: idParams,
    status: 204,
  },
];
