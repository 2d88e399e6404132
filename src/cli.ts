import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { createAgentSchema } from './agents/agents.schemas.js';
import { createEmbedTokenSchema } from './channels/channels.schemas.js';
import { createServices } from './services.js';
import {
  createOrganizationSchema,
  identityModeSchema,
  rotateSecretSchema,
} from './tenants/tenants.schemas.js';
import { idParams } from './shared/validation.js';
import { Emitter } from '@socket.io/redis-emitter';
import { ConfigError, loadConfig, type Config } from './config.js';
import { registerCutOffListeners } from './realtime/realtime.listeners.js';
import { closeRedis, connectRedis } from './shared/redis.js';
import { DatabaseInUseError, openDatabase, type Database } from './shared/db.js';
import { AppError } from './shared/errors.js';
import { createEventBus, type EventBus } from './shared/events.js';
import { zodToAppError } from './shared/http.js';
import { reencryptSecrets } from './shared/key-rotation.js';

const USAGE = `Usage: npm run cli -- <command> [options] [--json]

Commands:
  migrate                                   apply pending database migrations
  create-org --name N [--origins a,b] [--identity-mode M]
                                            create an organization (tenant); prints its id
                                            (tenant_id), widget public key and tenant secret
                                            (shown once)
  create-agent --org ID --email E --password P --role owner|admin|agent [--name N]
               [--routing-keys a,b]         add an agent to an organization; with routing
                                            keys, an agent sees only those queues
  create-embed-token --org ID [--origins a,b] [--name N] [--bot ID]
                                            issue a web-chat embed token (shown once)
  suspend-org --org ID                      suspend a tenant: its agents and end users are
                                            cut off on every node (needs REDIS_URL for that)
  reactivate-org --org ID                   lift a suspension
  set-identity-mode --org ID --mode anonymous|verified|off
                                            how end users prove who they are (see README)
  rotate-secret --org ID [--grace-hours H]  a new tenant secret (shown once); the old one
                                            keeps verifying H hours (default 24, 0: not at all)
  rotate-encryption-key                     re-seal every encrypted secret with ENCRYPTION_KEY
                                            (opening old ones with ENCRYPTION_KEY_PREVIOUS)

--json prints one JSON object on the last line of output.`;

/** Bad input: message to the user, exit code 2. */
class UsageError extends Error {}

type Options = Record<string, string | boolean | undefined>;

const commands: Record<string, { options: string[]; required: string[] }> = {
  migrate: { options: [], required: [] },
  'create-org': { options: ['name', 'origins', 'identity-mode'], required: ['name'] },
  'create-agent': {
    options: ['org', 'email', 'password', 'role', 'name', 'routing-keys'],
    required: ['org', 'email', 'password', 'role'],
  },
  'create-embed-token': { options: ['org', 'origins', 'name', 'bot'], required: ['org'] },
  'suspend-org': { options: ['org'], required: ['org'] },
  'reactivate-org': { options: ['org'], required: ['org'] },
  'set-identity-mode': { options: ['org', 'mode'], required: ['org', 'mode'] },
  'rotate-secret': { options: ['org', 'grace-hours'], required: ['org'] },
  'rotate-encryption-key': { options: [], required: [] },
};

/** An organization id, checked like the API's (a malformed one is a usage error, not a crash). */
const orgId = (v: unknown) => idParams.parse({ id: v }).id;

const list = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

/**
 * Runs `work` so that the sockets it cuts off (a suspension, a stricter identity mode) are
 * disconnected on every running node: through Redis, as the nodes' own adapter does. Without
 * `REDIS_URL` there is no way to reach other processes; new requests are refused all the same.
 */
async function withCutOffs<T>(config: Config, bus: EventBus, work: () => Promise<T>): Promise<T> {
  if (!config.redisUrl) return work();
  const redis = await connectRedis(config.redisUrl);
  const off = registerCutOffListeners(bus, new Emitter(redis, { key: `${config.realtime.redisPrefix}:sio` }));
  try {
    return await work();
  } finally {
    off();
    await closeRedis(redis);
  }
}

async function run(command: string, o: Options, database: Database): Promise<Record<string, unknown>> {
  if (command === 'migrate') return { applied: await database.migrate() };
  const config = loadConfig();
  if (command === 'rotate-encryption-key') {
    const r = await reencryptSecrets(database.prisma, config.encryptionKey);
    if (r.unreadable) {
      throw new Error(
        `${r.unreadable} secret(s) open with neither ENCRYPTION_KEY nor ENCRYPTION_KEY_PREVIOUS ` +
          `(${r.reencrypted} re-sealed); keep the previous key until they are dealt with`,
      );
    }
    return { reencrypted: r.reencrypted, already_current: r.current };
  }
  const bus = createEventBus(() => {});
  const services = createServices({ database, config, bus });
  switch (command) {
    case 'create-org': {
      const { organization, tenantSecret } = await services.tenants.createOrganization(
        createOrganizationSchema.parse({
          name: o.name,
          allowedOrigins: list(o.origins),
          identityMode: o['identity-mode'],
        }),
      );
      // The relay's three credentials (`tenant_id` is the organization id, also printed under its
      // older name for scripts that read it).
      return {
        tenant_id: organization.id,
        organization_id: organization.id,
        widget_public_key: organization.widgetPublicKey,
        tenant_secret: tenantSecret,
        identity_mode: organization.identityMode,
        notice: 'Save tenant_secret now: it is shown once (rotate-secret makes a new one).',
      };
    }
    case 'suspend-org': {
      const org = await withCutOffs(config, bus, () => services.tenants.suspend(orgId(o.org)));
      return { organization_id: org.id, status: org.status };
    }
    case 'reactivate-org': {
      const org = await services.tenants.reactivate(orgId(o.org));
      return { organization_id: org.id, status: org.status };
    }
    case 'set-identity-mode': {
      const id = orgId(o.org);
      const mode = identityModeSchema.parse(o.mode);
      await withCutOffs(config, bus, () => services.tenants.setIdentityMode(id, mode));
      return { organization_id: id, identity_mode: o.mode };
    }
    case 'rotate-secret': {
      const id = orgId(o.org);
      const { grace_hours } = rotateSecretSchema.parse({
        grace_hours: o['grace-hours'] === undefined ? undefined : Number(o['grace-hours']),
      });
      const { tenantSecret } = await services.tenants.rotateSecret(id, grace_hours);
      const org = await services.tenants.describe(id);
      return {
        organization_id: id,
        tenant_secret: tenantSecret,
        previous_secret_valid_until: org.tenantSecretPrevUntil?.toISOString() ?? null,
      };
    }
    case 'create-agent': {
      const user = await services.agents.createAgent(
        createAgentSchema.parse({
          organizationId: o.org,
          email: o.email,
          password: o.password,
          role: o.role,
          displayName: o.name,
          routingKeys: list(o['routing-keys']),
        }),
      );
      return { user_id: user.id, routing_keys: user.routingKeys };
    }
    case 'create-embed-token': {
      const r = await services.channels.createEmbedToken(
        createEmbedTokenSchema.parse({
          organizationId: o.org,
          botId: o.bot,
          name: o.name,
          allowedOrigins: list(o.origins),
        }),
      );
      return { token: r.token, channel_id: r.channelId, bot_id: r.botId };
    }
  }
  throw new UsageError(`unknown command '${command}'`);
}

function parse(argv: string[]) {
  const [command, ...rest] = argv.filter((a) => a !== '--json');
  if (!command || command === 'help' || command === '--help') throw new UsageError('a command is required');
  const spec = commands[command];
  if (!spec) throw new UsageError(`unknown command '${command}'`);
  const options = Object.fromEntries(spec.options.map((name) => [name, { type: 'string' as const }]));
  let values: Options;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { ...options, json: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const missing = spec.required.filter((name) => typeof values[name] !== 'string' || values[name] === '');
  if (missing.length) throw new UsageError(`${command}: missing ${missing.map((m) => `--${m}`).join(', ')}`);
  return { command, values };
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const out = (obj: Record<string, unknown>, text: string) => console.log(json ? JSON.stringify(obj) : text);
  const failWith = (code: number, message: string, usage = false) => {
    console.error(`error: ${message}${usage ? `\n\n${USAGE}` : ''}`);
    if (json) console.log(JSON.stringify({ error: message }));
    return code;
  };

  let parsed: ReturnType<typeof parse>;
  let config: ReturnType<typeof loadConfig>;
  try {
    parsed = parse(argv);
    config = loadConfig();
  } catch (err) {
    if (err instanceof UsageError) return failWith(2, err.message, true);
    if (err instanceof ConfigError) return failWith(2, `invalid configuration: ${err.message}`);
    throw err;
  }

  let database: Database;
  try {
    database = await openDatabase(config);
  } catch (err) {
    return failWith(
      1,
      err instanceof DatabaseInUseError ? err.message : `cannot open the database: ${(err as Error).message}`,
    );
  }
  try {
    if (parsed.command !== 'migrate') await database.migrate();
    const result = await run(parsed.command, parsed.values, database);
    out(
      result,
      Object.entries(result)
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') || '(none)' : String(v)}`)
        .join('\n'),
    );
    return 0;
  } catch (err) {
    const appErr = err instanceof ZodError ? zodToAppError(err) : err;
    if (appErr instanceof AppError && appErr.status < 500) return failWith(2, appErr.message);
    if (err instanceof UsageError) return failWith(2, err.message, true);
    return failWith(1, (err as Error).message);
  } finally {
    await database.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
