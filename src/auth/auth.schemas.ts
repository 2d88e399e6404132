import { z } from 'zod';
import { text } from '../shared/validation.js';

export const loginSchema = z.object({
  email: text().trim().min(1, 'is required').max(254),
  password: text().min(1, 'is required').max(256),
  next: text().optional(),
});
