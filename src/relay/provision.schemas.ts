import { z } from 'zod';
import { identityModeSchema } from '../tenants/tenants.schemas.js';
import { origins, text } from '../shared/validation.js';
import { brandingFields, localeTag } from '../tenants/settings.js';

/**
 * `POST /api/v1/provision/tenant`. Only `tenant_name` is required. Unknown fields are refused, so
 * a misspelt option is an error rather than a silent default. Types are strict: `"60"` is not a
 * number. The branding fields go to the organization's `config` with the locale.
 */
export const provisionTenantSchema = z.strictObject({
  tenant_name: text().trim().min(1, 'must not be empty').max(200),
  /** Web origins (`https://shop.example.com`) and app schemes (`app://my_app`). */
  allowed_origins: origins,
  rate_limit_per_min: z.number().int().min(1).max(10_000_000).default(60),
  identity_mode: identityModeSchema.default('verified'),
  locale: localeTag.default('fr'),
  primary_color: brandingFields.primary_color.optional(),
  greeting: brandingFields.greeting.optional(),
  launcher_text: brandingFields.launcher_text.optional(),
  /** Where webhooks go: `{callback_base_url}/api/v1/chat-callbacks/{event}` (checked further on use). */
  callback_base_url: text().trim().min(1).max(2048).optional(),
  avatar_url: brandingFields.avatar_url.optional(),
});
export type ProvisionTenant = z.output<typeof provisionTenantSchema>;
