import type { AgentActor } from '../shared/auth/actor.js';
import { registerConversationHandlers } from './handlers/conversations.handlers.js';
import { registerMessageHandlers } from './handlers/messages.handlers.js';
import { registerPresenceHandlers } from './handlers/presence.handlers.js';
import { createSocketContext, type HandlerDeps } from './handlers/socket.context.js';
import { registerTypingHandlers } from './handlers/typing.handlers.js';
import type { RealtimeSocket } from './realtime.types.js';
import { sessionRoom, userRoom } from './rooms.js';

/**
 * The event handlers of one connected socket, feature by feature (socket.io
 * `examples/basic-crud-application`). `agentAtConnect` comes from the session at handshake.
 */
export function registerSocketHandlers(
  socket: RealtimeSocket,
  agentAtConnect: AgentActor | null,
  sessionId: string | undefined,
  deps: HandlerDeps,
) {
  const ctx = createSocketContext(socket, agentAtConnect, deps);
  registerConversationHandlers(ctx, deps);
  registerMessageHandlers(ctx, deps);
  registerTypingHandlers(ctx, deps);
  registerPresenceHandlers(ctx, deps);
  // Last: every event without a handler above is answered `unknown_event` (a client must not
  // wait forever for an ack that never comes).
  ctx.onUnknown();

  // Every socket of an agent, and of one login session, can be reached (assignment, logout).
  if (agentAtConnect) {
    void socket.join([userRoom(agentAtConnect.userId), ...(sessionId ? [sessionRoom(sessionId)] : [])]);
  }
}
