import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../shared/db.js';
import { toAppError } from '../shared/http.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { servicesFor } from '../../test/helpers/services.js';
import { createMessageService } from './messages.service.js';

for (const mode of dbModes) {
  describe(`message service on ${mode.name}`, () => {
    let database: Database;
    let h: ReturnType<typeof servicesFor>;
    before(async () => {
      database = await mode.open();
      h = servicesFor(database);
    });
    after(() => database.close());

    /** A new organization with one conversation in it. */
    async function orgWithConversation() {
      const { org, channelId } = await createOrg(h.services);
      return { org, ...(await createConversation(h.services, { organizationId: org.id, channelId })) };
    }

    test('first end-user message opens a session; resolve; the next opens a new one', async () => {
      const { org, conversation, actor: visitor } = await orgWithConversation();
      const { actor: agent } = await createAgent(h.services, org.id);
      const send = (content: string) =>
        h.services.messages.send(
          visitor,
          message({
            conversation_id: conversation.id,
            content,
            sender_type: 'end_user',
            external_id: visitor.externalId,
          }),
        );
      const first = await send('Hello');
      assert.equal(first.sessionOpened, true);
      const second = await send('Anyone?');
      assert.equal(second.sessionOpened, false);
      assert.equal(second.message.sessionId, first.message.sessionId);
      const assigned = await h.services.conversations.assign(agent, conversation.id);
      assert.equal(assigned.assigned_agent_id, agent.userId);
      const resolved = await h.services.conversations.resolve(agent, conversation.id, { tags: ['billing'] });
      assert.equal(resolved.session_id, first.message.sessionId);
      const third = await send('Me again');
      assert.equal(third.sessionOpened, true);
      assert.notEqual(third.message.sessionId, first.message.sessionId);
      const history = await h.services.messages.history(agent, conversation.id, { limit: 50, offset: 0 });
      assert.deepEqual(
        history.map((m) => m.content),
        ['Hello', 'Anyone?', 'Me again'],
      );
    });

    test('client_msg_id: concurrent retries store once; each retry publishes it again, marked', async () => {
      const { conversation, actor } = await orgWithConversation();
      const payload = {
        conversation_id: conversation.id,
        content: 'once',
        sender_type: 'end_user',
        external_id: actor.externalId,
        client_msg_id: 'c-1',
      };
      const results = await Promise.all(
        [1, 2, 3].map(() => h.services.messages.send(actor, message(payload))),
      );
      assert.equal(results.filter((r) => !r.duplicate).length, 1);
      assert.equal(new Set(results.map((r) => r.message.id)).size, 1);
      assert.equal(await database.prisma.message.count({ where: { conversationId: conversation.id } }), 1);
      const published = h.events.filter(
        (e) => e.event === 'message.created' && e.payload.message.conversationId === conversation.id,
      );
      // Once as new, twice as redelivered (a retry's first answer may never have been broadcast).
      assert.deepEqual(published.map((e) => e.event === 'message.created' && e.payload.redelivered).sort(), [
        false,
        true,
        true,
      ]);
      assert.equal(
        new Set(published.map((e) => e.event === 'message.created' && e.payload.message.id)).size,
        1,
      );
    });

    test("a retry of a session's first message is published as opening it, while that session is open", async () => {
      const { org, conversation, actor } = await orgWithConversation();
      const { actor: agent } = await createAgent(h.services, org.id);
      const say = (content: string, client_msg_id: string) =>
        h.services.messages.send(
          actor,
          message({ conversation_id: conversation.id, content, sender_type: 'end_user', client_msg_id }),
        );
      const opened = () =>
        h.events
          .filter(
            (e) => e.event === 'message.created' && e.payload.message.conversationId === conversation.id,
          )
          .map((e) => e.event === 'message.created' && [e.payload.message.content, e.payload.sessionOpened]);
      await say('first', 'f');
      await say('first', 'f');
      await say('second', 's');
      await say('second', 's');
      await h.services.conversations.assign(agent, conversation.id);
      // Claimed: still the open session's first message (the queue's row shows who holds it).
      await say('first', 'f');
      await h.services.conversations.resolve(agent, conversation.id, { tags: [] });
      await say('first', 'f');
      assert.deepEqual(opened(), [
        ['first', true],
        ['first', true],
        ['second', false],
        ['second', false],
        ['first', true],
        ['first', false],
      ]);
      // An agent's outreach opening the next session: her retry tells again that she holds it.
      const outreach = () =>
        h.services.messages.send(
          agent,
          message({
            conversation_id: conversation.id,
            content: 'hi',
            sender_type: 'agent',
            client_msg_id: 'o',
          }),
        );
      await outreach();
      const assigned = () =>
        h.events.filter(
          (e) => e.event === 'conversation.assigned' && e.payload.conversationId === conversation.id,
        );
      const before = assigned().length;
      await outreach();
      const told = assigned().slice(before);
      assert.equal(told.length, 1);
      assert.equal(told[0]!.event === 'conversation.assigned' && told[0]!.payload.redelivered, true);
      assert.equal(told[0]!.event === 'conversation.assigned' && told[0]!.payload.agentId, agent.userId);
      // Released to the queue, it is not hers to be told again.
      await h.services.handover.release(agent, conversation.id);
      await outreach();
      assert.equal(assigned().length, before + 1);
    });

    test('client_msg_id: a later retry returns the stored message and stores nothing', async () => {
      const { conversation, actor } = await orgWithConversation();
      const payload = {
        conversation_id: conversation.id,
        content: 'once',
        sender_type: 'end_user',
        client_msg_id: 'c-2',
      };
      const first = await h.services.messages.send(actor, message(payload));
      const retry = await h.services.messages.send(actor, message({ ...payload, content: 'changed' }));
      assert.equal(retry.duplicate, true);
      assert.equal(retry.message.id, first.message.id);
      assert.equal(retry.message.content, 'once');
      assert.equal(await database.prisma.message.count({ where: { conversationId: conversation.id } }), 1);
      assert.equal(
        await database.prisma.conversationSession.count({ where: { conversationId: conversation.id } }),
        1,
      );
    });

    test('sends arriving together share statements, keep each conversation in order, and fail alone', async () => {
      const { org, channelId } = await createOrg(h.services);
      const { actor: agent } = await createAgent(h.services, org.id);
      const { actor: vipAgent } = await createAgent(h.services, org.id, { routingKeys: ['vip'] });
      const convs = await Promise.all(
        [1, 2, 3, 4].map(() => createConversation(h.services, { organizationId: org.id, channelId })),
      );
      const fresh = await createConversation(h.services, { organizationId: org.id, channelId });
      const visitorSend = (c: (typeof convs)[number], content: string, clientMsgId?: string) =>
        h.services.messages.send(
          c.actor,
          message({
            conversation_id: c.conversation.id,
            content,
            sender_type: 'end_user',
            ...(clientMsgId ? { client_msg_id: clientMsgId } : {}),
          }),
        );
      // Each of the four has an open session; `fresh` has none.
      for (const c of convs) await visitorSend(c, 'open', `open-${c.conversation.id}`);
      const before = h.services.messages.writerStats();

      // All in one turn of the event loop, in this order.
      const sends = [
        ...convs.flatMap((c) => [1, 2, 3, 4, 5].map((n) => () => visitorSend(c, `m${n}`))),
        () =>
          h.services.messages.send(
            agent,
            message({
              conversation_id: convs[0]!.conversation.id,
              content: 'agent reply',
              sender_type: 'agent',
            }),
          ),
        () => visitorSend(fresh, 'hello'),
        () => visitorSend(convs[1]!, 'retry', `open-${convs[1]!.conversation.id}`),
        () =>
          h.services.messages.send(
            convs[0]!.actor,
            message({
              conversation_id: convs[2]!.conversation.id,
              content: 'not mine',
              sender_type: 'end_user',
            }),
          ),
        () =>
          h.services.messages.send(
            vipAgent,
            message({
              conversation_id: convs[3]!.conversation.id,
              content: 'not my queue',
              sender_type: 'agent',
            }),
          ),
      ];
      const results = await Promise.allSettled(sends.map((send) => send()));
      const after = h.services.messages.writerStats();

      // 21 messages stored by the batch statement, in far fewer statements.
      assert.equal(after.written - before.written, 21);
      assert.ok(
        after.statements - before.statements <= 4,
        `${after.statements - before.statements} statements`,
      );
      for (const c of convs) {
        const history = await h.services.messages.history(agent, c.conversation.id, { limit: 50, offset: 0 });
        const expected = ['open', 'm1', 'm2', 'm3', 'm4', 'm5'];
        if (c === convs[0]) expected.push('agent reply');
        assert.deepEqual(
          history.map((m) => m.content),
          expected,
        );
        const row = await database.prisma.conversation.findUniqueOrThrow({
          where: { id: c.conversation.id },
        });
        assert.equal(row.lastMessageAt?.getTime(), history.at(-1)!.createdAt.getTime());
      }
      const [hello, retry, notMine, notMyQueue] = results.slice(-4);
      assert.equal(hello?.status === 'fulfilled' && hello.value.sessionOpened, true);
      assert.equal(retry?.status === 'fulfilled' && retry.value.duplicate, true);
      assert.equal(retry?.status === 'fulfilled' && retry.value.message.content, 'open');
      assert.equal(notMine?.status === 'rejected' && (notMine.reason as { status: number }).status, 403);
      assert.equal(
        notMyQueue?.status === 'rejected' && (notMyQueue.reason as { status: number }).status,
        404,
      );
      // Published once per stored message, with the conversation's end user.
      const published = h.events.filter(
        (e) => e.event === 'message.created' && e.payload.message.content === 'agent reply',
      );
      assert.equal(published.length, 1);
      assert.equal(
        published[0]?.event === 'message.created' && published[0].payload.conversation.endUserExternalId,
        convs[0]!.externalId,
      );
    });

    test('when the server refuses the batch (a deadlock), every message still goes through, in order', async () => {
      const { conversation, actor } = await orgWithConversation();
      const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01', severity: 'ERROR' });
      const failing = createMessageService({
        db: database.prisma,
        query: <T>(name: string, text: string, values: unknown[]) =>
          name === 'sb_append_messages' ? Promise.reject(deadlock) : database.query<T>(name, text, values),
        transaction: database.transaction,
        bus: h.bus,
      });
      const sent = await Promise.all(
        ['a', 'b', 'c'].map((content) =>
          failing.send(
            actor,
            message({ conversation_id: conversation.id, content, sender_type: 'end_user' }),
          ),
        ),
      );
      assert.equal(sent[0]?.sessionOpened, true);
      assert.deepEqual(failing.writerStats(), { written: 0, statements: 0, failed: 1 });
      const stored = await database.prisma.message.findMany({
        where: { conversationId: conversation.id },
        orderBy: { seq: 'asc' },
      });
      assert.deepEqual(
        stored.map((m) => [m.content, m.seq]),
        [
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ],
      );
    });

    test('a batch whose answer is lost after the commit: found by its ids, stored once, no client_msg_id needed', async () => {
      const { conversation, actor } = await orgWithConversation();
      await h.services.messages.send(
        actor,
        message({ conversation_id: conversation.id, content: 'opens', sender_type: 'end_user' }),
      );
      let drop = true;
      // The real statement runs and commits; its answer is lost once, as when the connection drops.
      const losing = createMessageService({
        db: database.prisma,
        query: async <T>(name: string, text: string, values: unknown[]) => {
          const rows = await database.query<T>(name, text, values);
          if (drop && name === 'sb_append_messages') {
            drop = false;
            throw new Error('Connection terminated unexpectedly');
          }
          return rows;
        },
        transaction: database.transaction,
        bus: h.bus,
      });
      const sent = await Promise.all(
        ['x', 'y'].map((content) =>
          losing.send(actor, message({ conversation_id: conversation.id, content, sender_type: 'end_user' })),
        ),
      );
      assert.deepEqual(
        sent.map((r) => [r.message.content, r.duplicate]),
        [
          ['x', false],
          ['y', false],
        ],
      );
      const stored = await database.prisma.message.findMany({
        where: { conversationId: conversation.id },
        orderBy: { seq: 'asc' },
      });
      assert.deepEqual(
        stored.map((m) => [m.content, m.seq]),
        [
          ['opens', 1],
          ['x', 2],
          ['y', 3],
        ],
      );
      // Broadcast once each, as new messages.
      const published = h.events.filter(
        (e) => e.event === 'message.created' && ['x', 'y'].includes(e.payload.message.content),
      );
      assert.equal(published.length, 2);
    });

    test('a batch whose answer is lost while the database cannot be asked: senders get unavailable, a retry stores once', async () => {
      const { conversation, actor } = await orgWithConversation();
      await h.services.messages.send(
        actor,
        message({ conversation_id: conversation.id, content: 'opens', sender_type: 'end_user' }),
      );
      let down = true;
      const losing = createMessageService({
        db: database.prisma,
        query: async <T>(name: string, text: string, values: unknown[]) => {
          if (!down) return database.query<T>(name, text, values);
          // The statement commits; then the connection is gone, and so is every later query.
          if (name === 'sb_append_messages') await database.query(name, text, values);
          throw new Error('Connection terminated unexpectedly');
        },
        transaction: database.transaction,
        bus: h.bus,
      });
      const payload = message({
        conversation_id: conversation.id,
        content: 'during the outage',
        sender_type: 'end_user',
        client_msg_id: 'lost-1',
      });
      await assert.rejects(
        losing.send(actor, payload),
        (err: unknown) => toAppError(err).code === 'unavailable',
      );
      down = false;
      const retry = await losing.send(actor, payload);
      assert.equal(retry.duplicate, true);
      assert.equal(
        await database.prisma.message.count({
          where: { conversationId: conversation.id, content: 'during the outage' },
        }),
        1,
      );
      // The retry is broadcast (the first attempt never was).
      const published = h.events.filter(
        (e) => e.event === 'message.created' && e.payload.message.id === retry.message.id,
      );
      assert.deepEqual(
        published.map((e) => e.event === 'message.created' && e.payload.redelivered),
        [true],
      );
    });

    test('an agent who writes first owns the new session, and that assignment is published', async () => {
      const { org, conversation } = await orgWithConversation();
      const { actor: agent } = await createAgent(h.services, org.id);
      const outreach = await h.services.messages.send(
        agent,
        message({ conversation_id: conversation.id, content: 'Your order shipped', sender_type: 'agent' }),
      );
      assert.equal(outreach.sessionOpened, true);
      const session = await database.prisma.conversationSession.findUniqueOrThrow({
        where: { id: outreach.message.sessionId },
      });
      assert.equal(session.assignedAgentId, agent.userId);
      const assigned = h.events.filter(
        (e) => e.event === 'conversation.assigned' && e.payload.conversationId === conversation.id,
      );
      assert.deepEqual(
        assigned.map((e) => e.payload),
        [
          {
            organizationId: org.id,
            conversationId: conversation.id,
            routingKey: null,
            sessionId: session.id,
            agentId: agent.userId,
            assignedAt: session.assignedAt,
          },
        ],
      );
      // The next message in that session assigns nothing again.
      await h.services.messages.send(
        agent,
        message({ conversation_id: conversation.id, content: 'Anything else?', sender_type: 'agent' }),
      );
      assert.equal(
        h.events.filter(
          (e) => e.event === 'conversation.assigned' && e.payload.conversationId === conversation.id,
        ).length,
        1,
      );
    });

    test('mark all read marks every unread end-user message in one statement and one event', async () => {
      const { org, conversation, actor } = await orgWithConversation();
      const { actor: agent } = await createAgent(h.services, org.id);
      const sent = [];
      for (const content of ['one', 'two', 'three']) {
        sent.push(
          await h.services.messages.send(
            actor,
            message({ conversation_id: conversation.id, content, sender_type: 'end_user' }),
          ),
        );
      }
      await h.services.messages.send(
        agent,
        message({ conversation_id: conversation.id, content: 'reply', sender_type: 'agent' }),
      );
      assert.deepEqual(await h.services.messages.markAllRead(agent, conversation.id), {
        conversation_id: conversation.id,
        read: 3,
      });
      const events = h.events.filter(
        (e) => e.event === 'messages.read' && e.payload.conversationId === conversation.id,
      );
      assert.equal(events.length, 1);
      assert.deepEqual(
        events[0]!.event === 'messages.read' && events[0]!.payload.messageIds,
        sent.map((r) => r.message.id),
        'in the order they were sent',
      );
      assert.equal((await h.services.messages.markAllRead(agent, conversation.id)).read, 0);
    });

    test('mark read fills read_by once per reader and skips own messages', async () => {
      const { org, conversation, actor } = await orgWithConversation();
      const { actor: agent } = await createAgent(h.services, org.id);
      const m1 = await h.services.messages.send(
        actor,
        message({
          conversation_id: conversation.id,
          content: 'q',
          sender_type: 'end_user',
        }),
      );
      const m2 = await h.services.messages.send(
        agent,
        message({
          conversation_id: conversation.id,
          content: 'a',
          sender_type: 'agent',
        }),
      );
      const r = await h.services.messages.markRead(agent, {
        conversation_id: conversation.id,
        message_ids: [m1.message.id, m2.message.id],
      });
      assert.deepEqual(r.message_ids, [m1.message.id]);
      const again = await h.services.messages.markRead(agent, {
        conversation_id: conversation.id,
        message_ids: [m1.message.id],
      });
      assert.deepEqual(again.message_ids, []);
      const stored = await database.prisma.message.findUniqueOrThrow({ where: { id: m1.message.id } });
      assert.deepEqual(Object.keys(stored.readBy as object), [agent.userId]);
    });

    test('reads arriving together, of the same messages by several readers, are all recorded with one event each', async () => {
      const { org, channelId } = await createOrg(h.services);
      const { conversation, actor } = await createConversation(h.services, {
        organizationId: org.id,
        channelId,
      });
      const other = await createConversation(h.services, { organizationId: org.id, channelId });
      const { actor: ann } = await createAgent(h.services, org.id);
      const { actor: bob } = await createAgent(h.services, org.id);
      const send = (who: typeof actor | typeof ann, conv: string, content: string) =>
        h.services.messages.send(
          who,
          message({
            conversation_id: conv,
            content,
            ...(who.kind === 'agent'
              ? { sender_type: 'agent' as const }
              : { sender_type: 'end_user' as const, external_id: who.externalId }),
          }),
        );
      const q = await send(actor, conversation.id, 'q');
      const q2 = await send(actor, conversation.id, 'q2');
      const a = await send(ann, conversation.id, 'a');
      const elsewhere = await send(other.actor, other.conversation.id, 'hello');
      const before = h.events.length;
      // One turn: the batch holds both agents' reads of q, the visitor's of a and of their own q2,
      // a read of another conversation's message through this one, and a read elsewhere.
      const [annRead, bobRead, visitorRead, wrongConv, otherRead] = await Promise.all([
        h.services.messages.markRead(ann, {
          conversation_id: conversation.id,
          message_ids: [q2.message.id, q.message.id, q.message.id.toUpperCase()],
        }),
        h.services.messages.markRead(bob, { conversation_id: conversation.id, message_ids: [q.message.id] }),
        h.services.messages.markRead(actor, {
          conversation_id: conversation.id,
          message_ids: [a.message.id, q2.message.id],
        }),
        h.services.messages.markRead(bob, {
          conversation_id: conversation.id,
          message_ids: [elsewhere.message.id],
        }),
        h.services.messages.markRead(bob, {
          conversation_id: other.conversation.id,
          message_ids: [elsewhere.message.id],
        }),
      ]);
      assert.deepEqual(annRead.message_ids, [q.message.id, q2.message.id], 'in conversation order');
      assert.deepEqual(bobRead.message_ids, [q.message.id]);
      assert.deepEqual(visitorRead.message_ids, [a.message.id], 'never their own');
      assert.deepEqual(wrongConv.message_ids, [], 'only messages of the conversation named');
      assert.deepEqual(otherRead.message_ids, [elsewhere.message.id]);
      const readBy = async (id: string) =>
        Object.keys(
          (await database.prisma.message.findUniqueOrThrow({ where: { id } })).readBy as object,
        ).sort();
      assert.deepEqual(await readBy(q.message.id), [ann.userId, bob.userId].sort());
      assert.deepEqual(await readBy(q2.message.id), [ann.userId]);
      assert.deepEqual(await readBy(a.message.id), [actor.externalId]);
      assert.deepEqual(await readBy(elsewhere.message.id), [bob.userId]);
      const reads = h.events.slice(before).filter((e) => e.event === 'messages.read');
      assert.equal(reads.length, 4, 'one per reader and conversation with something newly read');
    });

    test('an end user cannot write to or read another conversation', async () => {
      const { org, channelId } = await createOrg(h.services);
      const a = await createConversation(h.services, { organizationId: org.id, channelId });
      const b = await createConversation(h.services, { organizationId: org.id, channelId });
      await assert.rejects(
        h.services.messages.send(
          a.actor,
          message({
            conversation_id: b.conversation.id,
            content: 'x',
            sender_type: 'end_user',
          }),
        ),
        { status: 403 },
      );
      await assert.rejects(
        h.services.conversations.requireForEndUser(b.conversation.id, { externalId: a.externalId }),
        {
          status: 403,
        },
      );
      assert.equal(await database.prisma.message.count({ where: { conversationId: b.conversation.id } }), 0);
    });
  });
}
