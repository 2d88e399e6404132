import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';

export type { Logger };

/** JSON lines on stdout; secrets that may appear in logged objects are redacted. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['req.headers.cookie', 'req.headers["x-csrftoken"]', 'req.headers.authorization', '*.password'],
      censor: '[redacted]',
    },
  });
}
