import { z } from 'zod';
import { text } from '../shared/validation.js';

export const createApiKeySchema = z.object({
  name: text().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
});
export type CreateApiKey = z.output<typeof createApiKeySchema>;
