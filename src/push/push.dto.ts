import type { PushCredential } from '../generated/prisma/client.js';

export const LEGACY_FCM_NOTICE =
  'The legacy FCM server key cannot send notifications: Google has retired the legacy API. ' +
  'Upload the service-account JSON (FCM HTTP v1) from Firebase Console → Project settings → Service accounts.';

/** A push credential as any API shows it: what identifies it, never the secret. */
export function credentialDto(c: PushCredential) {
  const pub = c.publicConfig as Record<string, string | boolean | null>;
  const base = { configured: true, updated_at: c.updatedAt.toISOString() };
  if (c.provider === 'apns') return { ...base, ...pub, private_key: 'stored (hidden)' };
  return {
    ...base,
    ...pub,
    private_key: pub.project_id ? 'stored (hidden)' : null,
    ...(pub.http_v1 ? {} : { notice: LEGACY_FCM_NOTICE }),
  };
}

/** A registered device as the app sees it. */
export function deviceDto(d: { id: string; platform: string; createdAt: Date }) {
  return { id: d.id, platform: d.platform, created_at: d.createdAt.toISOString() };
}
