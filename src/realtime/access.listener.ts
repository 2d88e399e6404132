import type { ConversationService } from '../conversations/conversations.service.js';
import type { AgentActor } from '../shared/auth/actor.js';
import type { EventBus } from '../shared/events.js';
import type { RealtimeServer } from './realtime.types.js';
import {
  activityBatchRoom,
  activityLiveRoom,
  convRoom,
  queueRoom,
  queueRoomsFor,
  refreshRoom,
  userRoom,
} from './rooms.js';

const CONV_PREFIX = convRoom('');

/**
 * An agent's role or routing keys changed (`agent.access_changed`): their sockets on every node
 * follow without a new sign-in. Those listening to the queue move to the queue rooms that match
 * now, every socket drops the conversation rooms it may no longer see, each re-reads its agent
 * before its next event, and the pages are told to `resync` (lists read again). Returns a
 * function that unsubscribes it.
 */
export function registerAccessListener({
  io,
  bus,
  conversations,
}: {
  io: RealtimeServer;
  bus: EventBus;
  conversations: Pick<ConversationService, 'visibleAmong'>;
}): () => void {
  return bus.subscribe('agent.access_changed', async (e) => {
    const agent: AgentActor = {
      kind: 'agent',
      userId: e.userId,
      organizationId: e.organizationId,
      role: e.role,
      displayName: '',
      routingKeys: e.routingKeys,
    };
    const queue = queueRoom(e.organizationId);
    const target = queueRoomsFor(agent);
    const sockets = await io.in(userRoom(e.userId)).fetchSockets();
    const convIds = new Set(
      sockets.flatMap((s) =>
        [...s.rooms].filter((r) => r.startsWith(CONV_PREFIX)).map((r) => r.slice(CONV_PREFIX.length)),
      ),
    );
    const visible = await conversations.visibleAmong(agent, [...convIds]);
    for (const s of sockets) {
      const rooms = [...s.rooms];
      const queues = rooms.filter((r) => r === queue || r.startsWith(`${queue}:`));
      for (const r of queues) if (!target.includes(r)) void s.leave(r);
      // Only the sockets that had joined the queue (`join_queue`) listen to it again.
      if (queues.length) void s.join(target);
      // Their rooms of the queue's activity (in batches, or per message) follow the same way.
      for (const activityRoom of [activityBatchRoom, activityLiveRoom]) {
        const own = activityRoom(queue);
        const had = rooms.filter((r) => r === own || r.startsWith(`${own}:`));
        const want = target.map(activityRoom);
        for (const r of had) if (!want.includes(r)) void s.leave(r);
        if (had.length) void s.join(want);
      }
      for (const r of rooms) {
        if (r.startsWith(CONV_PREFIX) && !visible.has(r.slice(CONV_PREFIX.length))) void s.leave(r);
      }
    }
    io.in(userRoom(e.userId)).socketsJoin(refreshRoom(e.userId));
    io.to(userRoom(e.userId)).emit('resync', { reason: 'access_changed' });
  });
}
