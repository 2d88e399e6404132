import { z } from 'zod';
import { displayName, uuid } from '../shared/validation.js';

export const roles = ['owner', 'admin', 'agent'] as const;

export const password = z.string().min(8, 'must be at least 8 characters').max(256);

export const createAgentSchema = z.object({
  organizationId: uuid,
  email: z
    .email({ error: 'must be an email address' })
    .max(254)
    .transform((e) => e.toLowerCase()),
  password,
  role: z.enum(roles, { error: `must be one of ${roles.join(', ')}` }).default('agent'),
  displayName: displayName.optional(),
  routingKeys: z.array(z.string().trim().min(1).max(100)).max(100).default([]),
});
export type CreateAgentInput = z.input<typeof createAgentSchema>;
