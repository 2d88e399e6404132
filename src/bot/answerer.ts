/** A passage the knowledge base found for a question, best first. */
export type KnowledgeHit = {
  documentId: string;
  title: string;
  url: string | null;
  heading: string | null;
  content: string;
  score: number;
};

/** What the bot says: the answer and the documents it comes from. */
export type BotAnswer = { text: string; sources: { title: string; url: string | null }[] };

/**
 * Composes an answer to a visitor's question from the retrieved passages, or says it has none
 * (null): then the bot admits it and, the second time in a row, hands over to the humans.
 */
export type Answerer = {
  name: string;
  answer(input: { question: string; locale: string; hits: KnowledgeHit[] }): Promise<BotAnswer | null>;
};

export type BotWords = {
  source: string;
  human: string;
  noAnswer: string;
  coming: string;
  offline: string;
  typicalWait: string;
};

/** The few words the bot says itself, per language (English otherwise). */
const WORDS: Record<'en' | 'fr', BotWords> = {
  en: {
    source: 'Source',
    human: 'Talk to a person',
    noAnswer: "Sorry, I couldn't find an answer to that. Could you put it another way?",
    coming: 'I am passing you to a person from our team: they will answer here shortly.',
    offline: 'Our team is offline right now. A person will answer here as soon as they are back',
    typicalWait: 'usually within',
  },
  fr: {
    source: 'Source',
    human: 'Parler à une personne',
    noAnswer: "Désolé, je n'ai pas trouvé de réponse. Pouvez-vous reformuler ?",
    coming: 'Je vous passe à une personne de notre équipe : elle vous répond ici très vite.',
    offline: 'Notre équipe est absente pour le moment. Une personne vous répondra ici dès son retour',
    typicalWait: 'en général sous',
  },
};

export const wordsFor = (locale: string | null | undefined): BotWords =>
  locale?.toLowerCase().startsWith('fr') ? WORDS.fr : WORDS.en;

/** The end of the last whole sentence within `max` characters (the whole text when shorter). */
export function clipToSentence(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max);
  const end = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('! '), cut.lastIndexOf('? '));
  return end > max / 3 ? cut.slice(0, end + 1) : `${cut.slice(0, cut.lastIndexOf(' '))}…`;
}

/** Unique sources of the hits, best first. */
export const sourcesOf = (hits: KnowledgeHit[]) => {
  const seen = new Set<string>();
  return hits
    .filter((h) => !seen.has(h.documentId) && seen.add(h.documentId))
    .map((h) => ({ title: h.title, url: h.url }));
};

/** The extractive answerer's threshold: a best passage scoring under it is no answer. */
export const MIN_SCORE = 0.01;

/**
 * The default answerer, with no model: the best passage itself, clipped to whole sentences, with
 * its source. A question whose best passage scores under `minScore` has no answer.
 */
export function extractiveAnswerer({ minScore = MIN_SCORE, maxChars = 700 } = {}): Answerer {
  return {
    name: 'extractive',
    answer({ locale, hits }) {
      const best = hits[0];
      if (!best || best.score < minScore) return Promise.resolve(null);
      const words = wordsFor(locale);
      const source = best.url ? `${best.title} — ${best.url}` : best.title;
      return Promise.resolve({
        text: `${clipToSentence(best.content, maxChars)}\n\n${words.source}: ${source}`,
        sources: sourcesOf([best]),
      });
    },
  };
}
