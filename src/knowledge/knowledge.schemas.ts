import { z } from 'zod';
import { text } from '../shared/validation.js';

const title = text().trim().min(1, 'must not be empty').max(300, 'must be at most 300 characters');
const body = text()
  .min(1, 'must not be empty')
  .max(100_000, 'must be at most 100000 characters')
  .refine((b) => b.trim().length > 0, 'must not be blank');
const format = z.enum(['text', 'markdown'], { error: 'must be text or markdown' });
const url = text()
  .trim()
  .max(2048, 'must be at most 2048 characters')
  .refine((u) => {
    try {
      const { protocol } = new URL(u);
      return protocol === 'http:' || protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');
const tag = text().trim().min(1, 'must not be empty').max(50, 'must be at most 50 characters');
const tags = z
  .array(tag)
  .max(20, 'at most 20 tags')
  .transform((t) => [...new Set(t)]);
/** ISO 639-1: two lowercase letters (`en`, `fr`). */
const language = text()
  .trim()
  .regex(/^[a-zA-Z]{2}$/, 'must be an ISO 639-1 code such as en or fr')
  .transform((l) => l.toLowerCase());

/** A new document (`POST …/knowledge/documents`). */
export const createDocumentSchema = z.strictObject({
  title,
  body,
  format: format.default('text'),
  url: url.nullable().optional(),
  tags: tags.default([]),
  language: language.default('en'),
});
export type CreateDocument = z.output<typeof createDocumentSchema>;

/** `PATCH …/knowledge/documents/:id`: any of the fields; `url: null` removes the link. */
export const updateDocumentSchema = z
  .strictObject({
    title: title.optional(),
    body: body.optional(),
    format: format.optional(),
    url: url.nullable().optional(),
    tags: tags.optional(),
    language: language.optional(),
  })
  .refine((p) => Object.values(p).some((v) => v !== undefined), {
    message: 'give at least one of title, body, format, url, tags, language',
    path: ['title'],
  });
export type UpdateDocument = z.output<typeof updateDocumentSchema>;

/** `GET …/knowledge/documents?limit=&cursor=&tag=&q=`: newest first. */
export const listDocumentsSchema = z.object({
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(100, 'must be at most 100')
    .default(20),
  cursor: text().trim().min(1).max(200).optional(),
  tag: tag.optional(),
  /** Words of the title (case-insensitive). */
  q: text().trim().min(1, 'must not be empty').max(200).optional(),
});
export type ListDocuments = z.output<typeof listDocumentsSchema>;

/** `GET …/knowledge/search?q=&limit=&language=`: what the bot would retrieve. */
export const searchSchema = z.object({
  q: text().trim().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters'),
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(20, 'must be at most 20')
    .default(3),
  language: language.optional(),
});
export type SearchQuery = z.output<typeof searchSchema>;

/** `GET …/knowledge/answer?q=&language=`: what the bot would reply to a visitor's question. */
export const answerSchema = z.object({
  q: searchSchema.shape.q,
  /** The conversation's language (the widget's locale); none: English words, every document. */
  language: language.optional(),
});
export type AnswerQuery = z.output<typeof answerSchema>;
