import { z } from 'zod';
import { origins, uuid } from '../shared/validation.js';

export const createEmbedTokenSchema = z.object({
  organizationId: uuid,
  /** Omitted: the organization's first bot, created when it has none. */
  botId: uuid.optional(),
  name: z.string().trim().min(1).max(120).default('Web chat'),
  allowedOrigins: origins,
  createdById: uuid.optional(),
});
export type CreateEmbedTokenInput = z.input<typeof createEmbedTokenSchema>;
