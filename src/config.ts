import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** Raised for a bad environment; the message is one line that names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

const encryptionKey = z
  .string()
  .refine(
    (v) => /^[0-9a-f]{64}$/i.test(v) || Buffer.from(v, 'base64').length === 32,
    'must be 32 bytes, as 64 hex characters or base64',
  );

const intInRange = (min: number, max: number) =>
  z.coerce.number().int(`must be an integer`).min(min).max(max);

const schema = z.object({
  PORT: intInRange(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ENCRYPTION_KEY: encryptionKey.optional(),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seconds the server waits for in-flight work on SIGTERM before it gives up. */
  SHUTDOWN_TIMEOUT_S: intInRange(1, 600).default(10),
  /** Behind a reverse proxy: trust X-Forwarded-* from it (Express `trust proxy`). */
  TRUST_PROXY: z.enum(['true', 'false']).default('false'),
});

export type Config = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  dataDir: string;
  sessionSecret: string;
  encryptionKey: Buffer;
  publicUrl: string;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  shutdownTimeoutMs: number;
  trustProxy: boolean;
  /** `postgres` when DATABASE_URL is set, else the embedded database in DATA_DIR. */
  dbMode: 'postgres' | 'embedded';
};

type Secrets = { SESSION_SECRET: string; ENCRYPTION_KEY: string };

/** Embedded mode must start with no configuration: secrets are generated once and kept. */
function embeddedSecrets(dataDir: string): Secrets {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const parsed = z
      .object({ SESSION_SECRET: z.string().min(32), ENCRYPTION_KEY: encryptionKey })
      .safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new ConfigError(`DATA_DIR: ${file} is damaged; restore it or remove it`);
    return parsed.data;
  }
  const secrets: Secrets = {
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}

/** Parses the environment. Throws ConfigError with a one-line message naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", as it does in most deployment tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  const dbMode = e.DATABASE_URL ? 'postgres' : 'embedded';
  let { SESSION_SECRET: sessionSecret, ENCRYPTION_KEY: key } = e;
  if (!sessionSecret || !key) {
    if (dbMode === 'postgres') {
      // Several nodes share one database: they must share these too, so they cannot be invented here.
      throw new ConfigError(
        `${sessionSecret ? 'ENCRYPTION_KEY' : 'SESSION_SECRET'}: required when DATABASE_URL is set`,
      );
    }
    const kept = embeddedSecrets(dataDir);
    sessionSecret ??= kept.SESSION_SECRET;
    key ??= kept.ENCRYPTION_KEY;
  }
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dataDir,
    sessionSecret,
    encryptionKey: /^[0-9a-f]{64}$/i.test(key) ? Buffer.from(key, 'hex') : Buffer.from(key, 'base64'),
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_S * 1000,
    trustProxy: e.TRUST_PROXY === 'true',
    dbMode,
  };
}
