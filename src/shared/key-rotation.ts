import type { PrismaClient } from '../generated/prisma/client.js';
import { encryptSecret, openSecret } from './crypto.js';

/** What `reencryptSecrets` did: re-sealed with the current key, already current, unreadable. */
export type ReencryptResult = { reencrypted: number; current: number; unreadable: number };

/**
 * Re-seals every encrypted column (tenant secrets, current and previous; push credentials) with
 * `key`, opening each with `key` or its previous keys. Each row is updated only if it still holds
 * what was read, so a tenant secret rotated meanwhile is left as it now is (sealed with the
 * current key by the node that wrote it). A value no key opens is counted, never changed.
 */
export async function reencryptSecrets(db: PrismaClient, key: Buffer): Promise<ReencryptResult> {
  const result: ReencryptResult = { reencrypted: 0, current: 0, unreadable: 0 };
  const reseal = (sealed: string): string | undefined => {
    try {
      const { plaintext, current } = openSecret(key, sealed);
      if (current) {
        result.current++;
        return undefined;
      }
      return encryptSecret(key, plaintext);
    } catch {
      result.unreadable++;
      return undefined;
    }
  };

  const orgs = await db.organization.findMany({
    select: { id: true, tenantSecretEnc: true, tenantSecretPrevEnc: true },
  });
  for (const org of orgs) {
    const secret = reseal(org.tenantSecretEnc);
    const prev = org.tenantSecretPrevEnc === null ? undefined : reseal(org.tenantSecretPrevEnc);
    if (secret === undefined && prev === undefined) continue;
    const { count } = await db.organization.updateMany({
      where: {
        id: org.id,
        tenantSecretEnc: org.tenantSecretEnc,
        tenantSecretPrevEnc: org.tenantSecretPrevEnc,
      },
      data: {
        ...(secret !== undefined ? { tenantSecretEnc: secret } : {}),
        ...(prev !== undefined ? { tenantSecretPrevEnc: prev } : {}),
      },
    });
    if (count) result.reencrypted += (secret !== undefined ? 1 : 0) + (prev !== undefined ? 1 : 0);
  }

  const creds = await db.pushCredential.findMany({ select: { id: true, secretEnc: true } });
  for (const cred of creds) {
    const secret = reseal(cred.secretEnc);
    if (secret === undefined) continue;
    const { count } = await db.pushCredential.updateMany({
      where: { id: cred.id, secretEnc: cred.secretEnc },
      data: { secretEnc: secret },
    });
    result.reencrypted += count;
  }
  return result;
}
