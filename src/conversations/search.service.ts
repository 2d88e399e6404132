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
/**
 * Which messages the text part ranks. Ranking, and any test of a message that the full-text index
 * does not answer, parses the message (about 20 µs each): ranking every match of a common word grew
 * with the tenant's history (over a second at 1M messages). So a search first reads the tenant's
 * newest RECENT_MESSAGES messages (walking `messages_organization_id_created_at_id_idx`, a cost
 * that does not grow): if at least COMMON_MATCHES of them match, the word is common and those
 * matches are the candidates (what was said lately; the newest TEXT_CANDIDATES the agent may see).
 * Otherwise the word is rare and `messages_search_idx` finds its matches in the whole history, of
 * which the newest TEXT_CANDIDATES are ranked. The planner cannot choose between the two by itself:
 * its estimate is the same for any prefix query, and a walk looking for a word that no message
 * holds reads the whole history (seconds at 1M).
 */
export const RECENT_MESSAGES = 1000;
export const COMMON_MATCHES = 20;
export const TEXT_CANDIDATES = 500;
/**
 * The most end users (by name or external_id) and tagged sessions a search ranks, the best matches
 * first: a common surname or tag matches a share of the whole history. Their few rows each are
 * cheap to score (no parsing); what is bounded is the joins and the ranking after them.
 */
export const MATCH_CANDIDATES = 500;
/**
 * A tag (or name) is common when COMMON_MATCHES of the tenant's newest RECENT_SESSIONS sessions
 * (visitors) hold it; then only those are candidates (a common tag or surname is on a share of
 * every row ever, and each candidate costs a read of its row). Testing a row needs no parsing: a
 * larger window than RECENT_MESSAGES costs less.
 */
export const RECENT_SESSIONS = 2000;
/**
 * Needles this long match inside a name or external_id; shorter ones only at their start. A
 * trigram index answers "contains" only for three characters or more (and a prefix from one).
 */
const MIN_CONTAINS_LENGTH = 3;

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

/** A hit: its conversation, and its best candidate message when the text matched. */
type RankRow = { id: string; updated_at: Date; score: string; message_id: string | null };
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

/** The agent's queues, when restricted to some: the same rule as `visibleTo`. */
/** The agent's queues in SQL (alias `c`), for an agent who does not see them all. */
export const inQueues = (actor: AgentActor) => Prisma.sql`c.routing_key = ANY(${actor.routingKeys}::text[])`;

/** What the text part keeps of a candidate message. */
const CANDIDATE_COLUMNS = Prisma.raw('m.id, m.conversation_id, m.content, m.created_at');

/**
 * The text part as CTEs ending in `text_hits`: the candidates (the rule of RECENT_MESSAGES), ranked,
 * the best per conversation. `created_at, id`: one order, so every page of a search has the same
 * candidates. The full-text index's subquery has OFFSET 0 so its LIMIT cannot become a walk of the
 * whole history; it is gated through LATERAL, not a plain subquery in WHERE, which the planner
 * would check inside parallel workers it starts first (50 ms, for nothing, on every common word).
 */
function textHits(actor: AgentActor, tsquery: string | null): Prisma.Sql {
  if (!tsquery) {
    return Prisma.sql`text_hits AS (
      SELECT NULL::uuid AS conversation_id, 0::float8 AS score, NULL::uuid AS message_id WHERE false)`;
  }
  const org = actor.organizationId;
  const matches = Prisma.sql`${VECTOR} @@ ${tsquery}::tsquery`;
  // The agent's queues, when restricted to some: what they cannot see is not a candidate either.
  // Whether a word is common is the tenant's matter (an agent's small queue could have few of
  // the newest messages and send every common word to the full-text index), what is ranked theirs.
  const queues = seesAllQueues(actor)
    ? Prisma.empty
    : Prisma.sql`AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id AND ${inQueues(actor)})`;
  const common = Prisma.sql`(SELECT count(*) FROM recent) >= ${COMMON_MATCHES}`;
  return Prisma.sql`
    recent AS MATERIALIZED (
      SELECT ${CANDIDATE_COLUMNS} FROM (
        SELECT ${CANDIDATE_COLUMNS} FROM messages m WHERE m.organization_id = ${org}::uuid
        ORDER BY m.created_at DESC, m.id DESC LIMIT ${RECENT_MESSAGES}
      ) m
      WHERE ${matches}
    ),
    candidates AS (
      (SELECT * FROM recent m WHERE ${common} ${queues}
       ORDER BY m.created_at DESC, m.id DESC LIMIT ${TEXT_CANDIDATES})
      UNION ALL
      (SELECT m.* FROM (SELECT count(*) AS n FROM recent) k, LATERAL (
        SELECT ${CANDIDATE_COLUMNS} FROM messages m
        WHERE k.n < ${COMMON_MATCHES} AND m.organization_id = ${org}::uuid AND ${matches} ${queues}
        OFFSET 0
      ) m ORDER BY m.created_at DESC, m.id DESC LIMIT ${TEXT_CANDIDATES})
    ),
    text_hits AS (
      SELECT DISTINCT ON (m.conversation_id) m.conversation_id,
        ts_rank_cd(${VECTOR}, ${tsquery}::tsquery, ${RANK_NORMALIZATION}::int) * ${WEIGHT.text}::float8 AS score,
        m.id AS message_id
      FROM candidates m
      ORDER BY m.conversation_id, score DESC, m.created_at DESC
    )`;
}

/**
 * Rows of `table` (alias `s`) that `holds`, as CTEs `<name>_recent` and `<name>_candidates`: the
 * rule of RECENT_MESSAGES for rows that cost no parsing to test. When COMMON_MATCHES of the
 * tenant's newest `window` rows hold, those are the candidates; otherwise the trigram index finds
 * every one. Gated and fenced as the text part is.
 */
function recentOrIndexed(
  name: string,
  table: string,
  columns: string,
  org: string,
  holds: Prisma.Sql,
  window: number,
): Prisma.Sql {
  const [recent, candidates, from, cols] = [`${name}_recent`, `${name}_candidates`, table, columns].map(
    Prisma.raw,
  );
  return Prisma.sql`
    ${recent} AS MATERIALIZED (
      SELECT ${cols} FROM (
        SELECT ${cols} FROM ${from} s WHERE s.organization_id = ${org}::uuid
        ORDER BY s.created_at DESC, s.id DESC LIMIT ${window}
      ) s
      WHERE ${holds}
    ),
    ${candidates} AS (
      SELECT * FROM ${recent} WHERE (SELECT count(*) FROM ${recent}) >= ${COMMON_MATCHES}
      UNION ALL
      SELECT s.* FROM (SELECT count(*) AS n FROM ${recent}) k, LATERAL (
        SELECT ${cols} FROM ${from} s
        WHERE k.n < ${COMMON_MATCHES} AND s.organization_id = ${org}::uuid AND ${holds}
        OFFSET 0
      ) s
    )`;
}

/**
 * The ranking query: the agent's visible conversations whose end user's name or external_id, a
 * session's tag, or a candidate message (RECENT_MESSAGES) matches, best first, after the cursor.
 * Each part reads an index (the search migrations): exported for the test that reads its plan.
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
  const prefix = `${likeLiteral(needle)}%`;
  const contains = [...needle].length >= MIN_CONTAINS_LENGTH ? `%${prefix}` : prefix;
  // Same rule as `visibleTo`: the organization, and the agent's queues when restricted to some.
  const visible = Prisma.sql`c.organization_id = ${org}::uuid AND (${all} OR ${inQueues(actor)})`;
  const afterCursor = after
    ? Prisma.sql`WHERE (score, updated_at, id) < (${after.score}::numeric, ${after.updatedAt}::timestamptz, ${after.id}::uuid)`
    : Prisma.empty;
  // `lower(e.external_id)`, `lower(e.display_name)` and `search_tags(s.tags)` are the expressions of
  // the trigram indexes (migration 20261129220000_search_scale), written exactly so.
  return Prisma.sql`
    WITH ${textHits(actor, tsquery)},
    -- Who the visitor is: only end users whose id or name holds the needle (an exact or prefix
    -- match does too; a needle under three characters: at their start), found by trigram index
    -- (a common name: among the newest visitors); the best MATCH_CANDIDATES of them.
    ${recentOrIndexed(
      'user',
      'end_users',
      's.id, s.external_id, s.display_name, s.last_seen_at, s.created_at',
      org,
      Prisma.sql`(lower(s.external_id) LIKE ${contains} OR lower(s.display_name) LIKE ${contains})`,
      RECENT_SESSIONS,
    )},
    who AS (
      SELECT c.id AS conversation_id, e.score, NULL::uuid AS message_id FROM (
        SELECT e.id,
          (CASE WHEN lower(e.external_id) = ${needle} THEN ${WEIGHT.externalIdExact}::float8
                WHEN lower(e.external_id) LIKE ${contains} THEN ${WEIGHT.externalId}::float8 ELSE 0 END)
          + (CASE WHEN lower(e.display_name) = ${needle} THEN ${WEIGHT.nameExact}::float8
                  WHEN lower(e.display_name) LIKE ${prefix} THEN ${WEIGHT.namePrefix}::float8
                  WHEN lower(e.display_name) LIKE ${contains} THEN ${WEIGHT.name}::float8 ELSE 0 END) AS score
        FROM user_candidates e
        ORDER BY score DESC, e.last_seen_at DESC NULLS LAST, e.id DESC
        LIMIT ${MATCH_CANDIDATES}
      ) e JOIN conversations c ON c.end_user_id = e.id
      WHERE ${visible}
    ),
    -- A session's tag that is the needle or starts with it (the best one per conversation): the
    -- trigram index finds the sessions whose tags hold ',' and the needle, each tag is then tested.
    -- A common tag (RECENT_SESSIONS): only the newest sessions, as for a common word.
    ${recentOrIndexed(
      'tag',
      'conversation_sessions',
      's.id, s.conversation_id, s.created_at, s.tags',
      org,
      Prisma.sql`search_tags(s.tags) LIKE ${`%,${prefix}`}`,
      RECENT_SESSIONS,
    )},
    tagged AS (
      SELECT s.conversation_id, max(s.score) AS score, NULL::uuid AS message_id FROM (
        SELECT * FROM (
          SELECT s.conversation_id, s.created_at, s.id,
            (SELECT max(CASE WHEN lower(t) = ${needle} THEN ${WEIGHT.tagExact}::float8 ELSE ${WEIGHT.tagPrefix}::float8 END)
             FROM unnest(s.tags) AS t WHERE lower(t) LIKE ${prefix}) AS score
          FROM tag_candidates s
        ) s
        WHERE s.score IS NOT NULL
        ORDER BY s.score DESC, s.created_at DESC, s.id DESC
        LIMIT ${MATCH_CANDIDATES}
      ) s
      GROUP BY s.conversation_id
    ),
    scored AS (
      SELECT c.id, c.updated_at, round(sum(x.score)::numeric, 6) AS score,
        (array_agg(x.message_id) FILTER (WHERE x.message_id IS NOT NULL))[1] AS message_id
      FROM (SELECT * FROM text_hits UNION ALL SELECT * FROM who UNION ALL SELECT * FROM tagged) x
      JOIN conversations c ON c.id = x.conversation_id
      WHERE ${visible}
      GROUP BY c.id, c.updated_at
    )
    SELECT id, updated_at, score::text AS score, message_id::text AS message_id FROM scored
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
 * message's words or their prefixes; within the bounds of RECENT_MESSAGES and MATCH_CANDIDATES),
 * best first, a page at a time; each with its summary as the list shows it and the snippet of its
 * best matching candidate message, its matches between `MARK_START` and `MARK_END`. Stable paging:
 * the cursor is the last hit's (score, activity, id).
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
  const messageIds = page.flatMap((r) => (r.message_id ? [r.message_id] : []));
  if (ids.length === 0) return { items: [], next_cursor: null };
  const [conversations, snippets, lastOf] = await Promise.all([
    // The list's own access rule, again: nothing reaches the page that the inbox would not show.
    db.conversation.findMany({ where: { id: { in: ids }, ...visible }, include }),
    // The snippet is the message that scored: by id, not by searching the conversations again
    // (which the full-text index would answer with every match of a common word).
    tsquery && messageIds.length
      ? db.$queryRaw<SnippetRow[]>`
          SELECT m.conversation_id::text AS conversation_id,
            m.id::text AS message_id,
            translate(m.content, ${TRANSLATE_FROM}, ${TRANSLATE_TO}) AS content,
            ts_headline('english'::regconfig,
              translate(m.content, ${TRANSLATE_FROM}, ${TRANSLATE_TO}), ${tsquery}::tsquery,
              CASE WHEN length(m.content) <= ${WHOLE_UP_TO} THEN ${`${HEADLINE_OPTIONS}, HighlightAll=true`}
                ELSE ${`${HEADLINE_OPTIONS}, MaxFragments=1`} END) AS snippet
          FROM messages m
          WHERE m.id = ANY(${messageIds}::uuid[]) AND m.organization_id = ${actor.organizationId}::uuid`
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
