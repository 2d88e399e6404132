import type { DryRun } from '../bot/answer-path.js';
import type { KnowledgeDocument } from '../generated/prisma/client.js';

/** A document as it is stored, with how many passages it was split into. */
export type DocumentWithCount = KnowledgeDocument & { _count: { passages: number } };

/** A knowledge document as both APIs show it (`KnowledgeDocument` in the SDK's types). */
export const knowledgeDocumentDto = (doc: DocumentWithCount) => ({
  id: doc.id,
  title: doc.title,
  body: doc.body,
  format: doc.format as 'text' | 'markdown',
  url: doc.url,
  tags: doc.tags,
  language: doc.language,
  passages: doc._count.passages,
  created_at: doc.createdAt.toISOString(),
  updated_at: doc.updatedAt.toISOString(),
});
export type KnowledgeDocumentDto = ReturnType<typeof knowledgeDocumentDto>;

/** A passage retrieved for a question, best first (what the bot answers from). */
export type KnowledgeHit = {
  documentId: string;
  title: string;
  url: string | null;
  heading: string | null;
  content: string;
  score: number;
};

/** A hit as the APIs show it. */
export const knowledgeHitDto = (h: KnowledgeHit) => ({
  document_id: h.documentId,
  title: h.title,
  url: h.url,
  heading: h.heading,
  content: h.content,
  score: h.score,
});

/**
 * What the bot would do with a question, as the console shows it: the outcome, the reply exactly
 * as it would be sent (text and buttons), its sources, and the passages retrieved (those it
 * answered from marked `used`).
 */
export function answerDryRunDto(run: DryRun, minScore: number) {
  if (run.outcome === 'escalate') {
    return {
      outcome: run.outcome,
      reason: run.reason,
      reply: null,
      sources: [],
      passages: [],
      answerer: null,
      fell_back: false,
      min_score: null,
    };
  }
  return {
    outcome: run.outcome,
    reason: run.outcome === 'no_answer' ? ('no_answer' as const) : null,
    reply: run.reply,
    sources: run.sources,
    passages: run.hits.map((h) => ({ ...knowledgeHitDto(h), used: h.used })),
    answerer: run.answerer,
    fell_back: run.fellBack,
    // The extractive answerer's threshold; a model decides for itself.
    min_score: run.answerer === 'extractive' ? minScore : null,
  };
}
export type AnswerDryRunDto = ReturnType<typeof answerDryRunDto>;
