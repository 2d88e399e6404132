import type { RequestHandler } from 'express';
import { origin as originSchema, uuid } from '../shared/validation.js';

/** Whether a browser on `origin` may read the answer; `tenantId` when the request names one. */
export type CorsCheck = (origin: string, tenantId: string | undefined) => Promise<boolean>;

/** The `Origin` header as an origin (`scheme://host[:port]`), the raw value if it is not one, or undefined. */
export function headerOrigin(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const parsed = originSchema.safeParse(raw);
  return parsed.success ? parsed.data : raw;
}

/** A `tenant_id` named by the query or the JSON body, if it is a UUID. */
function tenantIdOf(query: unknown, body: unknown): string | undefined {
  for (const part of [query, body]) {
    const v = (part as { tenant_id?: unknown } | undefined)?.tenant_id;
    const id = uuid.safeParse(v);
    if (id.success) return id.data;
  }
  return undefined;
}

/**
 * CORS for the visitor endpoints. Browsers get `Access-Control-Allow-Origin: <their origin>` (never
 * `*`; no credentials are involved: the visitor token is a header) only when `allows` says so; a
 * preflight (`OPTIONS`) is always answered 204, with the allowed methods and headers only then, so
 * a browser on any other origin refuses the call itself. Requests without `Origin` (native apps,
 * servers) get no CORS headers: the endpoints check the claimed origin themselves.
 */
export function visitorCors(allows: CorsCheck): RequestHandler {
  return async (req, res, next) => {
    res.vary('Origin');
    const origin = headerOrigin(req.headers.origin);
    const preflight = req.method === 'OPTIONS';
    try {
      if (origin !== undefined && (await allows(origin, tenantIdOf(req.query, req.body)))) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        // Lets the widget read how long a 429 asks it to wait.
        res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
        if (preflight) {
          res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
          res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization');
          res.setHeader('Access-Control-Max-Age', '600');
        }
      }
    } catch (err) {
      if (!preflight) return next(err);
      // A preflight that cannot be checked is refused (no ACAO), not failed.
    }
    if (preflight) return void res.status(204).end();
    next();
  };
}
