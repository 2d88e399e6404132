import { randomBytes } from 'node:crypto';
import { createAgentService } from '../agents/agents.service.js';
import { createChannelService } from '../channels/channels.service.js';
import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import { createTenantService } from '../tenants/tenants.service.js';

export type FirstRun = { organizationId: string; email: string; password: string; embedToken: string };

/** Any number; only first runs take it, so it never waits on anything else. */
const FIRST_RUN_LOCK = 72707370;

/**
 * On an empty database, creates a demo organization with an owner and a web-chat token so the
 * product can be tried at once. Returns the credentials (to print once), or null when not empty.
 * Nodes starting together on an empty database serialise on a transaction-scoped advisory
 * lock: one creates the demo, the others then see it and do nothing.
 */
export async function ensureFirstRun(deps: {
  db: Db;
  encryptionKey: Buffer;
  bus: EventBus;
}): Promise<FirstRun | null> {
  if ((await deps.db.organization.count()) > 0) return null;
  return deps.db.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${FIRST_RUN_LOCK})`);
      if ((await tx.organization.count()) > 0) return null;
      // The services run on the transaction, so a crash half-way leaves the database empty.
      const db = tx as unknown as Db;
      const tenants = createTenantService({ db, encryptionKey: deps.encryptionKey, bus: deps.bus });
      const channels = createChannelService({ db });
      const { organization } = await tenants.createOrganization({ name: 'Demo Company' });
      const password = randomBytes(12).toString('base64url');
      const email = 'admin@example.com';
      await createAgentService({ db }).createAgent({
        organizationId: organization.id,
        email,
        password,
        role: 'owner',
        displayName: 'Demo Admin',
      });
      const bot = await channels.createBot(organization.id, 'Demo Assistant');
      const { token } = await channels.createEmbedToken({
        organizationId: organization.id,
        botId: bot.id,
        name: 'Demo page',
      });
      return { organizationId: organization.id, email, password, embedToken: token };
    },
    { timeout: 60_000, maxWait: 60_000 },
  );
}

export function firstRunBanner(publicUrl: string, run: FirstRun): string {
  const demo = `${publicUrl}/demo?embed_token=${encodeURIComponent(run.embedToken)}`;
  return [
    '',
    '  Switchboard is ready. A demo organization was created; these credentials are shown once.',
    '',
    `    Inbox:      ${publicUrl}/inbox`,
    `    Email:      ${run.email}`,
    `    Password:   ${run.password}`,
    `    Demo page:  ${demo}`,
    '',
  ].join('\n');
}
