import { Prisma } from '../generated/prisma/client.js';
import { seesAllQueues, type AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import { conversationDto, lastMessagesOf } from './conversations.dto.js';
import type { SearchQuery } from './search.schemas.js';

/**
 * Where a snippet's match starts and ends (Unicode private-use characters, stripped from the
 * text first, so a message can never forge one). The inbox turns them into `<mark>` elements.
 */
export const MARK_START = '\uE000';
export const MARK_END = '\uE001';

/**
 * A message's searchable text: stemmed in English and word for word in `simple` (any language,
 * stop words too). Exactly the expression of `messages_search_idx` (the search migration), so the
 * planner uses the index.
 */
const VECTOR = Prisma.raw(
  `(to_tsvector('english'::regconfig, m.content) || to_tsvector('simple'::regconfig, m.content))`,
);

/** Words this long match as prefixes too ("refu" finds "refund"); shorter ones would match too much. */
const MIN_PREFIX_LENGTH = 3;
/** Words of a query that count: the rest is ignored (a pasted paragraph is not a search). */
const MAX_WORDS = 8;
/**
 * What each kind of match weighs. A conversation's score is the sum of its matches: who the
 * visitor is outranks what was said (ts_rank_cd of one message stays well under 1).
 */
const WEIGHT = {
  externalIdExact: 4,
  externalId: 2,
  nameExact: 3,
  namePrefix: 2,
  name: 1.5,
  tagExact: 2,
  tagPrefix: 1,
  /** ts_rank_cd of the best message, times this. */
  text: 1,
};
/** ts_rank_cd normalisation: rank / (1 + log(length)), so long messages do not win by size. */
const RANK_NORMALIZATION = 1;

const badCursor = () =>
  new AppError('request/invalid', "Invalid parameter 'cursor': use the next_cursor of the previous page", {
    param: 'cursor',
  });

type Cursor = { score: string; updatedAt: Date; id: string };

/** A page's cursor: the last hit's score, activity time and id, opaque to the caller. */
const cursorOf = (c: Cursor) =>
  Buffer.from(`${c.score}|${c.updatedAt.toISOString()}|${c.id}`, 'utf8').toString('base64url');

function readCursor(cursor: string): Cursor {
  const [score, at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const updatedAt = new Date(at ?? '');
  if (!score || !/^\d+(\.\d+)?$/.test(score)) throw badCursor();
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(updatedAt.getTime())) throw badCursor();
  return { score, updatedAt, id };
}

/** A lexeme as a `tsquery` operand (quoted: a lexeme may hold any character). */
const operand = (lexeme: string) => `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/** The query's words: letters, marks and digits in a row, lowercased. */
const wordsOf = (q: string) =>
  [...new Set(q.toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? [])].slice(0, MAX_WORDS);

/** `%`, `_` and `\` taken literally in a LIKE pattern. */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

type RankRow = { id: string; updated_at: Date; score: string };
type SnippetRow = { conversation_id: string; message_id: string; content: string; snippet: string };

/**
 * ts_headline's parser reads `<…>` as an HTML tag and `&…;` as an entity, and drops them from the
 * snippet: those three characters stand in for themselves as private-use ones meanwhile (and any
 * of our private-use characters already in the text are dropped, so no marker can be forged).
 */
const STAND_INS: [string, string][] = [
  ['<', '\uE002'],
  ['>', '\uE003'],
  ['&', '\uE004'],
];
const TRANSLATE_FROM = `${STAND_INS.map(([c]) => c).join('')}${MARK_START}${MARK_END}${STAND_INS.map(([, p]) => p).join('')}`;
const TRANSLATE_TO = STAND_INS.map(([, p]) => p).join('');
const restore = (s: string) => STAND_INS.reduce((acc, [c, p]) => acc.replaceAll(p, c), s);
/**
 * A short message whole; a longer one as the fragment of up to 24 words around its best match,
 * short words kept at its edges.
 */
const HEADLINE_OPTIONS = `StartSel=${MARK_START}, StopSel=${MARK_END}, MaxWords=24, MinWords=8, ShortWord=0`;
const WHOLE_UP_TO = 160;

/** No letter or digit: what ts_headline trims off a fragment's edges (punctuation, `<`). */
const WORDLESS = /^[^\p{L}\p{N}]*$/u;

/** The headline, its characters restored, with "…" where the message goes on. */
function snippetOf(row: SnippetRow): string {
  const snippet = restore(row.snippet).trim();
  const content = restore(row.content).trim();
  const at = content.indexOf(snippet.replaceAll(MARK_START, '').replaceAll(MARK_END, ''));
  if (at < 0) return snippet;
  const before = content.slice(0, at);
  const after = content.slice(at + snippet.length - (snippet.match(/[\uE000\uE001]/g)?.length ?? 0));
  return `${WORDLESS.test(before) ? before : '… '}${snippet}${WORDLESS.test(after) ? after : ' …'}`;
}

/**
 * The `tsquery` for `q` as text: every word must be in the message, stemmed (English) or as typed,
 * as a prefix when long enough. Null when `q` has no word.
 */
async function tsqueryFor(db: Db, q: string): Promise<string | null> {
  const words = wordsOf(q);
  if (words.length === 0) return null;
  const rows = await db.$queryRaw<{ word: string; lexemes: string[] }[]>`
    SELECT w AS word, tsvector_to_array(to_tsvector('english'::regconfig, w) || to_tsvector('simple'::regconfig, w)) AS lexemes
    FROM unnest(${words}::text[]) AS w`;
  const terms = rows
    .map((r) =>
      [...new Set(r.lexemes)]
        .map((l) => (l.length >= MIN_PREFIX_LENGTH ? `${operand(l)}:*` : operand(l)))
        .join(' | '),
    )
    .filter((t) => t !== '');
  return terms.length ? terms.map((t) => `(${t})`).join(' & ') : null;
}

/**
 * The ranking query: the agent's visible conversations whose end user's name or external_id, a
 * session's tag, or a message's text matches, best first, after the cursor. Exported for the
 * test that reads its plan.
 */
export function rankingQuery(
  actor: AgentActor,
  q: string,
  tsquery: string | null,
  after: Cursor | null,
  limit: number,
): Prisma.Sql {
  const all = seesAllQueues(actor);
  const org = actor.organizationId;
  const needle = q.toLowerCase();
  const contains = `%${likeLiteral(needle)}%`;
  const prefix = `${likeLiteral(needle)}%`;
  // Same rule as `visibleTo`: the organization, and the agent's queues when restricted to some.
  const visible = Prisma.sql`c.organization_id = ${org}::uuid
    AND (${all} OR c.routing_key = ANY(${actor.routingKeys}::text[]))`;
  const textHits = tsquery
    ? Prisma.sql`
      SELECT m.conversation_id, max(ts_rank_cd(${VECTOR}, ${tsquery}::tsquery, ${RANK_NORMALIZATION}::int)) * ${WEIGHT.text}::float8 AS score
      FROM messages m
      WHERE m.organization_id = ${org}::uuid AND ${VECTOR} @@ ${tsquery}::tsquery
      GROUP BY m.conversation_id`
    : Prisma.sql`SELECT NULL::uuid AS conversation_id, 0::float8 AS score WHERE false`;
  const afterCursor = after
    ? Prisma.sql`WHERE (score, updated_at, id) < (${after.score}::numeric, ${after.updatedAt}::timestamptz, ${after.id}::uuid)`
    : Prisma.empty;
  return Prisma.sql`
    WITH text_hits AS (${textHits}),
    -- Who the visitor is: only end users whose id or name holds the needle (an exact or prefix
    -- match does too), not a score computed for every conversation of the organization.
    who AS (
      SELECT c.id AS conversation_id,
        (CASE WHEN lower(e.external_id) = ${needle} THEN ${WEIGHT.externalIdExact}::float8
              WHEN lower(e.external_id) LIKE ${contains} THEN ${WEIGHT.externalId}::float8 ELSE 0 END)
        + (CASE WHEN lower(e.display_name) = ${needle} THEN ${WEIGHT.nameExact}::float8
                WHEN lower(e.display_name) LIKE ${prefix} THEN ${WEIGHT.namePrefix}::float8
                WHEN lower(e.display_name) LIKE ${contains} THEN ${WEIGHT.name}::float8 ELSE 0 END) AS score
      FROM end_users e JOIN conversations c ON c.end_user_id = e.id
      WHERE e.organization_id = ${org}::uuid
        AND (lower(e.external_id) LIKE ${contains} OR lower(e.display_name) LIKE ${contains})
        AND ${visible}
    ),
    -- A session's tag that is the needle or starts with it (the best one per conversation).
    tagged AS (
      SELECT s.conversation_id,
        max(CASE WHEN lower(t) = ${needle} THEN ${WEIGHT.tagExact}::float8 ELSE ${WEIGHT.tagPrefix}::float8 END) AS score
      FROM conversation_sessions s, unnest(s.tags) AS t
      WHERE s.organization_id = ${org}::uuid AND lower(t) LIKE ${prefix}
      GROUP BY s.conversation_id
    ),
    scored AS (
      SELECT c.id, c.updated_at, round(sum(x.score)::numeric, 6) AS score
      FROM (SELECT * FROM text_hits UNION ALL SELECT * FROM who UNION ALL SELECT * FROM tagged) x
      JOIN conversations c ON c.id = x.conversation_id
      WHERE ${visible}
      GROUP BY c.id, c.updated_at
    )
    SELECT id, updated_at, score::text AS score FROM scored
    ${afterCursor}
    ORDER BY score DESC, updated_at DESC, id DESC
    LIMIT ${limit}`;
}

const include = {
  endUser: true,
  sessions: { where: { status: 'open' as const }, take: 1 },
} satisfies Prisma.ConversationInclude;

/**
 * Conversations the agent may see that match `q` (end user's name or external_id, a tag, a
 * message's words or their prefixes), best first, a page at a time; each with its summary as the
 * list shows it and the best matching message's snippet, its matches between `MARK_START` and
 * `MARK_END`. Stable paging: the cursor is the last hit's (score, activity, id).
 */
export async function searchConversations(
  db: Db,
  actor: AgentActor,
  query: SearchQuery,
  /** The inbox list's access rule (`visibleTo`), applied again to the page. */
  visible: Prisma.ConversationWhereInput,
) {
  const after = query.cursor ? readCursor(query.cursor) : null;
  const tsquery = await tsqueryFor(db, query.q);
  const rows = await db.$queryRaw<RankRow[]>(rankingQuery(actor, query.q, tsquery, after, query.limit + 1));
  const page = rows.slice(0, query.limit);
  const ids = page.map((r) => r.id);
  if (ids.length === 0) return { items: [], next_cursor: null };
  const [conversations, snippets, lastOf] = await Promise.all([
    // The list's own access rule, again: nothing reaches the page that the inbox would not show.
    db.conversation.findMany({ where: { id: { in: ids }, ...visible }, include }),
    tsquery
      ? db.$queryRaw<SnippetRow[]>`
          SELECT DISTINCT ON (m.conversation_id) m.conversation_id::text AS conversation_id,
            m.id::text AS message_id,
            translate(m.content, ${TRANSLATE_FROM}, ${TRANSLATE_TO}) AS content,
            ts_headline('english'::regconfig,
              translate(m.content, ${TRANSLATE_FROM}, ${TRANSLATE_TO}), ${tsquery}::tsquery,
              CASE WHEN length(m.content) <= ${WHOLE_UP_TO} THEN ${`${HEADLINE_OPTIONS}, HighlightAll=true`}
                ELSE ${`${HEADLINE_OPTIONS}, MaxFragments=1`} END) AS snippet
          FROM messages m
          WHERE m.conversation_id = ANY(${ids}::uuid[]) AND m.organization_id = ${actor.organizationId}::uuid
            AND ${VECTOR} @@ ${tsquery}::tsquery
          ORDER BY m.conversation_id, ts_rank_cd(${VECTOR}, ${tsquery}::tsquery, ${RANK_NORMALIZATION}::int) DESC,
            m.created_at DESC`
      : [],
    // The row a hit shows is the list's own: with its last message.
    lastMessagesOf(db, ids),
  ]);
  const byId = new Map(conversations.map((c) => [c.id, c]));
  const snippetFor = new Map(snippets.map((s) => [s.conversation_id, s]));
  const items = page.flatMap((r) => {
    const c = byId.get(r.id);
    if (!c) return [];
    const s = snippetFor.get(r.id);
    return [
      {
        conversation: { ...conversationDto(c), last_message: lastOf.get(c.id) ?? null },
        score: Number(r.score),
        message_id: s?.message_id ?? null,
        snippet: s ? snippetOf(s) : null,
      },
    ];
  });
  const last = page.at(-1);
  return {
    items,
    next_cursor:
      rows.length > query.limit && last
        ? cursorOf({ score: last.score, updatedAt: last.updated_at, id: last.id })
        : null,
  };
}

/** The ranking query's plan (EXPLAIN), for the test that checks it uses the index. */
export async function explainSearch(db: Db, actor: AgentActor, q: string): Promise<string> {
  const tsquery = await tsqueryFor(db, q);
  const rows = await db.$queryRaw<{ 'QUERY PLAN': string }[]>(
    Prisma.sql`EXPLAIN ${rankingQuery(actor, q, tsquery, null, 21)}`,
  );
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}
