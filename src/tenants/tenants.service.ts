import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../shared/db.js';
import { decryptSecret, encryptSecret, randomToken } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';
import type { EventBus } from '../shared/events.js';
import type { IdentityMode, Prisma, UsageDaily } from '../generated/prisma/client.js';
import type { TenantQuota } from '../shared/tenant-quota.js';
import { ratingSummary } from '../ratings/ratings.service.js';
import { stricter, strictWhere } from './identity.js';
import { withSettings } from './settings.js';
import type { CreateOrganization, OrganizationPatch } from './tenants.schemas.js';

export type TenantService = ReturnType<typeof createTenantService>;

const DAY_MS = 86_400_000;
const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const counts = (r?: UsageDaily) => ({
  sessions: r?.sessions ?? 0,
  messages: r?.messages ?? 0,
  api_calls: r?.apiCalls ?? 0,
  webhooks_sent: r?.webhooksSent ?? 0,
});

export function createTenantService({
  db,
  encryptionKey,
  bus,
  quota,
  attachmentMaxBytes,
  now = Date.now,
}: {
  db: Db;
  encryptionKey: Buffer;
  bus: EventBus;
  /** Each organization's `rate_limit_per_min` (for the current minute's reading); none in tools. */
  quota?: TenantQuota | undefined;
  /** The platform's cap on attachments (ATTACHMENT_MAX_BYTES): no tenant's limit may exceed it. */
  attachmentMaxBytes?: number | undefined;
  /** The time grace periods start from (tests move it). */
  now?: () => number;
}) {
  return {
    /**
     * Creates a tenant with fresh credentials; the secret is returned here and never again. Its id
     * is a UUID v7 (time-ordered, as the relay's documents show tenant ids), whichever gateway asks.
     */
    async createOrganization(data: CreateOrganization) {
      const tenantSecret = randomToken('sk', 32);
      const organization = await db.organization.create({
        data: {
          id: uuidv7(),
          name: data.name,
          allowedOrigins: data.allowedOrigins,
          rateLimitPerMin: data.rateLimitPerMin,
          identityMode: data.identityMode,
          widgetPublicKey: randomToken('pk', 18),
          tenantSecretEnc: encryptSecret(encryptionKey, tenantSecret),
          ...(data.config ? { config: data.config } : {}),
          ...(data.webhookUrl ? { webhookUrl: data.webhookUrl } : {}),
        },
      });
      bus.publish('organization.created', { organizationId: organization.id });
      return { organization, tenantSecret };
    },

    async requireOrganization(id: string) {
      const org = await db.organization.findUnique({ where: { id } });
      if (!org) throw new AppError('organization/not_found', 'Organization not found');
      return org;
    },

    /**
     * Suspends a tenant: from now on its widget page, native open, history, device registration,
     * joins, sends and its agents' sign-ins answer 403 `organization/suspended`, and every socket of
     * its agents and end users is disconnected on every node (`organization.suspended`).
     * Suspending twice is harmless.
     */
    async suspend(id: string) {
      await this.requireOrganization(id);
      const organization = await db.organization.update({ where: { id }, data: { status: 'suspended' } });
      const [users, endUsers] = await Promise.all([
        db.user.findMany({ where: { organizationId: id }, select: { id: true } }),
        db.endUser.findMany({ where: { organizationId: id }, select: { id: true } }),
      ]);
      bus.publish('organization.suspended', {
        organizationId: id,
        userIds: users.map((u) => u.id),
        endUserIds: endUsers.map((e) => e.id),
      });
      return organization;
    },

    /** Lifts a suspension: agents sign in again, visitors and apps are let in on their next open or join. */
    async reactivate(id: string) {
      await this.requireOrganization(id);
      return db.organization.update({ where: { id }, data: { status: 'active' } });
    },

    /** The organization with a hint of its secret (`sk_…` and the last four characters). */
    async describe(id: string) {
      const org = await this.requireOrganization(id);
      const secret = decryptSecret(encryptionKey, org.tenantSecretEnc);
      const graceLeftMs = (org.tenantSecretPrevUntil?.getTime() ?? 0) - now();
      return {
        ...org,
        secretHint: `sk_…${secret.slice(-4)}`,
        /** Until when the secret before the last rotation verifies, if it still does (on the app's clock). */
        previousSecretValidUntil: graceLeftMs > 0 ? org.tenantSecretPrevUntil : null,
        /** How long that is from now, in seconds (the server's clock, not the browser's). */
        previousSecretSecondsLeft: graceLeftMs > 0 ? Math.ceil(graceLeftMs / 1000) : null,
      };
    },

    /**
     * Sets the organization's identity mode. A stricter one disconnects the end users who must now
     * prove themselves (on channels without a mode of their own), so they meet it on their next join.
     */
    async setIdentityMode(id: string, mode: IdentityMode) {
      const org = await this.requireOrganization(id);
      await db.organization.update({ where: { id }, data: { identityMode: mode } });
      if (!stricter(mode, org.identityMode)) return;
      const where = strictWhere(mode, { organizationId: id, channel: { identityMode: null } });
      const rows = await db.conversation.findMany({
        where,
        select: { endUserId: true },
        distinct: ['endUserId'],
      });
      bus.publish('identity.tightened', { organizationId: id, endUserIds: rows.map((r) => r.endUserId) });
    },

    /**
     * A new tenant secret, returned here and never again. The previous one keeps verifying for
     * `graceHours` (0: it stops at once); rotating again ends the older one's grace at once.
     */
    async rotateSecret(id: string, graceHours: number) {
      const org = await this.requireOrganization(id);
      const tenantSecret = randomToken('sk', 32);
      // Only over the secret just read: of two rotations at once, the second is refused rather
      // than replacing a secret nobody would then have been told (or given a grace period).
      const { count } = await db.organization.updateMany({
        where: { id, tenantSecretEnc: org.tenantSecretEnc },
        data: {
          tenantSecretEnc: encryptSecret(encryptionKey, tenantSecret),
          tenantSecretPrevEnc: graceHours > 0 ? org.tenantSecretEnc : null,
          tenantSecretPrevUntil: graceHours > 0 ? new Date(now() + graceHours * 3_600_000) : null,
        },
      });
      if (count === 0) {
        throw new AppError(
          'conflict',
          'The secret was rotated by someone else just now; reload and try again',
        );
      }
      return { tenantSecret };
    },

    /**
     * A new widget public key. Widgets must be given it; every visitor session made with the old
     * one ends: its open WebSockets close with 4404 on every node, and its next refresh or
     * connection is `session/expired`.
     */
    async rotateWidgetKey(id: string) {
      await this.requireOrganization(id);
      const updated = await db.organization.update({
        where: { id },
        data: { widgetPublicKey: randomToken('pk', 18) },
      });
      bus.publish('widget_key.rotated', { organizationId: id });
      return updated.widgetPublicKey;
    },

    /**
     * Changes the organization's name, allowed origins, identity mode, branding and flags (what
     * `PATCH /api/organization` takes), in one update under the row's lock so two admins editing
     * different fields at once both keep theirs.
     */
    async configure(id: string, patch: OrganizationPatch) {
      const { identity_mode, name, allowed_origins, ...settings } = patch;
      const wanted = settings.attachment_max_bytes;
      if (typeof wanted === 'number' && attachmentMaxBytes !== undefined && wanted > attachmentMaxBytes) {
        throw new AppError(
          'request/invalid',
          `Invalid parameter 'attachment_max_bytes': must be at most ${attachmentMaxBytes} bytes (this server's limit)`,
          { param: 'attachment_max_bytes' },
        );
      }
      await db.$transaction(async (tx) => {
        const [row] = await tx.$queryRaw<{ config: Prisma.JsonValue }[]>`
          SELECT config FROM organizations WHERE id = ${id}::uuid FOR UPDATE`;
        if (!row) throw new AppError('organization/not_found', 'Organization not found');
        await tx.organization.update({
          where: { id },
          data: {
            ...(name !== undefined ? { name } : {}),
            ...(allowed_origins !== undefined ? { allowedOrigins: allowed_origins } : {}),
            ...(Object.keys(settings).length ? { config: withSettings(row.config, settings) } : {}),
          },
        });
      });
      if (identity_mode !== undefined) await this.setIdentityMode(id, identity_mode);
    },

    /**
     * Deletes the organization and everything it holds (the database cascades). Its sockets are
     * disconnected first on every node (as a suspension does), so nobody keeps writing into it.
     */
    async remove(id: string) {
      await this.suspend(id);
      await db.organization.delete({ where: { id } });
    },

    /**
     * The organization's usage over the last `days` UTC days (today included), oldest first, days
     * without activity as zeros, with its per-minute quota and what the current minute has used of
     * it. Counts reach the database every few seconds (`relay/usage.ts`).
     */
    async usage(id: string, days: number) {
      const org = await this.requireOrganization(id);
      const from = new Date(Date.parse(isoDay(new Date(now()))) - (days - 1) * DAY_MS);
      const rows = await db.usageDaily.findMany({ where: { organizationId: id, day: { gte: from } } });
      const byDay = new Map(rows.map((r) => [isoDay(r.day), r]));
      const list = Array.from({ length: days }, (_, i) => {
        const day = isoDay(new Date(from.getTime() + i * DAY_MS));
        return { day, ...counts(byDay.get(day)) };
      });
      const totals = counts();
      for (const d of list) {
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += d[k];
      }
      const perMin = org.rateLimitPerMin;
      const current = quota ? await quota.current(id, perMin) : [];
      // Visitors' ratings given over the same days.
      const ratings = await ratingSummary(db, id, from);
      return { days: list, totals, quota: { per_minute: perMin }, current_minute: current, ratings };
    },

    async tenantSecret(id: string): Promise<string> {
      const org = await this.requireOrganization(id);
      return decryptSecret(encryptionKey, org.tenantSecretEnc);
    },
  };
}
