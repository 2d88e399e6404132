// Conversation search for agents (`GET /api/conversations/search`), on PostgreSQL and PGlite: by
// the visitor's name, external_id, a tag, or message text (stemmed, and as prefixes), ranked, paged
// by cursor with no duplicates, scoped like the inbox list (organization and routing keys), with
// a marked snippet; bad input is 400. Bounded as the history grows: a common word ranks the newest
// messages (a common name or tag the newest visitors and sessions), a rare one the whole history
// through the full-text and trigram indexes, which the plan on 20k messages uses.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';
import type { UserRole } from '../generated/prisma/client.js';
import { COMMON_MATCHES, explainSearch, MARK_END, MARK_START, RECENT_MESSAGES } from './search.service.js';

type Hit = {
  conversation: { id: string; end_user: { display_name: string | null; external_id: string } };
  score: number;
  message_id: string | null;
  snippet: string | null;
};
type Page = { items: Hit[]; next_cursor: string | null };

for (const mode of dbModes) {
  describe(`conversation search on ${mode.name}`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(await mode.open());
    });
    after(async () => {
      await app.stop();
      await app.database.close();
    });

    async function member(orgId: string, o: { role?: UserRole; keys?: string[] } = {}) {
      const m = await createAgent(app.services, orgId, {
        role: o.role ?? 'agent',
        routingKeys: o.keys ?? [],
      });
      const session = await loginAgent(app.url, m.user.email, m.password);
      const http = agentHttp(app.url, session);
      const search = async (q: string, extra = '') => {
        const res = await http.get(`/api/conversations/search?q=${encodeURIComponent(q)}${extra}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body as Page;
      };
      return { ...m, http, search };
    }

    /** An organization with a conversation factory: the end user writes each of `says`. */
    async function shop() {
      const { org, channelId } = await createOrg(app.services);
      const conversation = async (
        o: { name?: string; externalId?: string; routingKey?: string; says?: string[] } = {},
      ) => {
        const c = await createConversation(app.services, {
          organizationId: org.id,
          channelId,
          ...(o.name ? { displayName: o.name } : {}),
          ...(o.externalId ? { externalId: o.externalId } : {}),
          ...(o.routingKey ? { routingKey: o.routingKey } : {}),
        });
        for (const content of o.says ?? ['hello']) {
          await app.services.messages.send(
            c.actor,
            message({ conversation_id: c.conversation.id, content, sender_type: 'end_user' }),
          );
        }
        return c.conversation.id;
      };
      return { org, channelId, conversation };
    }

    const idsOf = (p: Page) => p.items.map((h) => h.conversation.id);

    test('finds by name, external_id, tag and message text, with the list’s summary', async () => {
      const { org, conversation } = await shop();
      const ann = await member(org.id);
      const byName = await conversation({ name: 'Zelda Quartermain' });
      const byExternal = await conversation({ externalId: 'cust-8812', name: 'Someone' });
      const byTag = await conversation({ name: 'Tagged Person' });
      await app.services.conversations.updateTags(ann.actor, byTag, { add: ['vip-gold'], remove: [] });
      const byText = await conversation({ says: ['My parcel never arrived at the depot'] });

      const name = await ann.search('quarterm');
      assert.deepEqual(idsOf(name), [byName]);
      assert.equal(name.items[0]!.conversation.end_user.display_name, 'Zelda Quartermain');
      assert.equal(name.items[0]!.snippet, null, 'no message matched: no snippet');
      // The summary is the list's own shape for that conversation.
      const listed = (await ann.http.get('/api/conversations/?filter=all')).body as { id: string }[];
      assert.deepEqual(
        name.items[0]!.conversation,
        listed.find((c) => c.id === byName),
      );

      assert.deepEqual(idsOf(await ann.search('CUST-8812')), [byExternal]);
      assert.deepEqual(idsOf(await ann.search('vip-gold')), [byTag]);

      const text = await ann.search('parcel');
      assert.deepEqual(idsOf(text), [byText]);
      assert.equal(text.items[0]!.snippet, `My ${MARK_START}parcel${MARK_END} never arrived at the depot`);
      assert.ok(text.items[0]!.message_id);
      // Every word must be in the message; the order does not matter.
      assert.deepEqual(idsOf(await ann.search('depot parcel')), [byText]);
      assert.deepEqual(idsOf(await ann.search('parcel refund')), []);
      assert.deepEqual(idsOf(await ann.search('nothing-like-this')), []);
    });

    test('prefixes and word forms: "refu" and "refunds" find "refund"', async () => {
      const { org, conversation } = await shop();
      const ann = await member(org.id);
      const c = await conversation({ says: ['I would like a refund please'] });
      const other = await conversation({ says: ['Where can I find the reference number?'] });
      assert.deepEqual(idsOf(await ann.search('refu')), [c]);
      assert.deepEqual(idsOf(await ann.search('refunds')), [c]);
      assert.deepEqual(idsOf(await ann.search('Refund')), [c]);
      assert.deepEqual(new Set(idsOf(await ann.search('ref'))), new Set([c, other]));
      const hit = (await ann.search('refu')).items[0]!;
      assert.equal(hit.snippet, `I would like a ${MARK_START}refund${MARK_END} please`);
    });

    test('ranked: who the visitor is first, then the messages that say it most', async () => {
      const { org, conversation } = await shop();
      const ann = await member(org.id);
      const once = await conversation({
        says: ['The invoice is fine but the shipping address on the order was wrong and I need help'],
      });
      const often = await conversation({ says: ['Invoice, invoice: where is my invoice?'] });
      const named = await conversation({ name: 'Invoice Department', says: ['hi'] });
      const page = await ann.search('invoice');
      assert.deepEqual(idsOf(page), [named, often, once]);
      assert.ok(page.items[0]!.score > page.items[1]!.score && page.items[1]!.score > page.items[2]!.score);
    });

    test('paged by cursor: every hit once, in the order of one big page', async () => {
      const { org, conversation } = await shop();
      const ann = await member(org.id);
      const made = new Set<string>();
      // Same text everywhere: equal scores, so the tie-break order is what is paged.
      for (let i = 0; i < 23; i++) made.add(await conversation({ says: [`Question about warranty ${i}`] }));
      const whole = await ann.search('warranty', '&limit=50');
      assert.equal(whole.items.length, 23);
      assert.equal(whole.next_cursor, null);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const extra: string = `&limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await ann.search('warranty', extra);
        seen.push(...idsOf(page));
        cursor = page.next_cursor;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual(seen, idsOf(whole));
      assert.equal(new Set(seen).size, 23);
      assert.deepEqual(new Set(seen), made);
    });

    test('scoped like the inbox: routing keys and organizations', async () => {
      const { org, conversation } = await shop();
      const op7 = await member(org.id, { keys: ['store-7'] });
      const op12 = await member(org.id, { keys: ['store-12'] });
      const admin = await member(org.id, { role: 'admin' });
      const c7 = await conversation({
        routingKey: 'store-7',
        name: 'Kestrel Seven',
        says: ['broken kettle'],
      });
      const c12 = await conversation({
        routingKey: 'store-12',
        name: 'Kestrel Twelve',
        says: ['broken kettle'],
      });
      const plain = await conversation({ name: 'Kestrel Plain', says: ['broken kettle'] });
      for (const q of ['kettle', 'kestrel', 'kest']) {
        assert.deepEqual(idsOf(await op7.search(q)), [c7], `store-7 operator, ${q}`);
        assert.deepEqual(idsOf(await op12.search(q)), [c12], `store-12 operator, ${q}`);
        assert.deepEqual(new Set(idsOf(await admin.search(q))), new Set([c7, c12, plain]), `admin, ${q}`);
      }
      // A tag on another queue's conversation is not a way in either.
      await app.services.conversations.updateTags(admin.actor, c12, { add: ['secret-tag'], remove: [] });
      assert.deepEqual(idsOf(await op7.search('secret-tag')), []);

      // Another tenant with the same words and names never appears, for anyone.
      const other = await shop();
      const stranger = await member(other.org.id, { role: 'owner' });
      const theirs = await other.conversation({ name: 'Kestrel Other', says: ['broken kettle'] });
      assert.deepEqual(idsOf(await stranger.search('kettle')), [theirs]);
      assert.ok(!idsOf(await admin.search('kettle')).includes(theirs));
    });

    test('snippets are text: markup stays literal, forged markers are dropped', async () => {
      const { org, conversation } = await shop();
      const ann = await member(org.id);
      await conversation({
        says: [`<img src=x onerror=alert(1)> ${MARK_START}fake${MARK_END} voucher code`],
      });
      const hit = (await ann.search('voucher')).items[0]!;
      assert.equal(hit.snippet, `<img src=x onerror=alert(1)> fake ${MARK_START}voucher${MARK_END} code`);
      // A long message: the fragment around the match, with "…" where the text goes on.
      const words = Array.from({ length: 60 }, (_, i) => `word${i}`);
      await conversation({ says: [[...words.slice(0, 30), 'gazebo', ...words.slice(30)].join(' ')] });
      const long = (await ann.search('gazebo')).items[0]!.snippet!;
      assert.match(long, new RegExp(`^… (word\\d+ )+${MARK_START}gazebo${MARK_END}( word\\d+)+ …$`));
    });

    test('a common word ranks the newest messages; a rare one reaches back through the whole history', async () => {
      const { org, conversation } = await shop();
      const ann = await member(org.id);
      const db = app.database.prisma;
      const oldest = await conversation({ says: ['Is my order with the zephyr courier?'] });
      await db.$executeRaw`UPDATE messages SET created_at = now() - interval '1 day' WHERE conversation_id = ${oldest}::uuid`;
      const busy: string[] = [];
      for (let i = 0; i < 25; i++) busy.push(await conversation());
      // More than RECENT_MESSAGES newer messages that all say "order", an hour ago.
      await db.$executeRaw`
        INSERT INTO messages (id, organization_id, conversation_id, session_id, sender_type, sender_id, content, created_at)
        SELECT gen_random_uuid(), ${org.id}::uuid, s.conversation_id, s.id, 'end_user', 'seed',
          'Where is order ' || g || '?', now() - interval '1 hour' + g * interval '1 millisecond'
        FROM generate_series(1, ${RECENT_MESSAGES}) g
        JOIN (SELECT s.id, s.conversation_id, row_number() OVER (ORDER BY s.conversation_id) - 1 AS k
              FROM conversation_sessions s WHERE s.conversation_id = ANY(${busy}::uuid[])) s ON s.k = g % 25`;
      const newest = await conversation({ says: ['My order arrived broken'] });

      // Every page of the common word: the newest conversations, never the one whose only "order"
      // is older than the newest RECENT_MESSAGES messages; and the pages end.
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const extra: string = `&limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await ann.search('order', extra);
        seen.push(...idsOf(page));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      assert.equal(cursor, null, 'the last page has no next_cursor');
      assert.equal(new Set(seen).size, seen.length, 'every hit once');
      assert.deepEqual(new Set(seen), new Set([newest, ...busy]));
      assert.ok(!seen.includes(oldest));

      // Fewer than COMMON_MATCHES recent matches: the full-text index, over the whole history.
      assert.ok(COMMON_MATCHES > 1);
      assert.deepEqual(idsOf(await ann.search('zephyr')), [oldest]);
      assert.deepEqual(idsOf(await ann.search('order zephyr')), [oldest]);
      const broken = await ann.search('broken');
      assert.deepEqual(idsOf(broken), [newest]);
      assert.equal(broken.items[0]!.snippet, `My order arrived ${MARK_START}broken${MARK_END}`);
    });

    test('names and external ids match inside from three characters, shorter at the start; tags by prefix', async () => {
      const { org, conversation } = await shop();
      const ann = await member(org.id);
      const zelda = await conversation({ name: 'Zelda Quartermain', externalId: 'crm-AB12' });
      const abe = await conversation({ name: 'Abe Lincoln', says: ['hi'] });
      assert.deepEqual(idsOf(await ann.search('termai')), [zelda]);
      assert.deepEqual(idsOf(await ann.search('b12')), [zelda]);
      assert.deepEqual(idsOf(await ann.search('ZELDA QUARTERMAIN')), [zelda]);
      // Two characters: the start of the name or external id only ("ab" is inside "crm-ab12").
      assert.deepEqual(idsOf(await ann.search('Ab')), [abe]);
      assert.deepEqual(idsOf(await ann.search('cr')), [zelda]);
      assert.deepEqual(idsOf(await ann.search('da')), []);
      await app.services.conversations.updateTags(ann.actor, abe, {
        add: ['Priority Gold', 'returns'],
        remove: [],
      });
      assert.deepEqual(idsOf(await ann.search('priority')), [abe]);
      assert.deepEqual(idsOf(await ann.search('pr')), [abe]);
      assert.deepEqual(idsOf(await ann.search('priority gold')), [abe]);
      assert.deepEqual(idsOf(await ann.search('RET')), [abe]);
      // A tag matches from its start, and one tag at a time.
      assert.deepEqual(idsOf(await ann.search('gold')), []);
      assert.deepEqual(idsOf(await ann.search('gold,returns')), []);
    });

    test('bad input is 400 and names the parameter; no session is 401', async () => {
      const { org } = await shop();
      const ann = await member(org.id);
      const cases = [
        '',
        '?q=',
        '?q=%20%20',
        `?q=${'a'.repeat(201)}`,
        '?q=ok&limit=0',
        '?q=ok&limit=51',
        '?q=ok&cursor=not-a-cursor',
        `?q=ok&cursor=${Buffer.from('1|x|y').toString('base64url')}`,
      ];
      for (const qs of cases) {
        const res = await ann.http.get(`/api/conversations/search${qs}`);
        assert.equal(res.status, 400, qs);
        assert.equal(res.body.error, 'request/invalid', qs);
        assert.match(res.body.message, /'(q|limit|cursor)'/, qs);
      }
      assert.equal((await ann.http.get(`/api/conversations/search?q=${'a'.repeat(200)}`)).status, 200);
      const anonymous = await fetch(`${app.url}/api/conversations/search?q=x`);
      assert.equal(anonymous.status, 401);
    });

    test('on 20k messages the ranking query uses the indexes, never every row', async () => {
      const { org, channelId } = await shop();
      const ann = await member(org.id);
      const db = app.database.prisma;
      await db.$executeRaw`
        INSERT INTO end_users (id, organization_id, external_id, display_name, updated_at)
        SELECT gen_random_uuid(), ${org.id}::uuid, 'seed-' || g, 'Seed ' || g, now()
        FROM generate_series(1, 500) g`;
      // And the visitors who never wrote: enough of them that reading every one would cost more.
      await db.$executeRaw`
        INSERT INTO end_users (id, organization_id, external_id, display_name, updated_at)
        SELECT gen_random_uuid(), ${org.id}::uuid, 'quiet-' || g, 'Quiet Visitor ' || g, now()
        FROM generate_series(1, 20000) g`;
      await db.$executeRaw`
        INSERT INTO conversations (id, organization_id, channel_id, end_user_id)
        SELECT gen_random_uuid(), ${org.id}::uuid, ${channelId}::uuid, e.id FROM end_users e
        WHERE e.organization_id = ${org.id}::uuid AND e.external_id LIKE 'seed-%'`;
      await db.$executeRaw`
        INSERT INTO conversation_sessions (id, organization_id, conversation_id, updated_at)
        SELECT gen_random_uuid(), ${org.id}::uuid, c.id, now() FROM conversations c WHERE c.organization_id = ${org.id}::uuid`;
      // Earlier, resolved sessions: more than the newest RECENT_SESSIONS.
      await db.$executeRaw`
        INSERT INTO conversation_sessions (id, organization_id, conversation_id, status, created_at, updated_at)
        SELECT gen_random_uuid(), ${org.id}::uuid, c.id, 'resolved'::"SessionStatus", now() - g * interval '1 hour', now()
        FROM conversations c, generate_series(1, 40) g WHERE c.organization_id = ${org.id}::uuid`;
      await db.$executeRaw`
        INSERT INTO messages (id, organization_id, conversation_id, session_id, sender_type, sender_id, content)
        SELECT gen_random_uuid(), ${org.id}::uuid, s.conversation_id, s.id, 'end_user', 'seed',
          'order ' || g || ' status ' || md5(s.id::text || g) || CASE WHEN g = 7 AND abs(hashtext(s.id::text)) % 50 = 0 THEN ' zanzibar' ELSE '' END
        FROM conversation_sessions s, generate_series(1, 40) g
        WHERE s.organization_id = ${org.id}::uuid AND s.status = 'open'`;
      assert.equal(await db.message.count({ where: { organizationId: org.id } }), 20_000);
      await db.$executeRawUnsafe('ANALYZE messages');
      await db.$executeRawUnsafe('ANALYZE conversations');
      // VACUUM moves the new rows out of the GIN indexes' pending lists, as autovacuum would.
      await db.$executeRawUnsafe('VACUUM ANALYZE end_users');
      await db.$executeRawUnsafe('VACUUM ANALYZE conversation_sessions');
      const plan = await explainSearch(app.database.prisma, ann.actor, 'zanzibar');
      console.log(`EXPLAIN on ${mode.name}, 20k messages:\n${plan}`);
      if (mode.name === 'postgres') {
        // The newest messages by the tenant's index, the rare word's by the full-text one.
        assert.match(plan, /Index Scan using messages_organization_id_created_at_id_idx on messages/);
        assert.match(plan, /Bitmap Index Scan on messages_search_idx/);
        assert.doesNotMatch(plan, /Seq Scan on messages/);
        // Names, external ids and tags: their trigram indexes, never every row of the tenant.
        assert.match(plan, /Bitmap Index Scan on end_users_display_name_trgm_idx/);
        assert.match(plan, /Bitmap Index Scan on end_users_external_id_trgm_idx/);
        assert.match(plan, /Bitmap Index Scan on conversation_sessions_search_tags_idx/);
        // A common name or tag: the tenant's newest visitors and sessions, walked by index.
        assert.match(plan, /Index Scan using end_users_organization_id_created_at_id_idx/);
        assert.match(plan, /Index Scan using conversation_sessions_organization_id_created_at_id_idx/);
        assert.doesNotMatch(plan, /Seq Scan on (end_users|conversation_sessions)/);
      }
      // And the answer is right on that data too.
      const found = await ann.search('zanzibar');
      const expected = await db.message.findMany({
        where: { organizationId: org.id, content: { contains: 'zanzibar' } },
        select: { conversationId: true },
        distinct: ['conversationId'],
      });
      assert.deepEqual(new Set(idsOf(found)), new Set(expected.map((m) => m.conversationId)));
    });
  });
}
