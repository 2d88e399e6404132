import { randomBytes } from 'node:crypto';
import type { Db } from '../shared/db.js';
import type { AgentService } from '../agents/agents.service.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { TenantService } from '../tenants/tenants.service.js';

export type FirstRun = { organizationId: string; email: string; password: string; embedToken: string };

/**
 * On an empty database, creates a demo organization with an owner and a web-chat token so the
 * product can be tried at once. Returns the credentials (to print once), or null when not empty.
 */
export async function ensureFirstRun(deps: {
  db: Db;
  tenants: TenantService;
  agents: AgentService;
  channels: ChannelService;
}): Promise<FirstRun | null> {
  if ((await deps.db.organization.count()) > 0) return null;
  const { organization } = await deps.tenants.createOrganization({ name: 'Demo Company' });
  const password = randomBytes(12).toString('base64url');
  const email = 'admin@example.com';
  await deps.agents.createAgent({
    organizationId: organization.id,
    email,
    password,
    role: 'owner',
    displayName: 'Demo Admin',
  });
  const bot = await deps.channels.createBot(organization.id, 'Demo Assistant');
  const { token } = await deps.channels.createEmbedToken({
    organizationId: organization.id,
    botId: bot.id,
    name: 'Demo page',
  });
  return { organizationId: organization.id, email, password, embedToken: token };
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
