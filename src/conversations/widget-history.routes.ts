import { Router } from 'express';
import { z } from 'zod';
import type { MessageService } from '../messages/messages.service.js';
import { valid, validate } from '../shared/http.js';
import { widgetMessageDto } from './conversations.dto.js';
import { externalId, idParams, userHash } from '../shared/validation.js';
import type { ConversationService } from './conversations.service.js';

const WIDGET_HISTORY_LIMIT = 100;

export const historyQuery = z.object({ external_id: externalId, user_hash: userHash.optional() });

/**
 * The end user's history, public: `external_id` is the credential. A wrong one and an unknown
 * conversation get the same 403, so a guess reveals nothing.
 */
export function widgetHistoryRoutes(deps: {
  conversations: ConversationService;
  messages: MessageService;
}): Router {
  const router = Router();
  router.get(
    '/chat-widget/history/:id',
    validate('params', idParams),
    validate('query', historyQuery),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const { external_id, user_hash } = valid(req, 'query', historyQuery);
      const owner = await deps.conversations.requireForEndUser(id, {
        externalId: external_id,
        userHash: user_hash,
      });
      const rows = await deps.messages.recent(owner.conversationId, WIDGET_HISTORY_LIMIT);
      res.setHeader('Cache-Control', 'no-store');
      res.json(rows.map(widgetMessageDto));
    },
  );
  return router;
}
