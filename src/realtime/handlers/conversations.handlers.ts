import { messageEventDto } from '../../conversations/conversations.dto.js';
import { conversationRef, joinConversationSchema, transferConversationSchema } from '../realtime.schemas.js';
import { activityBatchRoom, activityLiveRoom, convRoom, queueRoomsFor } from '../rooms.js';
import type { HandlerDeps, On } from './socket.context.js';

/** The most conversation rooms `follow_mine` puts a socket in (the newest of an agent's). */
export const FOLLOW_MINE_MAX = 500;

/**
 * Conversation rooms and the queue: join_conversation, leave_conversation, claim_conversation,
 * release_conversation, transfer_conversation, join_queue, follow_mine.
 */
export function registerConversationHandlers(
  on: On,
  { services, liveRooms }: Pick<HandlerDeps, 'services' | 'liveRooms'>,
) {
  on('join_conversation', joinConversationSchema, async (ctx, input) => {
    if (input.external_id !== undefined) {
      await ctx.joinAsEndUser(
        await ctx.requireEndUser(input.conversation_id, input.external_id, input.user_hash),
      );
    } else {
      const agent = await ctx.requireAgent();
      await services.conversations.requireVisible(agent, input.conversation_id);
      await ctx.socket.join(convRoom(input.conversation_id));
    }
    // Catch-up: joined first, so nothing falls between the query and the room.
    const after =
      input.last_seq !== undefined
        ? { seq: input.last_seq }
        : input.last_message_id
          ? { id: input.last_message_id }
          : null;
    if (!after) {
      const { lastSeq, delivery } = await services.messages.joinState(input.conversation_id);
      return {
        conversation_id: input.conversation_id,
        missed: 0,
        last_seq: lastSeq,
        has_more: false,
        delivery,
      };
    }
    // Internal notes are replayed to agents only.
    const [{ messages, lastSeq, hasMore }, delivery] = await Promise.all([
      services.messages.since(input.conversation_id, after, undefined, {
        internal: input.external_id === undefined,
      }),
      services.messages.deliveryState(input.conversation_id),
    ]);
    for (const m of messages) ctx.socket.emit('message_received', messageEventDto(m));
    return {
      conversation_id: input.conversation_id,
      missed: messages.length,
      last_seq: lastSeq,
      has_more: hasMore,
      delivery,
    };
  });

  on('leave_conversation', conversationRef, async (ctx, { conversation_id }) => {
    await ctx.socket.leave(convRoom(conversation_id));
    await ctx.leaveAsEndUser(conversation_id);
    return { conversation_id };
  });

  on('claim_conversation', conversationRef, async (ctx, { conversation_id }) => {
    const agent = await ctx.requireAgent();
    const result = await services.conversations.assign(agent, conversation_id);
    // The listener joins every tab of the agent; this one is joined before the ack.
    await ctx.socket.join(convRoom(conversation_id));
    return { conversation_id, ...result };
  });

  // The listeners tell the queue and move the new holder's tabs into `conv:{id}`.
  on('release_conversation', conversationRef, async (ctx, { conversation_id }) => {
    const agent = await ctx.requireAgent();
    return { conversation_id, ...(await services.handover.release(agent, conversation_id)) };
  });

  on('transfer_conversation', transferConversationSchema, async (ctx, { conversation_id, agent_id }) => {
    const agent = await ctx.requireAgent();
    const result = await services.handover.transfer(agent, conversation_id, { agent_id });
    return { conversation_id, ...result };
  });

  // Ours: a tab (re)connected is in no conversation room; this puts it back in its agent's own, so
  // their messages reach it (claims and transfers join every tab of the new holder already).
  on('follow_mine', null, async (ctx) => {
    const agent = await ctx.requireAgent();
    const ids = await services.conversations.heldIds(agent, FOLLOW_MINE_MAX + 1);
    const followed = ids.slice(0, FOLLOW_MINE_MAX);
    await ctx.socket.join(followed.map(convRoom));
    return { conversation_ids: followed, complete: ids.length <= FOLLOW_MINE_MAX };
  });

  on('join_queue', null, async (ctx) => {
    const agent = await ctx.requireAgent();
    const rooms = queueRoomsFor(agent);
    // Asked at the handshake: the queue's activity in batches (the inbox does), else per message.
    const batched = (ctx.socket.handshake.auth as { activity?: unknown }).activity === 'batch';
    await ctx.socket.join([...rooms, ...rooms.map(batched ? activityBatchRoom : activityLiveRoom)]);
    // Every node publishes a message's activity to this room once it has heard of it here.
    if (!batched) await liveRooms?.heard(rooms.map(activityLiveRoom));
    return {};
  });
}
