import { Router, type RequestHandler } from 'express';
import { agentApi, agentOf, requireRole } from '../auth/auth.middleware.js';
import { validate, valid } from '../shared/http.js';
import type { DashboardService } from './dashboard.service.js';
import { idParams } from './dashboard.schemas.js';

/**
 * Admin REST behind the dashboard pages: bots, web-chat embed tokens, the team. Session cookie
 * plus X-CSRFToken on writes; admins and owners only, except the team list (the inbox shows
 * everyone's presence) and the inbox's own unread counts.
 */
export function dashboardApiRoutes({ dashboard }: { dashboard: DashboardService }): Router {
  const router = Router();
  // agentApi: 401 without a session, 403 without X-CSRFToken on writes, no-store.
  const agent: RequestHandler[] = agentApi;
  const admin: RequestHandler[] = [...agentApi, requireRole('admin')];
  const id = validate('params', idParams);
  const idOf = (req: Parameters<typeof valid>[0]) => valid(req, 'params', idParams).id;

  router.get('/api/bots', ...admin, async (req, res) => {
    res.json(await dashboard.listBots(agentOf(req)));
  });
  router.post('/api/bots', ...admin, async (req, res) => {
    res.status(201).json(await dashboard.createBot(agentOf(req), req.body));
  });
  router.patch('/api/bots/:id', ...admin, id, async (req, res) => {
    res.json(await dashboard.renameBot(agentOf(req), idOf(req), req.body));
  });

  router.get('/api/embed-tokens', ...admin, async (req, res) => {
    res.json(await dashboard.listEmbedTokens(agentOf(req)));
  });
  router.post('/api/embed-tokens', ...admin, async (req, res) => {
    res.status(201).json(await dashboard.createEmbedToken(agentOf(req), req.body));
  });
  router.delete('/api/embed-tokens/:id', ...admin, id, async (req, res) => {
    res.json(await dashboard.revokeEmbedToken(agentOf(req), idOf(req)));
  });

  router.get('/api/team', ...agent, async (req, res) => {
    res.json(await dashboard.listTeam(agentOf(req)));
  });
  router.post('/api/team', ...admin, async (req, res) => {
    res.status(201).json(await dashboard.addMember(agentOf(req), req.body));
  });
  router.patch('/api/team/:id', ...admin, id, async (req, res) => {
    res.json(await dashboard.updateMember(agentOf(req), idOf(req), req.body));
  });

  router.get('/api/inbox/unread', ...agent, async (req, res) => {
    res.json(await dashboard.unreadCounts(agentOf(req)));
  });
  router.post('/api/inbox/conversations/:id/read', ...agent, id, async (req, res) => {
    res.json(await dashboard.markConversationRead(agentOf(req), idOf(req)));
  });
  return router;
}
