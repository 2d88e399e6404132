import type { Organization } from '../generated/prisma/client.js';

/** An organization as its admins see it: the secret only as a hint (`sk_…` and its last four). */
export function organizationDto(o: Organization & { secretHint: string }) {
  const grace = o.tenantSecretPrevUntil && o.tenantSecretPrevUntil.getTime() > Date.now();
  return {
    id: o.id,
    name: o.name,
    status: o.status,
    widget_public_key: o.widgetPublicKey,
    tenant_secret_hint: o.secretHint,
    /** Until when the secret before the last rotation still verifies (null: it no longer does). */
    previous_secret_valid_until: grace ? o.tenantSecretPrevUntil!.toISOString() : null,
    identity_mode: o.identityMode,
    allowed_origins: o.allowedOrigins,
    rate_limit_per_min: o.rateLimitPerMin,
    created_at: o.createdAt.toISOString(),
  };
}
