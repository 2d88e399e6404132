// Where persistence time goes: the same message row written by a plain `pg` prepared INSERT, by a
// Prisma `create`, and by the message service's whole send path (access check, idempotency
// lookup, transaction with the conversation lock and the session lookup, insert).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { sendMessageSchema } from '../../src/messages/messages.schemas.js';
import { createServices } from '../../src/services.js';
import { loadConfig } from '../../src/config.js';
import { openPostgres } from '../../src/shared/db.js';
import type { EndUserActor } from '../../src/shared/auth/actor.js';
import { createEventBus } from '../../src/shared/events.js';
import { round } from '../lib/stats.js';
import { BENCH_SECRETS, type Seed } from '../lib/seed.js';

export type OrmResult = { inserts_per_s: number; mean_ms: number };

async function timed(
  n: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<OrmResult> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await op(next++);
    }),
  );
  const ms = performance.now() - t0;
  return { inserts_per_s: Math.round((n / ms) * 1000), mean_ms: round((ms / n) * concurrency, 2) };
}

/** `n` inserts each way, `concurrency` at a time, into the seeded organization's first conversation. */
export async function ormBaseline(url: string, s: Seed, n: number, concurrency = 8) {
  const database = openPostgres(url, { poolSize: concurrency });
  const config = loadConfig({ DATABASE_URL: url, ...BENCH_SECRETS });
  const services = createServices({ database, config, bus: createEventBus(() => {}) });
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  try {
    // Rows spread over many conversations: one conversation would serialise the service's
    // transactions on its row lock, which no real workload does.
    const convs: { v: Seed['visitors'][number]; actor: EndUserActor; sessionId: string }[] = [];
    for (const v of s.visitors.slice(0, 64)) {
      const conv = await database.prisma.conversation.findUniqueOrThrow({ where: { id: v.conversationId } });
      const actor = {
        kind: 'end_user' as const,
        organizationId: s.organizationId,
        endUserId: conv.endUserId,
        externalId: v.externalId,
      };
      // Opens the session the rows belong to.
      const first = await services.messages.send(
        actor,
        sendMessageSchema.parse({
          conversation_id: v.conversationId,
          content: 'warm-up',
          sender_type: 'end_user',
        }),
      );
      convs.push({ v, actor, sessionId: first.message.sessionId });
    }
    const pick = (i: number) => convs[i % convs.length]!;
    const row = (tag: string, i: number) => ({
      organizationId: s.organizationId,
      conversationId: pick(i).v.conversationId,
      sessionId: pick(i).sessionId,
      senderType: 'end_user' as const,
      senderId: pick(i).v.externalId,
      contentType: 'text' as const,
      content: `orm ${tag} ${i}`,
      clientMsgId: `orm-${tag}-${i}`,
      createdAt: new Date(),
    });
    const sql = `INSERT INTO messages (id, organization_id, conversation_id, session_id, sender_type, sender_id,
      content_type, content, client_msg_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;
    // Warm both paths (connections, prepared plans, Prisma's query compiler) before timing.
    const pgInsert = (i: number, tag: string) => {
      const r = row(tag, i);
      return pool.query({
        name: 'bench-insert',
        text: sql,
        values: [
          randomUUID(),
          r.organizationId,
          r.conversationId,
          r.sessionId,
          r.senderType,
          r.senderId,
          r.contentType,
          r.content,
          r.clientMsgId,
          r.createdAt,
        ],
      });
    };
    const prismaCreate = (i: number, tag: string) => database.prisma.message.create({ data: row(tag, i) });
    // As a gateway calls it: the payload parsed, then the service.
    const serviceSend = (i: number, tag: string) =>
      services.messages.send(
        pick(i).actor,
        sendMessageSchema.parse({
          conversation_id: pick(i).v.conversationId,
          content: `orm ${tag} ${i}`,
          sender_type: 'end_user',
          client_msg_id: `orm-${tag}-${i}`,
        }),
      );
    await timed(100, concurrency, (i) => pgInsert(i, 'pgw'));
    await timed(100, concurrency, (i) => prismaCreate(i, 'prw'));
    await timed(100, concurrency, (i) => serviceSend(i, 'svw'));
    const pgRes = await timed(n, concurrency, (i) => pgInsert(i, 'pg'));
    const prismaRes = await timed(n, concurrency, (i) => prismaCreate(i, 'pr'));
    const serviceRes = await timed(n, concurrency, (i) => serviceSend(i, 'sv'));
    return {
      n,
      concurrency,
      pg: pgRes,
      prisma: prismaRes,
      service_send: serviceRes,
      prisma_vs_pg: round(prismaRes.inserts_per_s / pgRes.inserts_per_s, 2),
      service_vs_pg: round(serviceRes.inserts_per_s / pgRes.inserts_per_s, 2),
    };
  } finally {
    await pool.end();
    await database.close();
  }
}
