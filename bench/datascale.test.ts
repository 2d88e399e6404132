// The data-scale seed writes what the product would have written: a tiny database grown twice
// (1,000 then 3,000 messages) must number every conversation's messages 1..n with last_seq = n,
// keep every row inside its tenant, give every message a session of its conversation, and leave
// the triggers working afterwards. Not part of `npm test`; run it with
// `npm test -- bench/datascale.test.ts` (PostgreSQL only: the seed is PostgreSQL SQL).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  OPEN_BACKLOG,
  conversationId,
  conversationsFor,
  createTenants,
  externalIdOf,
  grow,
  type DataScaleSeed,
} from './lib/datascale-seed.js';
import { createBenchDatabase, type BenchDb } from './lib/seed.js';

let db: BenchDb;
let seed: DataScaleSeed;

before(async () => {
  db = await createBenchDatabase(
    process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  seed = await createTenants(db);
});
after(() => db.drop());

const one = async <T>(sql: string, ...params: unknown[]) =>
  (await db.database.prisma.$queryRawUnsafe<T[]>(sql, ...params))[0]!;

async function assertConsistent(messages: number) {
  const conversations = conversationsFor(messages);
  const counts = await one<{ m: number; c: number; e: number }>(
    `SELECT (SELECT count(*)::int FROM messages) AS m, (SELECT count(*)::int FROM conversations) AS c,
            (SELECT count(*)::int FROM end_users) AS e`,
  );
  assert.deepEqual(counts, { m: messages, c: conversations, e: conversations });
  // seq is 1..n without gaps, n = last_seq, and the activity times are the last message's.
  const bad = await one<{ n: number }>(
    `SELECT count(*)::int AS n FROM conversations c
     LEFT JOIN (SELECT conversation_id, count(*) AS k, min(seq) AS lo, max(seq) AS hi,
                       count(DISTINCT seq) AS d, max(created_at) AS last
                FROM messages GROUP BY conversation_id) m ON m.conversation_id = c.id
     WHERE m.k IS NULL OR m.lo <> 1 OR m.hi <> m.k OR m.d <> m.k OR c.last_seq <> m.hi
        OR c.updated_at <> m.last OR c.last_message_at <> m.last`,
  );
  assert.equal(bad.n, 0, 'conversations whose numbering or last_seq is off');
  // Every message in a session of its own conversation, every row in one tenant.
  const strays = await one<{ n: number }>(
    `SELECT count(*)::int AS n FROM messages m
     LEFT JOIN conversation_sessions s ON s.id = m.session_id AND s.conversation_id = m.conversation_id
       AND s.organization_id = m.organization_id
     LEFT JOIN conversations c ON c.id = m.conversation_id AND c.organization_id = m.organization_id
     LEFT JOIN end_users e ON e.id = c.end_user_id AND e.organization_id = c.organization_id
     LEFT JOIN channels ch ON ch.id = c.channel_id AND ch.organization_id = c.organization_id
     WHERE s.id IS NULL OR c.id IS NULL OR e.id IS NULL OR ch.id IS NULL`,
  );
  assert.equal(strays.n, 0, 'messages outside their session, conversation or tenant');
  const sessions = await one<{ open: number; resolved: number; bare: number; agents: number }>(
    `SELECT count(*) FILTER (WHERE status = 'open')::int AS open,
            count(*) FILTER (WHERE status = 'resolved' AND resolved_at IS NOT NULL)::int AS resolved,
            (SELECT count(*)::int FROM conversations c WHERE NOT EXISTS
               (SELECT 1 FROM conversation_sessions s WHERE s.conversation_id = c.id)) AS bare,
            (SELECT count(*)::int FROM conversation_sessions s JOIN users u ON u.id = s.assigned_agent_id
               WHERE u.organization_id <> s.organization_id) AS agents
     FROM conversation_sessions`,
  );
  assert.equal(sessions.open, Math.min(OPEN_BACKLOG, conversations));
  assert.ok(sessions.resolved > 0, 'some sessions resolved');
  assert.equal(sessions.bare, 0, 'every conversation has a session');
  assert.equal(sessions.agents, 0, "agents are their own tenant's");
  const unread = await one<{ n: number }>(
    `SELECT count(*)::int AS n FROM messages WHERE sender_type = 'end_user' AND read_by = '{}'::jsonb`,
  );
  assert.ok(unread.n > 0, 'some visitor messages unread');
}

test('a tiny seed, grown once, is consistent; the ids are the ones the bench derives', async () => {
  await grow(db, seed, 1000);
  await assertConsistent(1000);
  await grow(db, seed, 3000);
  await assertConsistent(3000);
  const row = await one<{ external_id: string; organization_id: string }>(
    `SELECT e.external_id, c.organization_id::text AS organization_id
     FROM conversations c JOIN end_users e ON e.id = c.end_user_id WHERE c.id = $1::uuid`,
    conversationId(42),
  );
  assert.deepEqual(row, { external_id: externalIdOf(42), organization_id: seed.tenants[0]!.organizationId });
  // The triggers are on again: a message written the normal way takes the next number.
  const next = await one<{ seq: number; last_seq: number }>(
    `WITH m AS (
       INSERT INTO messages (id, organization_id, conversation_id, session_id, sender_type, sender_id, content)
       SELECT gen_random_uuid(), c.organization_id, c.id, s.id, 'end_user', 'x', 'after the seed'
       FROM conversations c JOIN conversation_sessions s ON s.conversation_id = c.id
       WHERE c.id = $1::uuid ORDER BY s.created_at DESC LIMIT 1 RETURNING seq)
     SELECT m.seq, c.last_seq FROM m, conversations c WHERE c.id = $1::uuid`,
    conversationId(42),
  );
  assert.equal(next.seq, next.last_seq + 1);
});
