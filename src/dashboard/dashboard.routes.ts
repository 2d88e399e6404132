import { Router } from 'express';
import { agentPageData, requireAgentPage } from '../auth/auth.middleware.js';
import { hasRole } from '../shared/auth/actor.js';
import { views } from '../shared/views.js';

/**
 * The admins' dashboard page (API keys, team and queues, identity & keys, web chat, mobile SDK,
 * webhooks, bots, knowledge base); the APIs it calls live with their domains. Agents are sent back
 * to the inbox.
 */
export function dashboardRoutes(): Router {
  const router = Router();
  router.get('/dashboard', requireAgentPage, (req, res) => {
    if (!hasRole(req.user!, 'admin')) return res.redirect(303, '/inbox');
    res.set('Cache-Control', 'no-store');
    res.type('html').send(views.render('dashboard', agentPageData(req, 'dashboard.js')));
  });
  return router;
}
