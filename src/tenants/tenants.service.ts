import type { Db } from '../shared/db.js';
import { decryptSecret, encryptSecret, randomToken } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { CreateOrganization } from './tenants.schemas.js';

export type TenantService = ReturnType<typeof createTenantService>;

export function createTenantService({
  db,
  encryptionKey,
  bus,
}: {
  db: Db;
  encryptionKey: Buffer;
  bus: EventBus;
}) {
  return {
    /** Creates a tenant with fresh credentials; the secret is returned here and never again. */
    async createOrganization(data: CreateOrganization) {
      const tenantSecret = randomToken('sk', 32);
      const organization = await db.organization.create({
        data: {
          name: data.name,
          allowedOrigins: data.allowedOrigins,
          rateLimitPerMin: data.rateLimitPerMin,
          widgetPublicKey: randomToken('pk', 18),
          tenantSecretEnc: encryptSecret(encryptionKey, tenantSecret),
        },
      });
      bus.publish('organization.created', { organizationId: organization.id });
      return { organization, tenantSecret };
    },

    async requireOrganization(id: string) {
      const org = await db.organization.findUnique({ where: { id } });
      if (!org) throw new AppError('organization/not_found', 'Organization not found');
      return org;
    },

    async tenantSecret(id: string): Promise<string> {
      const org = await this.requireOrganization(id);
      return decryptSecret(encryptionKey, org.tenantSecretEnc);
    },
  };
}
