import type { Answerer, BotAnswer, KnowledgeHit } from './answerer.js';
import { sourcesOf, wordsFor } from './answerer.js';

/** The model's word for "the passages do not answer this". */
const NO_ANSWER = 'NO_ANSWER';

const instructions = (locale: string) =>
  [
    "You are a shop's customer support assistant. Answer the customer's question using only the",
    'numbered passages below, briefly and in the language of the question (the site language is',
    `${locale}). Cite the passages you use by their number, as [1]. Do not invent policies, prices`,
    'or dates. If the passages do not contain the answer,',
    `reply with exactly ${NO_ANSWER}.`,
  ].join(' ');

/**
 * The sources of a model's answer: the passages it cites as `[n]`, or every passage it was given
 * when it cites none (it answered from them all the same).
 */
function citedSources(answer: string, hits: KnowledgeHit[]): BotAnswer['sources'] {
  const cited = new Set([...answer.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]) - 1));
  const kept = hits.filter((_, i) => cited.has(i));
  return sourcesOf(kept.length ? kept : hits);
}

/** The answer with its source links, one line each, as the extractive answerer writes them. */
function withSources(answer: string, sources: BotAnswer['sources'], locale: string) {
  const label = wordsFor(locale).source;
  const lines = sources.map((s) => `${label}: ${s.url ? `${s.title} — ${s.url}` : s.title}`);
  return `${answer}\n\n${lines.join('\n')}`;
}

const context = (hits: KnowledgeHit[]) =>
  hits
    .map(
      (h, i) =>
        `[${i + 1}] ${h.title}${h.heading ? ` — ${h.heading}` : ''}${h.url ? ` (${h.url})` : ''}\n${h.content}`,
    )
    .join('\n\n');

/**
 * Retrieval-augmented generation through an OpenAI-compatible chat-completions endpoint
 * (`{baseUrl}/chat/completions`): the retrieved passages go in the system message, the visitor's
 * question as the user's. The answer ends with its sources (title — URL), like an extractive one,
 * so the visitor can check it. No passages, no call (and no answer): the model never answers from
 * nothing. A failure (network, status, malformed answer) throws; the bot then falls back to the
 * extractive answerer.
 */
export function openAiAnswerer(opts: {
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  timeoutMs: number;
}): Answerer {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  return {
    name: 'openai',
    async answer({ question, locale, hits }) {
      if (!hits.length) return null;
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
        },
        body: JSON.stringify({
          model: opts.model,
          temperature: 0.2,
          messages: [
            { role: 'system', content: `${instructions(locale)}\n\n${context(hits)}` },
            { role: 'user', content: question },
          ],
        }),
        signal: AbortSignal.timeout(opts.timeoutMs),
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`chat completions: HTTP ${res.status}`);
      const body = (await res.json()) as { choices?: { message?: { content?: unknown } }[] };
      const text = body.choices?.[0]?.message?.content;
      if (typeof text !== 'string') throw new Error('chat completions: no message content in the answer');
      const answer = text.trim();
      if (!answer || answer.includes(NO_ANSWER)) return null;
      const sources = citedSources(answer, hits);
      return { text: withSources(answer, sources, locale), sources };
    },
  };
}
