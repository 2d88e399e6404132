import { randomUUID } from 'node:crypto';
import type { Services } from '../../src/services.js';
import { createOrganizationSchema } from '../../src/tenants/tenants.schemas.js';

export const SHOP = 'https://app.acme.com';

/** A relay tenant as provisioning makes one. */
export async function createTenant(
  services: Services,
  o: { origins?: string[]; rateLimitPerMin?: number } = {},
) {
  const { organization, tenantSecret } = await services.tenants.createOrganization(
    createOrganizationSchema.parse({
      name: `Relay ${randomUUID().slice(0, 6)}`,
      allowedOrigins: o.origins ?? [SHOP],
      rateLimitPerMin: o.rateLimitPerMin ?? 1000,
    }),
  );
  return { org: organization, id: organization.id, pk: organization.widgetPublicKey, secret: tenantSecret };
}
export type Tenant = Awaited<ReturnType<typeof createTenant>>;

export type VisitorSessionData = {
  session_id: string;
  visitor_token: string;
  expires_at: string;
  conversation_id: string;
};

/** `POST /api/v1/create/visitor-session` on a running server. */
export async function createVisitorSession(
  baseUrl: string,
  tn: Pick<Tenant, 'id' | 'pk'>,
  extra: Record<string, unknown> = {},
): Promise<VisitorSessionData> {
  const res = await fetch(`${baseUrl}/api/v1/create/visitor-session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP, ...extra }),
  });
  const body = (await res.json()) as { data: VisitorSessionData };
  if (res.status !== 201) throw new Error(`create/visitor-session: ${res.status} ${JSON.stringify(body)}`);
  return body.data;
}

/** `POST /api/v1/refresh/visitor-token`: a new token for the same session. */
export async function refreshVisitorToken(baseUrl: string, token: string): Promise<VisitorSessionData> {
  const res = await fetch(`${baseUrl}/api/v1/refresh/visitor-token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as { data: VisitorSessionData };
  if (res.status !== 200) throw new Error(`refresh/visitor-token: ${res.status} ${JSON.stringify(body)}`);
  return body.data;
}
