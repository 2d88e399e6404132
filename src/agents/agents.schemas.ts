import { z } from 'zod';
import { displayName, routingKey, text, uuid } from '../shared/validation.js';

export const roles = ['owner', 'admin', 'agent'] as const;

export const password = text().min(8, 'must be at least 8 characters').max(256);

const email = z
  .email({ error: 'must be an email address' })
  .max(254)
  .transform((e) => e.toLowerCase());

const role = z.enum(roles, { error: `must be one of ${roles.join(', ')}` });

/** The queues an agent is restricted to (none: every queue), each once, in the order given. */
export const routingKeys = z
  .array(routingKey)
  .max(100, 'at most 100 routing keys')
  .transform((keys) => [...new Set(keys)]);

/** An agent from the operator CLI (or a test). */
export const createAgentSchema = z.object({
  organizationId: uuid,
  email,
  password,
  role: role.default('agent'),
  displayName: displayName.optional(),
  routingKeys: routingKeys.default([]),
});
export type CreateAgent = z.output<typeof createAgentSchema>;

/** `POST /api/team`. */
export const addMemberBodySchema = z.strictObject({
  email,
  password,
  role: role.default('agent'),
  display_name: displayName.optional(),
  routing_keys: routingKeys.default([]),
});
export type AddMemberBody = z.output<typeof addMemberBodySchema>;

/** `PATCH /api/team/<id>`. */
export const updateMemberBodySchema = z
  .strictObject({
    role: role.optional(),
    status: z.enum(['active', 'deactivated'], { error: 'must be active or deactivated' }).optional(),
    display_name: displayName.optional(),
    routing_keys: routingKeys.optional(),
  })
  .refine((b) => b.role ?? b.status ?? b.display_name ?? b.routing_keys, {
    message: 'give role, status, display_name or routing_keys',
    path: ['role'],
  });
export type UpdateMemberBody = z.output<typeof updateMemberBodySchema>;
