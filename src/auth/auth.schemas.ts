import { z } from 'zod';

export const loginSchema = z.object({
  email: z.string().trim().min(1, 'is required').max(254),
  password: z.string().min(1, 'is required').max(256),
  next: z.string().optional(),
});
