import { z } from 'zod';
import { routingKey, text, uuid } from '../shared/validation.js';

export const listQuerySchema = z.object({
  filter: z
    .enum(['unassigned', 'mine', 'all'], { error: 'must be one of unassigned, mine, all' })
    .default('unassigned'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  /** One queue only (blank: every queue the agent sees). */
  routing_key: z.preprocess((v) => (v === '' ? undefined : v), routingKey.optional()),
});
export type ListQuery = z.output<typeof listQuerySchema>;

const tag = text()
  .trim()
  .min(1)
  .max(50)
  .regex(/^[^\s,][^,]*$/, 'must not contain commas');

export const resolveBodySchema = z.object({ tags: z.array(tag).max(50).default([]) });
export type ResolveBody = z.output<typeof resolveBodySchema>;

export const tagsBodySchema = z
  .object({ add: z.array(tag).max(50).default([]), remove: z.array(tag).max(50).default([]) })
  .refine((b) => b.add.length + b.remove.length > 0, {
    message: 'give tags to add or remove',
    path: ['add'],
  });
export type TagsBody = z.output<typeof tagsBodySchema>;

/** `POST /api/conversations/<id>/transfer`: the agent who takes the conversation over. */
export const transferBodySchema = z.object({ agent_id: uuid });
export type TransferBody = z.output<typeof transferBodySchema>;
