import type { LiveRooms } from './live-rooms.js';
import { lastMessageDto, messageEventDto } from '../conversations/conversations.dto.js';
import type { EventBus } from '../shared/events.js';
import type { ConversationActivity, ConversationListItem, ConversationUpdated } from './realtime.contract.js';
import type { RealtimeServer } from './realtime.types.js';
import {
  activityBatchRoom,
  activityLiveRoom,
  convRoom,
  endUserRoom,
  queueRoomsOf,
  sessionRoom,
  unprovenRoom,
  userRoom,
} from './rooms.js';
import { typistKey, type TypingTracker } from './typing.js';

/** How long a queue's activity gathers before a batch goes to the sockets that asked for batches. */
export const ACTIVITY_BATCH_MS = 100;
/**
 * A busy queue's batches, at most one a second: after a batch that left conversations out, the
 * queue's next one gathers until this long after it. Every batch a busy queue sends is full (50
 * conversations) and the inbox reloads its list for what it left out, so ten a second only cost
 * each agent more writes for the same list (issue 23: 15 KB per agent every 100 ms at 2,000 msg/s).
 * A queue quiet for this long is back to ACTIVITY_BATCH_MS.
 */
export const ACTIVITY_BATCH_BUSY_MS = 1000;
/**
 * The most conversations a batch names: the newest; older ones of the same batch are only counted
 * (`omitted`), and the inbox reloads its list for them. A list page shows 50, all of them newer
 * than anything the batch leaves out; a queue with thousands of messages a second otherwise sends
 * every agent every conversation's preview (issue 23: 58 KB per agent every 100 ms at 2,000 msg/s).
 */
export const ACTIVITY_BATCH_MAX = 50;

/** Rooms named per disconnect: the adapter carries the list to every node in one message. */
const DISCONNECT_BATCH = 500;

/**
 * What can disconnect sockets by room on every node: the Socket.IO server (through its adapter),
 * or a Redis emitter in a process without sockets (the CLI).
 */
export type RoomDisconnector = { in(rooms: string[]): { disconnectSockets(close?: boolean): void } };

/**
 * Disconnects every socket in these rooms on every node, in batches. A socket remembers the end
 * users it proved, so its next event needs no query; disconnecting it is what ends that trust.
 */
function disconnectRooms(io: RoomDisconnector, rooms: string[]) {
  for (let i = 0; i < rooms.length; i += DISCONNECT_BATCH) {
    io.in(rooms.slice(i, i + DISCONNECT_BATCH)).disconnectSockets(true);
  }
}

/**
 * Cut-offs: a suspended organization, a revoked token or channel, a stricter identity mode end
 * the sockets they concern on every node. Returns a function that unsubscribes them.
 */
export function registerCutOffListeners(bus: EventBus, io: RoomDisconnector) {
  const offs = [
    // Everyone of a suspended organization: its agents' sockets and its end users'.
    bus.subscribe('organization.suspended', (e) => {
      disconnectRooms(io, [...e.userIds.map(userRoom), ...e.endUserIds.map(endUserRoom)]);
    }),

    // The end users a revoked embed token or channel carried (agents stay: they lost nothing).
    bus.subscribe('access.revoked', (e) => {
      disconnectRooms(io, e.endUserIds.map(endUserRoom));
    }),

    // End users who must now meet a stricter identity mode: they prove themselves again on rejoin.
    bus.subscribe('identity.tightened', (e) => {
      disconnectRooms(io, e.endUserIds.map(e.unprovenOnly ? unprovenRoom : endUserRoom));
    }),
  ];
  return () => offs.forEach((off) => off());
}

/**
 * Domain events → Socket.IO rooms, with the spec's event names and payloads (the typed server
 * checks each emit against `realtime.contract.ts`). Events are
 * published on the node that did the work; the adapter carries each emit to every node.
 * Returns a function that unsubscribes them all.
 */
export function registerRealtimeListeners({
  io,
  bus,
  typing,
  liveRooms,
  rowOf,
}: {
  io: RealtimeServer;
  bus: EventBus;
  typing: TypingTracker;
  /** Which live activity rooms have a socket on some node (the others are not published to). */
  liveRooms: Pick<LiveRooms, 'listened'>;
  /** A conversation's inbox list row (`conversations.row`), sent with `conversation_updated`. */
  rowOf?: (conversationId: string) => Promise<ConversationListItem | null>;
}): () => void {
  /**
   * `conversation_updated` to the conversation's queue rooms, with its list row: every inbox puts
   * the new conversation in its list and counts from the row, instead of each reading its list
   * again (a hundred inboxes doing so on every new conversation cost the server more than the
   * messages did; issue 23). Read once here for all of them. Should the read fail (the database
   * away), the event goes without the row and the inboxes read their lists as before.
   */
  const newInQueue = (
    conv: { id: string; organizationId: string; routingKey: string | null },
    event: ConversationUpdated,
  ) => {
    const send = (row: ConversationListItem | null) =>
      io
        .to(queueRoomsOf(conv.organizationId, conv.routingKey))
        .emit('conversation_updated', row ? { ...event, conversation: row } : event);
    if (!rowOf) return send(null);
    rowOf(conv.id)
      .catch(() => null)
      .then(send)
      .catch(() => {});
  };
  // Queue room → conversation → its latest activity, until the batch is due (this node's messages;
  // every node sends its own batches through the adapter), and how many older ones were left out.
  // Of those left out, how many waited in the queue and how many someone held (the rest: not
  // known), so an inbox showing "Unassigned" reloads only for activity that can be in it.
  const pending = new Map<
    string,
    {
      items: Map<string, ConversationActivity>;
      holders: Map<string, string | null | undefined>;
      omitted: number;
      unassigned: number;
      held: number;
      due: number;
    }
  >();
  // Queue rooms whose last batch left conversations out → until when their next one waits. Times
  // here are `performance.now()`: a wall clock set back would hold batches back as long.
  const busyUntil = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let timerAt = Infinity;
  const wake = (at: number) => {
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => flush(false), Math.max(0, at - performance.now()));
  };
  /** Sends the batches that are due (all of them at the end), and waits for the next. */
  const flush = (all: boolean) => {
    if (timer) clearTimeout(timer);
    timer = null;
    timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [room, { items, omitted, unassigned, held, due }] of pending) {
      if (!all && due > now) {
        next = Math.min(next, due);
        continue;
      }
      pending.delete(room);
      if (omitted) busyUntil.set(room, now + ACTIVITY_BATCH_BUSY_MS);
      io.to(activityBatchRoom(room)).emit('conversation_activity_batch', {
        items: [...items.values()],
        ...(omitted ? { omitted, omitted_unassigned: unassigned, omitted_held: held } : {}),
      });
    }
    for (const [room, until] of busyUntil) if (until <= now) busyUntil.delete(room);
    if (next < Infinity) wake(next);
  };
  const activity = (rooms: string[], item: ConversationActivity, holder: string | null | undefined) => {
    // Sockets that take batches get this one in the next; the others now, where there are any.
    const live = rooms.map(activityLiveRoom).filter(liveRooms.listened);
    if (live.length) io.to(live).emit('conversation_activity', item);
    for (const room of rooms) {
      let batch = pending.get(room);
      if (!batch) {
        const due = Math.max(performance.now() + ACTIVITY_BATCH_MS, busyUntil.get(room) ?? 0);
        batch = { items: new Map(), holders: new Map(), omitted: 0, unassigned: 0, held: 0, due };
        pending.set(room, batch);
        wake(due);
      }
      // Latest last: a batch is in the order the conversations last moved.
      batch.items.delete(item.conversation_id);
      batch.items.set(item.conversation_id, item);
      batch.holders.set(item.conversation_id, holder);
      if (batch.items.size > ACTIVITY_BATCH_MAX) {
        const oldest = batch.items.keys().next().value!;
        const was = batch.holders.get(oldest);
        batch.items.delete(oldest);
        batch.holders.delete(oldest);
        batch.omitted++;
        if (was === null) batch.unassigned++;
        else if (was !== undefined) batch.held++;
      }
    }
  };

  const offs = [
    bus.subscribe('message.created', ({ message, conversation, sessionOpened, redelivered }) => {
      // The typist's message ends their indicator.
      typing.stop(conversation.id, typistKey(message.senderType, message.senderId));
      // Every inbox's list row follows (the queue rooms hold agents only, so notes may go too).
      const last = lastMessageDto(message);
      if (conversation.mode !== 'bot' || message.internal) {
        activity(
          queueRoomsOf(conversation.organizationId, conversation.routingKey),
          { conversation_id: conversation.id, last_message: last },
          conversation.holderId,
        );
      }
      // An internal note: the conversation's agents only, never its end user's sockets.
      if (message.internal) {
        io.to(convRoom(conversation.id))
          .except(endUserRoom(conversation.endUserId))
          .emit('message_received', messageEventDto(message));
        return;
      }
      io.to(convRoom(conversation.id)).emit('message_received', messageEventDto(message));
      // A new support interaction: every agent watching the queue sees it arrive (one the bot
      // answers reaches the queue when it escalates), with its row (see `newInQueue`).
      if (sessionOpened && message.senderType === 'end_user' && conversation.mode !== 'bot') {
        newInQueue(conversation, {
          conversation_id: conversation.id,
          sender_type: message.senderType,
          content_type: message.contentType,
          content: message.content,
          ...(redelivered ? { redelivered: true as const } : {}),
        });
      }
    }),

    bus.subscribe('conversation.assigned', (e) => {
      // Whichever path claimed it (REST or socket), the agent's tabs now follow the conversation.
      io.in(userRoom(e.agentId)).socketsJoin(convRoom(e.conversationId));
      io.to(queueRoomsOf(e.organizationId, e.routingKey)).emit('conversation_assigned', {
        conversation_id: e.conversationId,
        assigned_to: e.agentId,
        session_id: e.sessionId,
        routing_key: e.routingKey ?? null,
        ...(e.previousAgentId !== undefined ? { previous_agent_id: e.previousAgentId } : {}),
        ...(e.redelivered ? { redelivered: true as const } : {}),
      });
    }),

    // Ours: back in the queue. The previous holder's tabs hear it even outside the queue rooms
    // (Socket.IO sends once to a socket in several of them); they stay in `conv:{id}`, as an
    // agent who opens a conversation they do not hold does.
    bus.subscribe('conversation.released', (e) => {
      io.to([...queueRoomsOf(e.organizationId, e.routingKey), userRoom(e.agentId)]).emit(
        'conversation_released',
        {
          conversation_id: e.conversationId,
          session_id: e.sessionId,
          released_by: e.releasedBy,
          previous_agent_id: e.agentId,
          routing_key: e.routingKey,
        },
      );
    }),

    // A transfer is told as the spec's `conversation_assigned` (every inbox already shows the new
    // holder from it); the previous holder learns from `assigned_to` that it is no longer theirs.
    bus.subscribe('conversation.transferred', (e) => {
      io.in(userRoom(e.toAgentId)).socketsJoin(convRoom(e.conversationId));
      io.to([
        ...queueRoomsOf(e.organizationId, e.routingKey),
        userRoom(e.fromAgentId),
        userRoom(e.toAgentId),
      ]).emit('conversation_assigned', {
        conversation_id: e.conversationId,
        assigned_to: e.toAgentId,
        session_id: e.sessionId,
        routing_key: e.routingKey,
        previous_agent_id: e.fromAgentId,
      });
    }),

    // Not in the spec's reference: clients need to know a session ended. Tags are internal,
    // so they go to agents only (the conversation room also holds the end user).
    bus.subscribe('conversation.resolved', (e) => {
      const queues = queueRoomsOf(e.organizationId, e.routingKey);
      const resolved = {
        conversation_id: e.conversationId,
        session_id: e.sessionId,
        resolved_at: e.resolvedAt.toISOString(),
      };
      // The inboxes also learn who held it and its queue, to keep their filters' counts.
      io.to(queues).emit('conversation_resolved', {
        ...resolved,
        routing_key: e.routingKey ?? null,
        ...(e.holderId !== undefined ? { previous_agent_id: e.holderId } : {}),
      });
      io.to(convRoom(e.conversationId)).except(queues).emit('conversation_resolved', resolved);
    }),

    // Agents only: a rating and an email left are for the inbox, the visitor already knows them.
    bus.subscribe('conversation.rated', (e) => {
      io.to(queueRoomsOf(e.organizationId, e.routingKey)).emit('conversation_rated', {
        conversation_id: e.conversationId,
        session_id: e.rating.session_id,
        score: e.rating.score,
        comment: e.rating.comment,
        updated_at: e.rating.updated_at,
      });
    }),
    bus.subscribe('conversation.contact_left', (e) => {
      io.to(queueRoomsOf(e.organizationId, e.routingKey)).emit('contact_left', {
        conversation_id: e.conversationId,
        email: e.email,
        verified: false,
      });
    }),

    // The bot handed the conversation over: it arrives in the queue as a new interaction would.
    bus.subscribe('conversation.escalated', (e) => {
      newInQueue(
        { id: e.conversationId, organizationId: e.organizationId, routingKey: e.routingKey ?? null },
        {
          conversation_id: e.conversationId,
          sender_type: 'end_user',
          content_type: 'text',
          content: e.content,
        },
      );
    }),

    bus.subscribe('visitor.updated', (e) => {
      io.to(queueRoomsOf(e.organizationId, e.routingKey)).emit('visitor_updated', {
        conversation_id: e.conversationId,
        end_user_id: e.endUserId,
        display_name: e.displayName,
        email: e.email,
      });
    }),

    bus.subscribe('ticket.changed', (e) => {
      io.to(queueRoomsOf(e.organizationId, e.routingKey)).emit('ticket_updated', {
        ticket_id: e.ticketId,
        kind: e.kind,
        routing_key: e.routingKey,
      });
    }),

    bus.subscribe('conversation.tagged', (e) => {
      io.to(queueRoomsOf(e.organizationId, e.routingKey)).emit('conversation_tagged', {
        conversation_id: e.conversationId,
        session_id: e.sessionId,
        tags: e.tags,
        tagged_at: e.taggedAt.toISOString(),
      });
    }),

    // `mark_read` is reserved by the spec without a reply event; this is ours.
    bus.subscribe('messages.read', (e) => {
      io.to(convRoom(e.conversationId)).emit('messages_read', {
        conversation_id: e.conversationId,
        message_ids: e.messageIds,
        reader_type: e.readerType,
        reader_id: e.readerId,
        read_at: e.readAt.toISOString(),
      });
    }),

    bus.subscribe('messages.delivered', (e) => {
      io.to(convRoom(e.conversationId)).emit('messages_delivered', {
        conversation_id: e.conversationId,
        recipient_type: e.recipientType,
        seq: e.seq,
        delivered_at: e.deliveredAt.toISOString(),
      });
    }),

    bus.subscribe('agent.logged_out', (e) => {
      io.in(sessionRoom(e.sessionId)).disconnectSockets(true);
    }),

    bus.subscribe('agent.deactivated', (e) => {
      io.in(userRoom(e.userId)).disconnectSockets(true);
    }),

    registerCutOffListeners(bus, io),
  ];
  return () => {
    offs.forEach((off) => off());
    flush(true);
  };
}
