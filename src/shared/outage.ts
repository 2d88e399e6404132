import { Prisma } from '../generated/prisma/client.js';
import type { Logger } from './logger.js';

/**
 * SQLSTATE classes and codes that mean "the database cannot serve now", not "this request is
 * wrong": connection exceptions (08…), shutdown or start-up (57P01–57P03), too many connections
 * (53300), a statement cancelled by `statement_timeout` (57014), serialization and deadlock
 * (40001, 40P01: worth retrying).
 */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[123]|53300|57014|40001|40P01)/;

/** node-postgres and pg-pool errors that carry no SQLSTATE: the socket, the pool, the timeouts. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|terminating connection|the database system is (starting up|shutting down)|Can't reach database server|Unable to start a transaction in the given time|Transaction already closed/i;

/** Prisma's codes for an unreachable server, a timeout, a full pool, a transaction that timed out. */
const UNAVAILABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);

/** Driver-adapter error kinds (`@prisma/adapter-pg`) that mean the connection failed. */
const UNAVAILABLE_KIND = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);

type Cause = { kind?: string; code?: string; originalCode?: string };

function adapterCause(err: unknown): Cause | undefined {
  const meta = (err as { meta?: { driverAdapterError?: { cause?: Cause } } }).meta;
  return meta?.driverAdapterError?.cause;
}

/** The SQLSTATE of a server error, however it was wrapped, if there is one. */
function sqlState(err: unknown): string | undefined {
  const cause = adapterCause(err);
  if (cause?.kind === 'postgres') return cause.code;
  if (cause?.originalCode) return cause.originalCode;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether an error means the database could not serve (down, unreachable, too slow, restarting)
 * rather than that the request was wrong: such a request may succeed when sent again.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  if (err instanceof Prisma.PrismaClientInitializationError) return true;
  if (err instanceof Prisma.PrismaClientKnownRequestError && UNAVAILABLE_PRISMA.has(err.code)) return true;
  const cause = adapterCause(err);
  if (cause?.kind && UNAVAILABLE_KIND.has(cause.kind)) return true;
  const state = sqlState(err);
  if (state) return UNAVAILABLE_SQLSTATE.test(state);
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    /^E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH)$/.test(code)
  ) {
    return true;
  }
  return UNAVAILABLE_MESSAGE.test(String((err as { message?: unknown }).message ?? ''));
}

/** A deadlock or serialization failure: the server refused the statement; trying again may work. */
export function isWriteConflict(err: unknown): boolean {
  return /^40(001|P01)$/.test(sqlState(err) ?? '');
}

/**
 * Whether a failed statement may nevertheless have committed: its answer was lost (the
 * connection dropped or timed out after the statement was sent). A server's own error (a
 * deadlock, a constraint, a cancelled statement) means it did not.
 */
export function mayHaveCommitted(err: unknown): boolean {
  if (sqlState(err)) return false;
  // No connection was made: nothing was sent.
  const e = err as { syscall?: unknown; message?: unknown };
  if (
    e.syscall === 'connect' ||
    /timeout exceeded when trying to connect|^connect /i.test(String(e.message))
  ) {
    return false;
  }
  return isDatabaseUnavailable(err);
}

/**
 * One dependency's outages, logged once each: a warning when the first failure is seen, another
 * when it answers again with how long it was away and how many requests failed meanwhile. Never a
 * line per failed request.
 */
export type Outage = {
  /** A request failed because the dependency is unavailable. */
  failed(err: unknown): void;
  /** The dependency answered. */
  ok(): void;
  /** Down since (ms epoch), or null. */
  readonly since: number | null;
};

/** `effect`: what users notice meanwhile, for the log line. */
export function createOutage(name: string, logger: Logger | undefined, effect?: string): Outage {
  let since: number | null = null;
  let failures = 0;
  return {
    failed(err) {
      failures += 1;
      if (since !== null) return;
      since = Date.now();
      logger?.warn({ err, dependency: name }, `${name} unavailable${effect ? `; ${effect}` : ''}`);
    },
    ok() {
      if (since === null) return;
      logger?.warn(
        { dependency: name, downMs: Date.now() - since, failedRequests: failures },
        `${name} available again`,
      );
      since = null;
      failures = 0;
    },
    get since() {
      return since;
    },
  };
}

/**
 * Runs `work` after `delayMs`, and again every `everyMs` while it fails because the database is
 * unavailable (`tries` runs at most, ten minutes by default); another error is logged (with
 * `context`) and ends it. For work that follows an event and that nobody would ask for again: the
 * catch-up a node does for a dead one, a reply's push. Its cancel function is in `pending` until
 * it ends (cancel them all on shutdown), and is answered too.
 */
export function retryWhileUnavailable(
  work: () => Promise<unknown>,
  opts: {
    logger: Logger;
    what: string;
    context?: Record<string, unknown>;
    pending?: Set<() => void>;
    delayMs?: number;
    everyMs?: number;
    tries?: number;
  },
): () => void {
  const { logger, what, context, pending, everyMs = 5000, tries = 120 } = opts;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let cancelled = false;
  const end = () => pending?.delete(cancel);
  const attempt = (n: number) => {
    timer = undefined;
    work().then(end, (err: unknown) => {
      if (cancelled) return;
      if (!isDatabaseUnavailable(err) || n >= tries) {
        end();
        logger.error({ ...context, err, tries: n }, `${what} failed`);
        return;
      }
      if (n === 1)
        logger.warn(
          { ...context, err },
          `${what}: the database is unavailable, retrying every ${everyMs} ms`,
        );
      schedule(n + 1, everyMs);
    });
  };
  const schedule = (n: number, ms: number) => {
    timer = setTimeout(() => attempt(n), ms);
    timer.unref();
  };
  const cancel = () => {
    cancelled = true;
    clearTimeout(timer);
    end();
  };
  pending?.add(cancel);
  schedule(1, Math.max(0, opts.delayMs ?? 0));
  return cancel;
}
