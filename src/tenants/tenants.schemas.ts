import { z } from 'zod';
import { origins, text } from '../shared/validation.js';

export const identityModeSchema = z.enum(['anonymous', 'verified', 'off'], {
  error: 'must be anonymous, verified or off',
});

export const createOrganizationSchema = z.object({
  name: text().trim().min(1, 'must not be empty').max(200),
  allowedOrigins: origins,
  rateLimitPerMin: z.number().int().min(1).max(10_000_000).default(60),
  identityMode: identityModeSchema.default('verified'),
});
/** Parsed input; the identity mode may be left out (the default, `verified`). */
export type CreateOrganization = Omit<z.output<typeof createOrganizationSchema>, 'identityMode'> &
  Partial<Pick<z.output<typeof createOrganizationSchema>, 'identityMode'>>;

/** `PATCH /api/organization`. */
export const organizationPatchSchema = z.strictObject({ identity_mode: identityModeSchema });

/** `POST /api/organization/secret/rotate`: how long the old secret keeps verifying (0: not at all). */
export const rotateSecretSchema = z.strictObject({
  grace_hours: z.number().int().min(0).max(720, 'must be at most 720 (30 days)').default(24),
});
