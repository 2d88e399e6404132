import { z } from 'zod';
import { password, roles } from '../agents/agents.schemas.js';
import { displayName, origin, uuid } from '../shared/validation.js';

export const idParams = z.object({ id: uuid });

export const botBodySchema = z.strictObject({ name: z.string().trim().min(1, 'must not be empty').max(120) });

export const createEmbedTokenBodySchema = z.strictObject({
  bot_id: uuid,
  name: z.string().trim().min(1, 'must not be empty').max(120),
  /** One origin per entry; empty allows every origin (development). */
  allowed_origins: z.array(origin).max(100).default([]),
});

const role = z.enum(roles, { error: `must be one of ${roles.join(', ')}` });

export const addMemberBodySchema = z.strictObject({
  email: z
    .email({ error: 'must be an email address' })
    .max(254)
    .transform((e) => e.toLowerCase()),
  password,
  role: role.default('agent'),
  display_name: displayName.optional(),
});

export const updateMemberBodySchema = z
  .strictObject({
    role: role.optional(),
    status: z.enum(['active', 'deactivated'], { error: 'must be active or deactivated' }).optional(),
    display_name: displayName.optional(),
  })
  .refine((b) => b.role ?? b.status ?? b.display_name, {
    message: 'give role, status or display_name',
    path: ['role'],
  });

export type AddMemberBody = z.output<typeof addMemberBodySchema>;
export type UpdateMemberBody = z.output<typeof updateMemberBodySchema>;
