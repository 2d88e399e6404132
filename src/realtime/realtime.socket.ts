import type { Socket } from 'socket.io';
import type { ZodType, z } from 'zod';
import type { Services } from '../app.js';
import { messageEventDto } from '../conversations/conversations.dto.js';
import { sendMessageSchema } from '../messages/messages.schemas.js';
import type { AgentActor, EndUserActor } from '../shared/auth/actor.js';
import { AppError } from '../shared/errors.js';
import { toAppError } from '../shared/http.js';
import type { Logger } from '../shared/logger.js';
import type { Presence } from './presence.js';
import type { createEndUserLimiter } from './realtime.ratelimit.js';
import {
  conversationRef,
  joinConversationSchema,
  markReadSchema,
  sendEnvelopeSchema,
  typingSchema,
} from './realtime.schemas.js';
import { convRoom, endUserRoom, presenceRoom, queueRoomsFor, sessionRoom, userRoom } from './rooms.js';
import { typistKey, type TypingTracker } from './typing.js';

/** What other nodes may read about a socket (`fetchSockets()`); plain data only. */
export type SocketData = { userId?: string; organizationId?: string };

/** Per-socket state that never leaves this node. */
type State = {
  agent: AgentActor | null;
  agentCheckedAt: number;
  /** Conversations this socket joined or wrote to as an end user. */
  endUsers: Map<string, EndUserActor & { conversationId: string }>;
};

export type HandlerDeps = {
  services: Services;
  presence: Presence;
  typing: TypingTracker;
  limiter: ReturnType<typeof createEndUserLimiter>;
  logger: Logger;
  /** Shutdown: refuse new events while closing, and let the ones under way finish first. */
  inflight?: { closing: () => boolean; track: (work: Promise<void>) => void };
};

type Ack = (reply: Record<string, unknown>) => void;

/** Over the rate limit: no `error` event (the spec drops silently); an ack still learns why. */
class Dropped extends Error {}

/** A deactivated agent is noticed within this long even on a socket opened before. */
const AGENT_RECHECK_MS = 10_000;

const signInFirst = () =>
  new AppError('auth/unauthenticated', 'Sign in first: this needs an agent session (or give external_id)');

/**
 * Payloads are JSON objects; some native clients send them as a JSON string, which is accepted.
 */
function parsePayload<S extends ZodType>(schema: S, raw: unknown): z.infer<S> {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('request/invalid', 'Invalid payload: expected a JSON object');
  }
  return schema.parse(value);
}

/** The event handlers of one connected socket. `agent` comes from the session at handshake. */
export function registerSocketHandlers(
  socket: Socket,
  agentAtConnect: AgentActor | null,
  sessionId: string | undefined,
  deps: HandlerDeps,
) {
  const { services, presence, typing, limiter, logger } = deps;
  const state: State = { agent: agentAtConnect, agentCheckedAt: Date.now(), endUsers: new Map() };

  /** Registers a handler: validate, run, answer the ack; failures become the `error` event. */
  function on<S extends ZodType | null>(
    event: string,
    schema: S,
    fn: (input: S extends ZodType ? z.infer<S> : undefined) => Promise<Record<string, unknown> | void>,
  ) {
    socket.on(event, (...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
      if (deps.inflight?.closing()) {
        const message = 'The server is restarting; send again after reconnecting';
        socket.emit('error', { message });
        ack?.({ ok: false, error: 'unavailable', message });
        return;
      }
      const work = (async () => {
        try {
          const input = (schema ? parsePayload(schema, args[0]) : undefined) as Parameters<typeof fn>[0];
          const result = await fn(input);
          ack?.({ ok: true, ...result });
        } catch (err) {
          if (err instanceof Dropped) {
            ack?.({ ok: false, error: 'rate_limited', message: err.message });
            return;
          }
          const e = toAppError(err);
          if (e.status >= 500) logger.error({ err, event, socket: socket.id }, 'socket handler failed');
          socket.emit('error', { message: e.message });
          ack?.({ ok: false, error: e.code, message: e.message });
        }
      })();
      deps.inflight?.track(work);
    });
  }

  /** The agent of this socket, re-read now and then so a deactivated agent loses access. */
  async function requireAgent(): Promise<AgentActor> {
    if (!state.agent) throw signInFirst();
    if (Date.now() - state.agentCheckedAt > AGENT_RECHECK_MS) {
      const fresh = await services.agents.actorFor(state.agent.userId);
      if (!fresh) {
        socket.disconnect(true);
        throw new AppError('auth/unauthenticated', 'Your session has ended; sign in again');
      }
      state.agent = fresh;
      state.agentCheckedAt = Date.now();
    }
    return state.agent;
  }

  /** The end user of a conversation, proven by external_id (remembered per socket). */
  async function requireEndUser(conversationId: string, externalId: string | undefined) {
    const known = state.endUsers.get(conversationId);
    if (known && (externalId === undefined || known.externalId === externalId)) return known;
    if (externalId === undefined) {
      throw new AppError(
        'request/invalid',
        "Invalid parameter 'external_id': required for end_user until the conversation is joined",
        { param: 'external_id' },
      );
    }
    const actor = await services.conversations.requireForEndUser(conversationId, externalId);
    state.endUsers.set(conversationId, actor);
    return actor;
  }

  /** Conversation rooms of an end user: the conversation's, and their own (push checks it). */
  async function joinAsEndUser(actor: EndUserActor & { conversationId: string }) {
    await socket.join([convRoom(actor.conversationId), endUserRoom(actor.endUserId)]);
  }

  on('join_conversation', joinConversationSchema, async (input) => {
    if (input.external_id !== undefined) {
      await joinAsEndUser(await requireEndUser(input.conversation_id, input.external_id));
    } else {
      const agent = await requireAgent();
      await services.conversations.requireForAgent(agent, input.conversation_id);
      await socket.join(convRoom(input.conversation_id));
    }
    // Reconnect catch-up: joined first, so nothing falls between the query and the room.
    let missed = 0;
    if (input.last_message_id) {
      const rows = await services.messages.since(input.conversation_id, input.last_message_id);
      for (const m of rows) socket.emit('message_received', messageEventDto(m));
      missed = rows.length;
    }
    return { conversation_id: input.conversation_id, missed };
  });

  on('leave_conversation', conversationRef, async ({ conversation_id }) => {
    await socket.leave(convRoom(conversation_id));
    const actor = state.endUsers.get(conversation_id);
    state.endUsers.delete(conversation_id);
    if (actor && ![...state.endUsers.values()].some((a) => a.endUserId === actor.endUserId)) {
      await socket.leave(endUserRoom(actor.endUserId));
    }
    return { conversation_id };
  });

  // send_message: full validation first (the message service's schema, rich media included),
  // then who is sending, then the end-user limit, then the store.
  on('send_message', sendMessageSchema, async (input) => {
    const env = sendEnvelopeSchema.parse(input);
    if (env.sender_type === 'end_user') {
      const actor = await requireEndUser(env.conversation_id, env.external_id);
      if (!(await limiter.allow(actor.organizationId, actor.externalId))) {
        throw new Dropped('Too many messages; this one was dropped');
      }
      const { message, duplicate } = await services.messages.send(actor, input);
      await joinAsEndUser(actor);
      return { message: messageEventDto(message), duplicate };
    }
    const agent = await requireAgent();
    const { message, duplicate } = await services.messages.send(agent, input);
    await socket.join(convRoom(env.conversation_id));
    return { message: messageEventDto(message), duplicate };
  });

  on('claim_conversation', conversationRef, async ({ conversation_id }) => {
    const agent = await requireAgent();
    const result = await services.conversations.assign(agent, conversation_id);
    // The listener joins every tab of the agent; this one is joined before the ack.
    await socket.join(convRoom(conversation_id));
    return { conversation_id, ...result };
  });

  on('join_queue', null, async () => {
    const agent = await requireAgent();
    await socket.join(queueRoomsFor(agent));
    return {};
  });

  on('join_org_presence', null, async () => {
    const agent = await requireAgent();
    await socket.join(presenceRoom(agent.organizationId));
    const online = await presence.online(agent.organizationId);
    // A newcomer learns the current state through the same event it will hear changes on.
    for (const agentId of online)
      socket.emit('agent_status_changed', { agent_id: agentId, status: 'online' });
    return { online };
  });

  on('user_typing', typingSchema, async (input) => {
    let typist: string;
    if (input.sender_type === 'end_user') {
      const actor = await requireEndUser(input.conversation_id, input.external_id);
      typist = typistKey('end_user', actor.externalId);
    } else {
      const agent = await requireAgent();
      if (!socket.rooms.has(convRoom(input.conversation_id))) {
        await services.conversations.requireForAgent(agent, input.conversation_id);
      }
      typist = typistKey('agent', agent.userId);
    }
    socket.to(convRoom(input.conversation_id)).emit('typing_indicator', {
      conversation_id: input.conversation_id,
      sender_type: input.sender_type,
    });
    typing.touch(input.conversation_id, typist, socket.id);
    return {};
  });

  on('mark_read', markReadSchema, async (input) => {
    // The reader is the end user if this socket speaks for one here, else the agent.
    const asEndUser = input.external_id !== undefined || state.endUsers.has(input.conversation_id);
    const actor = asEndUser
      ? await requireEndUser(input.conversation_id, input.external_id)
      : await requireAgent();
    const result = await services.messages.markRead(actor, {
      conversation_id: input.conversation_id,
      message_ids: input.message_ids,
    });
    return { ...result };
  });

  socket.on('disconnect', () => typing.dropSocket(socket.id));

  if (agentAtConnect) {
    void socket.join([userRoom(agentAtConnect.userId), ...(sessionId ? [sessionRoom(sessionId)] : [])]);
  }
}
