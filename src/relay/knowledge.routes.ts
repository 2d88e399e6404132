import { Router, type Response } from 'express';
import { knowledgeHitDto } from '../knowledge/knowledge.dto.js';
import {
  createDocumentSchema,
  listDocumentsSchema,
  searchSchema,
  updateDocumentSchema,
} from '../knowledge/knowledge.schemas.js';
import type { KnowledgeService } from '../knowledge/knowledge.service.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import type { SignedCaller } from './hmac.middleware.js';
import { reply } from './relay.envelope.js';

/**
 * The tenant backend's knowledge base, `/api/v1/relay/knowledge/*` (signed): documents created,
 * listed, read, changed and deleted, and the search the bot answers from. Mounted behind
 * `requireSigned`.
 */
export function signedKnowledgeRoutes({
  knowledge,
  signed,
}: {
  knowledge: KnowledgeService;
  signed: (res: Response) => SignedCaller;
}): Router {
  const router = Router();
  const org = (res: Response) => signed(res).org.id;
  const base = '/knowledge/documents';

  router.post(base, validate('body', createDocumentSchema), async (req, res) => {
    const doc = await knowledge.create(org(res), valid(req, 'body', createDocumentSchema));
    reply(res, 201, doc, 'Document created.');
  });
  router.get(base, validate('query', listDocumentsSchema), async (req, res) => {
    reply(res, 200, await knowledge.list(org(res), valid(req, 'query', listDocumentsSchema)), 'Documents.');
  });
  router.get(`${base}/:id`, validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    reply(res, 200, await knowledge.get(org(res), id), 'Document.');
  });
  router.patch(
    `${base}/:id`,
    validate('params', idParams),
    validate('body', updateDocumentSchema),
    async (req, res) => {
      const { id } = valid(req, 'params', idParams);
      const doc = await knowledge.update(org(res), id, valid(req, 'body', updateDocumentSchema));
      reply(res, 200, doc, 'Document updated.');
    },
  );
  router.delete(`${base}/:id`, validate('params', idParams), async (req, res) => {
    const { id } = valid(req, 'params', idParams);
    await knowledge.remove(org(res), id);
    reply(res, 200, { id, deleted: true }, 'Document deleted.');
  });
  router.get('/knowledge/search', validate('query', searchSchema), async (req, res) => {
    const { q, limit, language } = valid(req, 'query', searchSchema);
    const hits = await knowledge.search(org(res), q, { limit, language });
    reply(res, 200, { items: hits.map(knowledgeHitDto) }, hits.length ? 'Passages found.' : 'Nothing found.');
  });
  return router;
}
