import type { Organization } from '../generated/prisma/client.js';
import { hoursOf, settingsOf } from './settings.js';

/** `config.attachment_max_bytes` when set to a number. */
const attachmentMaxOf = (config: unknown): number | null => {
  const v = (config as { attachment_max_bytes?: unknown } | null)?.attachment_max_bytes;
  return typeof v === 'number' ? v : null;
};

/** An organization as its admins see it: the secret only as a hint (`sk_…` and its last four). */
export function organizationDto(
  o: Organization & {
    secretHint: string;
    previousSecretValidUntil: Date | null;
    previousSecretSecondsLeft: number | null;
  },
) {
  const { locale, default_mode, offline_behaviour, ...branding } = settingsOf(o.config);
  return {
    id: o.id,
    name: o.name,
    status: o.status,
    widget_public_key: o.widgetPublicKey,
    tenant_secret_hint: o.secretHint,
    /** Until when the secret before the last rotation still verifies (null: it no longer does). */
    previous_secret_valid_until: o.previousSecretValidUntil?.toISOString() ?? null,
    /** The seconds left of that grace period by the server's clock (null: none). */
    previous_secret_seconds_left: o.previousSecretSecondsLeft,
    identity_mode: o.identityMode,
    allowed_origins: o.allowedOrigins,
    rate_limit_per_min: o.rateLimitPerMin,
    locale,
    /** The mode a visitor session starts in when the widget does not ask for one. */
    default_mode,
    /** While no agent is online: `message` (the widget stays, with `offline_message`) or `hide`. */
    offline_behaviour,
    /** primary_color, greeting, launcher_text, avatar_url, offline_message: those set. */
    branding,
    /** When the tenant is open, in its time zone (null: always open). */
    business_hours: hoursOf(o.config),
    /** The tenant's own limit on one attachment, in bytes (null: the platform's). */
    attachment_max_bytes: attachmentMaxOf(o.config),
    created_at: o.createdAt.toISOString(),
  };
}
