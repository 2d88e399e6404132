import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { keyId } from './tokens.js';
import type { NonceStore } from './hmac.middleware.js';

/**
 * Operator tokens: the tenant backend delegating one of its users' identity to the inbox. The
 * same keys as visitor tokens, but their own audience and `typ`, each required on verification,
 * so neither kind of token can ever pass as the other.
 */
const ISSUER = 'switchboard-relay';
const AUDIENCE = 'relay-operator';
const TYP = 'operator+jwt';

/** The default and the longest lifetime of an operator token (`ttl_seconds`). */
export const OPERATOR_TOKEN_TTL_S = { default: 300, max: 3600 } as const;

/** Who a verified, not yet used operator token signs in. */
export type OperatorClaims = { userId: string; tenantId: string; externalId: string };

type Claims = JWTPayload & { tid?: unknown; ext?: unknown };

export function createOperatorTokens({
  secrets,
  now = Date.now,
  used,
}: {
  secrets: string[];
  now?: (() => number) | undefined;
  /** Where spent token ids are recorded (Redis `SET NX` across nodes, memory on one). */
  used: NonceStore;
}) {
  if (secrets.length === 0) throw new Error('no operator-token key');
  const keys = new Map(secrets.map((s) => [keyId(s), new TextEncoder().encode(s)] as const));
  const currentKid = keyId(secrets[0]!);

  return {
    /** A token for the operator, valid `ttlS` from now. */
    async sign(c: OperatorClaims, ttlS: number): Promise<{ token: string; expiresAt: Date }> {
      const iat = Math.floor(now() / 1000);
      const exp = iat + ttlS;
      const token = await new SignJWT({ tid: c.tenantId, ext: c.externalId })
        .setProtectedHeader({ alg: 'HS256', typ: TYP, kid: currentKid })
        .setSubject(c.userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setJti(randomUUID())
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(keys.get(currentKid)!);
      return { token, expiresAt: new Date(exp * 1000) };
    },

    /**
     * Who the token signs in, spending it; null for anything that is not a valid, unexpired,
     * unused operator token (the caller says no more than "invalid or expired").
     */
    async consume(token: string): Promise<OperatorClaims | null> {
      let payload: Claims;
      try {
        ({ payload } = await jwtVerify<Claims>(
          token,
          (header) => {
            const key = header.kid === undefined ? undefined : keys.get(header.kid);
            if (!key) throw new Error('unknown key');
            return key;
          },
          {
            algorithms: ['HS256'],
            issuer: ISSUER,
            audience: AUDIENCE,
            typ: TYP,
            requiredClaims: ['sub', 'jti', 'iat', 'exp'],
            currentDate: new Date(now()),
          },
        ));
      } catch {
        return null;
      }
      const { sub, tid, ext, jti, exp } = payload;
      if (![sub, tid, ext, jti].every((v) => typeof v === 'string' && v.length > 0)) return null;
      // Kept until the token would have expired anyway (at least a second).
      const ttlS = Math.max(1, Number(exp) - Math.floor(now() / 1000) + 1);
      if (!(await used.claim(tid as string, jti!, ttlS))) return null;
      return { userId: sub!, tenantId: tid as string, externalId: ext as string };
    },
  };
}

export type OperatorTokens = ReturnType<typeof createOperatorTokens>;
