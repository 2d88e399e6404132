import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { servicesFor } from '../../test/helpers/services.js';
import type { ConversationUpdated } from './realtime.contract.js';
import {
  connectSocket,
  emitAck,
  eventually,
  nextEvent,
  record,
  type Ack,
} from '../../test/helpers/sockets.js';

const MESSAGE_KEYS = [
  'client_msg_id',
  'content',
  'content_type',
  'conversation_id',
  'created_at',
  'id',
  'rich_media',
  'sender_id',
  'sender_type',
  'seq',
  'session_id',
].sort();

type Msg = { id: string; content: string; sender_type: string; session_id: string; [k: string]: unknown };

// One app per database mode: PostgreSQL with Redis (adapter, presence and limits in Redis), and
// the embedded database without Redis (in-memory equivalents).
for (const mode of dbModes) {
  const withRedis = mode.name === 'postgres';
  describe(`realtime on ${mode.name}${withRedis ? ' + Redis' : ''}`, () => {
    let app: TestApp;
    const sockets: Socket[] = [];
    const env = {
      END_USER_RATE_LIMIT: '5',
      TYPING_TIMEOUT_S: '1',
      REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}`,
    };
    before(async () => {
      app = await startApp(await mode.open(), { redis: withRedis, env });
    });
    after(async () => {
      for (const s of sockets) s.disconnect();
      await app.stop();
      await app.database.close();
    });

    // The embedded database is slow to start and the socket layer is the same on it; there it runs
    // only what differs without Redis (in-memory presence and limiter) and the database paths.
    const both = { skip: false };
    const pgOnly = { skip: withRedis ? false : 'covered on postgres' };

    const open = async (opts: Parameters<typeof connectSocket>[1] = {}) => {
      const s = await connectSocket(app.url, opts);
      sockets.push(s);
      return s;
    };

    /** An organization with agents signed in over HTTP and a visitor's conversation. */
    async function world(agentCount = 1) {
      const { org, channelId } = await createOrg(app.services);
      const agents = [];
      for (let i = 0; i < agentCount; i++) {
        const a = await createAgent(app.services, org.id);
        const login = await loginAgent(app.url, a.user.email, a.password);
        agents.push({ ...a, ...login, socket: await open({ cookie: login.cookie }) });
      }
      const conv = await createConversation(app.services, { organizationId: org.id, channelId });
      const visitor = await open();
      return { org, channelId, agents, conv, visitor };
    }

    const send = (socket: Socket, payload: Record<string, unknown>) =>
      emitAck(socket, 'send_message', payload);
    const visitorSend = (w: Awaited<ReturnType<typeof world>>, content: string, extra = {}) =>
      send(w.visitor, {
        conversation_id: w.conv.conversation.id,
        content,
        content_type: 'text',
        sender_type: 'end_user',
        external_id: w.conv.externalId,
        ...extra,
      });

    test('the assignment flow: queue, claim, both ways, resolve, a new session', both, async () => {
      const w = await world(2);
      const [ann, bob] = w.agents as [(typeof w.agents)[0], (typeof w.agents)[0]];
      const convId = w.conv.conversation.id;
      for (const a of [ann, bob]) assert.equal((await emitAck(a.socket, 'join_queue')).ok, true);
      const annUpdates = record(ann.socket, 'conversation_updated');
      const bobAssigned = record(bob.socket, 'conversation_assigned');
      const visitorMessages = record<Msg>(w.visitor, 'message_received');

      const joined = await emitAck(w.visitor, 'join_conversation', {
        conversation_id: convId,
        external_id: w.conv.externalId,
      });
      assert.deepEqual(joined, {
        ok: true,
        conversation_id: convId,
        missed: 0,
        last_seq: 0,
        has_more: false,
        delivery: {
          agent_delivered_seq: 0,
          visitor_delivered_seq: 0,
          agent_read_seq: 0,
          agent_read_at: null,
          visitor_read_seq: 0,
          visitor_read_at: null,
        },
      });

      // First end-user message: a session opens and the queue hears of it.
      const queued = nextEvent<ConversationUpdated>(bob.socket, 'conversation_updated');
      const first = await visitorSend(w, 'Hello, I need help');
      assert.equal(first.ok, true);
      const { conversation: row, ...news } = await queued;
      assert.deepEqual(news, {
        conversation_id: convId,
        sender_type: 'end_user',
        content_type: 'text',
        content: 'Hello, I need help',
      });
      // With its row as the inbox list shows it, so no inbox reads its list again for it.
      const listed = await fetch(`${app.url}/api/conversations/?filter=unassigned`, {
        headers: { cookie: bob.cookie },
      });
      const listRow = ((await listed.json()) as { id: string }[]).find((c) => c.id === convId);
      assert.ok(listRow, 'the list holds the new conversation');
      assert.equal(row?.active_session?.assigned_agent_id, null);
      assert.equal(row?.last_message?.content, 'Hello, I need help');
      assert.deepEqual(row, listRow);
      await eventually(() => visitorMessages.length === 1);
      const m1 = visitorMessages[0]!;
      assert.deepEqual(Object.keys(m1).sort(), MESSAGE_KEYS);
      assert.equal(m1.conversation_id, convId);
      assert.equal(m1.sender_type, 'end_user');
      assert.equal(m1.sender_id, w.conv.externalId);
      assert.equal(m1.content, 'Hello, I need help');
      assert.equal(m1.rich_media, null);
      assert.deepEqual(first.message, m1);

      // Who held the session as each message was stored: what queue activity tells inboxes.
      const holderOf = new Map<string, string | null | undefined>();
      const offHolders = app.bus.subscribe('message.created', (e) => {
        holderOf.set(e.message.content, e.conversation.holderId);
      });
      // A second message in the same session is not news for the queue.
      await visitorSend(w, 'Anyone there?');
      await eventually(() => visitorMessages.length === 2);
      assert.equal(holderOf.get('Anyone there?'), null, 'stored while it waited in the queue');

      // Claim: the queue sees it leave; the loser gets `error` (sender only).
      const annErrors = record(ann.socket, 'error');
      const bobErrors = record(bob.socket, 'error');
      const claimed = await emitAck(ann.socket, 'claim_conversation', { conversation_id: convId });
      assert.equal(claimed.ok, true);
      assert.equal(claimed.assigned_agent_id, ann.userId);
      await eventually(() => bobAssigned.length === 1);
      // From the queue (no previous holder), in the common queue.
      assert.deepEqual(bobAssigned[0], {
        conversation_id: convId,
        assigned_to: ann.userId,
        session_id: claimed.session_id,
        routing_key: null,
        previous_agent_id: null,
      });
      const lost = await emitAck(bob.socket, 'claim_conversation', { conversation_id: convId });
      assert.equal(lost.ok, false);
      assert.equal(lost.error, 'conversation/already_assigned');
      await eventually(() => bobErrors.length === 1);
      assert.deepEqual(Object.keys(bobErrors[0]!), ['message']);
      assert.equal(annErrors.length, 0);

      // Messages both ways; the claimer is in conv:{id} without asking.
      const annMessages = record<Msg>(ann.socket, 'message_received');
      const reply = await send(ann.socket, {
        conversation_id: convId,
        content: 'Hi! How can I help?',
        content_type: 'text',
        sender_type: 'agent',
      });
      assert.equal(reply.ok, true);
      await eventually(() => visitorMessages.length === 3 && annMessages.length === 1);
      assert.equal(visitorMessages[2]!.sender_type, 'agent');
      assert.equal(visitorMessages[2]!.sender_id, ann.userId);
      await visitorSend(w, 'My invoice is wrong');
      await eventually(() => annMessages.length === 2);
      assert.equal(annMessages[1]!.content, 'My invoice is wrong');
      assert.equal(holderOf.get('My invoice is wrong'), ann.userId, 'stored while Ann held it');
      offHolders();

      // Tags are for agents: the queue hears of them, the visitor does not.
      const visitorTagged = record(w.visitor, 'conversation_tagged');
      const tagged = nextEvent(bob.socket, 'conversation_tagged');
      const tagRes = await fetch(`${app.url}/api/conversations/${convId}/tags`, {
        method: 'POST',
        headers: { cookie: ann.cookie, 'x-csrftoken': ann.csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ add: ['vip'] }),
      });
      assert.equal(tagRes.status, 200);
      assert.deepEqual((await tagged).tags, ['vip']);

      // Resolve over REST ends the session; everyone in the room hears it.
      const resolvedEvent = nextEvent(w.visitor, 'conversation_resolved');
      const queueResolved = nextEvent(bob.socket, 'conversation_resolved');
      const res = await fetch(`${app.url}/api/conversations/${convId}/resolve`, {
        method: 'POST',
        headers: { cookie: ann.cookie, 'x-csrftoken': ann.csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ tags: ['billing'] }),
      });
      assert.equal(res.status, 200);
      const resolved = (await res.json()) as { session_id: string; resolved_at: string };
      const toVisitor = {
        conversation_id: convId,
        session_id: resolved.session_id,
        resolved_at: resolved.resolved_at,
      };
      assert.deepEqual(await resolvedEvent, toVisitor);
      // The queue's agents also learn who held it and its queue; the visitor does not.
      assert.deepEqual(await queueResolved, {
        ...toVisitor,
        routing_key: null,
        previous_agent_id: ann.userId,
      });

      assert.equal(visitorTagged.length, 0);

      // The next end-user message opens a new session, which the queue hears of again.
      const again = nextEvent(ann.socket, 'conversation_updated', (p) => p.content === 'Back again');
      const next = await visitorSend(w, 'Back again');
      await again;
      assert.notEqual((next.message as Msg).session_id, m1.session_id);
      assert.equal(annUpdates.filter((u) => u.conversation_id === convId).length, 2);
    });

    test(
      'joins sent together: each answered for its own conversation, a foreign one refused',
      both,
      async () => {
        const w = await world(1);
        const agent = w.agents[0]!.socket;
        // Conversations with 0, 1, 2 and 3 messages, so every answer's last_seq tells whose it is.
        const convs = [w.conv];
        for (let i = 1; i < 4; i++) {
          convs.push(
            await createConversation(app.services, { organizationId: w.org.id, channelId: w.channelId }),
          );
        }
        for (const [i, c] of convs.entries()) {
          const v = await open();
          const joined = await emitAck(v, 'join_conversation', {
            conversation_id: c.conversation.id,
            external_id: c.externalId,
          });
          assert.equal(joined.ok, true);
          for (let n = 0; n < i; n++) {
            const sent = await send(v, {
              conversation_id: c.conversation.id,
              content: `m${n}`,
              content_type: 'text',
              sender_type: 'end_user',
            });
            assert.equal(sent.ok, true);
          }
        }
        const other = await world(0);
        // All in one write: the server reads them in the same turn, the foreign ones among them.
        const acks = await Promise.all([
          ...convs.map((c) => emitAck(agent, 'join_conversation', { conversation_id: c.conversation.id })),
          emitAck(agent, 'join_conversation', { conversation_id: other.conv.conversation.id }),
          emitAck(agent, 'join_conversation', { conversation_id: randomUUID() }),
          emitAck(agent, 'join_conversation', { conversation_id: convs[2]!.conversation.id.toUpperCase() }),
        ]);
        assert.deepEqual(
          acks.slice(0, 4).map((a) => [a.ok, a.conversation_id, a.last_seq]),
          convs.map((c, i) => [true, c.conversation.id, i]),
        );
        for (const refused of acks.slice(4, 6)) {
          assert.deepEqual([refused.ok, refused.error], [false, 'conversation/not_found']);
        }
        assert.equal(acks[6]!.last_seq, 2);
        // The refused join put the agent in no room: a message there does not reach them.
        const heard = record<Msg>(agent, 'message_received');
        const theirs = await visitorSend(other, 'not for the other tenant');
        assert.equal(theirs.ok, true);
        const ours = await send(agent, {
          conversation_id: convs[1]!.conversation.id,
          content: 'reply',
          content_type: 'text',
          sender_type: 'agent',
        });
        assert.equal(ours.ok, true);
        await eventually(() => heard.some((m) => m.content === 'reply'));
        assert.deepEqual(
          heard.map((m) => m.content),
          ['reply'],
        );
      },
    );

    test(
      'authentication: end users only in their conversation, agents only in their organization',
      pgOnly,
      async () => {
        const w = await world(1);
        const other = await world(1);
        const convId = w.conv.conversation.id;
        const anon = await open();
        const errors = record(anon, 'error');

        for (const event of ['join_queue', 'join_org_presence']) {
          const a = await emitAck(anon, event);
          assert.deepEqual([a.ok, a.error], [false, 'auth/unauthenticated'], event);
        }
        const noAgent = await emitAck(anon, 'join_conversation', { conversation_id: convId });
        assert.equal(noAgent.error, 'auth/unauthenticated');
        const noClaim = await emitAck(anon, 'claim_conversation', { conversation_id: convId });
        assert.equal(noClaim.error, 'auth/unauthenticated');
        const fakeAgent = await send(anon, {
          conversation_id: convId,
          content: 'I am an agent, honest',
          sender_type: 'agent',
        });
        assert.equal(fakeAgent.error, 'auth/unauthenticated');
        await eventually(() => errors.length === 5);
        assert.ok(errors.every((e) => typeof e.message === 'string' && Object.keys(e).length === 1));

        // Someone else's external_id, or a conversation that is not theirs: 403, nothing joined.
        const wrong = await emitAck(anon, 'join_conversation', {
          conversation_id: convId,
          external_id: 'not-the-visitor',
        });
        assert.equal(wrong.error, 'auth/forbidden');
        const crossConv = await send(anon, {
          conversation_id: other.conv.conversation.id,
          content: 'hi',
          sender_type: 'end_user',
          external_id: w.conv.externalId,
        });
        assert.equal(crossConv.error, 'auth/forbidden');
        // A visitor of another conversation hears nothing of this one.
        await emitAck(other.visitor, 'join_conversation', {
          conversation_id: other.conv.conversation.id,
          external_id: other.conv.externalId,
        });
        const leaked = record(other.visitor, 'message_received');

        // Another organization's agent: "not found", never "forbidden".
        const stranger = other.agents[0]!;
        for (const [event, payload] of [
          ['join_conversation', { conversation_id: convId }],
          ['claim_conversation', { conversation_id: convId }],
          ['user_typing', { conversation_id: convId, sender_type: 'agent' }],
          ['mark_read', { conversation_id: convId, message_ids: [randomUUID()] }],
        ] as const) {
          const a = await emitAck(stranger.socket, event, payload);
          assert.deepEqual([a.ok, a.error], [false, 'conversation/not_found'], event);
        }
        const strangerSend = await send(stranger.socket, {
          conversation_id: convId,
          content: 'hello from elsewhere',
          sender_type: 'agent',
        });
        assert.equal(strangerSend.error, 'conversation/not_found');

        // An agent's cookie on a handshake from another site is ignored.
        const forged = await open({ cookie: w.agents[0]!.cookie, origin: 'https://evil.example' });
        assert.equal((await emitAck(forged, 'join_queue')).error, 'auth/unauthenticated');
        const sameSite = await open({ cookie: w.agents[0]!.cookie, origin: app.url });
        assert.equal((await emitAck(sameSite, 'join_queue')).ok, true);

        // The end user writes fine in their own conversation; nothing else was stored anywhere.
        assert.equal((await visitorSend(w, 'mine')).ok, true);
        const [agentW, agentO] = [w.agents[0]!.actor, other.agents[0]!.actor];
        const mine = await app.services.messages.history(agentW, convId, { limit: 50, offset: 0 });
        assert.deepEqual(
          mine.map((m) => m.content),
          ['mine'],
        );
        assert.equal(
          (await app.services.messages.history(agentO, other.conv.conversation.id, { limit: 50, offset: 0 }))
            .length,
          0,
        );
        assert.equal(leaked.length, 0);
      },
    );

    test(
      'every payload is validated: a bad one gets `error` naming the field and stores nothing',
      pgOnly,
      async () => {
        const w = await world(1);
        const convId = w.conv.conversation.id;
        const errors = record(w.visitor, 'error');
        const base = {
          conversation_id: convId,
          sender_type: 'end_user',
          external_id: w.conv.externalId,
        };
        const cases: [string, unknown, RegExp][] = [
          ['not an object', 'hello', /expected a JSON object/],
          ['no conversation', { ...base, conversation_id: undefined, content: 'x' }, /conversation_id/],
          ['conversation not a uuid', { ...base, conversation_id: 'abc', content: 'x' }, /conversation_id/],
          ['no sender_type', { ...base, sender_type: undefined, content: 'x' }, /sender_type/],
          ['unknown sender_type', { ...base, sender_type: 'bot', content: 'x' }, /sender_type/],
          ['unknown content_type', { ...base, content_type: 'video', content: 'x' }, /content_type/],
          ['empty text', { ...base, content: '   ' }, /content/],
          ['text too long', { ...base, content: 'x'.repeat(5001) }, /content/],
          ['end user without external_id', { ...base, external_id: undefined, content: 'x' }, /external_id/],
          [
            'image without url',
            { ...base, content_type: 'image', rich_media: { alt: 'x' } },
            /rich_media.url/,
          ],
          [
            'image with a javascript: url',
            { ...base, content_type: 'image', rich_media: { url: 'javascript:alert(1)' } },
            /rich_media.url/,
          ],
          [
            'file without filename',
            { ...base, content_type: 'file', rich_media: { url: 'https://example.com/a.pdf' } },
            /rich_media.filename/,
          ],
          [
            'file of negative size',
            {
              ...base,
              content_type: 'file',
              rich_media: { url: 'https://example.com/a.pdf', filename: 'a.pdf', size: -1 },
            },
            /rich_media.size/,
          ],
          [
            'no buttons',
            { ...base, content_type: 'quick_button', rich_media: { buttons: [] } },
            /rich_media.buttons/,
          ],
          [
            'eleven buttons',
            {
              ...base,
              content_type: 'quick_button',
              rich_media: {
                buttons: Array.from({ length: 11 }, (_, i) => ({ label: `${i}`, value: `${i}` })),
              },
            },
            /rich_media.buttons/,
          ],
          [
            'carousel card with a data: image',
            {
              ...base,
              content_type: 'carousel',
              rich_media: { cards: [{ title: 'A', image_url: 'data:image/png;base64,AAAA' }] },
            },
            /rich_media.cards.0.image_url/,
          ],
          [
            'dropdown without options',
            { ...base, content_type: 'dropdown', rich_media: { placeholder: 'pick' } },
            /rich_media.options/,
          ],
          ['rich_media on text', { ...base, content: 'x', rich_media: { url: 'https://a.b' } }, /rich_media/],
        ];
        for (const [name, payload, pattern] of cases) {
          const a = await emitAck(w.visitor, 'send_message', payload);
          assert.equal(a.ok, false, name);
          assert.equal(a.error, 'request/invalid', name);
          assert.match(String(a.message), pattern, name);
        }
        for (const [event, payload] of [
          ['join_conversation', { conversation_id: 42 }],
          ['leave_conversation', {}],
          ['user_typing', { conversation_id: convId, sender_type: 'robot' }],
          ['mark_read', { conversation_id: convId, message_ids: [] }],
          ['mark_read', { conversation_id: convId, message_ids: ['nope'] }],
          ['claim_conversation', 'x'],
        ] as const) {
          const a = await emitAck(w.visitor, event, payload);
          assert.deepEqual(
            [a.ok, a.error],
            [false, 'request/invalid'],
            `${event} ${JSON.stringify(payload)}`,
          );
        }
        await eventually(() => errors.length === cases.length + 6);
        assert.equal((await app.services.messages.recent(convId)).length, 0);
      },
    );

    test('rich media: every content_type goes through, `content` may be empty', pgOnly, async () => {
      const w = await world(1);
      const convId = w.conv.conversation.id;
      await emitAck(w.agents[0]!.socket, 'join_conversation', { conversation_id: convId });
      const agentSees = record<Msg>(w.agents[0]!.socket, 'message_received');
      const payloads: Record<string, unknown>[] = [
        {
          content_type: 'image',
          content: 'A view',
          rich_media: { url: 'https://example.com/p.jpg', alt: 'x' },
        },
        {
          content_type: 'file',
          content: 'invoice.pdf',
          rich_media: {
            url: 'https://example.com/files/invoice.pdf',
            filename: 'invoice.pdf',
            size: 204800,
            mime_type: 'application/pdf',
          },
        },
        {
          content_type: 'quick_button',
          content: 'Choose:',
          rich_media: { buttons: [{ label: 'Yes', value: 'yes' }] },
        },
        {
          content_type: 'carousel',
          content: '',
          rich_media: {
            cards: [
              {
                image_url: 'https://example.com/a.jpg',
                title: 'Product A',
                subtitle: 'Short',
                buttons: [{ label: 'Buy now', value: 'buy_A' }],
              },
            ],
          },
        },
        {
          content_type: 'dropdown',
          content: 'Region:',
          rich_media: { placeholder: '-- pick one --', options: [{ label: 'Europe', value: 'eu' }] },
        },
      ];
      for (const p of payloads) {
        const a = await send(w.visitor, {
          conversation_id: convId,
          sender_type: 'end_user',
          external_id: w.conv.externalId,
          ...p,
        });
        assert.equal(a.ok, true, String(p.content_type));
      }
      await eventually(() => agentSees.length === payloads.length);
      payloads.forEach((p, i) => {
        assert.equal(agentSees[i]!.content_type, p.content_type);
        assert.equal(agentSees[i]!.content, p.content);
        assert.deepEqual(agentSees[i]!.rich_media, p.rich_media);
      });
    });

    test(
      'queue activity: per message, or in batches for a socket that asked at the handshake',
      both,
      async () => {
        const w = await world(1);
        const live = w.agents[0]!;
        const batched = await open({ cookie: live.cookie, auth: { activity: 'batch' } });
        for (const s of [live.socket, batched]) assert.equal((await emitAck(s, 'join_queue')).ok, true);
        const liveSees = record<{ conversation_id: string }>(live.socket, 'conversation_activity');
        const liveBatches = record(live.socket, 'conversation_activity_batch');
        const batchedSees = record(batched, 'conversation_activity');
        const batches = record<{ items: { conversation_id: string; last_message: { content: string } }[] }>(
          batched,
          'conversation_activity_batch',
        );
        for (const text of ['one', 'two', 'three']) assert.equal((await visitorSend(w, text)).ok, true);
        await eventually(() => liveSees.length === 3 && batches.length > 0);
        await new Promise((r) => setTimeout(r, 250));
        // The latest of the conversation, in a batch or two (100 ms each): nothing per message.
        assert.equal(batchedSees.length, 0);
        assert.equal(liveBatches.length, 0);
        const items = batches.flatMap((b) => b.items);
        assert.ok(items.length >= 1 && items.length <= 3, `${items.length} items`);
        assert.equal(items.at(-1)!.conversation_id, w.conv.conversation.id);
        assert.equal(items.at(-1)!.last_message.content, 'three');
      },
    );

    test(
      'queue activity batches name the 50 newest conversations, count the older ones left out, and slow to one a second while the queue is busy',
      pgOnly,
      async () => {
        const w = await world(1);
        const live = w.agents[0]!;
        const batched = await open({ cookie: live.cookie, auth: { activity: 'batch' } });
        for (const s of [live.socket, batched]) assert.equal((await emitAck(s, 'join_queue')).ok, true);
        // 60 other conversations (only their events matter here: no rows needed).
        const others = Array.from({ length: 60 }, () => ({ id: randomUUID(), endUserId: randomUUID() }));
        // One real message's event, then 60 conversations moving within one batch's 100 ms.
        const created: Parameters<Parameters<typeof app.bus.subscribe<'message.created'>>[1]>[0][] = [];
        const off = app.bus.subscribe('message.created', (e) => void created.push(e));
        assert.equal((await visitorSend(w, 'first')).ok, true);
        await eventually(() => created.length === 1);
        off();
        await new Promise((r) => setTimeout(r, 250));
        const liveSees = record<{ conversation_id: string }>(live.socket, 'conversation_activity');
        const batches = record<{
          items: { conversation_id: string; last_message: { content: string } }[];
          omitted?: number;
          omitted_unassigned?: number;
          omitted_held?: number;
        }>(batched, 'conversation_activity_batch');
        const arrived: number[] = [];
        batched.on('conversation_activity_batch', () => arrived.push(Date.now()));
        const e = created[0]!;
        const move = (o: (typeof others)[number], content: string, holderId?: string | null) =>
          app.bus.publish('message.created', {
            ...e,
            conversation: { ...e.conversation, id: o.id, endUserId: o.endUserId, holderId },
            message: { ...e.message, id: randomUUID(), conversationId: o.id, content },
          });
        // Of the ten that will be left out: four wait in the queue, three are held, three not known.
        const holders = [null, null, null, null, live.userId, live.userId, live.userId];
        others.forEach((o, i) => move(o, `move ${i}`, holders[i]));
        await eventually(() => liveSees.length === 60 && batches.length > 0);
        await new Promise((r) => setTimeout(r, 250));
        // One batch: the newest 50, oldest first; the 10 before them counted, not sent.
        assert.equal(batches.length, 1);
        const [batch] = batches;
        assert.equal(batch!.omitted, 10);
        assert.equal(batch!.omitted_unassigned, 4);
        assert.equal(batch!.omitted_held, 3);
        assert.deepEqual(
          batch!.items.map((i) => i.last_message.content),
          others.slice(10).map((_, i) => `move ${i + 10}`),
        );
        assert.deepEqual(
          batch!.items.map((i) => i.conversation_id),
          others.slice(10).map((o) => o.id),
        );
        // Sockets that take one event per message still get every one.
        assert.deepEqual(
          liveSees.map((a) => a.conversation_id),
          others.map((o) => o.id),
        );

        // The queue is busy now: its next batch comes a second after that one at the earliest.
        move(others[0]!, 'busy');
        await eventually(() => batches.length === 2);
        assert.deepEqual(
          batches[1]!.items.map((i) => i.last_message.content),
          ['busy'],
        );
        assert.equal(batches[1]!.omitted, undefined);
        const gap = arrived[1]! - arrived[0]!;
        assert.ok(gap >= 800, `the busy queue's next batch came ${gap} ms after the full one`);
        // A quiet second later, activity is batched for 100 ms again.
        await new Promise((r) => setTimeout(r, 1100));
        const sent = Date.now();
        move(others[1]!, 'quiet');
        await eventually(() => batches.length === 3);
        assert.deepEqual(
          batches[2]!.items.map((i) => i.last_message.content),
          ['quiet'],
        );
        assert.ok(arrived[2]! - sent < 900, `a quiet queue's batch came ${arrived[2]! - sent} ms after`);
      },
    );

    test('end-user rate limit: the excess is dropped silently and counted', both, async () => {
      const w = await world(1);
      const convId = w.conv.conversation.id;
      await emitAck(w.agents[0]!.socket, 'join_conversation', { conversation_id: convId });
      const agentSees = record<Msg>(w.agents[0]!.socket, 'message_received');
      const errors = record(w.visitor, 'error');
      const droppedBefore = app.realtime.stats().droppedMessages;
      const acks: Ack[] = [];
      for (let i = 0; i < 7; i++) acks.push(await visitorSend(w, `flood ${i}`));
      assert.deepEqual(
        acks.map((a) => a.ok),
        [true, true, true, true, true, false, false],
      );
      assert.equal(acks[6]!.error, 'rate_limited');
      assert.equal(app.realtime.stats().droppedMessages - droppedBefore, 2);
      // Another visitor is not held back by this one.
      const other = await createConversation(app.services, {
        organizationId: w.org.id,
        channelId: w.channelId,
      });
      const otherAck = await send(w.visitor, {
        conversation_id: other.conversation.id,
        content: 'me too',
        sender_type: 'end_user',
        external_id: other.externalId,
      });
      assert.equal(otherAck.ok, true);
      // Agents are not limited.
      const agentAck = await send(w.agents[0]!.socket, {
        conversation_id: convId,
        content: 'ok',
        sender_type: 'agent',
      });
      assert.equal(agentAck.ok, true);
      await eventually(() => agentSees.length === 6);
      assert.deepEqual(
        agentSees.map((m) => m.content),
        ['flood 0', 'flood 1', 'flood 2', 'flood 3', 'flood 4', 'ok'],
      );
      assert.equal(errors.length, 0);
      assert.equal((await app.services.messages.recent(convId)).length, 6);
    });

    test(
      'client_msg_id: a retried send_message is stored once and broadcast again (clients de-duplicate by id)',
      pgOnly,
      async () => {
        const w = await world(1);
        const convId = w.conv.conversation.id;
        await emitAck(w.agents[0]!.socket, 'join_conversation', { conversation_id: convId });
        const agentSees = record<Msg>(w.agents[0]!.socket, 'message_received');
        const clientMsgId = randomUUID();
        const [a, b] = await Promise.all([
          visitorSend(w, 'only once', { client_msg_id: clientMsgId }),
          visitorSend(w, 'only once', { client_msg_id: clientMsgId }),
        ]);
        const c = await visitorSend(w, 'only once', { client_msg_id: clientMsgId });
        for (const x of [a, b, c]) assert.equal(x.ok, true);
        const ids = new Set([a, b, c].map((x) => (x.message as Msg).id));
        assert.equal(ids.size, 1);
        assert.deepEqual([a, b, c].map((x) => x.duplicate).sort(), [false, true, true]);
        // A later message proves every broadcast had its chance to arrive.
        await visitorSend(w, 'next');
        await eventually(() => agentSees.some((m) => m.content === 'next'));
        // Each answer is broadcast (the first may have been lost before it was): one id, one seq.
        assert.deepEqual(
          agentSees.map((m) => [m.content, m.client_msg_id, m.seq]),
          [
            ['only once', clientMsgId, 1],
            ['only once', clientMsgId, 1],
            ['only once', clientMsgId, 1],
            ['next', null, 2],
          ],
        );
        assert.equal((await app.services.messages.recent(convId)).length, 2);
      },
    );

    test(
      "a lost answer: the retry of a session's first message tells the queue (and an outreach's holder) again",
      pgOnly,
      async () => {
        const w = await world(2);
        const [ann, bob] = w.agents as [(typeof w.agents)[0], (typeof w.agents)[0]];
        const convId = w.conv.conversation.id;
        for (const a of [ann, bob]) assert.equal((await emitAck(a.socket, 'join_queue')).ok, true);
        const updates = record<ConversationUpdated>(bob.socket, 'conversation_updated');
        const assigned = record(bob.socket, 'conversation_assigned');
        // A node that stored the visitor's first message and died before it told anyone.
        const dead = servicesFor(app.database);
        const clientMsgId = randomUUID();
        const stored = await dead.services.messages.send(
          w.conv.actor,
          message({
            conversation_id: convId,
            content: 'Hello?',
            sender_type: 'end_user',
            external_id: w.conv.externalId,
            client_msg_id: clientMsgId,
          }),
        );
        assert.equal(stored.sessionOpened, true);

        // The visitor, who never had the answer, sends it again: the queue hears of it now.
        const retry = await visitorSend(w, 'Hello?', { client_msg_id: clientMsgId });
        assert.equal(retry.duplicate, true);
        await eventually(() => updates.length === 1);
        const { conversation: row, ...news } = updates[0]!;
        assert.deepEqual(news, {
          conversation_id: convId,
          sender_type: 'end_user',
          content_type: 'text',
          content: 'Hello?',
          redelivered: true,
        });
        assert.equal(row?.active_session?.id, stored.message.sessionId);
        assert.equal(row?.active_session?.assigned_agent_id, null);

        // A retry of a later message is no news for the queue; nor is the first once resolved.
        const later = randomUUID();
        assert.equal((await visitorSend(w, 'Still there?', { client_msg_id: later })).ok, true);
        assert.equal((await visitorSend(w, 'Still there?', { client_msg_id: later })).duplicate, true);
        assert.equal((await emitAck(ann.socket, 'claim_conversation', { conversation_id: convId })).ok, true);
        await app.services.conversations.resolve(ann.actor, convId, { tags: [] });
        assert.equal((await visitorSend(w, 'Hello?', { client_msg_id: clientMsgId })).duplicate, true);

        // An agent's outreach (a message opening the next session) stored by the dead node: her
        // retry tells the queue she holds it, marked as told again.
        const outreach = randomUUID();
        const opened = await dead.services.messages.send(
          ann.actor,
          message({
            conversation_id: convId,
            content: 'We fixed it',
            sender_type: 'agent',
            client_msg_id: outreach,
          }),
        );
        assert.equal(opened.sessionOpened, true);
        const again = await send(ann.socket, {
          conversation_id: convId,
          content: 'We fixed it',
          sender_type: 'agent',
          client_msg_id: outreach,
        });
        assert.equal(again.duplicate, true);
        await eventually(() => assigned.length === 2);
        assert.deepEqual(assigned[1], {
          conversation_id: convId,
          assigned_to: ann.userId,
          session_id: opened.message.sessionId,
          routing_key: null,
          redelivered: true,
        });
        // A later message proves nothing more was sent to the queue.
        assert.equal((await visitorSend(w, 'Thanks!')).ok, true);
        await eventually(async () => (await app.services.messages.recent(convId)).length === 4);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(updates.length, 1);
        assert.equal(assigned.length, 2);
      },
    );

    test(
      'sending puts the sender back in the conversation: a visitor and an agent who left hear the replies',
      both,
      async () => {
        const w = await world(1);
        const ann = w.agents[0]!;
        const convId = w.conv.conversation.id;
        const ref = { conversation_id: convId, external_id: w.conv.externalId };
        assert.equal((await emitAck(w.visitor, 'join_conversation', ref)).ok, true);
        assert.equal((await visitorSend(w, 'hello')).ok, true);
        assert.equal((await emitAck(ann.socket, 'claim_conversation', { conversation_id: convId })).ok, true);
        const agentSays = (content: string) =>
          send(ann.socket, { conversation_id: convId, content, content_type: 'text', sender_type: 'agent' });

        // Both leave the conversation's room: the visitor no longer hears the agent.
        assert.equal((await emitAck(w.visitor, 'leave_conversation', ref)).ok, true);
        assert.equal((await emitAck(ann.socket, 'leave_conversation', { conversation_id: convId })).ok, true);
        const visitorHears = record<Msg>(w.visitor, 'message_received');
        const agentHears = record<Msg>(ann.socket, 'message_received');
        assert.equal((await agentSays('while you were away')).ok, true);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(visitorHears.length, 0);

        // Each sends once: each is in the room again, and hears the other's reply.
        assert.equal((await visitorSend(w, 'back again')).ok, true);
        assert.equal((await agentSays('welcome back')).ok, true);
        assert.equal((await visitorSend(w, 'thanks')).ok, true);
        await eventually(() => visitorHears.some((m) => m.content === 'welcome back'));
        await eventually(() => agentHears.some((m) => m.content === 'thanks'));
        assert.equal(
          (await app.io.in(`enduser:${w.conv.endUser.id}`).fetchSockets()).length,
          1,
          "the visitor's own room again too",
        );
        // Sending again into rooms it is in changes nothing: one copy of each message.
        assert.equal((await visitorSend(w, 'once')).ok, true);
        await eventually(() => agentHears.some((m) => m.content === 'once'));
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(agentHears.filter((m) => m.content === 'once').length, 1);
      },
    );

    test('typing: shown to the others, cleared by a message or by silence', pgOnly, async () => {
      const w = await world(1);
      const convId = w.conv.conversation.id;
      const agent = w.agents[0]!.socket;
      await emitAck(agent, 'join_conversation', { conversation_id: convId });
      await emitAck(w.visitor, 'join_conversation', {
        conversation_id: convId,
        external_id: w.conv.externalId,
      });
      const visitorIndicators = record(w.visitor, 'typing_indicator');
      const agentCleared = record(agent, 'typing_cleared');

      const shown = nextEvent(agent, 'typing_indicator');
      assert.equal(
        (await emitAck(w.visitor, 'user_typing', { conversation_id: convId, sender_type: 'end_user' })).ok,
        true,
      );
      assert.deepEqual(await shown, { conversation_id: convId, sender_type: 'end_user' });
      // The typist's own message ends the indicator at once.
      const clearedByMessage = nextEvent(agent, 'typing_cleared');
      await visitorSend(w, 'done typing');
      assert.deepEqual(await clearedByMessage, { conversation_id: convId });

      // The agent types and goes quiet: cleared after the timeout (1 s here).
      const seen = nextEvent(w.visitor, 'typing_indicator');
      const started = Date.now();
      await emitAck(agent, 'user_typing', { conversation_id: convId, sender_type: 'agent' });
      assert.deepEqual(await seen, { conversation_id: convId, sender_type: 'agent' });
      await nextEvent(w.visitor, 'typing_cleared', () => true, 5000);
      assert.ok(Date.now() - started >= 900, 'cleared by silence, not at once');
      assert.equal(visitorIndicators.length, 1, 'the typist never hears their own indicator');
      assert.equal(agentCleared.length, 2);
    });

    test(
      'presence: online from the first tab to the last; logout disconnects that session',
      both,
      async () => {
        const w = await world(1);
        const observer = w.agents[0]!;
        const joined = await emitAck(observer.socket, 'join_org_presence');
        assert.deepEqual(joined.online, [observer.userId]);
        const changes = record<{ agent_id: string; status: string }>(observer.socket, 'agent_status_changed');

        const carl = await createAgent(app.services, w.org.id);
        const session1 = await loginAgent(app.url, carl.user.email, carl.password);
        const session2 = await loginAgent(app.url, carl.user.email, carl.password);
        const tab1 = await open({ cookie: session1.cookie });
        await eventually(() => changes.length === 1);
        assert.deepEqual(changes[0], { agent_id: carl.user.id, status: 'online' });
        const tab2 = await open({ cookie: session2.cookie });
        await emitAck(tab2, 'join_queue');
        const both = await emitAck(tab2, 'join_org_presence');
        assert.deepEqual((both.online as string[]).sort(), [observer.userId, carl.user.id].sort());

        // Logging out session 1 disconnects its socket only; Carl is still online in tab 2.
        const dropped = new Promise<string>((resolve) => tab1.once('disconnect', resolve));
        const out = await fetch(`${app.url}/auth/logout`, {
          method: 'POST',
          headers: { cookie: session1.cookie, 'x-csrftoken': session1.csrf, accept: 'application/json' },
        });
        assert.equal(out.status, 200);
        assert.equal(await dropped, 'io server disconnect');
        assert.equal(tab2.connected, true);
        assert.equal((await emitAck(tab2, 'join_queue')).ok, true);
        tab2.disconnect();
        await eventually(() => changes.length === 2);
        assert.deepEqual(changes[1], { agent_id: carl.user.id, status: 'offline' });

        // Agent sockets are in user:{id}; end users, once joined, in enduser:{endUserId}.
        assert.equal((await app.io.in(`user:${observer.userId}`).fetchSockets()).length, 1);
        await emitAck(w.visitor, 'join_conversation', {
          conversation_id: w.conv.conversation.id,
          external_id: w.conv.externalId,
        });
        assert.equal((await app.io.in(`enduser:${w.conv.endUser.id}`).fetchSockets()).length, 1);
        await emitAck(w.visitor, 'leave_conversation', { conversation_id: w.conv.conversation.id });
        assert.equal((await app.io.in(`enduser:${w.conv.endUser.id}`).fetchSockets()).length, 0);
      },
    );

    test('queues: an agent restricted to routing keys hears only of their queues', pgOnly, async () => {
      const { org, channelId } = await createOrg(app.services);
      const all = await createAgent(app.services, org.id);
      const sales = await createAgent(app.services, org.id, { routingKeys: ['sales'] });
      const allSocket = await open({
        cookie: (await loginAgent(app.url, all.user.email, all.password)).cookie,
      });
      const salesSocket = await open({
        cookie: (await loginAgent(app.url, sales.user.email, sales.password)).cookie,
      });
      for (const s of [allSocket, salesSocket]) await emitAck(s, 'join_queue');
      const allHeard = record(allSocket, 'conversation_updated');
      const salesHeard = record(salesSocket, 'conversation_updated');
      const visitor = await open();
      for (const routingKey of ['support', 'sales']) {
        const c = await createConversation(app.services, { organizationId: org.id, channelId, routingKey });
        // A routing key is signed, so the visitor proves the conversation with its user_hash.
        const sent = await send(visitor, {
          conversation_id: c.conversation.id,
          content: `for ${routingKey}`,
          sender_type: 'end_user',
          external_id: c.externalId,
          user_hash: c.userHash,
        });
        assert.equal(sent.ok, true, JSON.stringify(sent));
      }
      await eventually(() => allHeard.length === 2 && salesHeard.length === 1);
      assert.equal(salesHeard[0]!.content, 'for sales');
      // The restricted agent cannot claim outside their queues either.
      const support = allHeard.find((u) => u.content === 'for support')!;
      const claim = await emitAck(salesSocket, 'claim_conversation', {
        conversation_id: support.conversation_id,
      });
      assert.equal(claim.error, 'conversation/not_found');
    });

    test(
      "follow_mine: a reconnected agent's tab is back in the rooms of the conversations they hold",
      both,
      async () => {
        const w = await world(2);
        const [ann, bob] = w.agents as [(typeof w.agents)[0], (typeof w.agents)[0]];
        // Three visitors write: Ann claims two, Bob one; a fourth waits in the queue.
        const convs = [w.conv];
        for (let i = 0; i < 3; i++) {
          convs.push(
            await createConversation(app.services, { organizationId: w.org.id, channelId: w.channelId }),
          );
        }
        for (const c of convs) {
          const r = await app.services.messages.send(
            c.actor,
            message({ conversation_id: c.conversation.id, content: 'hi', sender_type: 'end_user' }),
          );
          assert.equal(r.sessionOpened, true);
        }
        const [a1, a2, b1] = convs.map((c) => c.conversation.id) as [string, string, string];
        await app.services.conversations.assign(ann.actor, a1);
        await app.services.conversations.assign(ann.actor, a2);
        await app.services.conversations.assign(bob.actor, b1);
        // Resolved is hers no more.
        const gone = await createConversation(app.services, {
          organizationId: w.org.id,
          channelId: w.channelId,
        });
        await app.services.messages.send(
          gone.actor,
          message({ conversation_id: gone.conversation.id, content: 'hi', sender_type: 'end_user' }),
        );
        await app.services.conversations.assign(ann.actor, gone.conversation.id);
        await app.services.conversations.resolve(ann.actor, gone.conversation.id, { tags: [] });

        // A new tab of Ann's: in no conversation's room until it asks.
        const tab = await open({ cookie: ann.cookie });
        const heard = record<Msg>(tab, 'message_received');
        const followed = await emitAck(tab, 'follow_mine');
        assert.equal(followed.ok, true);
        assert.deepEqual([...(followed.conversation_ids as string[])].sort(), [a1, a2].sort());
        assert.equal(followed.complete, true);
        // Her visitors' messages reach it; Bob's visitor's do not.
        for (const c of convs.slice(0, 3)) {
          await app.services.messages.send(
            c.actor,
            message({
              conversation_id: c.conversation.id,
              content: `again in ${c.conversation.id}`,
              sender_type: 'end_user',
            }),
          );
        }
        await eventually(() => heard.length === 2);
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(heard.map((m) => m.conversation_id).sort(), [a1, a2].sort());

        // A visitor's socket, or one not signed in, is refused and joins nothing.
        const refused = await emitAck(w.visitor, 'follow_mine');
        assert.equal(refused.ok, false);
        assert.equal(refused.error, 'auth/unauthenticated');
        assert.equal(
          (await app.io.in(`conv:${a1}`).fetchSockets()).some((x) => x.id === w.visitor.id),
          false,
        );
      },
    );

    test(
      'follow_mine: an agent holding more than 500 is followed in the newest 500 and told the list is not complete',
      pgOnly,
      async () => {
        // A tenant whose quota of new visitors a minute lets 501 in.
        const { org, channelId } = await createOrg(app.services, undefined, { rateLimitPerMin: 1000 });
        const ann = await createAgent(app.services, org.id);
        const { cookie } = await loginAgent(app.url, ann.user.email, ann.password);
        // 501 conversations Ann opened herself (an agent's outreach opens a session she holds),
        // the oldest first; 25 at a time.
        const ids: string[] = [];
        for (let i = 0; i < 501; i += 25) {
          const batch = await Promise.all(
            Array.from({ length: Math.min(25, 501 - i) }, async () => {
              const c = await createConversation(app.services, { organizationId: org.id, channelId });
              return c.conversation.id;
            }),
          );
          for (const id of batch) {
            const r = await app.services.messages.send(
              ann.actor,
              message({ conversation_id: id, content: 'Your order shipped', sender_type: 'agent' }),
            );
            assert.equal(r.sessionOpened, true);
            ids.push(id);
          }
        }
        const tab = await open({ cookie });
        const heard = record<Msg>(tab, 'message_received');
        const followed = await emitAck(tab, 'follow_mine');
        assert.equal(followed.ok, true);
        assert.equal(followed.complete, false);
        const got = followed.conversation_ids as string[];
        assert.equal(got.length, 500);
        assert.deepEqual([...got].sort(), ids.slice(1).sort());
        // The oldest is left out: its messages do not reach the tab, the newest's do.
        const [oldest, newest] = [ids[0]!, ids.at(-1)!];
        for (const id of [oldest, newest]) {
          await app.services.messages.send(
            ann.actor,
            message({ conversation_id: id, content: `note in ${id}`, sender_type: 'agent' }),
          );
        }
        await eventually(() => heard.length === 1);
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(
          heard.map((m) => m.conversation_id),
          [newest],
        );
      },
    );

    test('a deactivated agent is disconnected at once', pgOnly, async () => {
      const w = await world(1);
      const agent = w.agents[0]!;
      const gone = new Promise<string>((resolve) => agent.socket.once('disconnect', resolve));
      app.bus.publish('agent.deactivated', { organizationId: w.org.id, userId: agent.userId });
      assert.equal(await gone, 'io server disconnect');
    });

    test('a node that shuts down takes its agents offline at once', pgOnly, async () => {
      const w = await world(1);
      await emitAck(w.agents[0]!.socket, 'join_org_presence');
      const changes = record<{ agent_id: string; status: string }>(
        w.agents[0]!.socket,
        'agent_status_changed',
      );
      const second = await startApp(app.database, { redis: true, env });
      const dana = await createAgent(app.services, w.org.id);
      const login = await loginAgent(second.url, dana.user.email, dana.password);
      const danaSocket = await connectSocket(second.url, { cookie: login.cookie });
      await eventually(() => changes.some((c) => c.agent_id === dana.user.id && c.status === 'online'));
      const stopped = Date.now();
      await second.stop();
      await eventually(() => changes.some((c) => c.agent_id === dana.user.id && c.status === 'offline'));
      // Well before the dead-node timeout (3 heartbeats of 5 s): the node said goodbye itself.
      assert.ok(Date.now() - stopped < 5000);
      danaSocket.disconnect();
    });

    test(
      'a node shutting down finishes the messages under way; none acknowledged is lost',
      pgOnly,
      async () => {
        const second = await startApp(app.database, { redis: true, env });
        const { org, channelId } = await createOrg(app.services);
        const conv = await createConversation(app.services, { organizationId: org.id, channelId });
        const visitor = await connectSocket(second.url);
        const id = conv.conversation.id;
        const joined = await emitAck(visitor, 'join_conversation', {
          conversation_id: id,
          external_id: conv.externalId,
        });
        assert.equal(joined.ok, true);
        // Five: the rate limit of this suite.
        const answers = Array.from({ length: 5 }, (_, i) =>
          emitAck(visitor, 'send_message', {
            conversation_id: id,
            content: `m${i}`,
            sender_type: 'end_user',
            external_id: conv.externalId,
            client_msg_id: `c${i}`,
          }).catch(() => null),
        );
        await new Promise((r) => setTimeout(r, 15));
        await second.stop();
        const acks = await Promise.all(answers);
        const stored = await app.database.prisma.message.findMany({ where: { conversationId: id } });
        const acked = acks.filter((a) => a?.ok).map((a) => (a!.message as { id: string }).id);
        // Every acknowledged message is in the database; anything refused during shutdown is not
        // (the client's outbox sends it again after reconnecting, idempotently).
        assert.deepEqual(stored.map((m) => m.id).sort(), acked.sort());
        for (const a of acks.filter((x) => x && !x.ok)) assert.equal(a!.error, 'unavailable');
        visitor.disconnect();
      },
    );

    test('reconnect: a dropped client gets what it missed, once, in order', pgOnly, async () => {
      const w = await world(1);
      const convId = w.conv.conversation.id;
      const agent = w.agents[0]!.socket;
      const visitor = await open();
      const received = record<Msg>(visitor, 'message_received');
      const lastId = () => received.at(-1)?.id;
      // The client (re-)joins on every connect, saying what it saw last.
      const join = () =>
        emitAck(visitor, 'join_conversation', {
          conversation_id: convId,
          external_id: w.conv.externalId,
          ...(lastId() ? { last_message_id: lastId() } : {}),
        });
      await join();
      await send(visitor, {
        conversation_id: convId,
        content: 'm1',
        sender_type: 'end_user',
        external_id: w.conv.externalId,
      });
      await eventually(() => received.length === 1);

      // The connection drops; the agent writes meanwhile; the client comes back.
      const down = new Promise((resolve) => visitor.once('disconnect', resolve));
      visitor.io.engine.close();
      await down;
      for (const content of ['m2', 'm3', 'm4']) {
        await send(agent, { conversation_id: convId, content, sender_type: 'agent' });
      }
      const back = new Promise<void>((resolve) => visitor.once('connect', () => resolve()));
      visitor.connect();
      await back;
      const rejoined = await join();
      assert.equal(rejoined.missed, 3);
      await send(agent, { conversation_id: convId, content: 'm5', sender_type: 'agent' });
      await eventually(() => received.length >= 5);
      assert.deepEqual(
        received.map((m) => m.content),
        ['m1', 'm2', 'm3', 'm4', 'm5'],
      );
      assert.equal(new Set(received.map((m) => m.id)).size, 5);
    });

    test('mark_read fills read_by and tells the room', both, async () => {
      const w = await world(1);
      const convId = w.conv.conversation.id;
      const agent = w.agents[0]!;
      await emitAck(agent.socket, 'join_conversation', { conversation_id: convId });
      await emitAck(w.visitor, 'join_conversation', {
        conversation_id: convId,
        external_id: w.conv.externalId,
      });
      const fromVisitor = (await visitorSend(w, 'please read me')).message as Msg;
      const fromAgent = (
        await send(agent.socket, { conversation_id: convId, content: 'read this', sender_type: 'agent' })
      ).message as Msg;

      const told = nextEvent(w.visitor, 'messages_read');
      const ack = await emitAck(agent.socket, 'mark_read', {
        conversation_id: convId,
        message_ids: [fromVisitor.id, fromAgent.id],
      });
      assert.equal(ack.ok, true);
      // The agent's own message is not "read" by its author.
      assert.deepEqual(ack.message_ids, [fromVisitor.id]);
      const event = await told;
      assert.deepEqual(
        { ...event, read_at: typeof event.read_at },
        {
          conversation_id: convId,
          message_ids: [fromVisitor.id],
          reader_type: 'agent',
          reader_id: agent.userId,
          read_at: 'string',
        },
      );
      const byVisitor = await emitAck(w.visitor, 'mark_read', {
        conversation_id: convId,
        message_ids: [fromAgent.id],
      });
      assert.equal(byVisitor.ok, true);
      const history = await app.services.messages.history(agent.actor, convId, { limit: 50, offset: 0 });
      const readBy = Object.fromEntries(history.map((m) => [m.id, Object.keys(m.readBy as object)]));
      assert.deepEqual(readBy, { [fromVisitor.id]: [agent.userId], [fromAgent.id]: [w.conv.externalId] });
    });
  });
}
