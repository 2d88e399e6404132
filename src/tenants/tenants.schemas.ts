import { z } from 'zod';
import type { Prisma } from '../generated/prisma/client.js';
import { origin, origins, text } from '../shared/validation.js';
import { businessHoursSchema } from './hours.js';
import { brandingFields, defaultModeSchema, localeTag, offlineBehaviourSchema } from './settings.js';

/** The bounds of a tenant's attachment limit; ATTACHMENT_MAX_BYTES can be at most the ceiling. */
export const ATTACHMENT_MIN_BYTES = 1024;
export const ATTACHMENT_CEILING_BYTES = 1_073_741_824;

export const identityModeSchema = z.enum(['anonymous', 'verified', 'off'], {
  error: 'must be anonymous, verified or off',
});

export const createOrganizationSchema = z.object({
  name: text().trim().min(1, 'must not be empty').max(200),
  allowedOrigins: origins,
  rateLimitPerMin: z.number().int().min(1).max(10_000_000).default(60),
  identityMode: identityModeSchema.default('verified'),
});
/**
 * Parsed input; the identity mode may be left out (the default, `verified`). `config` is the
 * organization's branding and settings (`locale`, colours, greeting), as the relay provisions it.
 */
export type CreateOrganization = Omit<z.output<typeof createOrganizationSchema>, 'identityMode'> &
  Partial<Pick<z.output<typeof createOrganizationSchema>, 'identityMode'>> & {
    config?: Prisma.InputJsonObject;
    /** The callback base URL for webhooks, already checked (`normalizeCallbackUrl`). */
    webhookUrl?: string;
  };

/**
 * `PATCH /api/organization`: any of the fields, at least one. `null` clears a branding field (the
 * widget then uses its own default). The allowed origins replace the list (duplicates dropped).
 */
export const organizationPatchSchema = z
  .strictObject({
    identity_mode: identityModeSchema.optional(),
    name: text().trim().min(1, 'must not be empty').max(200).optional(),
    allowed_origins: z
      .array(origin)
      .max(100, 'must be at most 100 origins')
      .transform((list) => [...new Set(list)])
      .optional(),
    locale: localeTag.optional(),
    default_mode: defaultModeSchema.optional(),
    offline_behaviour: offlineBehaviourSchema.optional(),
    primary_color: brandingFields.primary_color.nullable().optional(),
    greeting: brandingFields.greeting.nullable().optional(),
    launcher_text: brandingFields.launcher_text.nullable().optional(),
    avatar_url: brandingFields.avatar_url.nullable().optional(),
    offline_message: brandingFields.offline_message.nullable().optional(),
    /** When the tenant is open, in its time zone; `null`: always open. */
    business_hours: businessHoursSchema.nullable().optional(),
    /**
     * The largest file its visitors and agents may attach, in bytes (`null`: the default, 10 MB).
     * Never above the platform's cap (ATTACHMENT_MAX_BYTES), which the service checks.
     */
    attachment_max_bytes: z
      .number({ error: 'must be a number of bytes' })
      .int('must be a whole number of bytes')
      .min(ATTACHMENT_MIN_BYTES, `must be at least ${ATTACHMENT_MIN_BYTES} bytes (1 KB)`)
      .max(ATTACHMENT_CEILING_BYTES, `must be at most ${ATTACHMENT_CEILING_BYTES} bytes (1 GB)`)
      .nullable()
      .optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'nothing to change' });
export type OrganizationPatch = z.output<typeof organizationPatchSchema>;

/** `DELETE /api/organization`: the organization's name, typed again, confirms. */
export const deleteOrganizationSchema = z.strictObject({
  confirm_name: text().max(200),
});

/** `POST /api/organization/secret/rotate`: how long the old secret keeps verifying (0: not at all). */
export const rotateSecretSchema = z.strictObject({
  grace_hours: z.number().int().min(0).max(720, 'must be at most 720 (30 days)').default(24),
});

/** `GET /api/organization/usage?days=30`: how many UTC days back, today included. */
export const usageQuerySchema = z.object({
  days: z.coerce.number().int().min(1).max(366, 'must be at most 366').default(30),
});
