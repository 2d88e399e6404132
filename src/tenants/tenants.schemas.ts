import { z } from 'zod';
import { origins, text } from '../shared/validation.js';

export const createOrganizationSchema = z.object({
  name: text().trim().min(1, 'must not be empty').max(200),
  allowedOrigins: origins,
  rateLimitPerMin: z.number().int().min(1).max(100_000).default(60),
});
export type CreateOrganization = z.output<typeof createOrganizationSchema>;
