import type { ApiKey } from '../generated/prisma/client.js';
import type { AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import type { CreateApiKey } from './apikeys.schemas.js';

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

/** Keys look like `sk_<43 url-safe chars>`; the first characters identify a key in lists. */
const KEY_PREFIX = 'sk';
const SHOWN_PREFIX_LENGTH = 10;
/** Keeps a runaway script from filling the table; far above any real need. */
export const MAX_ACTIVE_KEYS = 100;

const notFound = () => new AppError('api_key/not_found', 'API key not found');

/** What lists show: never the key, never its hash. */
export function apiKeyDto(k: ApiKey) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    created_by_id: k.createdById,
    created_at: k.createdAt.toISOString(),
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
  };
}

/**
 * Organization API keys. Only a SHA-256 of the key is stored (the key carries 256 random bits,
 * so a slow hash adds nothing and the hash doubles as the lookup index); the key itself is
 * returned once, at creation. Callers check the admin role; every function scopes to the
 * actor's organization, so another tenant's key is simply not found.
 */
export function createApiKeyService({ db }: { db: Db }) {
  return {
    /** Creates a key; the result's `key` is the only time the secret is ever visible. */
    async create(actor: AgentActor, { name }: CreateApiKey) {
      const active = await db.apiKey.count({
        where: { organizationId: actor.organizationId, revokedAt: null },
      });
      if (active >= MAX_ACTIVE_KEYS) {
        throw new AppError(
          'api_key/limit',
          `An organization may hold at most ${MAX_ACTIVE_KEYS} active API keys`,
        );
      }
      const key = randomToken(KEY_PREFIX, 32);
      const row = await db.apiKey.create({
        data: {
          organizationId: actor.organizationId,
          name,
          prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
          keyHash: sha256Hex(key),
          createdById: actor.userId,
        },
      });
      return { ...apiKeyDto(row), key };
    },

    /** The organization's active keys, newest first. */
    async list(actor: AgentActor) {
      const rows = await db.apiKey.findMany({
        where: { organizationId: actor.organizationId, revokedAt: null },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
      return rows.map(apiKeyDto);
    },

    /** Revokes a key for good. A revoked, unknown or foreign key is 404. */
    async revoke(actor: AgentActor, id: string) {
      const revokedAt = new Date();
      const { count } = await db.apiKey.updateMany({
        where: { id, organizationId: actor.organizationId, revokedAt: null },
        data: { revokedAt },
      });
      if (count === 0) throw notFound();
      return { id, revoked_at: revokedAt.toISOString() };
    },

    /**
     * The organization a presented key belongs to, or null (unknown or revoked), and records
     * its use. No route authenticates with keys yet (the spec keeps them for integrations).
     */
    async authenticate(key: string): Promise<{ organizationId: string; apiKeyId: string } | null> {
      if (!key.startsWith(`${KEY_PREFIX}_`)) return null;
      const row = await db.apiKey.findUnique({ where: { keyHash: sha256Hex(key) } });
      if (!row || row.revokedAt) return null;
      await db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } });
      return { organizationId: row.organizationId, apiKeyId: row.id };
    },
  };
}
