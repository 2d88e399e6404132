import type { Request, RequestHandler, Response } from 'express';
import { csrfSync } from 'csrf-sync';
import type { UserRole } from '../generated/prisma/client.js';
import { hasRole, type AgentActor } from '../shared/auth/actor.js';
import { AppError } from '../shared/errors.js';
import { assetUrl } from '../shared/views.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // passport puts the deserialized agent on req.user.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends AgentActor {}
  }
}

/**
 * Synchronizer-token CSRF (csrf-sync): the token lives in the session, pages carry it in
 * `<meta name="csrf-token">`, state-changing calls send it as `X-CSRFToken` (forms: `_csrf`).
 */
export const csrf = csrfSync({
  size: 32,
  getTokenFromRequest: (req) => {
    const header = req.headers['x-csrftoken'] ?? req.headers['x-csrf-token'];
    if (typeof header === 'string') return header;
    const field = (req.body as { _csrf?: unknown } | undefined)?._csrf;
    return typeof field === 'string' ? field : undefined;
  },
  errorConfig: { statusCode: 403, message: 'Missing or invalid CSRF token', code: 'EBADCSRFTOKEN' },
});

function statelessCsrfOf(req: Request) {
  if (!req.statelessCsrf) throw new Error('the session middleware must run before the login routes');
  return req.statelessCsrf;
}

/**
 * The login form's CSRF token. Nothing is stored for it: it is bound to the client's signed
 * session cookie (see `StatelessCsrf`), so anonymous visits to the login page add no session rows.
 */
export function loginCsrfToken(req: Request, res: Response): string {
  return statelessCsrfOf(req).token(req, res);
}

/** The login POST: 403 unless it carries the token of the session cookie it came with. */
export const loginCsrfProtection: RequestHandler = (req, _res, next) => {
  const given = csrf.getTokenFromRequest(req) ?? undefined;
  next(statelessCsrfOf(req).verify(req, given) ? undefined : csrf.invalidCsrfTokenError);
};

/** The signed-in agent, or a 401 AppError. */
export function agentOf(req: Request): AgentActor {
  if (!req.user) throw new AppError('auth/unauthenticated', 'Sign in first: no valid session');
  return req.user;
}

/** JSON APIs: 401 without a session. */
export const requireAgent: RequestHandler = (req, _res, next) => {
  next(req.user ? undefined : new AppError('auth/unauthenticated', 'Sign in first: no valid session'));
};

/**
 * Every agent JSON API router is mounted behind this: 401 without a session, then 403 without a
 * valid `X-CSRFToken` on state-changing methods (GET/HEAD/OPTIONS are exempt). Responses carry
 * tenant data, so nothing is cached.
 */
export const agentApi: RequestHandler[] = [
  requireAgent,
  csrf.csrfSynchronisedProtection,
  (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  },
];

/** HTML pages: without a session, go to the login page and come back afterwards. */
export const requireAgentPage: RequestHandler = (req, res, next) => {
  if (req.user) return next();
  res.redirect(303, `/auth/login?next=${encodeURIComponent(req.originalUrl)}`);
};

/** 403 when the agent's role is below `min`. */
export function requireRole(min: UserRole): RequestHandler {
  return (req, _res, next) => {
    const actor = agentOf(req);
    next(
      hasRole(actor, min)
        ? undefined
        : new AppError('auth/forbidden', `This needs the ${min} role or higher`),
    );
  };
}

/** What every agent page renders with: its CSRF token, the agent, and its script's URL. */
export function agentPageData(req: Request, script: string) {
  const user = agentOf(req);
  return {
    csrfToken: csrf.generateToken(req),
    user,
    isAdmin: hasRole(user, 'admin'),
    script: assetUrl(script),
  };
}
