import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/** A random credential such as `ew_…`, `pk_…`, `sk_…`: prefix + 32 url-safe random bytes. */
export function randomToken(prefix: string, bytes = 24): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

/** Credentials with 192+ random bits need no slow hash: SHA-256 lets us look them up by hash. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** argon2id with the library's defaults (19 MiB, t=2), OWASP's recommended minimum. */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** AES-256-GCM; the output is `v1.<iv>.<tag>.<ciphertext>` in base64url, safe in a text column. */
export function encryptSecret(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), data]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/**
 * Keys that still open what `key` cannot (ENCRYPTION_KEY_PREVIOUS during a rotation). Kept beside
 * the key object itself, so every service handed the configured key decrypts old data unchanged.
 */
const previousKeys = new WeakMap<Buffer, readonly Buffer[]>();

/** `key`, which from now on also decrypts what `previous` sealed (encryption uses `key` only). */
export function withPreviousKeys(key: Buffer, previous: readonly Buffer[]): Buffer {
  if (previous.length) previousKeys.set(key, previous);
  return key;
}

function openWith(key: Buffer, sealed: string): string {
  const [version, iv, tag, data] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('not an encrypted secret');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
}

/** Opens `sealed` with `key`, else with its previous keys (the GCM tag tells a wrong key). */
export function decryptSecret(key: Buffer, sealed: string): string {
  return openSecret(key, sealed).plaintext;
}

/** As `decryptSecret`, and whether the current key opened it (false: re-seal it). */
export function openSecret(key: Buffer, sealed: string): { plaintext: string; current: boolean } {
  try {
    return { plaintext: openWith(key, sealed), current: true };
  } catch (err) {
    for (const old of previousKeys.get(key) ?? []) {
      try {
        return { plaintext: openWith(old, sealed), current: false };
      } catch {
        // the next one
      }
    }
    throw err;
  }
}
