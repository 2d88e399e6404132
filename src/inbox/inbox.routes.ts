import { Router } from 'express';
import { agentApi, agentOf, agentPageData, requireAgentPage } from '../auth/auth.middleware.js';
import type { MessageService } from '../messages/messages.service.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { views } from '../shared/views.js';

/**
 * The agents' inbox: the page, and its read state (`/api/inbox/*`: unread counts that survive a
 * reload, and "opening a conversation reads it").
 */
export function inboxRoutes({ messages }: { messages: MessageService }): Router {
  const router = Router();
  router.get('/', (req, res) => res.redirect(303, req.user ? '/inbox' : '/auth/login'));
  router.get('/inbox', requireAgentPage, (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.type('html').send(views.render('inbox', agentPageData(req, 'inbox.js')));
  });

  router.get('/api/inbox/unread', ...agentApi, async (req, res) => {
    res.json(await messages.unreadCounts(agentOf(req)));
  });
  router.post(
    '/api/inbox/conversations/:id/read',
    ...agentApi,
    validate('params', idParams),
    async (req, res) => {
      res.json(await messages.markAllRead(agentOf(req), valid(req, 'params', idParams).id));
    },
  );
  return router;
}
