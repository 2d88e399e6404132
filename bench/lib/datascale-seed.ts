// The data-scale step's database: several tenants with a history of conversations, grown in place
// (10k → 100k → 1M messages) by set-based SQL (INSERT … SELECT over generate_series), not the ORM,
// so a million messages take about a minute. Rows are what the product writes: messages numbered
// 1..n per conversation with `conversations.last_seq` = n, one session per support interaction
// (resolved ones tagged, the newest conversations' open, some nobody's), `read_by` on what was
// read, end users with and without names, routing keys. Ids are derived from a conversation's
// index (md5), so the benchmark can name any conversation without asking the database.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { createServices } from '../../src/services.js';
import { loadConfig } from '../../src/config.js';
import { createEventBus } from '../../src/shared/events.js';
import { AGENT_PASSWORD, BENCH_SECRETS, mapLimit, type BenchDb } from './seed.js';

/** Tenants: the measured one (index 0) holds every even conversation, the others share the rest. */
export const TENANTS = 4;
/** Agents per tenant; sessions are spread over them. */
export const AGENTS_PER_TENANT = 10;
/** The newest conversations (all tenants) have an open session: the live backlog, not history. */
export const OPEN_BACKLOG = 500;
/** Seconds between two conversations' starts: 200,000 of them span about a year. */
const CONVERSATION_SPACING_S = 150;
const LARGEST = 200_000;

export const TOPICS = ['refund', 'delivery', 'invoice', 'password', 'shipping', 'discount', 'warranty', 'subscription', 'exchange', 'payment', 'account', 'coupon']; // prettier-ignore
const OBJECTS = ['order', 'parcel', 'jacket', 'laptop', 'phone', 'ticket', 'booking', 'plan'];
const STATES = ['late', 'missing', 'broken', 'wrong', 'delayed', 'charged twice', 'not working', 'cancelled'];
export const SURNAMES = ['Garcia', 'Nguyen', 'Smith', 'Kowalski', 'Okafor', 'Rossi', 'Tanaka', 'Dubois', 'Silva', 'Novak', 'Larsen', 'Haddad']; // prettier-ignore
const FIRST_NAMES = ['Maria', 'Anh', 'John', 'Piotr', 'Chidi', 'Giulia', 'Yuki', 'Claire', 'Rafael', 'Eva', 'Soren', 'Layla']; // prettier-ignore
const TAGS = ['billing', 'shipping', 'bug', 'vip', 'returns', 'feedback', 'sales', 'urgent'];

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
/** An md5 as a well-formed UUID (version 4, RFC variant), as the API's validation wants one. */
const asUuid = (h: string) =>
  `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20)}`;
/** The same in SQL: `uuid("'c' || i")` is conversation i's id. */
const uuid = (text: string) => `overlay(overlay(md5(${text}) placing '4' from 13) placing '8' from 17)::uuid`;
/** Conversation `i`'s id, as the seed's SQL makes it. */
export const conversationId = (i: number) => asUuid(md5(`c${i}`));
/** Conversation `i`'s visitor id, a widget visitor's (`v_` and 32 hex digits). */
export const externalIdOf = (i: number) => `v_${md5(`x${i}`)}`;
/** The tenant of conversation `i` (0: the measured one). */
export const tenantOf = (i: number) => (i % 2 === 0 ? 0 : 1 + (Math.floor(i / 2) % 3));

/** How many conversations hold `messages` messages: 10 each up to 10k messages, 5 beyond. */
export const conversationsFor = (messages: number) =>
  Math.max(1, Math.round(messages <= 10_000 ? messages / 10 : messages / 5));

export type DataScaleSeed = {
  tenants: { organizationId: string; channelId: string; embedTokenId: string; agentIds: string[] }[];
  /** Sees every queue of the measured tenant (role agent, no routing keys). */
  lead: { id: string; email: string };
  /** Restricted to the queues `store-1` and `store-2` of the measured tenant. */
  queueAgent: { id: string; email: string };
  conversations: number;
  messages: number;
  /** The time conversation 0 started; the others follow every CONVERSATION_SPACING_S. */
  epoch: Date;
};

/**
 * Tenants, their bot, web-chat channel, embed token and agents: through the services, as in
 * production (the two agents who sign in get real password hashes); the other agents by SQL.
 */
export async function createTenants(db: BenchDb): Promise<DataScaleSeed> {
  const config = loadConfig({ DATABASE_URL: db.url, ...BENCH_SECRETS });
  const services = createServices({ database: db.database, config, bus: createEventBus(() => {}) });
  const stamp = Date.now();
  const tenants = await mapLimit(
    Array.from({ length: TENANTS }, (_, t) => t),
    2,
    async (t) => {
      const { organization } = await services.tenants.createOrganization({
        name: `Data scale ${t}`,
        allowedOrigins: [],
        rateLimitPerMin: 10_000_000,
      });
      const { channelId, embedToken } = await services.channels.createEmbedToken({
        organizationId: organization.id,
        name: 'Data scale',
        allowedOrigins: [],
      });
      return {
        organizationId: organization.id,
        channelId,
        embedTokenId: embedToken.id,
        agentIds: [] as string[],
      };
    },
  );
  const org0 = tenants[0]!.organizationId;
  const signIn = async (name: string, routingKeys: string[]) => {
    const email = `${name}.${stamp}@datascale.invalid`;
    const user = await services.agents.createAgent({
      organizationId: org0,
      email,
      password: AGENT_PASSWORD,
      role: 'agent',
      routingKeys,
    });
    return { id: user.id, email };
  };
  const lead = await signIn('lead', []);
  const queueAgent = await signIn('queue', ['store-1', 'store-2']);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    for (const [t, tenant] of tenants.entries()) {
      const own = t === 0 ? [lead.id, queueAgent.id] : [];
      const { rows } = await c.query<{ id: string }>(
        `INSERT INTO users (id, organization_id, email, display_name, role, updated_at)
         SELECT gen_random_uuid(), $1::uuid, 'agent' || k || '.' || $2::text || '@datascale.invalid',
                'Agent ' || k, 'agent', now()
         FROM generate_series(1, $3::int) k ORDER BY k RETURNING id`,
        [tenant.organizationId, `${stamp}.${t}`, AGENTS_PER_TENANT - own.length],
      );
      tenant.agentIds = [...own, ...rows.map((r) => r.id)];
    }
  } finally {
    await c.end();
  }
  const epoch = new Date(Date.now() - LARGEST * CONVERSATION_SPACING_S * 1000);
  return { tenants, lead, queueAgent, conversations: 0, messages: 0, epoch };
}

/**
 * The conversations c0..c1-1 (global indexes) with what every statement needs of them: tenant,
 * message count `n`, sessions `s` (1 or 2), whether the last is open and on whom. Bound by `grow`:
 * $1..$2 this chunk, $3..$4 the whole growth, $5 epoch, $6 agents, $7 messages each, $8 remainder.
 */
const CONV_CTE = `conv AS (
  SELECT i, t, n, s, ag, is_open, oa,
         $5::timestamptz + make_interval(secs => i * ${CONVERSATION_SPACING_S}) AS ts
  FROM (
    SELECT i, t, n, s,
           ($6::uuid[])[t * ${AGENTS_PER_TENANT} + 1 + (i / 7) % ${AGENTS_PER_TENANT}] AS ag,
           i >= $4::int - ${OPEN_BACKLOG} AS is_open,
           -- An open session: half nobody's, a quarter the tenant's first agent's, a quarter others'.
           CASE WHEN i % 4 < 2 THEN NULL
                WHEN i % 4 = 2 THEN ($6::uuid[])[t * ${AGENTS_PER_TENANT} + 1]
                ELSE ($6::uuid[])[t * ${AGENTS_PER_TENANT} + 2 + (i / 4) % ${AGENTS_PER_TENANT - 1}] END AS oa
    FROM (
      SELECT i, CASE WHEN i % 2 = 0 THEN 0 ELSE 1 + (i / 2) % 3 END AS t,
             -- avg messages each, the remainder on the first ones, ±1 in threes for some variety.
             $7::int + (CASE WHEN i - $3::int < $8::int THEN 1 ELSE 0 END)
               + (CASE WHEN i - $3::int < (($4::int - $3::int) / 3) * 3 THEN (i - $3::int) % 3 - 1 ELSE 0 END) AS n,
             CASE WHEN i % 3 = 0 THEN 2 ELSE 1 END AS s
      FROM generate_series($1::int, $2::int - 1) i
    ) a
  ) b
)`;

/** Message `j` of a conversation (1-based) belongs to its session `k`. */
const SESSION_OF_J = `CASE WHEN conv.s = 2 AND j > conv.n / 2 THEN 2 ELSE 1 END`;

const arr = (xs: string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(',')}]`;

/**
 * Grows the database to `messages` messages over `conversationsFor(messages)` conversations: new
 * conversations with their history, the previous backlog resolved (the newest conversations are
 * the open ones), then VACUUM ANALYZE and a CHECKPOINT. Triggers are off for the load (session_replication_role):
 * the seed writes the numbers, activity times and last_seq they would have written.
 */
export async function grow(
  db: BenchDb,
  seed: DataScaleSeed,
  messages: number,
  log: (s: string) => void = () => {},
): Promise<{ seed_s: number; vacuum_s: number; added_messages: number; added_conversations: number }> {
  const target = conversationsFor(messages);
  if (target <= seed.conversations || messages <= seed.messages) {
    throw new Error(`datascale: sizes must grow (${seed.messages} messages already)`);
  }
  const c0 = seed.conversations;
  const c1 = target;
  const addM = messages - seed.messages;
  const addC = c1 - c0;
  const avg = Math.floor(addM / addC);
  if (avg < 2) throw new Error('datascale: at least two messages per new conversation');
  const rest = addM - avg * addC;
  const agents = seed.tenants.flatMap((t) => t.agentIds);
  const bind = (from: number, to: number) => [from, to, c0, c1, seed.epoch, agents, avg, rest];
  const tenantArr = (f: (t: DataScaleSeed['tenants'][number]) => string) =>
    `(${arr(seed.tenants.map(f))}::uuid[])[conv.t + 1]`;
  const started = performance.now();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`SET session_replication_role = replica`);
    await client.query(`SET statement_timeout = 0`);
    await client.query('BEGIN');
    // The previous backlog is history now, but for the conversations still among the newest.
    await client.query(
      `UPDATE conversation_sessions s SET status = 'resolved', resolved_at = s.updated_at, updated_at = now()
       FROM conversations c
       WHERE c.id = s.conversation_id AND s.status = 'open'
         AND c.created_at < $1::timestamptz + make_interval(secs => $2::int * ${CONVERSATION_SPACING_S})`,
      [seed.epoch, c1 - OPEN_BACKLOG],
    );
    const chunk = 20_000;
    for (let from = c0; from < c1; from += chunk) {
      const to = Math.min(c1, from + chunk);
      const params = bind(from, to);
      await client.query(
        `WITH ${CONV_CTE}
         INSERT INTO end_users (id, organization_id, external_id, display_name, email, created_at, updated_at, last_seen_at)
         SELECT ${uuid("'e' || i")}, ${tenantArr((t) => t.organizationId)}, 'v_' || md5('x' || i),
                CASE WHEN i % 4 = 0 THEN (${arr(FIRST_NAMES)})[1 + (i / 4) % ${FIRST_NAMES.length}] || ' '
                  || (${arr(SURNAMES)})[1 + (i / 3) % ${SURNAMES.length}] END,
                CASE WHEN i % 8 = 0 THEN 'visitor' || i || '@example.com' END,
                ts, ts, ts + make_interval(mins => n)
         FROM conv`,
        params,
      );
      await client.query(
        `WITH ${CONV_CTE}
         INSERT INTO conversations (id, organization_id, channel_id, end_user_id, routing_key, mode, metadata,
                                    last_message_at, created_at, updated_at, last_seq,
                                    agent_delivered_seq, visitor_delivered_seq)
         SELECT ${uuid("'c' || i")}, ${tenantArr((t) => t.organizationId)}, ${tenantArr((t) => t.channelId)},
                ${uuid("'e' || i")},
                CASE WHEN i % 3 = 0 THEN NULL ELSE 'store-' || (i % 10) END, 'human',
                jsonb_build_object('embed_token_id', ${tenantArr((t) => t.embedTokenId)}),
                ts + make_interval(mins => n), ts, ts + make_interval(mins => n), n, n, n
         FROM conv`,
        params,
      );
      // Session k spans its messages' minutes; a resolved one is tagged and closed 10 minutes on.
      await client.query(
        `WITH ${CONV_CTE}
         INSERT INTO conversation_sessions (id, organization_id, conversation_id, status, assigned_agent_id, tags,
                                            first_message_at, assigned_at, resolved_at, created_at, updated_at)
         SELECT ${uuid("'s' || i || ':' || k")}, org, ${uuid("'c' || i")},
                (CASE WHEN live THEN 'open' ELSE 'resolved' END)::"SessionStatus",
                CASE WHEN live THEN oa ELSE ag END,
                CASE WHEN live OR i % 5 = 0 THEN ARRAY[]::text[]
                     ELSE ARRAY[(${arr(TAGS)})[1 + (i + k) % ${TAGS.length}]] END,
                first_at, CASE WHEN live AND oa IS NULL THEN NULL ELSE first_at + interval '30 seconds' END,
                CASE WHEN live THEN NULL ELSE last_at + interval '10 minutes' END,
                first_at, CASE WHEN live THEN last_at ELSE last_at + interval '10 minutes' END
         FROM (
           SELECT conv.*, ${tenantArr((t) => t.organizationId)} AS org, k, conv.is_open AND k = conv.s AS live,
                  ts + make_interval(mins => CASE WHEN k = 1 THEN 1 ELSE n / 2 + 1 END) AS first_at,
                  ts + make_interval(mins => CASE WHEN k = s THEN n ELSE n / 2 END) AS last_at
           FROM conv, generate_series(1, conv.s) k
         ) x`,
        params,
      );
      // Odd messages are the visitor's; even ones the agent's, where the session has one. Read:
      // the visitor's by the session's agent (an open session: the first half), the agent's by
      // the visitor when the session is over. Some agent messages (never the last) are internal notes.
      await client.query(
        `WITH ${CONV_CTE}
         INSERT INTO messages (id, seq, organization_id, conversation_id, session_id, sender_type, sender_id,
                               content, read_by, internal, created_at)
         SELECT gen_random_uuid(), j, org, ${uuid("'c' || i")}, ${uuid("'s' || i || ':' || k")},
                (CASE WHEN visitor THEN 'end_user' ELSE 'agent' END)::"SenderType",
                CASE WHEN visitor THEN 'v_' || md5('x' || i) ELSE agent::text END,
                CASE WHEN visitor
                  THEN 'Hi, my ' || (${arr(OBJECTS)})[1 + (i + j) % ${OBJECTS.length}] || ' is '
                    || (${arr(STATES)})[1 + (i * 3 + j) % ${STATES.length}] || ', can I get a '
                    || (${arr(TOPICS)})[1 + (i * 7 + j) % ${TOPICS.length}] || '? Order ' || (i * 31 + j)
                  ELSE 'Sorry about the ' || (${arr(TOPICS)})[1 + (i * 7 + j) % ${TOPICS.length}]
                    || ' trouble with your ' || (${arr(OBJECTS)})[1 + (i + j) % ${OBJECTS.length}]
                    || ', I am checking order ' || (i * 31 + j) || ' now.' END,
                CASE WHEN visitor AND agent IS NOT NULL AND (NOT live OR j <= n / 2)
                       THEN jsonb_build_object(agent::text, to_char(sent, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                     WHEN NOT visitor AND NOT live
                       THEN jsonb_build_object('v_' || md5('x' || i), to_char(sent, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                     ELSE '{}'::jsonb END,
                NOT visitor AND j < n AND (i + j) % 20 = 0, sent
         FROM (
           SELECT conv.i, conv.n, ${tenantArr((t) => t.organizationId)} AS org, j, k, live,
                  CASE WHEN live THEN conv.oa ELSE conv.ag END AS agent,
                  j % 2 = 1 OR (live AND conv.oa IS NULL) AS visitor,
                  ts + make_interval(mins => j) AS sent
           FROM conv, generate_series(1, conv.n) j,
                LATERAL (SELECT ${SESSION_OF_J} AS k) sk,
                LATERAL (SELECT conv.is_open AND sk.k = conv.s AS live) lv
         ) m`,
        params,
      );
      log(`datascale: ${to}/${c1} conversations seeded`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
  const seedS = (performance.now() - started) / 1000;
  const v0 = performance.now();
  const v = new pg.Client({ connectionString: db.url });
  await v.connect();
  try {
    await v.query('VACUUM ANALYZE');
    // The load's dirty pages written now, not by the checkpointer while the reads are timed (at 1M
    // messages that is about a gigabyte, and it slowed even reads whose plan does not change).
    await v.query('CHECKPOINT');
  } finally {
    await v.end();
  }
  seed.conversations = c1;
  seed.messages = messages;
  return {
    seed_s: Math.round(seedS * 10) / 10,
    vacuum_s: Math.round(((performance.now() - v0) / 1000) * 10) / 10,
    added_messages: addM,
    added_conversations: addC,
  };
}
