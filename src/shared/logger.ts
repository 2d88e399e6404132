import { pino, type DestinationStream, type LogFn, type Logger, type LoggerOptions } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LogLevel } from '../config.js';

export type { Logger };

const REDACTED = '[redacted]';

/**
 * Query parameters that are credentials: the visitor's id and its hash (`external_id`,
 * `session_id`, `user_hash`), embed and other tokens, and anything named like a secret.
 */
const SECRET_PARAM =
  /^(external_id|session_id|user_hash|_csrf|csrf|code|sig|signature|key|api_?key)$|(^|[_-])(token|secret|password|passwd|hash)$/i;

/**
 * `url` with the values of credential query parameters replaced by `[redacted]`, for access logs.
 * The path and the other parameters are kept as they came.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const raw = eq < 0 ? part : part.slice(0, eq);
      let name: string;
      try {
        name = decodeURIComponent(raw.replace(/\+/g, ' '));
      } catch {
        name = raw;
      }
      return SECRET_PARAM.test(name.trim()) ? `${raw}=${REDACTED}` : part;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

/** Levels by module: a logger's `component` binding (`logger.child({ component: 'webhooks' })`). */
export type ModuleLevels = Record<string, LogLevel>;

/**
 * JSON lines on stdout (or `destination`); secrets that may appear in logged objects are redacted.
 * `modules` (LOG_LEVEL=info,realtime=debug,webhooks=warn) sets the level of each component's
 * loggers: the root logger runs at the lowest level any module wants, and a hook drops each line
 * below its own component's level (or `level` for lines of no listed component).
 */
export function createLogger(
  level: LogLevel,
  destination?: DestinationStream,
  modules: ModuleLevels = {},
): Logger {
  const values = pino.levels.values;
  const valueOf = (l: LogLevel) => (l === 'silent' ? Infinity : values[l]!);
  const floor = [level, ...Object.values(modules)].reduce((a, b) => (valueOf(b) < valueOf(a) ? b : a));
  const hasModules = Object.keys(modules).length > 0;
  // A logger's threshold, found once per logger object (children are made per request: weak keys).
  const thresholds = new WeakMap<object, number>();
  const thresholdOf = (l: Logger): number => {
    let t = thresholds.get(l);
    if (t === undefined) {
      const component = (l.bindings() as { component?: unknown }).component;
      const own = typeof component === 'string' ? modules[component] : undefined;
      t = valueOf(own ?? level);
      thresholds.set(l, t);
    }
    return t;
  };
  const options: LoggerOptions = {
    level: floor,
    base: { pid: process.pid },
    ...(hasModules
      ? {
          hooks: {
            logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn, num: number) {
              const first = args[0] as { component?: unknown } | undefined;
              const own =
                first && typeof first === 'object' && typeof first.component === 'string'
                  ? modules[first.component]
                  : undefined;
              if (num < (own ? valueOf(own) : thresholdOf(this))) return;
              method.apply(this, args);
            },
          },
        }
      : {}),
    redact: {
      paths: [
        'req.headers.cookie',
        'req.headers["x-csrftoken"]',
        'req.headers.authorization',
        'req.headers["x-admin-key"]',
        'req.headers["x-relay-signature"]',
        'res.headers["set-cookie"]',
        'headers.cookie',
        'headers.authorization',
        'headers["x-csrftoken"]',
        'headers["x-admin-key"]',
        'headers["x-relay-signature"]',
        'password',
        '*.password',
        'token',
        '*.token',
        'visitor_token',
        '*.visitor_token',
        'tenant_secret',
        '*.tenant_secret',
        // A visitor's id (and its hash) is its credential: history, joins, sends.
        'externalId',
        '*.externalId',
        'external_id',
        '*.external_id',
        'userHash',
        '*.userHash',
        'user_hash',
        '*.user_hash',
      ],
      censor: REDACTED,
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

type AccessReq = IncomingMessage & {
  user?: { organizationId?: unknown };
  body?: unknown;
  originalUrl?: string;
};
type AccessRes = ServerResponse & { locals?: { signed?: { org?: { id?: unknown } }; tenantId?: unknown } };

/** The `tid` claim of a visitor token in `Authorization: Bearer …` (read only once a route accepted it). */
function visitorTenantOf(req: AccessReq): string | undefined {
  const m = /^Bearer\s+[\w-]+\.([\w-]+)\.[\w-]+$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as { tid?: unknown };
    return typeof claims.tid === 'string' ? claims.tid : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/**
 * The access line's fields: the tenant (organization id) when known — a signed-in agent, a signed
 * tenant call (HMAC#1), a visitor token or tenant id a route accepted — and method, path (its
 * credentials redacted), status and latency in ms. Claims of refused requests are not repeated.
 */
export function accessFields(req: AccessReq, res: AccessRes, val: Record<string, unknown>) {
  const accepted = res.statusCode < 400;
  const body = req.body as { tenant_id?: unknown } | undefined;
  const tenant =
    str(req.user?.organizationId) ??
    str(res.locals?.signed?.org?.id) ??
    str(res.locals?.tenantId) ??
    (accepted ? (visitorTenantOf(req) ?? str(body?.tenant_id)) : undefined);
  return {
    tenant_id: tenant ?? null,
    method: req.method,
    path: redactUrl(req.originalUrl ?? req.url ?? ''),
    status: res.statusCode,
    latency_ms: typeof val.responseTime === 'number' ? val.responseTime : undefined,
  };
}
