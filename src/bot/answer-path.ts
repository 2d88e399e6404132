import type { Logger } from '../shared/logger.js';
import {
  extractiveAnswerer,
  wordsFor,
  type Answerer,
  type BotAnswer,
  type KnowledgeHit,
} from './answerer.js';
import { asksForHuman } from './human-request.js';

/** What the bot needs of the knowledge base. */
export type KnowledgeSearch = {
  search(
    organizationId: string,
    question: string,
    opts: { limit?: number; language?: string | undefined },
  ): Promise<KnowledgeHit[]>;
};

/** Passages retrieved for each question. */
const PASSAGES = 3;
/** Follow-up suggestions under an answer. */
const SUGGESTIONS = 2;

export type Button = { label: string; value: string };

/** A composed answer, the passages it was composed from, and which answerer composed it. */
export type Composed = {
  answer: BotAnswer | null;
  hits: KnowledgeHit[];
  answerer: string;
  /** The model failed and the extractive answerer answered instead. */
  fellBack: boolean;
};

/** What the bot would do with a visitor's question, without doing it. */
export type DryRun =
  | { outcome: 'escalate'; reason: 'visitor_request'; reply: null; hits: []; answerer: null; fellBack: false }
  | {
      outcome: 'answer' | 'no_answer';
      /** The message the bot would send, and its buttons. */
      reply: { text: string; buttons: Button[] };
      sources: BotAnswer['sources'];
      /** The passages retrieved, best first; `used`: the answer was composed from it. */
      hits: (KnowledgeHit & { used: boolean })[];
      answerer: string;
      fellBack: boolean;
    };

/**
 * The bot's answer path, shared by the bot and the console's dry run: retrieval, then the model
 * answerer when one is configured (the extractive one otherwise, or when the model fails), then
 * the buttons under the reply. Sends nothing and writes nothing.
 */
export function createAnswerPath(deps: {
  knowledge: KnowledgeSearch;
  /** The model answerer, when configured; the extractive one answers otherwise. */
  model?: Answerer | undefined;
  logger?: Logger | undefined;
}) {
  const extractive = extractiveAnswerer();

  /** The answer to `question` in a conversation of this locale (null: the bot has none). */
  async function compose(
    organizationId: string,
    question: string,
    locale: string | null,
    logContext: Record<string, unknown> = {},
  ): Promise<Composed> {
    const hits = await deps.knowledge.search(organizationId, question, {
      limit: PASSAGES,
      language: locale?.slice(0, 2),
    });
    const input = { question, locale: locale ?? 'en', hits };
    if (deps.model) {
      try {
        return { answer: await deps.model.answer(input), hits, answerer: deps.model.name, fellBack: false };
      } catch (err) {
        deps.logger?.warn({ err, ...logContext }, 'the model answerer failed; answering from the passages');
        return { answer: await extractive.answer(input), hits, answerer: extractive.name, fellBack: true };
      }
    }
    return { answer: await extractive.answer(input), hits, answerer: extractive.name, fellBack: false };
  }

  /** The buttons under an answer: a person, then the other documents found (tap to ask). */
  function answerButtons(found: BotAnswer, hits: KnowledgeHit[], locale: string | null): Button[] {
    const used = new Set(found.sources.map((s) => s.title));
    const suggestions = [...new Set(hits.map((h) => h.title))]
      .filter((t) => !used.has(t))
      .slice(0, SUGGESTIONS)
      .map((t) => ({ label: t.slice(0, 80), value: t.slice(0, 256) }));
    const { human } = wordsFor(locale);
    return [{ label: human, value: human }, ...suggestions];
  }

  /** The reply when the bot has no answer (before a second miss in a row hands over). */
  function noAnswerReply(locale: string | null) {
    const words = wordsFor(locale);
    return { text: words.noAnswer, buttons: [{ label: words.human, value: words.human }] };
  }

  /**
   * What the bot would do with `question` as a visitor's first message in a conversation of this
   * locale: hand over (the visitor asks for a person), answer (the reply exactly as it would be
   * sent, with its sources) or admit it has no answer. Nothing is sent, stored or counted.
   */
  async function dryRun(organizationId: string, question: string, locale: string | null): Promise<DryRun> {
    const q = question.trim();
    if (asksForHuman(q, [locale])) {
      return {
        outcome: 'escalate',
        reason: 'visitor_request',
        reply: null,
        hits: [],
        answerer: null,
        fellBack: false,
      };
    }
    const { answer, hits, answerer, fellBack } = await compose(organizationId, q, locale);
    if (!answer) {
      const unused = hits.map((h) => ({ ...h, used: false }));
      return {
        outcome: 'no_answer',
        reply: noAnswerReply(locale),
        sources: [],
        hits: unused,
        answerer,
        fellBack,
      };
    }
    // The extractive answer is the best passage; a model reads them all and names its documents.
    const cited = new Set(answer.sources.map((s) => s.title));
    const used = (h: KnowledgeHit, i: number) =>
      answerer === extractive.name ? i === 0 : cited.has(h.title);
    return {
      outcome: 'answer',
      reply: { text: answer.text, buttons: answerButtons(answer, hits, locale) },
      sources: answer.sources,
      hits: hits.map((h, i) => ({ ...h, used: used(h, i) })),
      answerer,
      fellBack,
    };
  }

  return { compose, answerButtons, noAnswerReply, dryRun };
}

export type AnswerPath = ReturnType<typeof createAnswerPath>;
