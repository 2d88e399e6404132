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
 * connected socket its context and one middleware that hands it every event (issue 23: memory per
 * idle connection). A listener per event made each socket's listener table a dictionary of a dozen
 * entries, about 0.7 KB an idle socket; one middleware is a closure. It is added after the other
 * `connection` listeners have run, so middlewares they add (`socket.use`) still run first and may
 * hold or refuse an event. It takes every event, known or not, and passes none on (a client's event
 * named `error` reaches no listener of the socket).
 */
export function createSocketHandlers(deps: HandlerDeps) {
  const { table, on } = createHandlerTable();
  registerConversationHandlers(on, deps);
  registerMessageHandlers(on, deps);
  registerTypingHandlers(on, deps);
  registerPresenceHandlers(on, deps);

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
    const handle = handlerOf(new SocketContext(socket, agentAtConnect, deps, table, limits));
    // `connection` listeners run in one go; this runs after the last, before any packet is read.
    queueMicrotask(() => socket.use(handle));
    socket.on('disconnect', dropTyping);
    // Every socket of an agent, and of one login session, can be reached (assignment, logout).
    if (agentAtConnect) {
      void socket.join([userRoom(agentAtConnect.userId), ...(sessionId ? [sessionRoom(sessionId)] : [])]);
    }
  };
}

/** A socket's last middleware: each event to its context (unknown ones are answered `unknown_event`). */
function handlerOf(ctx: SocketContext) {
  return (packet: unknown[], _next: unknown) => {
    if (ctx.socket.connected) ctx.dispatch(packet[0], packet.slice(1));
  };
}
