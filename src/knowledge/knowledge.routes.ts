import { Router } from 'express';
import { agentApi, agentOf, requireRole } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { createAnswerPath } from '../bot/answer-path.js';
import { MIN_SCORE, type Answerer } from '../bot/answerer.js';
import { answerDryRunDto, knowledgeHitDto } from './knowledge.dto.js';
import {
  answerSchema,
  createDocumentSchema,
  listDocumentsSchema,
  searchSchema,
  updateDocumentSchema,
} from './knowledge.schemas.js';
import type { KnowledgeService } from './knowledge.service.js';

/**
 * The console's knowledge base under `/api/organization/knowledge` (admins): the same service and
 * answers as the signed API's `/api/v1/relay/knowledge/*`, without the envelope, and a dry run of
 * the bot's answer (`GET …/answer`). Writes need X-CSRFToken.
 */
export function knowledgeConsoleRoutes({
  knowledge,
  botModel,
}: {
  knowledge: KnowledgeService;
  /** The bot's model answerer, when one is configured: the dry run composes as the bot does. */
  botModel?: Answerer | undefined;
}): Router {
  const router = Router();
  const answers = createAnswerPath({ knowledge, model: botModel });
  const admin = [...agentApi, requireRole('admin')];
  const base = '/api/organization/knowledge/documents';
  const org = (req: Parameters<typeof agentOf>[0]) => agentOf(req).organizationId;

  router.post(base, ...admin, validate('body', createDocumentSchema), async (req, res) => {
    res.status(201).json(await knowledge.create(org(req), valid(req, 'body', createDocumentSchema)));
  });
  router.get(base, ...admin, validate('query', listDocumentsSchema), async (req, res) => {
    res.json(await knowledge.list(org(req), valid(req, 'query', listDocumentsSchema)));
  });
  router.get(`${base}/:id`, ...admin, validate('params', idParams), async (req, res) => {
    res.json(await knowledge.get(org(req), valid(req, 'params', idParams).id));
  });
  router.patch(
    `${base}/:id`,
    ...admin,
    validate('params', idParams),
    validate('body', updateDocumentSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      res.json(await knowledge.update(org(req), id, valid(req, 'body', updateDocumentSchema)));
    },
  );
  router.delete(`${base}/:id`, ...admin, validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    await knowledge.remove(org(req), id);
    res.json({ id, deleted: true });
  });
  router.get(
    '/api/organization/knowledge/search',
    ...admin,
    validate('query', searchSchema),
    async (req, res) => {
      const { q, limit, language } = valid(req, 'query', searchSchema);
      const hits = await knowledge.search(org(req), q, { limit, language });
      res.json({ items: hits.map(knowledgeHitDto) });
    },
  );
  // The bot's answer path with nothing sent, stored or counted.
  router.get(
    '/api/organization/knowledge/answer',
    ...admin,
    validate('query', answerSchema),
    async (req, res) => {
      const { q, language } = valid(req, 'query', answerSchema);
      res.json(answerDryRunDto(await answers.dryRun(org(req), q, language ?? null), MIN_SCORE));
    },
  );
  return router;
}
