import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { withPreviousKeys } from './shared/crypto.js';

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

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];
const isLevel = (v: string): v is LogLevel => (LEVELS as readonly string[]).includes(v);

/**
 * `info,realtime=debug,webhooks=warn` → the default level and one per module (a logger's
 * `component`); undefined when any part is not a level.
 */
export function parseLogLevels(
  value: string,
): { level: LogLevel; modules: Record<string, LogLevel> } | undefined {
  let level: LogLevel = 'info';
  const modules: Record<string, LogLevel> = {};
  for (const part of value.split(',').map((p) => p.trim().toLowerCase())) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const lvl = eq < 0 ? part : part.slice(eq + 1).trim();
    if (!isLevel(lvl)) return undefined;
    if (eq < 0) level = lvl;
    else {
      const name = part.slice(0, eq).trim();
      if (!/^[\w.-]+$/.test(name)) return undefined;
      modules[name] = lvl;
    }
  }
  return { level, modules };
}

const intInRange = (min: number, max: number) =>
  z.coerce.number().int(`must be an integer`).min(min).max(max);

const schema = z.object({
  PORT: intInRange(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Rotation: cookies signed with it still sign in (new ones use SESSION_SECRET); remove after 7 days. */
  SESSION_SECRET_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),
  ENCRYPTION_KEY: encryptionKey.optional(),
  /** Rotation: secrets sealed with it still open; `cli rotate-encryption-key` re-seals them, then remove it. */
  ENCRYPTION_KEY_PREVIOUS: encryptionKey.optional(),
  /** The relay's provisioning key (`X-Admin-Key`); generated and kept in embedded mode. */
  ADMIN_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Rotation: still accepted for provisioning until removed. */
  ADMIN_KEY_PREVIOUS: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Signs visitor tokens (HS256); derived from SESSION_SECRET when unset. The previous one still verifies. */
  VISITOR_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  VISITOR_TOKEN_PREVIOUS_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Visitor token and relay session lifetimes. */
  VISITOR_TOKEN_TTL_S: intInRange(60, 86_400).default(3600),
  VISITOR_SESSION_TTL_DAYS: intInRange(1, 365).default(30),
  /** HMAC#1: how far a signed request's timestamp may be from the server's clock, either way. */
  HMAC_WINDOW_S: intInRange(1, 3600).default(300),
  /** Visitor WebSocket: server ping every this many seconds; a silent connection dies after two. */
  WS_HEARTBEAT_S: intInRange(1, 600).default(25),
  /** Visitor WebSocket: the largest frame accepted (bytes); a larger one closes with 1009. */
  WS_MAX_PAYLOAD_BYTES: intInRange(1024, 16_777_216).default(65_536),
  /** Visitor WebSocket: unsent bytes a client may leave unread before it is cut off (4408). */
  WS_MAX_BUFFERED_BYTES: intInRange(1024, 268_435_456).default(1_048_576),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  /** `info`, or per module: `info,realtime=debug,webhooks=warn` (the first bare level is the default). */
  LOG_LEVEL: z
    .string()
    .refine(
      (v) => parseLogLevels(v) !== undefined,
      `must be a level (${LEVELS.join(', ')}) or a list such as info,realtime=debug`,
    )
    .default('info'),
  /** `/metrics` (Prometheus text) is served only when set, to requests bearing it (`Authorization: Bearer …`). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** PostgreSQL: wait for a connection (pooled or new), a statement on the server, any answer. */
  DATABASE_CONNECT_TIMEOUT_MS: intInRange(100, 600_000).default(10_000),
  DATABASE_STATEMENT_TIMEOUT_MS: intInRange(100, 600_000).default(10_000),
  DATABASE_QUERY_TIMEOUT_MS: intInRange(100, 600_000).default(15_000),
  /**
   * Connections the kernel queues before the server accepts them (`listen`'s backlog; Linux caps
   * it at net.core.somaxconn). Node's 511 overflows when thousands of clients reconnect at once
   * after a restart: the dropped SYNs are retried by TCP after 1, 3, 7, 15, 31 s.
   */
  LISTEN_BACKLOG: intInRange(1, 65_535).default(4096),
  /**
   * `on`: while the node is quiet V8 favours memory over speed, and gives back the heap a burst of
   * connections left half garbage (`src/shared/idle-memory.ts`). Off by default: the first seconds
   * of load after a quiet spell pay for it (p99 17.7–20.7 ms off, 182–206 ms on, in the benchmark).
   */
  IDLE_MEMORY_MODE: z.enum(['on', 'off']).default('off'),
  /** Seconds the server waits for in-flight work on SIGTERM before it gives up. */
  SHUTDOWN_TIMEOUT_S: intInRange(1, 600).default(10),
  /** Behind a reverse proxy: trust X-Forwarded-* from it (Express `trust proxy`). */
  TRUST_PROXY: z.enum(['true', 'false']).default('false'),
  /** Socket.IO: messages an end user (per external_id) may send per window; the excess is dropped. */
  END_USER_RATE_LIMIT: intInRange(1, 10_000).default(10),
  END_USER_RATE_WINDOW_S: intInRange(1, 3600).default(10),
  /** A typing indicator clears itself after this much silence. */
  TYPING_TIMEOUT_S: intInRange(1, 60).default(5),
  /** Presence heartbeat; a node silent for 3 beats is dead and its agents go offline. */
  PRESENCE_HEARTBEAT_S: intInRange(1, 60).default(5),
  // ---- Abuse limits on public paths (issue 14, points 2 and 3): shared through Redis ------------
  /** Socket.IO: events (any client → server event) one socket may send per SOCKET_EVENT_WINDOW_S. */
  SOCKET_EVENT_LIMIT: intInRange(1, 10_000_000).default(100),
  /** The same for an agent's socket: an inbox claims and joins in bursts a visitor never makes. */
  AGENT_SOCKET_EVENT_LIMIT: intInRange(1, 10_000_000).default(1000),
  /** The same, per client IP (anonymous sockets, every node together) or per agent account. */
  SOCKET_IP_EVENT_LIMIT: intInRange(1, 10_000_000).default(1000),
  SOCKET_EVENT_WINDOW_S: intInRange(1, 3600).default(10),
  /** Anonymous sockets open at once per client IP, counted across nodes. */
  SOCKETS_PER_IP: intInRange(1, 10_000_000).default(200),
  /** Failed end-user proofs (join, history: unknown conversation or wrong external_id). */
  JOIN_FAILURES_PER_SOCKET: intInRange(1, 10_000).default(10),
  JOIN_FAILURES_FREE_PER_IP: intInRange(0, 1_000_000).default(20),
  JOIN_FAILURE_WINDOW_S: intInRange(1, 86_400).default(300),
  JOIN_FAILURE_MAX_DELAY_MS: intInRange(0, 60_000).default(3000),
  /** At most one typing_indicator per typist and conversation is relayed per this interval. */
  TYPING_RELAY_INTERVAL_MS: intInRange(0, 60_000).default(2000),
  /** Public HTTP endpoints (native open, devices, profile, history): per IP, and per IP and target. */
  PUBLIC_RATE_LIMIT_PER_IP: intInRange(1, 10_000_000).default(300),
  PUBLIC_RATE_LIMIT_PER_TARGET: intInRange(1, 10_000_000).default(30),
  PUBLIC_RATE_WINDOW_S: intInRange(1, 3600).default(60),
  /** The window of each tenant's `rate_limit_per_min` (a minute; shorter only to test a reset). */
  TENANT_QUOTA_WINDOW_S: intInRange(1, 3600).default(60),
  // ---- end of abuse limits -----------------------------------------------------------------------
  /** Prefix of the realtime layer's Redis keys and adapter channel (one per deployment). */
  REALTIME_REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, 'must be 1-64 letters, digits or : . _ -')
    .default('sb:rt'),
  /** Push providers' endpoints. Override only to go through a gateway (or a stand-in) that speaks their protocol. */
  FCM_API_URL: url(['https:']).default('https://fcm.googleapis.com'),
  GOOGLE_OAUTH_TOKEN_URL: url(['https:']).default('https://oauth2.googleapis.com/token'),
  /** APNs `host[:port]`; unset → Apple's production or sandbox host, as each credential says. */
  APNS_HOST: z
    .string()
    .regex(/^[\w.-]+(:\d{1,5})?$/, 'must be host or host:port')
    .optional(),
  /** PEM file of extra CA certificates to trust for push providers (e.g. a TLS-inspecting egress proxy). */
  PUSH_CA_FILE: z.string().min(1).optional(),
  /** First retry of a failed push after this long, doubling per attempt (capped at 15 min). */
  PUSH_RETRY_BASE_MS: intInRange(10, 3_600_000).default(5000),
  PUSH_MAX_ATTEMPTS: intInRange(1, 50).default(8),
  /** Webhooks may call loopback, private and link-local addresses (a backend on the same network). */
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false'),
  /** First retry of a failed webhook after this long, ×3 per attempt (capped at 6 h). */
  WEBHOOK_RETRY_BASE_MS: intInRange(10, 3_600_000).default(5000),
  /** Attempts before a webhook is given up (12 with the defaults: about a day). */
  WEBHOOK_MAX_ATTEMPTS: intInRange(1, 50).default(12),
  WEBHOOK_TIMEOUT_MS: intInRange(100, 60_000).default(10_000),
  /** How long a node holds a webhook it is sending; one held by a node that died is retried after. */
  WEBHOOK_LEASE_S: intInRange(1, 3600).default(60),
  /** `off`: this node does not deliver webhooks (others do). */
  WEBHOOK_WORKER: z.enum(['on', 'off']).default('on'),
  /**
   * The bot's language model: an OpenAI-compatible chat-completions API (`{BOT_LLM_BASE_URL}/chat/completions`).
   * Unset: the bot answers with the best passage itself (extractive).
   */
  BOT_LLM_BASE_URL: url(['https:', 'http:']).optional(),
  BOT_LLM_API_KEY: z.string().min(1).optional(),
  BOT_LLM_MODEL: z.string().min(1).max(200).default('gpt-4o-mini'),
  BOT_LLM_TIMEOUT_MS: intInRange(500, 120_000).default(15_000),
  /**
   * Questions younger than this are left to the node answering them when a starting node, or the
   * one that found another dead, answers what was left (longer than the model's timeout).
   */
  BOT_RECOVERY_GRACE_S: intInRange(1, 600).default(20),
  /** Delivered and failed webhooks are kept this many days for the delivery log. */
  WEBHOOK_RETENTION_DAYS: intInRange(1, 365).default(14),
  // ---- Attachments (src/attachments): where files sent from devices are kept ------------------
  /** `local`: files under DATA_DIR/attachments (one node or a shared disk); `s3`: an S3-compatible bucket. */
  STORAGE_DRIVER: z.enum(['local', 's3']).default('local'),
  S3_BUCKET: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      'must be a bucket name (3-63 lower-case letters, digits, . -)',
    )
    .optional(),
  S3_REGION: z.string().min(1).max(64).default('us-east-1'),
  /** Unset: AWS itself; set for MinIO, R2, Ceph, a local stand-in. */
  S3_ENDPOINT: url(['https:', 'http:']).optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** `true` for servers that serve buckets as paths (`{endpoint}/{bucket}/{key}`), as MinIO does. */
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
  /** The largest attachment any tenant may send; a tenant's `attachment_max_bytes` (default 10 MB) is capped by it. */
  ATTACHMENT_MAX_BYTES: intInRange(1024, 1_073_741_824).default(26_214_400),
});

export type Config = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  databaseTimeouts: { connectMs: number; statementMs: number; queryMs: number };
  redisUrl: string | undefined;
  dataDir: string;
  sessionSecret: string;
  /** SESSION_SECRET_PREVIOUS: still verifies session cookies (and what else derives from the secret). */
  previousSessionSecret: string | undefined;
  /** The current key; `decryptSecret` with it also tries ENCRYPTION_KEY_PREVIOUS (see `withPreviousKeys`). */
  encryptionKey: Buffer;
  previousEncryptionKey: Buffer | undefined;
  /** Provisioning key of the relay (unset: provisioning refused). */
  adminKey: string | undefined;
  /** ADMIN_KEY_PREVIOUS: also accepted until removed. */
  previousAdminKey: string | undefined;
  relay: {
    /** Current visitor-token key first, then the previous one (verify only). */
    tokenSecrets: string[];
    tokenTtlS: number;
    sessionTtlDays: number;
    /** HMAC#1's timestamp window (± seconds); nonces are remembered for twice as long. */
    hmacWindowS: number;
    /** The visitor WebSocket's heartbeat, frame size and send-buffer bounds. */
    ws: { heartbeatMs: number; maxPayloadBytes: number; maxBufferedBytes: number };
  };
  publicUrl: string;
  /** The default level; `logLevels` holds the per-module ones (`LOG_LEVEL=info,realtime=debug`). */
  logLevel: LogLevel;
  logLevels: Record<string, LogLevel>;
  /** `/metrics`: off unless a token is set; then only for requests bearing it. */
  metrics: { token: string | undefined };
  shutdownTimeoutMs: number;
  /** `listen`'s backlog. */
  listenBacklog: number;
  /** While the event loop is quiet, V8 favours memory over speed. */
  idleMemoryMode: boolean;
  trustProxy: boolean;
  /** `postgres` when DATABASE_URL is set, else the embedded database in DATA_DIR. */
  dbMode: 'postgres' | 'embedded';
  realtime: {
    endUserRateLimit: number;
    endUserRateWindowS: number;
    typingTimeoutMs: number;
    presenceHeartbeatMs: number;
    redisPrefix: string;
  };
  /** Abuse limits of the public paths (sockets, public HTTP); see README "Configuration". */
  limits: {
    socketEvents: number;
    agentSocketEvents: number;
    ipEvents: number;
    eventWindowS: number;
    socketsPerIp: number;
    joinFailuresPerSocket: number;
    joinFailuresFreePerIp: number;
    joinFailureWindowS: number;
    joinFailureMaxDelayMs: number;
    typingRelayIntervalMs: number;
    publicPerIp: number;
    publicPerTarget: number;
    publicWindowS: number;
    tenantQuotaWindowS: number;
  };
  push: {
    fcmApiUrl: string;
    googleTokenUrl: string;
    apnsHost: string | undefined;
    caFile: string | undefined;
    retryBaseMs: number;
    maxAttempts: number;
  };
  bot: {
    /** Questions younger than this are left to the node answering them (recovery). */
    recoveryGraceMs: number;
    llm: { baseUrl: string; apiKey: string | undefined; model: string; timeoutMs: number } | undefined;
  };
  webhooks: {
    allowPrivate: boolean;
    retryBaseMs: number;
    maxAttempts: number;
    timeoutMs: number;
    leaseS: number;
    worker: boolean;
    retentionDays: number;
  };
  attachments: {
    /** The platform's cap (ATTACHMENT_MAX_BYTES); each tenant's own limit is at most this. */
    maxBytes: number;
    storage:
      | { driver: 'local'; dir: string }
      | {
          driver: 's3';
          bucket: string;
          region: string;
          endpoint: string | undefined;
          /** Unset: the SDK's default chain (instance role, AWS_* variables). */
          credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
          forcePathStyle: boolean;
        };
  };
};

type Secrets = { SESSION_SECRET: string; ENCRYPTION_KEY: string; ADMIN_KEY: string };

const randomToken = () => `ak_${randomBytes(24).toString('base64url')}`;

/** Embedded mode must start with no configuration: secrets are generated once and kept. */
function embeddedSecrets(dataDir: string): Secrets {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const parsed = z
      .object({
        SESSION_SECRET: z.string().min(32),
        ENCRYPTION_KEY: encryptionKey,
        ADMIN_KEY: z.string().min(24).optional(),
      })
      .safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new ConfigError(`DATA_DIR: ${file} is damaged; restore it or remove it`);
    if (parsed.data.ADMIN_KEY) return parsed.data as Secrets;
    // Kept by an older version: the admin key is added once.
    const upgraded = { ...parsed.data, ADMIN_KEY: randomToken() };
    writeFileSync(file, JSON.stringify(upgraded, null, 2) + '\n', { mode: 0o600 });
    return upgraded;
  }
  const secrets: Secrets = {
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    ADMIN_KEY: randomToken(),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}

const keyBytes = (key: string) =>
  /^[0-9a-f]{64}$/i.test(key) ? Buffer.from(key, 'hex') : Buffer.from(key, 'base64');

const visitorTokenKey = (sessionSecret: string) =>
  createHmac('sha256', sessionSecret).update('visitor-token').digest('base64url');

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
  let { SESSION_SECRET: sessionSecret, ENCRYPTION_KEY: key, ADMIN_KEY: adminKey } = e;
  if (dbMode === 'embedded') adminKey ??= embeddedSecrets(dataDir).ADMIN_KEY;
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
  const previousKey = e.ENCRYPTION_KEY_PREVIOUS ? keyBytes(e.ENCRYPTION_KEY_PREVIOUS) : undefined;
  const levels = parseLogLevels(e.LOG_LEVEL)!;
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databaseTimeouts: {
      connectMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      statementMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      queryMs: e.DATABASE_QUERY_TIMEOUT_MS,
    },
    redisUrl: e.REDIS_URL,
    dataDir,
    sessionSecret,
    previousSessionSecret: e.SESSION_SECRET_PREVIOUS,
    adminKey,
    previousAdminKey: e.ADMIN_KEY_PREVIOUS,
    relay: {
      // Every node derives the same key from the secret they already share; while SESSION_SECRET is
      // being rotated, tokens from the key derived from the previous one still verify.
      tokenSecrets: [
        e.VISITOR_TOKEN_SECRET ?? visitorTokenKey(sessionSecret),
        ...(e.VISITOR_TOKEN_PREVIOUS_SECRET ? [e.VISITOR_TOKEN_PREVIOUS_SECRET] : []),
        ...(!e.VISITOR_TOKEN_SECRET && e.SESSION_SECRET_PREVIOUS
          ? [visitorTokenKey(e.SESSION_SECRET_PREVIOUS)]
          : []),
      ],
      tokenTtlS: e.VISITOR_TOKEN_TTL_S,
      sessionTtlDays: e.VISITOR_SESSION_TTL_DAYS,
      hmacWindowS: e.HMAC_WINDOW_S,
      ws: {
        heartbeatMs: e.WS_HEARTBEAT_S * 1000,
        maxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
        maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      },
    },
    encryptionKey: withPreviousKeys(keyBytes(key), previousKey ? [previousKey] : []),
    previousEncryptionKey: previousKey,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    logLevel: levels.level,
    logLevels: levels.modules,
    metrics: { token: e.METRICS_TOKEN },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_S * 1000,
    listenBacklog: e.LISTEN_BACKLOG,
    idleMemoryMode: e.IDLE_MEMORY_MODE === 'on',
    trustProxy: e.TRUST_PROXY === 'true',
    dbMode,
    realtime: {
      endUserRateLimit: e.END_USER_RATE_LIMIT,
      endUserRateWindowS: e.END_USER_RATE_WINDOW_S,
      typingTimeoutMs: e.TYPING_TIMEOUT_S * 1000,
      presenceHeartbeatMs: e.PRESENCE_HEARTBEAT_S * 1000,
      redisPrefix: e.REALTIME_REDIS_PREFIX,
    },
    limits: {
      socketEvents: e.SOCKET_EVENT_LIMIT,
      agentSocketEvents: e.AGENT_SOCKET_EVENT_LIMIT,
      ipEvents: e.SOCKET_IP_EVENT_LIMIT,
      eventWindowS: e.SOCKET_EVENT_WINDOW_S,
      socketsPerIp: e.SOCKETS_PER_IP,
      joinFailuresPerSocket: e.JOIN_FAILURES_PER_SOCKET,
      joinFailuresFreePerIp: e.JOIN_FAILURES_FREE_PER_IP,
      joinFailureWindowS: e.JOIN_FAILURE_WINDOW_S,
      joinFailureMaxDelayMs: e.JOIN_FAILURE_MAX_DELAY_MS,
      typingRelayIntervalMs: e.TYPING_RELAY_INTERVAL_MS,
      publicPerIp: e.PUBLIC_RATE_LIMIT_PER_IP,
      publicPerTarget: e.PUBLIC_RATE_LIMIT_PER_TARGET,
      publicWindowS: e.PUBLIC_RATE_WINDOW_S,
      tenantQuotaWindowS: e.TENANT_QUOTA_WINDOW_S,
    },
    push: {
      fcmApiUrl: e.FCM_API_URL.replace(/\/+$/, ''),
      googleTokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
      apnsHost: e.APNS_HOST,
      caFile: e.PUSH_CA_FILE,
      retryBaseMs: e.PUSH_RETRY_BASE_MS,
      maxAttempts: e.PUSH_MAX_ATTEMPTS,
    },
    bot: {
      recoveryGraceMs: e.BOT_RECOVERY_GRACE_S * 1000,
      llm: e.BOT_LLM_BASE_URL
        ? {
            baseUrl: e.BOT_LLM_BASE_URL,
            apiKey: e.BOT_LLM_API_KEY,
            model: e.BOT_LLM_MODEL,
            timeoutMs: e.BOT_LLM_TIMEOUT_MS,
          }
        : undefined,
    },
    webhooks: {
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE === 'true',
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      leaseS: e.WEBHOOK_LEASE_S,
      worker: e.WEBHOOK_WORKER === 'on',
      retentionDays: e.WEBHOOK_RETENTION_DAYS,
    },
    attachments: { maxBytes: e.ATTACHMENT_MAX_BYTES, storage: storageOf(e, dataDir) },
  };
}

/** The attachment storage driver's settings; S3 needs its bucket, and both keys or neither. */
function storageOf(e: z.infer<typeof schema>, dataDir: string): Config['attachments']['storage'] {
  if (e.STORAGE_DRIVER === 'local') return { driver: 'local', dir: path.join(dataDir, 'attachments') };
  if (!e.S3_BUCKET) throw new ConfigError('S3_BUCKET: required when STORAGE_DRIVER=s3');
  if (!e.S3_ACCESS_KEY_ID !== !e.S3_SECRET_ACCESS_KEY) {
    throw new ConfigError(
      `${e.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'}: set both S3 keys or neither`,
    );
  }
  return {
    driver: 's3',
    bucket: e.S3_BUCKET,
    region: e.S3_REGION,
    endpoint: e.S3_ENDPOINT,
    credentials:
      e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
        : undefined,
    forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true',
  };
}
