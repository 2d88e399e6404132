// The help-centre fixture (test/fixtures/help-centre.json) and how retrieval is scored on it: the
// documents are loaded through the knowledge service, each question is searched once, and a
// question counts as answered when its expected document is among the first three hits
// (recall@3). Used by src/knowledge/retrieval.test.ts and the benchmark (bench/lib/retrieval.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KnowledgeService } from '../../src/knowledge/knowledge.service.js';
import { createDocumentSchema } from '../../src/knowledge/knowledge.schemas.js';

export type FixtureDocument = {
  key: string;
  title: string;
  body: string;
  format: 'text' | 'markdown';
  url: string;
  tags: string[];
  language: string;
};
export type FixtureQuestion = { question: string; expected: string };
export type HelpCentre = { documents: FixtureDocument[]; questions: FixtureQuestion[] };

export const HELP_CENTRE_PATH = path.resolve(import.meta.dirname, '../fixtures/help-centre.json');

export function loadHelpCentre(): HelpCentre {
  return JSON.parse(readFileSync(HELP_CENTRE_PATH, 'utf8')) as HelpCentre;
}

export type QuestionResult = {
  question: string;
  expected: string;
  /** The keys of the documents found, best first. */
  found: string[];
  hit: boolean;
  ms: number;
};

export type RetrievalScore = {
  recallAt3: number;
  documents: number;
  questions: number;
  p50Ms: number;
  p95Ms: number;
  results: QuestionResult[];
};

/** Loads the fixture's documents into `organizationId` through the service; returns id → key. */
export async function loadDocuments(
  knowledge: KnowledgeService,
  organizationId: string,
  fixture: HelpCentre,
): Promise<Map<string, string>> {
  const keyOf = new Map<string, string>();
  for (const { key, ...doc } of fixture.documents) {
    const created = await knowledge.create(organizationId, createDocumentSchema.parse(doc));
    keyOf.set(created.id, key);
  }
  return keyOf;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** Asks every question of the fixture, in order, one at a time. */
export async function scoreQuestions(
  knowledge: KnowledgeService,
  organizationId: string,
  fixture: HelpCentre,
  keyOf: Map<string, string>,
): Promise<RetrievalScore> {
  const results: QuestionResult[] = [];
  for (const { question, expected } of fixture.questions) {
    const started = performance.now();
    const hits = await knowledge.search(organizationId, question, { limit: 3 });
    const ms = performance.now() - started;
    const found = hits.map((h) => keyOf.get(h.documentId) ?? h.documentId);
    results.push({ question, expected, found, hit: found.includes(expected), ms });
  }
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    recallAt3: round(results.filter((r) => r.hit).length / results.length),
    documents: fixture.documents.length,
    questions: results.length,
    p50Ms: round(percentile(times, 50)),
    p95Ms: round(percentile(times, 95)),
    results,
  };
}
