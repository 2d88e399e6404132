import type { AgentActor } from '../shared/auth/actor.js';
import { registerConversationHandlers } from './handlers/conversations.handlers.js';
import { registerMessageHandlers } from './handlers/messages.handlers.js';
import { registerPresenceHandlers } from './handlers/presence.handlers.js';
import { createHandlerTable, SocketContext, type HandlerDeps } from './handlers/socket.context.js';
import { registerTypingHandlers } from './handlers/typing.handlers.js';
import type { SocketLimits } from './realtime.guard.js';
import type { RealtimeSocket } from './realtime.types.js';
import { sessionRoom, userRoom } from './rooms.js';

/**
 * The node's client-event handlers, feature by feature (socket.io
 * `examples/basic-crud-application`), built once and shared by every socket: `attach` gives a
 * connected socket its context and one `onAny` listener that dispatches to them. Per socket that
 * is one object and one listener, not a closure per event (issue 23: memory per idle connection).
 */
export function createSocketHandlers(deps: HandlerDeps) {
  const { table, on } = createHandlerTable();
  registerConversationHandlers(on, deps);
  registerMessageHandlers(on, deps);
  registerTypingHandlers(on, deps);
  registerPresenceHandlers(on, deps);

  /** `agentAtConnect` comes from the session at handshake; `limits` are the socket's abuse limits. */
  return function attach(
    socket: RealtimeSocket,
    agentAtConnect: AgentActor | null,
    sessionId: string | undefined,
    limits?: SocketLimits,
  ) {
    const ctx = new SocketContext(socket, agentAtConnect, deps, table, limits);
    // Every event, known or not (an unknown one is answered `unknown_event`).
    socket.onAny((event: unknown, ...args: unknown[]) => ctx.dispatch(event, args));
    socket.on('disconnect', () => deps.typing.dropSocket(socket.id));
    // Every socket of an agent, and of one login session, can be reached (assignment, logout).
    if (agentAtConnect) {
      void socket.join([userRoom(agentAtConnect.userId), ...(sessionId ? [sessionRoom(sessionId)] : [])]);
    }
  };
}
