import { z } from 'zod';
import { displayName } from '../shared/validation.js';

/**
 * `PATCH /api/conversations/:id/visitor`: the visitor's name and email as an agent corrects them;
 * null clears one. At least one field.
 */
export const visitorPatchSchema = z
  .object({
    display_name: displayName.nullable().optional(),
    email: z
      .string()
      .trim()
      .max(254)
      .pipe(z.email({ error: 'must be an email address' }))
      .nullable()
      .optional(),
  })
  .refine((b) => b.display_name !== undefined || b.email !== undefined, {
    message: 'give display_name or email',
    path: ['display_name'],
  });
export type VisitorPatch = z.output<typeof visitorPatchSchema>;
