// Retrieval quality and speed of the knowledge base for the benchmark: recall@3 and search time on
// the help-centre fixture (test/fixtures/help-centre.json), as src/knowledge/retrieval.test.ts
// scores it, in a new organization.
import { randomBytes } from 'node:crypto';
import { createKnowledgeService } from '../../src/knowledge/knowledge.service.js';
import type { Database } from '../../src/shared/db.js';
import { createEventBus } from '../../src/shared/events.js';
import { createTenantService } from '../../src/tenants/tenants.service.js';
import { loadDocuments, loadHelpCentre, scoreQuestions } from '../../test/helpers/retrieval.js';

/**
 * The knowledge base's recall@3 on the help-centre fixture and how long a search takes (p50 and
 * p95, one question at a time), in a new organization of `database` (migrated).
 */
export async function measureRetrieval(database: Pick<Database, 'prisma'>): Promise<{
  recallAt3: number;
  documents: number;
  questions: number;
  p50Ms: number;
  p95Ms: number;
}> {
  const db = database.prisma;
  // The organization is only a scope for the documents: its tenant secret is never used.
  const tenants = createTenantService({ db, encryptionKey: randomBytes(32), bus: createEventBus(() => {}) });
  const { organization } = await tenants.createOrganization({
    name: 'Retrieval benchmark',
    allowedOrigins: [],
    rateLimitPerMin: 60,
  });
  const knowledge = createKnowledgeService({ db });
  const fixture = loadHelpCentre();
  const keyOf = await loadDocuments(knowledge, organization.id, fixture);
  const { results: _results, ...figures } = await scoreQuestions(knowledge, organization.id, fixture, keyOf);
  return figures;
}
