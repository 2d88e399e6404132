// The migrated database matches prisma/schema.prisma: every table, column, type, nullability,
// enum and index the schema declares exists, nothing else does, and every model round-trips
// through the generated client. Runs on PostgreSQL and on PGlite.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import internals from '@prisma/internals';
import { encryptSecret, randomToken } from '../src/shared/crypto.js';
import type { Database } from '../src/shared/db.js';
import { paths } from '../src/shared/paths.js';
import { dbModes } from './helpers/db.js';

const schemaText = readFileSync(`${paths.migrations}/../schema.prisma`, 'utf8');
const { datamodel } = await internals.getDMMF({ datamodel: schemaText });

type Column = {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: string;
};
type Index = { table: string; name: string; unique: boolean; predicate: string | null; columns: string[] };

const scalarTypes: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Boolean: 'boolean',
  DateTime: 'timestamp with time zone',
  Json: 'jsonb',
  Float: 'double precision',
};

for (const mode of dbModes) {
  describe(`schema on ${mode.name}`, () => {
    let database: Database;
    let columns: Column[];
    let indexes: Index[];
    before(async () => {
      database = await mode.open();
      columns = await database.prisma.$queryRawUnsafe<Column[]>(
        `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
      );
      indexes = await database.prisma.$queryRawUnsafe<Index[]>(
        `SELECT t.relname AS table, i.relname AS name, ix.indisunique AS unique,
                pg_get_expr(ix.indpred, ix.indrelid) AS predicate,
                array(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public'`,
      );
    });
    after(() => database.close());

    test('every model field is a column of the right type and nullability, and no column is unknown', () => {
      const expected = new Set<string>();
      for (const model of datamodel.models) {
        const table = model.dbName ?? model.name;
        for (const field of model.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum')) {
          const name = field.dbName ?? field.name;
          expected.add(`${table}.${name}`);
          const col = columns.find((c) => c.table_name === table && c.column_name === name);
          assert.ok(col, `column ${table}.${name} is missing`);
          if (field.isList) {
            assert.equal(col.data_type, 'ARRAY', `${table}.${name} should be an array`);
          } else if (field.kind === 'enum') {
            assert.equal(col.udt_name, field.type, `${table}.${name} should be enum ${field.type}`);
          } else {
            const native = field.nativeType?.[0];
            const type = native === 'Uuid' ? 'uuid' : native === 'Date' ? 'date' : scalarTypes[field.type];
            assert.equal(col.data_type, type, `${table}.${name} type`);
          }
          // Prisma keeps list columns nullable; every other required field is NOT NULL.
          if (!field.isList)
            assert.equal(col.is_nullable, field.isRequired ? 'NO' : 'YES', `${table}.${name} nullability`);
        }
      }
      // Fields Prisma cannot read or write (`Unsupported("tsvector")`) are not in the DMMF: read them
      // from the schema's text.
      for (const [, block] of schemaText.matchAll(/^model \w+ \{\n([\s\S]*?)^\}/gm)) {
        const table = /@@map\("(\w+)"\)/.exec(block!)?.[1];
        for (const [, field, type] of block!.matchAll(/^\s+(\w+)\s+Unsupported\("(\w+)"\)/gm)) {
          const name = new RegExp(`^\\s+${field}\\s.*@map\\("(\\w+)"\\)`, 'm').exec(block!)?.[1] ?? field!;
          expected.add(`${table}.${name}`);
          const col = columns.find((c) => c.table_name === table && c.column_name === name);
          assert.equal(col?.udt_name, type, `${table}.${name} should be ${type}`);
        }
      }
      const unknown = columns.map((c) => `${c.table_name}.${c.column_name}`).filter((c) => !expected.has(c));
      assert.deepEqual(unknown, [], 'columns in the database that schema.prisma does not declare');
    });

    test('every enum has exactly the declared values', async () => {
      for (const e of datamodel.enums) {
        const rows = await database.prisma.$queryRawUnsafe<{ v: string }[]>(
          `SELECT e.enumlabel AS v FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = $1 ORDER BY e.enumsortorder`,
          e.name,
        );
        assert.deepEqual(
          rows.map((r) => r.v),
          e.values.map((v) => v.name),
          `enum ${e.name}`,
        );
      }
    });

    test('every declared index and unique constraint exists', () => {
      for (const idx of datamodel.indexes) {
        const model = datamodel.models.find((m) => m.name === idx.model)!;
        const table = model.dbName ?? model.name;
        const cols = idx.fields.map((f) => {
          const field = model.fields.find((mf) => mf.name === f.name)!;
          return field.dbName ?? field.name;
        });
        const found = indexes.find(
          (i) => i.table === table && !i.predicate && JSON.stringify(i.columns) === JSON.stringify(cols),
        );
        assert.ok(found, `${idx.type} index on ${table}(${cols.join(', ')}) is missing`);
        assert.equal(found.unique, idx.type !== 'normal', `${table}(${cols.join(', ')}) uniqueness`);
      }
    });

    test('inbox indexes and the partial unique rules exist', () => {
      const has = (table: string, cols: string[], predicate?: RegExp) =>
        indexes.some(
          (i) =>
            i.table === table &&
            JSON.stringify(i.columns) === JSON.stringify(cols) &&
            (predicate ? predicate.test(i.predicate ?? '') && i.unique : true),
        );
      assert.ok(has('conversation_sessions', ['organization_id', 'status', 'assigned_agent_id']));
      // A thread is read by number (history pages, the last message); nothing reads it by time.
      assert.ok(has('messages', ['conversation_id', 'seq']));
      assert.ok(!has('messages', ['conversation_id', 'created_at']));
      assert.ok(has('conversation_sessions', ['conversation_id'], /status.*open/));
      assert.ok(has('channels', ['bot_id'], /type.*webchat/));
      assert.ok(has('channels', ['bot_id'], /type.*mobile_sdk/));
      // The webhook outbox: what is due, and each conversation's undelivered events in order.
      assert.ok(has('webhook_events', ['next_attempt_at']));
      assert.ok(has('webhook_events', ['conversation_id', 'position']));
    });

    test("a CORS check by origin alone can read the organizations' origin index", async () => {
      // What `allowedOrigins: { has }` asks (src/relay/visitor.service.ts, corsAllows); with the
      // sequential scan priced out, the plan shows whether an index answers it at all.
      const plan = await database.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
        return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(
          `EXPLAIN SELECT id FROM organizations WHERE allowed_origins @> ARRAY['https://a.example']::text[]`,
        );
      });
      assert.match(plan.map((r) => r['QUERY PLAN']).join('\n'), /organizations_allowed_origins_idx/);
    });

    test('every model is written and read back through the generated client', async () => {
      const db = database.prisma;
      const key = Buffer.alloc(32, 7);
      const org = await db.organization.create({
        data: {
          name: 'Schema Co',
          widgetPublicKey: randomToken('pk'),
          tenantSecretEnc: encryptSecret(key, 'sk_x'),
          allowedOrigins: ['https://a.example'],
          config: { brand: { color: '#123456' } },
        },
      });
      assert.equal(org.rateLimitPerMin, 60);
      assert.equal(org.status, 'active');
      const user = await db.user.create({
        data: {
          organizationId: org.id,
          email: `${randomToken('u')}@example.com`.toLowerCase(),
          passwordHash: 'h',
          displayName: 'Ann',
          role: 'admin',
          routingKeys: ['store-1'],
        },
      });
      const apiKey = await db.apiKey.create({
        data: {
          organizationId: org.id,
          name: 'k',
          prefix: 'sbk_abc',
          keyHash: randomToken('h'),
          createdById: user.id,
        },
      });
      const bot = await db.bot.create({
        data: { organizationId: org.id, name: 'Bot', config: { greeting: 'hi' } },
      });
      const channel = await db.channel.create({
        data: { organizationId: org.id, botId: bot.id, type: 'mobile_sdk', name: 'Mobile' },
      });
      const embed = await db.embedToken.create({
        data: {
          organizationId: org.id,
          channelId: channel.id,
          name: 'e',
          prefix: 'ew_abcd',
          tokenHash: randomToken('h'),
          allowedOrigins: [],
        },
      });
      const push = await db.pushCredential.create({
        data: {
          organizationId: org.id,
          channelId: channel.id,
          provider: 'apns',
          publicConfig: { teamId: 'T' },
          secretEnc: encryptSecret(key, 'p8'),
        },
      });
      const endUser = await db.endUser.create({
        data: { organizationId: org.id, externalId: 'ext-1', displayName: 'Vi', metadata: { plan: 'pro' } },
      });
      const conv = await db.conversation.create({
        data: {
          organizationId: org.id,
          channelId: channel.id,
          endUserId: endUser.id,
          routingKey: 'store-1',
          mode: 'bot',
        },
      });
      const now = new Date(Math.floor(Date.now() / 1000) * 1000 + 123);
      const session = await db.conversationSession.create({
        data: {
          organizationId: org.id,
          conversationId: conv.id,
          assignedAgentId: user.id,
          tags: ['billing'],
          firstMessageAt: now,
          assignedAt: now,
        },
      });
      const msg = await db.message.create({
        data: {
          organizationId: org.id,
          conversationId: conv.id,
          sessionId: session.id,
          senderType: 'end_user',
          senderId: 'ext-1',
          contentType: 'quick_button',
          content: 'Pick',
          richMedia: { buttons: [{ label: 'Yes', value: 'yes' }] },
          clientMsgId: 'c1',
        },
      });
      const device = await db.deviceToken.create({
        data: {
          organizationId: org.id,
          endUserId: endUser.id,
          channelId: channel.id,
          platform: 'fcm',
          token: 'tok',
        },
      });
      const httpSession = await db.httpSession.create({
        data: { id: randomToken('s'), data: { userId: user.id }, expiresAt: now },
      });

      const back = await db.organization.findUniqueOrThrow({
        where: { id: org.id },
        include: {
          users: true,
          apiKeys: true,
          bots: true,
          channels: true,
          embedTokens: true,
          pushCreds: true,
          endUsers: true,
          conversations: true,
          sessions: true,
          messages: true,
          deviceTokens: true,
        },
      });
      assert.deepEqual(back.allowedOrigins, ['https://a.example']);
      assert.deepEqual(back.config, { brand: { color: '#123456' } });
      assert.deepEqual(back.users[0], user);
      assert.deepEqual(back.apiKeys[0], apiKey);
      assert.deepEqual(back.bots[0], bot);
      assert.deepEqual(back.channels[0], channel);
      assert.deepEqual(back.embedTokens[0], embed);
      assert.deepEqual(back.pushCreds[0], push);
      assert.deepEqual(back.endUsers[0], endUser);
      // The message's insert numbered it and bumped its conversation (the seq trigger).
      const { lastSeq, updatedAt, lastMessageAt, ...convRest } = back.conversations[0]!;
      assert.deepEqual(
        { ...convRest, lastSeq: conv.lastSeq, updatedAt: conv.updatedAt, lastMessageAt: conv.lastMessageAt },
        conv,
      );
      assert.equal(lastSeq, 1);
      assert.deepEqual(updatedAt, msg.createdAt);
      assert.deepEqual(lastMessageAt, msg.createdAt);
      assert.deepEqual(back.sessions[0], session);
      assert.equal(back.sessions[0]!.firstMessageAt!.getTime(), now.getTime(), 'millisecond precision kept');
      assert.deepEqual(back.messages[0], msg);
      assert.equal(msg.seq, 1);
      assert.deepEqual(back.messages[0]!.readBy, {});
      assert.deepEqual(back.deviceTokens[0], device);
      assert.deepEqual(await db.httpSession.findUnique({ where: { id: httpSession.id } }), httpSession);
    });

    test('the database refuses a second open session and a second mobile channel per bot', async () => {
      const db = database.prisma;
      const org = await db.organization.create({
        data: { name: 'Rules', widgetPublicKey: randomToken('pk'), tenantSecretEnc: 'x' },
      });
      const bot = await db.bot.create({ data: { organizationId: org.id, name: 'B' } });
      const channel = await db.channel.create({
        data: { organizationId: org.id, botId: bot.id, type: 'webchat', name: 'W' },
      });
      await assert.rejects(
        db.channel.create({ data: { organizationId: org.id, botId: bot.id, type: 'webchat', name: 'W2' } }),
      );
      const endUser = await db.endUser.create({ data: { organizationId: org.id, externalId: 'e' } });
      await assert.rejects(
        db.endUser.create({ data: { organizationId: org.id, externalId: 'e' } }),
        'external_id unique per org',
      );
      const conv = await db.conversation.create({
        data: { organizationId: org.id, channelId: channel.id, endUserId: endUser.id },
      });
      await assert.rejects(
        db.conversation.create({
          data: { organizationId: org.id, channelId: channel.id, endUserId: endUser.id },
        }),
        'one conversation per end user per channel',
      );
      const first = await db.conversationSession.create({
        data: { organizationId: org.id, conversationId: conv.id },
      });
      await assert.rejects(
        db.conversationSession.create({ data: { organizationId: org.id, conversationId: conv.id } }),
      );
      await db.conversationSession.update({
        where: { id: first.id },
        data: { status: 'resolved', resolvedAt: new Date() },
      });
      const second = await db.conversationSession.create({
        data: { organizationId: org.id, conversationId: conv.id },
      });
      assert.equal(second.status, 'open');
      const m = {
        organizationId: org.id,
        conversationId: conv.id,
        sessionId: second.id,
        senderType: 'end_user' as const,
        senderId: 'e',
      };
      await db.message.create({ data: { ...m, clientMsgId: 'same' } });
      await assert.rejects(
        db.message.create({ data: { ...m, clientMsgId: 'same' } }),
        'client_msg_id unique per conversation',
      );
      await db.message.create({ data: m });
      await db.message.create({ data: m });
      assert.equal(await db.message.count({ where: { conversationId: conv.id } }), 3);
    });
  });
}
