import { Router } from 'express';
import { agentApi, agentOf, requireRole } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import { organizationDto } from './tenants.dto.js';
import { organizationPatchSchema, rotateSecretSchema, usageQuerySchema } from './tenants.schemas.js';
import type { TenantService } from './tenants.service.js';

/**
 * The signed-in agent's organization under `/api/organization`: its keys (the tenant secret
 * masked), its identity mode, its usage per day, and the rotation of its secret. Admins read and
 * change the mode and read the usage; only owners rotate the secret. Session cookie plus X-CSRFToken on writes.
 */
export function tenantRoutes({ tenants }: { tenants: TenantService }): Router {
  const router = Router();
  const admin = [...agentApi, requireRole('admin')];

  router.get('/api/organization', ...admin, async (req, res) => {
    res.json(organizationDto(await tenants.describe(agentOf(req).organizationId)));
  });
  router.patch('/api/organization', ...admin, validate('body', organizationPatchSchema), async (req, res) => {
    const { identity_mode } = valid(req, 'body', organizationPatchSchema);
    await tenants.setIdentityMode(agentOf(req).organizationId, identity_mode);
    res.json(organizationDto(await tenants.describe(agentOf(req).organizationId)));
  });
  // Sessions, end users' messages, signed API calls and webhooks per UTC day (relay usage).
  router.get('/api/organization/usage', ...admin, validate('query', usageQuerySchema), async (req, res) => {
    const { days } = valid(req, 'query', usageQuerySchema);
    res.json(await tenants.usage(agentOf(req).organizationId, days));
  });
  // The new secret is in this answer only; the old one keeps verifying for `grace_hours`.
  router.post(
    '/api/organization/secret/rotate',
    ...agentApi,
    requireRole('owner'),
    validate('body', rotateSecretSchema),
    async (req, res) => {
      const { grace_hours } = valid(req, 'body', rotateSecretSchema);
      const organizationId = agentOf(req).organizationId;
      const { tenantSecret } = await tenants.rotateSecret(organizationId, grace_hours);
      res.json({ ...organizationDto(await tenants.describe(organizationId)), tenant_secret: tenantSecret });
    },
  );
  return router;
}
