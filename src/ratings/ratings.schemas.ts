import { z } from 'zod';
import { text, uuid } from '../shared/validation.js';

/** The longest comment a rating takes. */
export const MAX_RATING_COMMENT = 1000;

/** A visitor's rating: 1–5 stars and an optional comment; `session_id` picks a resolved session. */
export const ratingSchema = z.strictObject({
  score: z
    .number({ error: 'must be a whole number from 1 to 5' })
    .int('must be a whole number from 1 to 5')
    .min(1, 'must be a whole number from 1 to 5')
    .max(5, 'must be a whole number from 1 to 5'),
  comment: text()
    .trim()
    .max(MAX_RATING_COMMENT, `must be at most ${MAX_RATING_COMMENT} characters`)
    .nullable()
    .optional()
    .transform((v) => (v ? v : null)),
  session_id: uuid.optional(),
});
export type RatingInput = z.output<typeof ratingSchema>;

/** Leaving an email to be answered at: `{email}`. */
export const contactSchema = z.strictObject({
  email: text()
    .trim()
    .max(254, 'must be at most 254 characters')
    .pipe(z.email({ error: 'must be an email address such as name@example.com' })),
});
export type ContactInput = z.output<typeof contactSchema>;
