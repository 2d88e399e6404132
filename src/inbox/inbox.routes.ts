import { statSync } from 'node:fs';
import path from 'node:path';
import type { Request } from 'express';
import { Router } from 'express';
import { csrf, requireAgentPage } from '../auth/auth.middleware.js';
import { hasRole } from '../shared/auth/actor.js';
import { paths } from '../shared/paths.js';
import { views } from '../shared/views.js';

/**
 * `/build/<name>?v=<mtime>`: bundles are revalidated by version, so a deploy never leaves an
 * agent on yesterday's script while the HTML is new.
 */
function assetUrl(name: string): string {
  try {
    const v = Math.floor(statSync(path.join(paths.public, 'build', name)).mtimeMs).toString(36);
    return `/build/${name}?v=${v}`;
  } catch {
    return `/build/${name}`;
  }
}

function pageData(req: Request, script: string) {
  const user = req.user!;
  return {
    csrfToken: csrf.generateToken(req),
    user,
    isAdmin: hasRole(user, 'admin'),
    script: assetUrl(script),
  };
}

/** The agents' browser apps: the inbox for everyone, the dashboard for admins and owners. */
export function inboxRoutes(): Router {
  const router = Router();
  router.get('/', (req, res) => res.redirect(303, req.user ? '/inbox' : '/auth/login'));
  router.get('/inbox', requireAgentPage, (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.type('html').send(views.render('inbox', pageData(req, 'inbox.js')));
  });
  // Agents see only the inbox: the dashboard sends them back there.
  router.get('/dashboard', requireAgentPage, (req, res) => {
    if (!hasRole(req.user!, 'admin')) return res.redirect(303, '/inbox');
    res.set('Cache-Control', 'no-store');
    res.type('html').send(views.render('dashboard', pageData(req, 'dashboard.js')));
  });
  return router;
}
