import { Router } from 'express';
import { agentApi, agentOf, requireRole } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import { organizationDto } from './tenants.dto.js';
import type { AttachmentService } from '../attachments/attachments.service.js';
import { AppError } from '../shared/errors.js';
import {
  deleteOrganizationSchema,
  organizationPatchSchema,
  rotateSecretSchema,
  usageQuerySchema,
} from './tenants.schemas.js';
import type { TenantService } from './tenants.service.js';

/**
 * The signed-in agent's organization under `/api/organization`: its keys (the tenant secret
 * masked), name, allowed origins, identity mode, branding and flags, its usage per day, the
 * rotation of its keys and its deletion. Admins read and change the settings, rotate the widget
 * key and read the usage; only owners rotate the secret and delete the organization. Session
 * cookie plus X-CSRFToken on writes.
 */
export function tenantRoutes({
  tenants,
  attachments,
}: {
  tenants: TenantService;
  attachments: Pick<AttachmentService, 'filesOf'>;
}): Router {
  const router = Router();
  const admin = [...agentApi, requireRole('admin')];

  router.get('/api/organization', ...admin, async (req, res) => {
    res.json(organizationDto(await tenants.describe(agentOf(req).organizationId)));
  });
  router.patch('/api/organization', ...admin, validate('body', organizationPatchSchema), async (req, res) => {
    const organizationId = agentOf(req).organizationId;
    await tenants.configure(organizationId, valid(req, 'body', organizationPatchSchema));
    res.json(organizationDto(await tenants.describe(organizationId)));
  });
  // Owners only, with the name typed again: the organization and everything in it is deleted.
  router.delete(
    '/api/organization',
    ...agentApi,
    requireRole('owner'),
    validate('body', deleteOrganizationSchema),
    async (req, res) => {
      const organizationId = agentOf(req).organizationId;
      const org = await tenants.requireOrganization(organizationId);
      if (valid(req, 'body', deleteOrganizationSchema).confirm_name !== org.name) {
        throw new AppError('request/invalid', 'Type the organization’s name exactly to delete it', {
          param: 'confirm_name',
        });
      }
      const files = await attachments.filesOf(organizationId);
      await tenants.remove(organizationId);
      await files.purge();
      req.log?.warn({ organizationId, userId: agentOf(req).userId }, 'organization deleted by its owner');
      req.session.destroy(() => res.status(204).end());
    },
  );
  // Admins: a new widget public key at once (sessions made with the old one end).
  router.post('/api/organization/widget-key/rotate', ...admin, async (req, res) => {
    const organizationId = agentOf(req).organizationId;
    await tenants.rotateWidgetKey(organizationId);
    res.json(organizationDto(await tenants.describe(organizationId)));
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
