import { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import { knowledgeDocumentDto, type KnowledgeHit } from './knowledge.dto.js';
import { splitDocument, type DocumentFormat } from './knowledge.passages.js';
import type { CreateDocument, ListDocuments, UpdateDocument } from './knowledge.schemas.js';

export type KnowledgeService = ReturnType<typeof createKnowledgeService>;

/** The text search configuration (stemmer, stop words) of each language we know; others: `simple`. */
export const searchConfigs: Record<string, string> = {
  en: 'english',
  fr: 'french',
  de: 'german',
  es: 'spanish',
  it: 'italian',
  pt: 'portuguese',
  nl: 'dutch',
};
export const searchConfigOf = (language: string) => searchConfigs[language] ?? 'simple';

/** `language` → its regconfig, in SQL (the map above: constants only). */
const CONFIG_SQL = Prisma.raw(
  `(CASE language ${Object.entries(searchConfigs)
    .map(([l, c]) => `WHEN '${l}' THEN '${c}'`)
    .join(' ')} ELSE 'simple' END)::regconfig`,
);

const notFound = () => new AppError('knowledge/not_found', 'Document not found');

const badCursor = () =>
  new AppError('request/invalid', "Invalid parameter 'cursor': use the next_cursor of the previous page", {
    param: 'cursor',
  });

/** A page's cursor: the last document's update time and id, opaque to the caller. */
const cursorOf = (d: { updatedAt: Date; id: string }) =>
  Buffer.from(`${d.updatedAt.toISOString()}|${d.id}`, 'utf8').toString('base64url');

function readCursor(cursor: string): { updatedAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const updatedAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(updatedAt.getTime())) throw badCursor();
  return { updatedAt, id };
}

const withCount = { _count: { select: { passages: true } } } as const;

/** A lexeme as a `tsquery` operand (quoted: a stemmed word may hold any character). */
const operand = (lexeme: string) => `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
/** Lexemes this long match as prefixes too (`deliv` finds `delivery`); shorter ones would match too much. */
const MIN_PREFIX_LENGTH = 3;
/** How much a passage that holds a quoted phrase, in order, gains over one that only has its words. */
const PHRASE_BONUS = 1;
/** ts_rank_cd normalisation: rank / (1 + log(length)), so long passages do not win by size, nor short ones by brevity. */
const RANK_NORMALIZATION = 1;
/**
 * A term's rank r counts as r / (r + SATURATION): a word said five times in a passage is not five
 * times the evidence (BM25's k1), and rare words are not outvoted by one common word repeated.
 */
const SATURATION = 0.1;

type HitRow = {
  document_id: string;
  title: string;
  url: string | null;
  heading: string | null;
  content: string;
  score: number;
};

/**
 * A tenant's knowledge base: documents split into passages, and retrieval over them with
 * PostgreSQL full-text search in each document's language. Every call is scoped to one
 * organization; another tenant's document is `knowledge/not_found`.
 */
export function createKnowledgeService({ db }: { db: Db }) {
  async function requireDocument(orgId: string, id: string) {
    const doc = await db.knowledgeDocument.findFirst({
      where: { id, organizationId: orgId },
      include: withCount,
    });
    if (!doc) throw notFound();
    return doc;
  }

  /** Replaces the document's passages (inside the caller's transaction). */
  async function writePassages(
    tx: Prisma.TransactionClient,
    orgId: string,
    doc: { id: string; title: string; body: string; format: string; language: string },
  ) {
    const passages = splitDocument(doc.body, doc.format as DocumentFormat);
    const cfg = searchConfigOf(doc.language);
    await tx.$executeRaw`DELETE FROM knowledge_passages WHERE document_id = ${doc.id}::uuid`;
    await tx.$executeRaw`
      INSERT INTO knowledge_passages (organization_id, document_id, position, heading, content, search)
      SELECT ${orgId}::uuid, ${doc.id}::uuid, p.position, p.heading, p.content,
        setweight(to_tsvector(${cfg}::regconfig, ${doc.title} || ' ' || coalesce(p.heading, '')), 'A') ||
        setweight(to_tsvector(${cfg}::regconfig, p.content), 'B')
      FROM unnest(${passages.map((_, i) => i)}::int[], ${passages.map((p) => p.heading)}::text[],
        ${passages.map((p) => p.content)}::text[]) AS p(position, heading, content)`;
  }

  /**
   * The question's terms in each language the tenant's documents use (the question is stemmed the
   * way each document was): one `tsquery` per lexeme, prefix-matching when long enough, and the
   * quoted phrases as one phrase query.
   */
  async function termsFor(orgId: string, question: string, language: string | undefined) {
    const phrases = [...question.matchAll(/"([^"]+)"/g)].map((m) => `"${m[1]}"`).join(' ');
    const rows = await db.$queryRaw<{ language: string; lexemes: string[]; phrase: string | null }[]>`
      SELECT language, tsvector_to_array(to_tsvector(${CONFIG_SQL}, ${question})) AS lexemes,
        CASE WHEN ${phrases} = '' THEN NULL
          ELSE nullif(websearch_to_tsquery(${CONFIG_SQL}, ${phrases})::text, '') END AS phrase
      FROM (SELECT DISTINCT language FROM knowledge_documents
        WHERE organization_id = ${orgId}::uuid
          AND (${language ?? null}::text IS NULL OR language = ${language ?? null}::text)) l`;
    const terms = rows.flatMap((r) =>
      r.lexemes.map((l) => ({
        language: r.language,
        query: l.length >= MIN_PREFIX_LENGTH ? `${operand(l)}:*` : operand(l),
      })),
    );
    const phraseQueries = rows.flatMap((r) => (r.phrase ? [{ language: r.language, query: r.phrase }] : []));
    return { terms, phraseQueries };
  }

  async function rank(orgId: string, question: string, limit: number, language: string | undefined) {
    const { terms, phraseQueries } = await termsFor(orgId, question, language);
    if (terms.length === 0) return [];
    // A passage's score: for each of the question's terms it holds, ts_rank_cd of that term
    // (title and heading weigh more than the text, repeated words saturate) times the term's
    // rarity among the tenant's passages in that language (BM25's idf), so that "klarna" counts
    // for more than "order"; plus a bonus for each quoted phrase it holds. The best passage of each
    // document comes first, then the documents' next best (when the limit exceeds the documents);
    // ties in a stable order that does not depend on generated ids.
    const rows = await db.$queryRaw<HitRow[]>`
      WITH terms AS (
        SELECT DISTINCT language, query::tsquery AS query
        FROM unnest(${terms.map((t) => t.language)}::text[], ${terms.map((t) => t.query)}::text[])
          AS t(language, query)
      ), phrases AS (
        SELECT language, query::tsquery AS query
        FROM unnest(${phraseQueries.map((t) => t.language)}::text[], ${phraseQueries.map((t) => t.query)}::text[])
          AS t(language, query)
      ), passages AS (
        SELECT p.id, p.document_id, p.position, p.heading, p.content, p.search, d.language, d.title, d.url
        FROM knowledge_passages p
        JOIN knowledge_documents d ON d.id = p.document_id
        WHERE p.organization_id = ${orgId}::uuid AND d.language IN (SELECT language FROM terms)
      ), sizes AS (
        SELECT language, count(*)::float8 AS n FROM passages GROUP BY language
      ), idf AS (
        SELECT t.language, t.query,
          ln(1 + (s.n - count(p.id) + 0.5) / (count(p.id) + 0.5)) AS idf
        FROM terms t
        JOIN sizes s ON s.language = t.language
        LEFT JOIN passages p ON p.language = t.language AND p.search @@ t.query
        GROUP BY t.language, t.query, s.n
      ), scored AS (
        SELECT p.document_id, p.title, p.url, p.heading, p.content, p.position,
          sum(i.idf * r.rank / (r.rank + ${SATURATION}::float8))
            + coalesce((SELECT count(*) * ${PHRASE_BONUS}::float8 FROM phrases f
                WHERE f.language = p.language AND p.search @@ f.query), 0) AS score
        FROM passages p
        JOIN idf i ON i.language = p.language AND p.search @@ i.query
        CROSS JOIN LATERAL (SELECT ts_rank_cd(p.search, i.query, ${RANK_NORMALIZATION}::int) AS rank) r
        GROUP BY p.id, p.document_id, p.title, p.url, p.heading, p.content, p.position, p.language, p.search
      ), ranked AS (
        SELECT *, row_number() OVER (PARTITION BY document_id ORDER BY score DESC, position) AS nth
        FROM scored
      )
      SELECT document_id::text AS document_id, title, url, heading, content, score::float8 AS score
      FROM ranked
      ORDER BY nth, score DESC, title, position
      LIMIT ${limit}`;
    return rows.map((r): KnowledgeHit => ({
      documentId: r.document_id,
      title: r.title,
      url: r.url,
      heading: r.heading,
      content: r.content,
      score: Number(r.score),
    }));
  }

  return {
    /** A new document, split into passages in the same transaction. */
    async create(orgId: string, input: CreateDocument) {
      const doc = await db.$transaction(async (tx) => {
        const created = await tx.knowledgeDocument.create({
          data: {
            organizationId: orgId,
            title: input.title,
            body: input.body,
            format: input.format,
            url: input.url ?? null,
            tags: input.tags,
            language: input.language,
          },
        });
        await writePassages(tx, orgId, created);
        return created;
      });
      return knowledgeDocumentDto(await requireDocument(orgId, doc.id));
    },

    /** Changes a document; its passages are split again from what it now says. */
    async update(orgId: string, id: string, patch: UpdateDocument) {
      await db.$transaction(async (tx) => {
        const found = await tx.knowledgeDocument.findFirst({ where: { id, organizationId: orgId } });
        if (!found) throw notFound();
        const doc = await tx.knowledgeDocument.update({
          where: { id },
          data: {
            ...(patch.title !== undefined ? { title: patch.title } : {}),
            ...(patch.body !== undefined ? { body: patch.body } : {}),
            ...(patch.format !== undefined ? { format: patch.format } : {}),
            ...(patch.url !== undefined ? { url: patch.url } : {}),
            ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
            ...(patch.language !== undefined ? { language: patch.language } : {}),
          },
        });
        await writePassages(tx, orgId, doc);
      });
      return knowledgeDocumentDto(await requireDocument(orgId, id));
    },

    /** Deletes a document and its passages. */
    async remove(orgId: string, id: string): Promise<void> {
      const { count } = await db.knowledgeDocument.deleteMany({ where: { id, organizationId: orgId } });
      if (count === 0) throw notFound();
    },

    /** One document. */
    async get(orgId: string, id: string) {
      return knowledgeDocumentDto(await requireDocument(orgId, id));
    },

    /** The documents, most recently changed first, a page at a time; by tag, by words of the title. */
    async list(orgId: string, q: ListDocuments) {
      const after = q.cursor ? readCursor(q.cursor) : undefined;
      const rows = await db.knowledgeDocument.findMany({
        where: {
          organizationId: orgId,
          ...(q.tag ? { tags: { has: q.tag } } : {}),
          ...(q.q ? { title: { contains: q.q, mode: 'insensitive' as const } } : {}),
          ...(after
            ? {
                OR: [
                  { updatedAt: { lt: after.updatedAt } },
                  { updatedAt: after.updatedAt, id: { lt: after.id } },
                ],
              }
            : {}),
        },
        orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
        take: q.limit + 1,
        include: withCount,
      });
      const items = rows.slice(0, q.limit);
      const last = items.at(-1);
      return {
        items: items.map(knowledgeDocumentDto),
        next_cursor: rows.length > q.limit && last ? cursorOf(last) : null,
      };
    },

    /**
     * The passages that best answer `question`, best first, at most one per document unless
     * `limit` exceeds the documents. With `language`, documents in that language only, unless
     * none of them matches. A question with no searchable words finds nothing.
     */
    async search(
      orgId: string,
      question: string,
      opts: { limit?: number; language?: string | undefined } = {},
    ): Promise<KnowledgeHit[]> {
      const limit = opts.limit ?? 3;
      if (opts.language) {
        const hits = await rank(orgId, question, limit, opts.language);
        if (hits.length > 0) return hits;
      }
      return rank(orgId, question, limit, undefined);
    },
  };
}
