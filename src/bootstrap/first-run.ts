import { randomBytes } from 'node:crypto';
import { createServices } from '../services.js';
import type { Database, Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';

export type FirstRun = {
  organizationId: string;
  email: string;
  password: string;
  embedToken: string;
  widgetPublicKey: string;
  tenantSecret: string;
};

/** Any number; only first runs take it, so it never waits on anything else. */
const FIRST_RUN_LOCK = 72707370;

/**
 * On an empty database, creates a demo organization with an owner and a web-chat token so the
 * product can be tried at once. Returns the credentials (to print once), or null when not empty.
 * Nodes starting together on an empty database serialise on a transaction-scoped advisory
 * lock: one creates the demo, the others then see it and do nothing.
 */
export async function ensureFirstRun(deps: {
  database: Pick<Database, 'prisma' | 'query' | 'transaction'>;
  encryptionKey: Buffer;
  bus: EventBus;
}): Promise<FirstRun | null> {
  const db = deps.database.prisma;
  if ((await db.organization.count()) > 0) return null;
  return db.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${FIRST_RUN_LOCK})`);
      if ((await tx.organization.count()) > 0) return null;
      // The services run on the transaction, so a crash half-way leaves the database empty.
      const { tenants, agents, channels } = createServices({
        database: { ...deps.database, prisma: tx as unknown as Db },
        config: { encryptionKey: deps.encryptionKey },
        bus: deps.bus,
      });
      const { organization, tenantSecret } = await tenants.createOrganization({
        name: 'Demo Company',
        allowedOrigins: [],
        rateLimitPerMin: 60,
      });
      const password = randomBytes(12).toString('base64url');
      const email = 'admin@example.com';
      await agents.createAgent({
        organizationId: organization.id,
        email,
        password,
        role: 'owner',
        displayName: 'Demo Admin',
        routingKeys: [],
      });
      const bot = await channels.createBot(organization.id, 'Demo Assistant');
      const { token } = await channels.createEmbedToken({
        organizationId: organization.id,
        botId: bot.id,
        name: 'Demo page',
        allowedOrigins: [],
      });
      return {
        organizationId: organization.id,
        email,
        password,
        embedToken: token,
        widgetPublicKey: organization.widgetPublicKey,
        tenantSecret,
      };
    },
    { timeout: 60_000, maxWait: 60_000 },
  );
}

/**
 * What the first run prints, once. `adminKey` is the relay's provisioning key when it was generated
 * here (embedded mode); an operator who set ADMIN_KEY knows it already.
 */
export function firstRunBanner(publicUrl: string, run: FirstRun, adminKey?: string): string {
  const demo = `${publicUrl}/demo?embed_token=${encodeURIComponent(run.embedToken)}`;
  const admin = adminKey
    ? [`    Admin key (X-Admin-Key for /api/v1/provision/tenant):  ${adminKey}`, '']
    : [];
  return [
    '',
    '  Switchboard is ready. A demo organization was created; these credentials are shown once.',
    '',
    `    Inbox:      ${publicUrl}/inbox`,
    `    Email:      ${run.email}`,
    `    Password:   ${run.password}`,
    `    Demo page:  ${demo}`,
    '',
    `    Tenant id:          ${run.organizationId}`,
    `    Widget public key:  ${run.widgetPublicKey}`,
    `    Tenant secret:      ${run.tenantSecret}   (signs user_hash; rotate it from the CLI or API)`,
    '',
    ...admin,
  ].join('\n');
}
