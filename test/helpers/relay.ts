import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { signRequest } from '../../src/relay/hmac.js';
import type { Services } from '../../src/services.js';
import type { Database } from '../../src/shared/db.js';
import { sendMessageSchema } from '../../src/messages/messages.schemas.js';
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

/**
 * The visitor of relay session `s` says `content`, stored by `services`: the tests' own, which
 * publish nowhere, stand for a node that stored it and died before its events went out.
 */
export async function sendAsRelayVisitor(
  services: Services,
  database: Database,
  organizationId: string,
  s: Pick<VisitorSessionData, 'session_id' | 'conversation_id'>,
  content: string,
) {
  const row = await database.prisma.visitorSession.findUniqueOrThrow({
    where: { id: s.session_id },
    include: { endUser: true },
  });
  const actor = {
    kind: 'end_user' as const,
    organizationId,
    endUserId: row.endUserId,
    externalId: row.endUser.externalId,
  };
  return services.messages.send(
    actor,
    sendMessageSchema.parse({
      conversation_id: s.conversation_id,
      content,
      sender_type: 'end_user',
      external_id: actor.externalId,
    }),
  );
}

/** A one-passage knowledge base the bot answers "When does the Paris store open?" from. */
export const OPENING_HOURS = {
  title: 'Store opening hours',
  body: 'The Paris store opens every day from 9:00 to 20:00.',
};

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

/** A relay answer's envelope. */
export type Envelope = {
  status_code: number;
  data: Record<string, unknown> | null;
  message: string;
  error?: string;
};

/** A tenant provisioned through `POST /api/v1/provision/tenant`: its id and secret. */
export type SignedTenant = { id: string; secret: string };

export async function provisionTenant(
  baseUrl: string,
  adminKey: string,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<SignedTenant> {
  const res = await fetch(`${baseUrl}/api/v1/provision/tenant`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-key': adminKey },
    body: JSON.stringify({ tenant_name: `${name} ${randomUUID().slice(0, 6)}`, ...extra }),
  });
  const body = (await res.json()) as { data: { tenant_id: string; tenant_secret: string } };
  return { id: body.data.tenant_id, secret: body.data.tenant_secret };
}

/** A call of the signed API (HMAC#1) as the tenant's backend makes it; the envelope is checked. */
export async function signedCall(
  baseUrl: string,
  tn: SignedTenant,
  method: string,
  path: string,
  json?: unknown,
  /** Unix seconds to sign with (a test that moves the server's clock moves this one too). */
  timestamp?: number,
) {
  const body = json === undefined ? undefined : JSON.stringify(json);
  const headers = signRequest({
    method,
    pathAndQuery: path,
    body,
    tenantId: tn.id,
    secret: tn.secret,
    ...(timestamp !== undefined ? { timestamp } : {}),
  });
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body } : {}),
  });
  const out = (await res.json()) as Envelope;
  assert.equal(out.status_code, res.status);
  return { status: res.status, body: out };
}
