import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { Organization } from '../generated/prisma/client.js';
import { AppError } from '../shared/errors.js';
import { valid, validate } from '../shared/http.js';
import { reply } from './relay.envelope.js';
import { provisionTenantSchema, type ProvisionTenant } from './provision.schemas.js';
import type { Config } from '../config.js';
import type { Services } from '../services.js';
import { normalizeCallbackUrl } from '../webhooks/url-guard.js';

const sha256 = (v: string) => createHash('sha256').update(v).digest();

/**
 * `X-Admin-Key` must be the deployment's admin key (or, during a rotation, ADMIN_KEY_PREVIOUS).
 * Both sides are hashed first, so the comparison takes the same time whatever the length or
 * content of the guess.
 */
export function requireAdminKey(adminKey: string | undefined, previousAdminKey?: string): RequestHandler {
  const expected =
    adminKey === undefined ? [] : [adminKey, previousAdminKey].flatMap((k) => (k ? [sha256(k)] : []));
  return (req, _res, next) => {
    if (!expected.length) {
      return next(new AppError('admin/disabled', 'Provisioning is disabled on this server: set ADMIN_KEY'));
    }
    const given = req.get('x-admin-key');
    const hashed = given === undefined ? undefined : sha256(given);
    // Every key is compared, so the time taken does not tell which one matched.
    const matches = hashed ? expected.map((k) => timingSafeEqual(hashed, k)) : [];
    if (!matches.includes(true)) {
      return next(new AppError('admin/unauthorized', 'Missing or invalid X-Admin-Key'));
    }
    next();
  };
}

/** The organization's `config`: locale and whichever branding fields were given. */
function tenantConfig(b: ProvisionTenant) {
  const branding = {
    primary_color: b.primary_color,
    greeting: b.greeting,
    launcher_text: b.launcher_text,
    avatar_url: b.avatar_url,
  };
  return {
    locale: b.locale,
    ...Object.fromEntries(Object.entries(branding).filter(([, v]) => v !== undefined)),
  };
}

/** Exactly the documented answer: the three credentials, the secret this once. */
const provisionedDto = (o: Organization, tenantSecret: string) => ({
  tenant_id: o.id,
  tenant_secret: tenantSecret,
  widget_public_key: o.widgetPublicKey,
  tenant_name: o.name,
  rate_limit_per_min: o.rateLimitPerMin,
  callback_base_url: o.webhookUrl,
  created_at: o.createdAt.toISOString(),
});

/** Tenant provisioning (`POST /provision/tenant`, `X-Admin-Key`). */
export function provisionRoutes({
  services,
  config,
}: {
  services: Pick<Services, 'tenants'>;
  config: Pick<Config, 'adminKey'> &
    Partial<Pick<Config, 'previousAdminKey'>> & { webhooks: Pick<Config['webhooks'], 'allowPrivate'> };
}): Router {
  const router = Router();
  router.post(
    '/provision/tenant',
    requireAdminKey(config.adminKey, config.previousAdminKey),
    validate('body', provisionTenantSchema),
    async (req, res) => {
      const b = valid(req, 'body', provisionTenantSchema);
      const { organization, tenantSecret } = await services.tenants.createOrganization({
        name: b.tenant_name,
        allowedOrigins: b.allowed_origins,
        rateLimitPerMin: b.rate_limit_per_min,
        identityMode: b.identity_mode,
        config: tenantConfig(b),
        ...(b.callback_base_url
          ? { webhookUrl: normalizeCallbackUrl(b.callback_base_url, config.webhooks.allowPrivate) }
          : {}),
      });
      req.log?.info({ tenantId: organization.id }, 'tenant provisioned');
      reply(
        res,
        201,
        provisionedDto(organization, tenantSecret),
        'Tenant provisioned. Save tenant_secret and widget_public_key now — the secret will not be shown again.',
      );
    },
  );
  return router;
}
