import { z } from 'zod';
import { displayName, externalId, jsonText, origin, routingKey, text } from '../shared/validation.js';
import { contentTypes, MAX_CONTENT, richMediaSchemas } from '../messages/messages.schemas.js';
import { locale, metadata } from './visitor.schemas.js';

/** `GET /api/v1/relay/usage?days=30`: how many UTC days back, today included. */
export { usageQuerySchema } from '../tenants/tenants.schemas.js';
/** `POST /api/v1/relay/rotate/tenant-secret`: `{grace_hours}` (default 24; 0 ends the old one at once). */
export { rotateSecretSchema } from '../tenants/tenants.schemas.js';

const limit = z.coerce.number().int().min(1).max(100, 'must be at most 100').default(20);
/** An opaque cursor, as the previous page's `next_cursor` gave it. */
const cursor = text().trim().min(1).max(200).optional();

/** `GET /api/v1/relay/conversations?limit=&cursor=&visitor_user_id=`: newest first. */
export const listConversationsSchema = z.object({ limit, cursor, visitor_user_id: externalId.optional() });
export type ListConversations = z.infer<typeof listConversationsSchema>;

/**
 * `GET /api/v1/relay/conversations/:id/messages?limit=&cursor=&include_internal=`: oldest first,
 * from the cursor on. Agents' internal notes (`internal: true`) only with `include_internal=true`:
 * a backend that shows the list to its user must not show them by accident.
 */
export const listMessagesSchema = z.object({
  limit,
  cursor,
  include_internal: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
});
export type ListMessages = z.infer<typeof listMessagesSchema>;

/** `POST /api/v1/relay/conversations`: the conversation of one of the tenant's users. */
export const openConversationSchema = z.strictObject({
  visitor_user_id: externalId,
  visitor_display_name: displayName.optional(),
  locale: locale.optional(),
  metadata: metadata.optional(),
  /** The queue (one of the tenant's operators' routing keys); given again, it moves there. */
  routing_key: routingKey.optional(),
});
export type OpenBackendConversation = z.infer<typeof openConversationSchema>;

/** Who a message sent through the signed API speaks as. */
export const messageRoles = ['visitor', 'agent', 'bot', 'system'] as const;
export type MessageRole = (typeof messageRoles)[number];

/**
 * `POST /api/v1/relay/conversations/:id/messages`. The `agent` role speaks as one of the tenant's
 * operators, named by `operator_external_id` (and only then); with `internal: true` the operator
 * writes an internal note (agents only ever see it).
 */
export const backendMessageSchema = z
  .strictObject({
    role: z.enum(messageRoles, { error: `must be one of ${messageRoles.join(', ')}` }),
    content: text().max(MAX_CONTENT, `must be at most ${MAX_CONTENT} characters`).default(''),
    /** `text` (default), or rich media as every gateway takes it: image, file, quick_button, … */
    content_type: z
      .enum(contentTypes, { error: `must be one of ${contentTypes.join(', ')}` })
      .default('text'),
    rich_media: jsonText.optional().nullable(),
    client_msg_id: text().trim().min(1).max(100).optional(),
    operator_external_id: externalId.optional(),
    internal: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.content_type === 'text') {
      if (v.rich_media != null)
        ctx.addIssue({ code: 'custom', path: ['rich_media'], message: 'not allowed for text' });
      if (!v.content.trim())
        ctx.addIssue({ code: 'custom', path: ['content'], message: 'must not be empty' });
    } else {
      const r = richMediaSchemas[v.content_type].safeParse(v.rich_media);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        ctx.addIssue({
          code: 'custom',
          path: ['rich_media', ...issue.path.map(String)],
          message: `${issue.message} (for content_type ${v.content_type})`,
        });
      }
    }
    if (v.internal && v.role !== 'agent') {
      ctx.addIssue({
        code: 'custom',
        path: ['internal'],
        message: 'is only for role agent: internal notes are written by operators',
      });
    }
    if (v.role === 'agent' && v.operator_external_id === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['operator_external_id'],
        message: 'is required with role agent: the operator who speaks',
      });
    }
    if (v.role !== 'agent' && v.operator_external_id !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['operator_external_id'], message: 'is only for role agent' });
    }
  });
export type BackendMessage = z.infer<typeof backendMessageSchema>;

/**
 * `POST /api/v1/relay/visitor-token`: a visitor session for one of the tenant's users, for the
 * in-app SDKs. `ttl_seconds` is capped at the deployment's visitor token lifetime.
 */
export const mintVisitorTokenSchema = z.strictObject({
  visitor_user_id: externalId,
  /** The backend's hash of the user's email (never the email): kept in the user's metadata. */
  visitor_email_hash: text().trim().min(1).max(200).optional(),
  origin,
  ttl_seconds: z
    .number()
    .int()
    .min(30, 'must be at least 30')
    .max(86_400, 'must be at most 86400')
    .optional(),
});
export type MintVisitorToken = z.infer<typeof mintVisitorTokenSchema>;
