import type { ZodType, z } from 'zod';
import type { Services } from '../../services.js';
import type { AgentActor, EndUserActor } from '../../shared/auth/actor.js';
import { AppError } from '../../shared/errors.js';
import { toAppError } from '../../shared/http.js';
import type { Logger } from '../../shared/logger.js';
import type { Outage } from '../../shared/outage.js';
import type { Presence } from '../presence.js';
import type { Ack, ClientEventReplies } from '../realtime.contract.js';
import type { createEndUserLimiter } from '../realtime.ratelimit.js';
import type { RealtimeSocket } from '../realtime.types.js';
import { convRoom, endUserRoom } from '../rooms.js';
import type { TypingTracker } from '../typing.js';

/** What the handler factories of one node share. */
export type HandlerDeps = {
  services: Services;
  presence: Presence;
  typing: TypingTracker;
  limiter: ReturnType<typeof createEndUserLimiter>;
  logger: Logger;
  /** Database outages are reported here (logged once each), not logged per event. */
  outage?: Outage;
  /** Shutdown: refuse new events while closing, and let the ones under way finish first. */
  inflight?: { closing: () => boolean; track: (work: Promise<void>) => void };
};

/** An end user proven for one conversation. */
export type ConversationEndUser = EndUserActor & { conversationId: string };

type ClientEvent = keyof ClientEventReplies;

/** The input a handler receives: the schema's output, or nothing for payload-less events. */
type Parsed<S extends ZodType | null> = S extends ZodType ? z.output<S> : undefined;

/** Over the rate limit: no `error` event (the spec drops silently); an ack still learns why. */
export class Dropped extends Error {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

/** A deactivated agent is noticed within this long even on a socket opened before. */
const AGENT_RECHECK_MS = 10_000;

const signInFirst = () =>
  new AppError('auth/unauthenticated', 'Sign in first: this needs an agent session (or give external_id)');

/**
 * Payloads are JSON objects; some native clients send them as a JSON string, which is accepted.
 */
function parsePayload<S extends ZodType>(schema: S, raw: unknown): z.output<S> {
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

/**
 * The per-socket state and helpers every handler factory uses: event registration with its
 * parse → run → ack cycle, and who the socket speaks for (its agent, the end users it proved).
 */
export type SocketContext = ReturnType<typeof createSocketContext>;

/** `agentAtConnect` comes from the session at handshake; null for end users' sockets. */
export function createSocketContext(
  socket: RealtimeSocket,
  agentAtConnect: AgentActor | null,
  deps: Pick<HandlerDeps, 'services' | 'logger' | 'inflight' | 'outage'>,
) {
  const { services, logger, inflight, outage } = deps;
  let agent = agentAtConnect;
  let agentCheckedAt = Date.now();
  /** Conversations this socket joined or wrote to as an end user. */
  const endUsers = new Map<string, ConversationEndUser>();

  /**
   * Registers a handler: validate (once, here), run, answer the ack with `{ ok: true, ...reply }`;
   * failures become the `error` event and `{ ok: false, error, message }`.
   */
  function on<E extends ClientEvent, S extends ZodType | null>(
    event: E,
    schema: S,
    fn: (input: Parsed<S>) => Promise<ClientEventReplies[E]>,
  ) {
    type Reply = Ack<ClientEventReplies[E]>;
    // Raw arguments: the payload is parsed from unknown (it may be a JSON string), and events
    // without a payload may still be sent one, so the ack is whatever function comes last.
    const listener = (...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (reply: Reply) => void) : undefined;
      if (inflight?.closing()) {
        const message = 'The server is restarting; send again after reconnecting';
        socket.emit('error', { message });
        ack?.({ ok: false, error: 'unavailable', message });
        return;
      }
      const work = (async () => {
        try {
          const input = (schema ? parsePayload(schema, args[0]) : undefined) as Parsed<S>;
          const result = await fn(input);
          ack?.({ ok: true, ...result });
        } catch (err) {
          if (err instanceof Dropped) {
            ack?.({ ok: false, error: 'rate_limited', message: err.message, retry_after: err.retryAfterS });
            return;
          }
          const e = toAppError(err);
          if (e.code === 'unavailable' && !(err instanceof AppError)) outage?.failed(err);
          else if (e.status >= 500) logger.error({ err, event, socket: socket.id }, 'socket handler failed');
          socket.emit('error', { message: e.message });
          const retryAfter = e.details?.retry_after;
          ack?.({
            ok: false,
            error: e.code,
            message: e.message,
            ...(typeof retryAfter === 'number' ? { retry_after: retryAfter } : {}),
          });
        }
      })();
      inflight?.track(work);
    };
    // socket.io's listener type does not resolve for a generic event name; `E` keeps it honest.
    socket.on(event, listener as never);
  }

  /** The agent of this socket, re-read now and then so a deactivated agent loses access. */
  async function requireAgent(): Promise<AgentActor> {
    if (!agent) throw signInFirst();
    if (Date.now() - agentCheckedAt > AGENT_RECHECK_MS) {
      const fresh = await services.agents.actorFor(agent.userId);
      if (!fresh) {
        socket.disconnect(true);
        throw new AppError('auth/unauthenticated', 'Your session has ended; sign in again');
      }
      agent = fresh;
      agentCheckedAt = Date.now();
    }
    return agent;
  }

  /** The end user of a conversation, proven by external_id (remembered per socket). */
  async function requireEndUser(
    conversationId: string,
    externalId: string | undefined,
  ): Promise<ConversationEndUser> {
    const known = endUsers.get(conversationId);
    if (known && (externalId === undefined || known.externalId === externalId)) return known;
    if (externalId === undefined) {
      throw new AppError(
        'request/invalid',
        "Invalid parameter 'external_id': required for end_user until the conversation is joined",
        { param: 'external_id' },
      );
    }
    const actor = await services.conversations.requireForEndUser(conversationId, externalId);
    endUsers.set(conversationId, actor);
    return actor;
  }

  return {
    socket,
    on,
    requireAgent,
    requireEndUser,

    /** Whether this socket proved an end user for the conversation. */
    speaksForEndUser: (conversationId: string) => endUsers.has(conversationId),

    /** Conversation rooms of an end user: the conversation's, and their own (push checks it). */
    async joinAsEndUser(actor: ConversationEndUser) {
      await socket.join([convRoom(actor.conversationId), endUserRoom(actor.endUserId)]);
    },

    /** Forgets the conversation's end user; their own room goes with their last conversation here. */
    async leaveAsEndUser(conversationId: string) {
      const actor = endUsers.get(conversationId);
      endUsers.delete(conversationId);
      if (actor && ![...endUsers.values()].some((a) => a.endUserId === actor.endUserId)) {
        await socket.leave(endUserRoom(actor.endUserId));
      }
    },
  };
}
