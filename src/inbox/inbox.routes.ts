import { Router } from 'express';
import { csrf, requireAgentPage } from '../auth/auth.middleware.js';
import { views } from '../shared/views.js';

/** The agents' browser app. */
export function inboxRoutes(): Router {
  const router = Router();
  router.get('/', (req, res) => res.redirect(303, req.user ? '/inbox' : '/auth/login'));
  router.get('/inbox', requireAgentPage, (req, res) => {
    res.type('html').send(views.render('inbox', { csrfToken: csrf.generateToken(req), user: req.user }));
  });
  return router;
}
