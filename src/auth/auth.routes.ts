import type { Request, Response } from 'express';
import { Router } from 'express';
import type { Passport } from 'passport';
import type { EventBus } from '../shared/events.js';
import { AppError, errorCodes } from '../shared/errors.js';
import { zodToAppError } from '../shared/http.js';
import { views } from '../shared/views.js';
import { agentOf, csrf, loginCsrfProtection, loginCsrfToken, requireAgent } from './auth.middleware.js';
import type { createLoginLimiter } from './auth.ratelimit.js';
import { loginSchema } from './auth.schemas.js';

const wantsJson = (req: Request) => req.is('application/json') === 'application/json' || !req.accepts('html');

/** Only same-site paths are followed after login (no open redirect). */
const safeNext = (next: unknown) =>
  typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\')
    ? next
    : '/inbox';

function renderLogin(req: Request, res: Response, status: number, error?: string) {
  res
    .status(status)
    .type('html')
    .send(
      views.render('login', {
        // Not csrf.generateToken: that would store a session for every anonymous visit.
        csrfToken: loginCsrfToken(req, res),
        error,
        next: safeNext(req.query.next ?? (req.body as { next?: unknown } | undefined)?.next),
        email: typeof req.body?.email === 'string' ? req.body.email : '',
      }),
    );
}

export function authRoutes(deps: {
  passport: InstanceType<typeof Passport>;
  limiter: ReturnType<typeof createLoginLimiter>;
  bus: EventBus;
  /** The agent a single-use operator token (signed API) signs in, spending it; null if none. */
  operatorSignIn?: ((token: string) => Promise<Express.User | null>) | undefined;
}): Router {
  const { passport, limiter, bus } = deps;
  const router = Router();

  router.get('/auth/login', (req, res) => {
    if (req.user) return res.redirect(303, safeNext(req.query.next));
    // Stores nothing: the form's token is bound to a signed cookie (an hour), and signing in starts
    // a stored session with a new id and the full lifetime.
    renderLogin(req, res, 200);
  });

  router.post('/auth/login', loginCsrfProtection, async (req, res, next) => {
    const json = wantsJson(req);
    const fail = (err: AppError) => {
      if (err.details?.retry_after) res.setHeader('Retry-After', String(err.details.retry_after));
      if (json) return res.status(err.status).json({ error: err.code, message: err.message });
      renderLogin(req, res, err.status, err.message);
    };
    const parsed = loginSchema.safeParse(req.body ?? {});
    if (!parsed.success) return fail(zodToAppError(parsed.error));
    const email = parsed.data.email.toLowerCase();
    const ip = req.ip ?? 'unknown';
    try {
      await limiter.attempt(email, ip);
    } catch (err) {
      if (err instanceof AppError) return fail(err);
      return next(err);
    }
    passport.authenticate('local', (err: unknown, user: Express.User | false) => {
      // A refusal with a reason (a suspended organization) shows on the form like any other.
      if (err) return err instanceof AppError ? fail(err) : next(err);
      // One answer for an unknown email, a wrong password and a deactivated account.
      if (!user) return fail(new AppError('auth/unauthenticated', 'Invalid email or password'));
      // passport regenerates the session on login (no fixation); a new CSRF token comes with it.
      req.logIn(user, (loginErr) => {
        if (loginErr) return next(loginErr);
        void limiter.succeeded(email, ip).catch((e: unknown) => req.log?.warn({ err: e }, 'rate limiter'));
        const csrfToken = csrf.generateToken(req, true);
        if (!json) return res.redirect(303, safeNext(parsed.data.next));
        res.json({ user: meDto(user), csrf_token: csrfToken });
      });
    })(req, res, next);
  });

  // The tenant backend's delegated sign-in: `login_url` of POST /api/v1/relay/operators/:id/token.
  router.get('/auth/operator', async (req, res, next) => {
    // The token is in this URL: no page it leads to may pass it on.
    res.setHeader('Referrer-Policy', 'no-referrer');
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const user = token && deps.operatorSignIn ? await deps.operatorSignIn(token) : null;
    // One answer for an expired, reused, forged or deactivated operator's token; no session.
    if (!user) return renderLogin(req, res, 401, 'This sign-in link is invalid or has expired');
    // As the password login: passport regenerates the session (no fixation).
    req.logIn(user, (err) => {
      if (err) return next(err);
      if (!req.accepts('html'))
        return res.json({ user: meDto(user), csrf_token: csrf.generateToken(req, true) });
      res.redirect(303, '/inbox');
    });
  });

  router.post('/auth/logout', csrf.csrfSynchronisedProtection, (req, res, next) => {
    const user = req.user;
    const sessionId = req.sessionID;
    req.logout((err) => {
      if (err) return next(err);
      req.session.destroy((destroyErr) => {
        if (destroyErr) return next(destroyErr);
        if (user) bus.publish('agent.logged_out', { userId: user.userId, sessionId });
        res.clearCookie('session');
        if (wantsJson(req)) return res.json({ status: 'logged_out' });
        res.redirect(303, '/auth/login');
      });
    });
  });

  /** The signed-in agent, and a CSRF token for scripts. */
  router.get('/auth/me', requireAgent, (req, res) => {
    res.json({ user: meDto(agentOf(req)), csrf_token: csrf.generateToken(req) });
  });

  return router;
}

function meDto(u: Express.User) {
  return {
    id: u.userId,
    organization_id: u.organizationId,
    display_name: u.displayName,
    role: u.role,
    routing_keys: u.routingKeys,
  };
}

// Keeps the error table honest: the codes used here exist.
void errorCodes['auth/unauthenticated'];
