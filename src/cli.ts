import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { createAgentSchema } from './agents/agents.schemas.js';
import { createEmbedTokenSchema } from './channels/channels.schemas.js';
import { createServices } from './services.js';
import { createOrganizationSchema } from './tenants/tenants.schemas.js';
import { ConfigError, loadConfig } from './config.js';
import { DatabaseInUseError, openDatabase, type Database } from './shared/db.js';
import { AppError } from './shared/errors.js';
import { createEventBus } from './shared/events.js';
import { zodToAppError } from './shared/http.js';

const USAGE = `Usage: npm run cli -- <command> [options] [--json]

Commands:
  migrate                                   apply pending database migrations
  create-org --name N [--origins a,b]       create an organization (tenant)
  create-agent --org ID --email E --password P --role owner|admin|agent [--name N]
                                            add an agent to an organization
  create-embed-token --org ID [--origins a,b] [--name N] [--bot ID]
                                            issue a web-chat embed token (shown once)

--json prints one JSON object on the last line of output.`;

/** Bad input: message to the user, exit code 2. */
class UsageError extends Error {}

type Options = Record<string, string | boolean | undefined>;

const commands: Record<string, { options: string[]; required: string[] }> = {
  migrate: { options: [], required: [] },
  'create-org': { options: ['name', 'origins'], required: ['name'] },
  'create-agent': {
    options: ['org', 'email', 'password', 'role', 'name'],
    required: ['org', 'email', 'password', 'role'],
  },
  'create-embed-token': { options: ['org', 'origins', 'name', 'bot'], required: ['org'] },
};

const list = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

async function run(command: string, o: Options, database: Database): Promise<Record<string, unknown>> {
  if (command === 'migrate') return { applied: await database.migrate() };
  const config = loadConfig();
  const services = createServices({ database, config, bus: createEventBus(() => {}) });
  switch (command) {
    case 'create-org': {
      const { organization } = await services.tenants.createOrganization(
        createOrganizationSchema.parse({ name: o.name, allowedOrigins: list(o.origins) }),
      );
      return { organization_id: organization.id };
    }
    case 'create-agent': {
      const user = await services.agents.createAgent(
        createAgentSchema.parse({
          organizationId: o.org,
          email: o.email,
          password: o.password,
          role: o.role,
          displayName: o.name,
        }),
      );
      return { user_id: user.id };
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
