import { widgetQuery } from '../attachments/attachments.routes.js';
import { historyQuery } from '../conversations/widget-history.routes.js';
import { openBodySchema } from '../mobile/mobile.schemas.js';
import { deviceBodySchema } from '../push/push.schemas.js';
import { proof } from '../ratings/ratings.routes.js';
import { contactSchema, ratingSchema } from '../ratings/ratings.schemas.js';
import { idParams } from '../shared/validation.js';
import { widgetProfileSchema } from '../widget/widget.schemas.js';
import type { Operation } from './openapi.registry.js';

/**
 * The widget's and the native apps' public endpoints: no session; the end user is proven in the
 * request (`external_id`, and `user_hash` when the channel verifies identities). Rate-limited per IP.
 */
export const publicOperations: Operation[] = [
  {
    method: 'get',
    path: '/chat-widget/history/{id}',
    tag: 'widget',
    summary: "The end user's conversation history",
    security: 'none',
    params: idParams,
    query: historyQuery,
  },
  {
    method: 'post',
    path: '/chat-widget/profile',
    tag: 'widget',
    summary: "The end user's name and email, from the embedding page (allowed origins only)",
    security: 'none',
    body: widgetProfileSchema,
    status: 204,
  },
  {
    method: 'get',
    path: '/api/widget/availability',
    tag: 'widget',
    summary: 'Within business hours and someone online; the offline wording',
    security: 'none',
    query: proof,
  },
  {
    method: 'post',
    path: '/api/widget/contact',
    tag: 'widget',
    summary: 'Leave an email to be answered at',
    security: 'none',
    // The route proves the end user with `proof`, then reads the email with `contactSchema`.
    body: proof.extend(contactSchema.shape),
  },
  {
    method: 'post',
    path: '/api/widget/rating',
    tag: 'widget',
    summary: 'Rate a resolved conversation (201 the first time, 200 when it changes)',
    security: 'none',
    body: proof.extend(ratingSchema.shape),
    status: 201,
  },
  {
    method: 'post',
    path: '/api/widget/attachments',
    tag: 'widget',
    summary: "Upload the end user's file (raw bytes)",
    security: 'none',
    query: widgetQuery,
    upload: true,
    status: 201,
  },
  {
    method: 'post',
    path: '/api/mobile/conversations',
    tag: 'mobile',
    summary: "Open (or resume) the app user's conversation on a mobile channel",
    security: 'none',
    body: openBodySchema,
  },
  {
    method: 'post',
    path: '/api/mobile/devices',
    tag: 'mobile',
    summary: 'Register a device for push notifications',
    security: 'none',
    body: deviceBodySchema,
    status: 201,
  },
  {
    method: 'delete',
    path: '/api/mobile/devices',
    tag: 'mobile',
    summary: 'Unregister a device',
    security: 'none',
    body: deviceBodySchema,
    status: 204,
  },
];
