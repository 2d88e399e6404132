import { z } from 'zod';
import { displayName, externalId, routingKey } from '../shared/validation.js';
import { OPERATOR_TOKEN_TTL_S } from './operator.tokens.js';

const role = z.enum(['agent', 'admin'], { error: 'must be agent or admin' });
const routingKeys = z.array(routingKey).max(100, 'at most 100 routing keys');

/** `POST /api/v1/relay/operators`: one of the tenant backend's users, as an agent without a password. */
export const createOperatorSchema = z.strictObject({
  external_id: externalId,
  display_name: displayName.optional(),
  email: z
    .email({ error: 'must be an email address' })
    .max(254)
    .transform((e) => e.toLowerCase())
    .optional(),
  role: role.default('agent'),
  routing_keys: routingKeys.default([]),
});
export type CreateOperator = z.output<typeof createOperatorSchema>;

/** `PATCH /api/v1/relay/operators/:external_id`. */
export const updateOperatorSchema = z
  .strictObject({
    routing_keys: routingKeys.optional(),
    display_name: displayName.optional(),
    role: role.optional(),
  })
  .refine((b) => b.routing_keys ?? b.display_name ?? b.role, {
    message: 'give routing_keys, display_name or role',
    path: ['routing_keys'],
  });
export type UpdateOperator = z.output<typeof updateOperatorSchema>;

/** `:external_id` in an operator's path. */
export const operatorParams = z.object({ external_id: externalId });

/** `GET /api/v1/relay/operators?limit=&cursor=`: by external id, a page at a time. */
export const listOperatorsSchema = z.object({
  limit: z.coerce.number().int().min(1).max(100, 'must be at most 100').default(50),
  cursor: externalId.optional(),
});
export type ListOperators = z.output<typeof listOperatorsSchema>;

/** `POST /api/v1/relay/operators/:external_id/token`: `{ttl_seconds}` (default 300, at most 3600). */
export const operatorTokenSchema = z.strictObject({
  ttl_seconds: z
    .number()
    .int()
    .min(30, 'must be at least 30')
    .max(OPERATOR_TOKEN_TTL_S.max, `must be at most ${OPERATOR_TOKEN_TTL_S.max}`)
    .default(OPERATOR_TOKEN_TTL_S.default),
});
