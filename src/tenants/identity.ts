import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IdentityMode, Prisma } from '../generated/prisma/client.js';
import { decryptSecret } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';

export type { IdentityMode };

const strictness: Record<IdentityMode, number> = { off: 0, verified: 1, anonymous: 2 };
/** Whether identity mode `a` lets in fewer end users than `b`. */
export const stricter = (a: IdentityMode, b: IdentityMode) => strictness[a] > strictness[b];

/**
 * The conversations whose end users must prove themselves again under a stricter `mode`: every
 * one for `anonymous`, the never-verified ones for `verified`.
 */
export const strictWhere = (
  mode: IdentityMode,
  where: Prisma.ConversationWhereInput,
): Prisma.ConversationWhereInput =>
  mode === 'anonymous' ? where : { ...where, endUser: { verifiedAt: null } };

/**
 * A visitor id the widget made itself: `v_` and at least 128 random bits (22 base64url or 32 hex
 * characters). Nobody can guess one, so it needs no proof.
 */
const RANDOM_VISITOR_ID = /^v_[A-Za-z0-9_-]{22,}$/;
export const isRandomVisitorId = (externalId: string) => RANDOM_VISITOR_ID.test(externalId);

/**
 * The recipe a tenant's backend follows: `hex(hmac_sha256(tenant_secret, external_id))`; when the
 * app also picks a queue, the routing key is part of what is signed:
 * `hex(hmac_sha256(tenant_secret, external_id + "\n" + routing_key))`.
 */
export function userHash(tenantSecret: string, externalId: string, routingKey?: string | null): string {
  const message = routingKey ? `${externalId}\n${routingKey}` : externalId;
  return createHmac('sha256', tenantSecret).update(message, 'utf8').digest('hex');
}

/** What the check needs of the organization, its channel and the end user (one row of SQL). */
export type IdentityFacts = {
  organizationId: string;
  /** The channel's mode if it has one, else the organization's. */
  mode: IdentityMode;
  secretEnc: string;
  prevSecretEnc: string | null;
  prevSecretUntil: Date | null;
  /** When the end user was first verified (null: never, or not created yet). */
  verifiedAt: Date | null;
};

/** What a request presents: the id, and the hash if the tenant's backend gave one. */
export type IdentityProof = { externalId: string; userHash?: string | undefined };

const forbidden = (message: string) => new AppError('identity/forbidden', message);

const hashRequired = () =>
  new AppError(
    'identity/required',
    'This user id needs user_hash = hex(hmac_sha256(tenant_secret, external_id)), computed by your backend',
  );

export type Identity = ReturnType<typeof createIdentity>;

/**
 * Verified end-user identity. Decrypted tenant secrets are kept in memory (keyed by their sealed
 * form, so a rotation is a new entry) because every join checks them.
 */
export function createIdentity(encryptionKey: Buffer) {
  const secrets = new Map<string, string>();
  function open(sealed: string): string {
    let secret = secrets.get(sealed);
    if (secret === undefined) {
      if (secrets.size >= 10_000) secrets.clear();
      secret = decryptSecret(encryptionKey, sealed);
      secrets.set(sealed, secret);
    }
    return secret;
  }

  /** The secrets that verify now: the current one, and the previous one during its grace period. */
  function liveSecrets(facts: IdentityFacts, now = Date.now()): string[] {
    const live = [open(facts.secretEnc)];
    if (facts.prevSecretEnc && facts.prevSecretUntil && facts.prevSecretUntil.getTime() > now) {
      live.push(open(facts.prevSecretEnc));
    }
    return live;
  }

  /** Whether `hash` signs one of `messages` with one of the live secrets; constant-time compares. */
  function signs(facts: IdentityFacts, hash: string, externalId: string, routingKeys: (string | null)[]) {
    const presented = Buffer.from(hash, 'hex');
    let ok = false;
    for (const secret of liveSecrets(facts)) {
      for (const key of routingKeys) {
        // Every candidate is computed and compared, so the time taken says nothing about which.
        const expected = Buffer.from(userHash(secret, externalId, key), 'hex');
        ok = (presented.length === expected.length && timingSafeEqual(presented, expected)) || ok;
      }
    }
    return ok;
  }

  return {
    /**
     * Decides whether `proof` may speak for its end user. Returns whether the proof carried a valid
     * hash (the caller records the end user as verified). `routingKeys`: which routing keys a hash
     * may also cover (the conversation's); `signedRoutingKey`: a routing key the request asks for,
     * which only a hash over it allows.
     */
    check(
      facts: IdentityFacts,
      proof: IdentityProof,
      opts: { routingKeys?: (string | null)[]; signedRoutingKey?: string | undefined } = {},
    ): { verified: boolean } {
      const random = isRandomVisitorId(proof.externalId);
      if (facts.mode === 'anonymous' && !random) {
        throw forbidden(
          'This chat takes anonymous visitors only: external_id must be a random visitor id (v_…), not a user id',
        );
      }
      if (proof.userHash === undefined) {
        if (opts.signedRoutingKey !== undefined) {
          throw forbidden(
            'routing_key must be signed: user_hash = hex(hmac_sha256(tenant_secret, external_id + "\\n" + routing_key))',
          );
        }
        if (facts.verifiedAt) {
          throw new AppError(
            'identity/required',
            'This user was verified before: every request for them needs their user_hash',
          );
        }
        if (facts.mode === 'verified' && !random) throw hashRequired();
        return { verified: false };
      }
      const keys =
        opts.signedRoutingKey !== undefined ? [opts.signedRoutingKey] : [null, ...(opts.routingKeys ?? [])];
      if (!signs(facts, proof.userHash, proof.externalId, keys)) {
        throw forbidden(
          opts.signedRoutingKey !== undefined
            ? 'user_hash does not match external_id and routing_key'
            : 'user_hash does not match external_id',
        );
      }
      return { verified: true };
    },
  };
}
