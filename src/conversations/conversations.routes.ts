import type { Request } from 'express';
import { Router } from 'express';
import { agentOf } from '../auth/auth.middleware.js';
import type { MessageService } from '../messages/messages.service.js';
import { historyQuerySchema } from '../messages/messages.schemas.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { messageDto } from './conversations.dto.js';
import {
  listQuerySchema,
  resolveBodySchema,
  tagsBodySchema,
  transferBodySchema,
} from './conversations.schemas.js';
import type { ConversationService } from './conversations.service.js';
import { searchQuerySchema } from './search.schemas.js';
import type { HandoverService } from './handover.service.js';

/** `Link` header value for the next page, or null on the last one. Relative to this request. */
function nextLink(
  req: Request,
  q: { filter: string; limit: number; offset: number; routing_key?: string | undefined },
  total: number | null,
  returned: number,
) {
  const offset = q.offset + q.limit;
  // Past the count's cap the total is unknown: there is a next page while this one is full.
  if (total === null ? returned < q.limit : offset >= total) return null;
  const params = new URLSearchParams({ filter: q.filter, limit: String(q.limit), offset: String(offset) });
  if (q.routing_key !== undefined) params.set('routing_key', q.routing_key);
  return `<${req.baseUrl}/?${params}>; rel="next"`;
}

/**
 * The agents' conversation API under `/api/conversations` (mounted behind `agentApi`: session,
 * CSRF). Bodies are the spec's shapes; list paging travels in `X-Total-Count` (left out past
 * `LIST_COUNT_CAP`) and `Link` headers so the body stays a plain array.
 */
export function conversationRoutes(deps: {
  conversations: ConversationService;
  handover: HandoverService;
  messages: MessageService;
}): Router {
  const { conversations, handover, messages } = deps;
  const router = Router();

  router.get('/', validate('query', listQuerySchema), async (req, res) => {
    const q = valid(req, 'query', listQuerySchema);
    const page = await conversations.list(agentOf(req), q);
    if (page.total !== null) res.setHeader('X-Total-Count', String(page.total));
    const link = nextLink(req, q, page.total, page.items.length);
    if (link) res.setHeader('Link', link);
    res.json(page.items);
  });

  // Before `/:id`: the queues the inbox's picker offers (empty: no picker).
  router.get('/queues', async (req, res) => {
    res.json({ queues: await conversations.queues(agentOf(req)) });
  });

  // Before `/:id`: search by name, external_id, tag or message text, a page at a time.
  router.get('/search', validate('query', searchQuerySchema), async (req, res) => {
    res.json(await conversations.search(agentOf(req), valid(req, 'query', searchQuerySchema)));
  });

  router.get('/:id', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    res.json(await conversations.get(agentOf(req), id));
  });

  router.get(
    '/:id/messages',
    validate('params', idParams),
    validate('query', historyQuerySchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const rows = await messages.history(agentOf(req), id, valid(req, 'query', historyQuerySchema));
      res.json(rows.map(messageDto));
    },
  );

  router.post('/:id/assign', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    res.json(await conversations.assign(agentOf(req), id));
  });

  router.post('/:id/release', validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    res.json(await handover.release(agentOf(req), id));
  });

  router.post(
    '/:id/transfer',
    validate('params', idParams),
    validate('body', transferBodySchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.json(await handover.transfer(agentOf(req), id, valid(req, 'body', transferBodySchema)));
    },
  );

  router.post(
    '/:id/resolve',
    validate('params', idParams),
    validate('body', resolveBodySchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.json(await conversations.resolve(agentOf(req), id, valid(req, 'body', resolveBodySchema)));
    },
  );

  router.post(
    '/:id/tags',
    validate('params', idParams),
    validate('body', tagsBodySchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.json(await conversations.updateTags(agentOf(req), id, valid(req, 'body', tagsBodySchema)));
    },
  );

  return router;
}
