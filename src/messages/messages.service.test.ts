import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../shared/db.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { servicesFor } from '../../test/helpers/services.js';

for (const mode of dbModes) {
  describe(`message service on ${mode.name}`, () => {
    let database: Database;
    let h: ReturnType<typeof servicesFor>;
    before(async () => {
      database = await mode.open();
      h = servicesFor(database);
    });
    after(() => database.close());

    test('first end-user message opens a session; resolve; the next opens a new one', async () => {
      const { org, channelId } = await createOrg(h.services);
      const { actor: agent } = await createAgent(h.services, org.id);
      const { conversation, actor: visitor } = await createConversation(h.services, {
        organizationId: org.id,
        channelId,
      });
      const send = (content: string) =>
        h.services.messages.send(visitor, {
          conversation_id: conversation.id,
          content,
          sender_type: 'end_user',
          external_id: visitor.externalId,
        });
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
      const history = await h.services.messages.history(agent, conversation.id, {});
      assert.deepEqual(
        history.map((m) => m.content),
        ['Hello', 'Anyone?', 'Me again'],
      );
    });

    test('client_msg_id: concurrent retries store once and publish once', async () => {
      const { org, channelId } = await createOrg(h.services);
      const { conversation, actor } = await createConversation(h.services, {
        organizationId: org.id,
        channelId,
      });
      const payload = {
        conversation_id: conversation.id,
        content: 'once',
        sender_type: 'end_user',
        external_id: actor.externalId,
        client_msg_id: 'c-1',
      };
      const results = await Promise.all([1, 2, 3].map(() => h.services.messages.send(actor, payload)));
      assert.equal(results.filter((r) => !r.duplicate).length, 1);
      assert.equal(new Set(results.map((r) => r.message.id)).size, 1);
      assert.equal(await database.prisma.message.count({ where: { conversationId: conversation.id } }), 1);
      const published = h.events.filter(
        (e) => e.event === 'message.created' && e.payload.message.conversationId === conversation.id,
      );
      assert.equal(published.length, 1);
    });

    test('client_msg_id: a later retry returns the stored message and stores nothing', async () => {
      const { org, channelId } = await createOrg(h.services);
      const { conversation, actor } = await createConversation(h.services, {
        organizationId: org.id,
        channelId,
      });
      const payload = {
        conversation_id: conversation.id,
        content: 'once',
        sender_type: 'end_user',
        client_msg_id: 'c-2',
      };
      const first = await h.services.messages.send(actor, payload);
      const retry = await h.services.messages.send(actor, { ...payload, content: 'changed' });
      assert.equal(retry.duplicate, true);
      assert.equal(retry.message.id, first.message.id);
      assert.equal(retry.message.content, 'once');
      assert.equal(await database.prisma.message.count({ where: { conversationId: conversation.id } }), 1);
      assert.equal(
        await database.prisma.conversationSession.count({ where: { conversationId: conversation.id } }),
        1,
      );
    });

    test('mark read fills read_by once per reader and skips own messages', async () => {
      const { org, channelId } = await createOrg(h.services);
      const { actor: agent } = await createAgent(h.services, org.id);
      const { conversation, actor } = await createConversation(h.services, {
        organizationId: org.id,
        channelId,
      });
      const m1 = await h.services.messages.send(actor, {
        conversation_id: conversation.id,
        content: 'q',
        sender_type: 'end_user',
      });
      const m2 = await h.services.messages.send(agent, {
        conversation_id: conversation.id,
        content: 'a',
        sender_type: 'agent',
      });
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

    test('an end user cannot write to or read another conversation', async () => {
      const { org, channelId } = await createOrg(h.services);
      const a = await createConversation(h.services, { organizationId: org.id, channelId });
      const b = await createConversation(h.services, { organizationId: org.id, channelId });
      await assert.rejects(
        h.services.messages.send(a.actor, {
          conversation_id: b.conversation.id,
          content: 'x',
          sender_type: 'end_user',
        }),
        { status: 403 },
      );
      await assert.rejects(h.services.conversations.requireForEndUser(b.conversation.id, a.externalId), {
        status: 403,
      });
      assert.equal(await database.prisma.message.count({ where: { conversationId: b.conversation.id } }), 0);
    });
  });
}
