import { z } from 'zod';
import { MAX_CONTENT } from '../messages/messages.schemas.js';
import { text, uuid } from '../shared/validation.js';

/** Who a canned reply belongs to: the organization (admins manage it) or the agent alone. */
export const cannedScopes = ['tenant', 'mine'] as const;
export type CannedScope = (typeof cannedScopes)[number];

/** What is typed after `/`: lower-case letters, digits, `-` and `_`, stored lower-cased. */
export const shortcut = text()
  .trim()
  .toLowerCase()
  .min(1, 'must not be empty')
  .max(32, 'must be at most 32 characters')
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be letters, digits, - or _ (no spaces, no leading - or _)');
const title = text().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const body = text()
  .max(MAX_CONTENT, `must be at most ${MAX_CONTENT} characters`)
  .refine((v) => v.trim() !== '', 'must not be empty');

/** `POST /api/canned-replies`: the agent's own by default; `scope: 'tenant'` for admins. */
export const createCannedSchema = z.strictObject({
  scope: z.enum(cannedScopes, { error: 'must be tenant or mine' }).default('mine'),
  shortcut,
  title,
  body,
});
export type CreateCanned = z.infer<typeof createCannedSchema>;

/** `PATCH /api/canned-replies/:id`: any of these, at least one. The scope never changes. */
export const updateCannedSchema = z
  .strictObject({ shortcut: shortcut.optional(), title: title.optional(), body: body.optional() })
  .refine((v) => Object.keys(v).length > 0, { message: 'give shortcut, title or body' });
export type UpdateCanned = z.infer<typeof updateCannedSchema>;

/** `GET /api/canned-replies/variables?conversation_id=`: the values a reply's variables take. */
export const variablesQuerySchema = z.object({ conversation_id: uuid });
