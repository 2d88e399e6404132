import { z } from 'zod';
import { identityModeSchema } from '../tenants/tenants.schemas.js';

/** `PATCH /api/channels/<id>`: the channel's own identity mode, or null for the organization's. */
export const channelPatchSchema = z.strictObject({ identity_mode: identityModeSchema.nullable() });
import { origin, origins, text, uuid } from '../shared/validation.js';

const name = text().trim().min(1, 'must not be empty').max(120);

/** An embed token from the operator CLI (or a test): the organization's first bot by default. */
export const createEmbedTokenSchema = z.object({
  organizationId: uuid,
  /** Omitted: the organization's first bot, created when it has none. */
  botId: uuid.optional(),
  name: name.default('Web chat'),
  allowedOrigins: origins,
  createdById: uuid.optional(),
});
export type CreateEmbedToken = z.output<typeof createEmbedTokenSchema>;

/** `POST /api/bots`, `PATCH /api/bots/<id>`. */
export const botBodySchema = z.strictObject({ name });

/** `POST /api/embed-tokens`. */
export const embedTokenBodySchema = z.strictObject({
  bot_id: uuid,
  name,
  /** One origin per entry; empty allows every origin (development). */
  allowed_origins: z.array(origin).max(100).default([]),
});
