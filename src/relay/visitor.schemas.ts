import { z } from 'zod';
import { externalId, jsonText, origin, routingKey, text, uuid } from '../shared/validation.js';

/** A blank query parameter (`?routing_key=`) counts as absent. */
const blankIsAbsent = (v: unknown) => (v === '' ? undefined : v);

/** `metadata` serialized may be at most this many bytes. */
export const MAX_METADATA_BYTES = 8 * 1024;

const tenantId = uuid;
const widgetPublicKey = text().trim().min(1, 'must not be empty').max(200);
/** A language tag such as `fr`, `en`, `pt-BR`. */
export const locale = text()
  .trim()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/, 'must be a language tag such as fr, en or pt-BR');

/**
 * Free-form context from the host page (an order id, a page URL): a JSON object of storable text,
 * at most 8 KB. A query string carries it as JSON text.
 */
export const metadata = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  },
  z
    .record(text(), jsonText, { error: 'must be a JSON object' })
    .refine((v) => Buffer.byteLength(JSON.stringify(v)) <= MAX_METADATA_BYTES, {
      message: `must be at most ${MAX_METADATA_BYTES} bytes of JSON`,
    }),
);

/** `GET /fetch/widget-config` (query). */
export const widgetConfigQuerySchema = z.object({
  tenant_id: tenantId,
  widget_public_key: widgetPublicKey,
  origin,
  locale: z.preprocess(blankIsAbsent, locale.optional()),
});
export type WidgetConfigQuery = z.infer<typeof widgetConfigQuerySchema>;

/** `POST /create/visitor-session` (JSON body) and its `GET` twin (query). */
export const createVisitorSessionSchema = z.object({
  tenant_id: tenantId,
  widget_public_key: widgetPublicKey,
  origin,
  locale: z.preprocess(blankIsAbsent, locale.default('fr')),
  metadata: z.preprocess(blankIsAbsent, metadata.optional()),
  routing_key: z.preprocess(blankIsAbsent, routingKey.optional()),
  mode: z.preprocess(
    blankIsAbsent,
    // Absent: the tenant's default mode (its console's "bot mode default", itself `bot` by default).
    z.enum(['bot', 'human'], { error: 'must be bot or human' }).optional(),
  ),
});
export type CreateVisitorSession = z.infer<typeof createVisitorSessionSchema>;

const SIGNATURE = /^[0-9a-fA-F]{64}$/;

/**
 * `POST /identify/visitor`: `user_id` with `user_signature` (or its alias `user_hash`), or the
 * provider form `visitor_token_provider: "userId:signature"` (split at its last colon: the
 * signature is hex). The signature is `hex(hmac_sha256(tenant_secret, user_id))`.
 */
export const identifyVisitorSchema = z
  .object({
    user_id: externalId.optional(),
    user_signature: text().optional(),
    user_hash: text().optional(),
    visitor_token_provider: text().trim().optional(),
  })
  .transform((b, ctx) => {
    let userId = b.user_id;
    let signature = b.user_signature ?? b.user_hash;
    let field = b.user_signature !== undefined ? 'user_signature' : 'user_hash';
    if (userId === undefined && signature === undefined && b.visitor_token_provider !== undefined) {
      field = 'visitor_token_provider';
      const v = b.visitor_token_provider;
      const at = v.lastIndexOf(':');
      const id = externalId.safeParse(v.slice(0, Math.max(at, 0)));
      if (at <= 0 || !id.success) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'must be "userId:signature"' });
        return z.NEVER;
      }
      userId = id.data;
      signature = v.slice(at + 1);
    }
    if (userId === undefined || signature === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [userId === undefined ? 'user_id' : 'user_signature'],
        message: 'send user_id and user_signature, or visitor_token_provider "userId:signature"',
      });
      return z.NEVER;
    }
    if (!SIGNATURE.test(signature)) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: 'the signature must be 64 hex characters: hex(hmac_sha256(tenant_secret, user_id))',
      });
      return z.NEVER;
    }
    return { userId, signature: signature.toLowerCase() };
  });
export type IdentifyVisitor = z.infer<typeof identifyVisitorSchema>;
