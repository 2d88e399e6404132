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
 * connected socket its context and the node's listeners — one function per event for the whole
 * node, which finds the socket's context through `this` (the socket emitting). Per socket that is
 * one object, not a closure per event (issue 23: memory per idle connection). Known events are
 * plain listeners, so `socket.use` middlewares still run before them.
 */
export function createSocketHandlers(deps: HandlerDeps) {
  const { table, on } = createHandlerTable();
  registerConversationHandlers(on, deps);
  registerMessageHandlers(on, deps);
  registerTypingHandlers(on, deps);
  registerPresenceHandlers(on, deps);

  const contexts = new WeakMap<RealtimeSocket, SocketContext>();
  const listeners = [...table.keys()].map(
    (event) =>
      [
        event,
        function (this: RealtimeSocket, ...args: unknown[]) {
          contexts.get(this)?.dispatch(event, args);
        },
      ] as const,
  );
  // Every event without a handler is answered `unknown_event` (a client must not wait forever for
  // an ack that never comes); socket.io's `onAny` sees every event, known ones included.
  const unknown = function (this: RealtimeSocket, event: unknown, ...args: unknown[]) {
    if (typeof event === 'string' && table.has(event)) return;
    contexts.get(this)?.dispatch(event, args);
  };
  const dropTyping = function (this: RealtimeSocket) {
    deps.typing.dropSocket(this.id);
  };

  /** `agentAtConnect` comes from the session at handshake; `limits` are the socket's abuse limits. */
  return function attach(
    socket: RealtimeSocket,
    agentAtConnect: AgentActor | null,
    sessionId: string | undefined,
    limits?: SocketLimits,
  ) {
    contexts.set(socket, new SocketContext(socket, agentAtConnect, deps, table, limits));
    for (const [event, listener] of listeners) socket.on(event as never, listener as never);
    socket.onAny(unknown);
    socket.on('disconnect', dropTyping);
    // Every socket of an agent, and of one login session, can be reached (assignment, logout).
    if (agentAtConnect) {
      void socket.join([userRoom(agentAtConnect.userId), ...(sessionId ? [sessionRoom(sessionId)] : [])]);
    }
  };
}
