import { z } from 'zod';
import { text } from '../shared/validation.js';

/** Longest search the inbox sends: a sentence, not a document. */
export const MAX_SEARCH_LENGTH = 200;

/** `GET /api/conversations/search?q=…&cursor=…&limit=…`. */
export const searchQuerySchema = z.object({
  q: text()
    .trim()
    .min(1, 'must not be empty')
    .max(MAX_SEARCH_LENGTH, `must be at most ${MAX_SEARCH_LENGTH} characters`),
  /** The previous page's `next_cursor`. */
  cursor: z.string().min(1).max(300).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export type SearchQuery = z.output<typeof searchQuerySchema>;
