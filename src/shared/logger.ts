import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config.js';

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

/** JSON lines on stdout (or `destination`); secrets that may appear in logged objects are redacted. */
export function createLogger(level: Config['logLevel'], destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: [
        'req.headers.cookie',
        'req.headers["x-csrftoken"]',
        'req.headers.authorization',
        '*.password',
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
