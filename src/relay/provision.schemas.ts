import { z } from 'zod';
import { identityModeSchema } from '../tenants/tenants.schemas.js';
import { origins, text } from '../shared/validation.js';

/** A BCP 47 language tag as widgets send it: `fr`, `en`, `pt-BR`, `zh-Hant-TW`. */
export const locale = text()
  .trim()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a language tag such as fr, en or pt-BR')
  .max(35);

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
  locale: locale.default('fr'),
  primary_color: text()
    .regex(/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a hex colour such as #1f6feb')
    .optional(),
  /** The first line the widget shows a visitor. */
  greeting: text().trim().min(1).max(500).optional(),
  /** The launcher button's label. */
  launcher_text: text().trim().min(1).max(60).optional(),
  /** Where webhooks go: `{callback_base_url}/api/v1/chat-callbacks/{event}` (checked further on use). */
  callback_base_url: text().trim().min(1).max(2048).optional(),
  avatar_url: text()
    .max(2048)
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
    .optional(),
});
export type ProvisionTenant = z.output<typeof provisionTenantSchema>;
