import { createHash } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { AppError } from '../shared/errors.js';

/** Who issues visitor tokens and for what: every node signs and checks the same values. */
const ISSUER = 'switchboard-relay';
const AUDIENCE = 'relay-visitor';

/** What a visitor token binds together (the JWT's `sub`, `tid`, `pk`, `origin`, `cid`). */
export type VisitorBinding = {
  sessionId: string;
  tenantId: string;
  widgetPublicKey: string;
  origin: string;
  conversationId: string;
};

/** A token whose signature checked out, with what it binds and when it was issued and expires. */
export type VisitorToken = VisitorBinding & { issuedAt: Date; expiresAt: Date; expired: boolean };

/** The signing keys (current first, then the previous one, verify-only), lifetime and clock. */
export type TokenKeys = { secrets: string[]; ttlS: number; now?: (() => number) | undefined };

/** A short, stable name for a key (the JWT `kid`): a hash, so the key itself never shows. */
export function keyId(secret: string): string {
  return createHash('sha256').update(`visitor-token-kid\n${secret}`).digest('base64url').slice(0, 12);
}

const invalid = () => new AppError('token/invalid', 'Invalid visitor token: create a new visitor session');

type Claims = JWTPayload & { tid?: unknown; pk?: unknown; origin?: unknown; cid?: unknown };

function bindingOf(p: Claims): VisitorBinding {
  const { sub, tid, pk, origin, cid } = p;
  if (![sub, tid, pk, origin, cid].every((v) => typeof v === 'string' && v.length > 0)) throw invalid();
  return {
    sessionId: sub!,
    tenantId: tid as string,
    widgetPublicKey: pk as string,
    origin: origin as string,
    conversationId: cid as string,
  };
}

/**
 * Visitor tokens: HS256 JWTs signed with the deployment's current key, with its `kid` in the
 * header so that a token signed with the previous key still verifies after a rotation.
 */
export function createVisitorTokens({ secrets, ttlS, now = Date.now }: TokenKeys) {
  if (secrets.length === 0) throw new Error('no visitor-token key');
  const keys = new Map(secrets.map((s) => [keyId(s), new TextEncoder().encode(s)] as const));
  const currentKid = keyId(secrets[0]!);
  const currentKey = keys.get(currentKid)!;

  return {
    /** A fresh token for the binding, valid `ttlS` (or the shorter `lifetimeS`) from now. */
    async signVisitorToken(
      b: VisitorBinding,
      lifetimeS?: number,
    ): Promise<{ token: string; expiresAt: Date }> {
      const iat = Math.floor(now() / 1000);
      const exp = iat + Math.min(ttlS, lifetimeS ?? ttlS);
      const token = await new SignJWT({
        tid: b.tenantId,
        pk: b.widgetPublicKey,
        origin: b.origin,
        cid: b.conversationId,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: currentKid })
        .setSubject(b.sessionId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(currentKey);
      return { token, expiresAt: new Date(exp * 1000) };
    },

    /**
     * The binding of a token signed by one of our keys. `allowExpired`: an expired token still
     * counts (refresh), flagged `expired`; otherwise it is 401 `token/expired`. Anything else
     * (garbage, an unknown key, a bad signature, a foreign issuer) is 401 `token/invalid`.
     */
    async verifyVisitorToken(token: string, opts: { allowExpired: boolean }): Promise<VisitorToken> {
      let payload: Claims;
      let expired = false;
      try {
        ({ payload } = await jwtVerify<Claims>(
          token,
          (header) => {
            const key = header.kid === undefined ? undefined : keys.get(header.kid);
            if (!key) throw invalid();
            return key;
          },
          {
            algorithms: ['HS256'],
            issuer: ISSUER,
            audience: AUDIENCE,
            requiredClaims: ['sub', 'iat', 'exp'],
            currentDate: new Date(now()),
          },
        ));
      } catch (err) {
        // jose checks the signature first, then iss and aud, then exp: an expired token got here
        // with everything else verified.
        if (!(err instanceof errors.JWTExpired)) throw invalid();
        if (!opts.allowExpired) {
          throw new AppError('token/expired', 'The visitor token has expired: refresh it');
        }
        payload = err.payload as Claims;
        expired = true;
      }
      return {
        ...bindingOf(payload),
        issuedAt: new Date(Number(payload.iat) * 1000),
        expiresAt: new Date(Number(payload.exp) * 1000),
        expired,
      };
    },
  };
}

export type VisitorTokens = ReturnType<typeof createVisitorTokens>;
