import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { externalId, jsonText, text, userHash, uuid } from '../shared/validation.js';

/** The end user proves themselves as on the socket: the conversation and its external_id. */
const endUserProof = { conversation_id: uuid, external_id: externalId, user_hash: userHash.optional() };

// FCM registration tokens are long url-safe strings; APNs device tokens are hex (32 bytes today).
const fcmToken = text().regex(/^[\w:-]{20,4096}$/, 'is not an FCM registration token');
const apnsToken = text()
  .regex(/^[0-9a-fA-F]{64,200}$/, 'is not an APNs device token (hex)')
  .transform((t) => t.toLowerCase());

export const deviceBodySchema = z.discriminatedUnion(
  'platform',
  [
    z.object({ ...endUserProof, platform: z.literal('fcm'), token: fcmToken }),
    z.object({ ...endUserProof, platform: z.literal('apns'), token: apnsToken }),
  ],
  { error: 'must be fcm or apns' },
);
export type DeviceBody = z.output<typeof deviceBodySchema>;

export const providerParamsSchema = z.object({
  id: uuid,
  provider: z.enum(['fcm', 'apns'], { error: 'must be fcm or apns' }),
});

function isKey(pem: string, type: 'rsa' | 'ec') {
  try {
    return createPrivateKey(pem).asymmetricKeyType === type;
  } catch {
    return false;
  }
}

/** The fields of a Google service-account key file that sending needs. */
const serviceAccount = z
  .object({
    type: z.literal('service_account', { error: "must be 'service_account'" }).optional(),
    project_id: text().regex(/^[a-z0-9-]{4,64}$/, 'is not a Firebase project id'),
    client_email: z.email(),
    private_key: text().refine((k) => isKey(k, 'rsa'), 'is not an RSA private key in PEM'),
    private_key_id: text().max(100).optional(),
  })
  .loose();

/**
 * FCM: the service-account JSON (HTTP v1). The legacy server key and sender id of older setups
 * are accepted and kept, but cannot send: Google retired that API.
 */
export const fcmCredentialSchema = z
  .object({
    service_account_json: z
      .union([text().max(20_000), z.record(text(), z.unknown())])
      .transform((v, ctx) => {
        if (typeof v !== 'string') return v;
        try {
          return JSON.parse(v) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'is not JSON' });
          return z.NEVER;
        }
      })
      .pipe(jsonText)
      .pipe(serviceAccount)
      .optional(),
    server_key: text().trim().min(20).max(500).optional(),
    sender_id: text()
      .trim()
      .regex(/^\d{1,20}$/, 'must be digits')
      .optional(),
  })
  .refine((b) => b.service_account_json || b.server_key, {
    message: 'give the service-account JSON (HTTP v1)',
    path: ['service_account_json'],
  });
export type FcmCredentialInput = z.output<typeof fcmCredentialSchema>;

const appleId = (what: string) => text().regex(/^[A-Z0-9]{10}$/, `is not a ${what} (10 characters)`);

/** APNs token-based auth: the .p8 key signs a short-lived provider JWT. */
export const apnsCredentialSchema = z.object({
  team_id: appleId('Team ID'),
  key_id: appleId('Key ID'),
  bundle_id: text().regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, 'is not a bundle identifier'),
  private_key: text()
    .max(10_000)
    .refine((k) => isKey(k, 'ec'), 'is not the .p8 key (an EC private key in PEM)'),
  environment: z.enum(['sandbox', 'production'], { error: 'must be sandbox or production' }),
});
export type ApnsCredentialInput = z.output<typeof apnsCredentialSchema>;
