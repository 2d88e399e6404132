import type { ZodType, z } from 'zod';
import type { Services } from '../../services.js';
import type { AgentActor, EndUserActor } from '../../shared/auth/actor.js';
import { AppError } from '../../shared/errors.js';
import { errorSummary, toAppError } from '../../shared/http.js';
import type { Logger } from '../../shared/logger.js';
import type { Outage } from '../../shared/outage.js';
import type { Presence } from '../presence.js';
import type { AckError, ClientEventReplies } from '../realtime.contract.js';
import type { SocketLimits } from '../realtime.guard.js';
import type { createEndUserLimiter } from '../realtime.ratelimit.js';
import type { RealtimeSocket } from '../realtime.types.js';
import { convRoom, endUserRoom, refreshRoom, unprovenRoom } from '../rooms.js';
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
  /** This socket's abuse limits (events per socket and per IP, failed proofs); none in some tests. */
  limits?: SocketLimits;
};

/** The acknowledgement callback of a raw event, if the client asked for one (the last argument). */
type RawAck = (reply: Record<string, unknown>) => void;

/** An end user proven for one conversation, with their organization's `rate_limit_per_min`. */
export type ConversationEndUser = EndUserActor & { conversationId: string; rateLimitPerMin: number };

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
  deps: Pick<HandlerDeps, 'services' | 'logger' | 'inflight' | 'outage' | 'limits'>,
) {
  const { services, logger, inflight, outage, limits } = deps;
  let agent = agentAtConnect;
  let agentCheckedAt = Date.now();
  /** Conversations this socket joined or wrote to as an end user. */
  const endUsers = new Map<string, ConversationEndUser>();

  /** Events with a handler on this socket; anything else is `unknown_event`. */
  const known = new Set<string>();

  /** A failure: the `error` event (unless a silent drop) and `{ ok: false, error, message }`. */
  function fail(event: string, err: unknown, ack: RawAck | undefined) {
    if (err instanceof Dropped) {
      ack?.({
        ok: false,
        error: 'rate_limited',
        message: err.message,
        retry_after: err.retryAfterS,
      } satisfies AckError);
      return;
    }
    const e = toAppError(err);
    if (e.code === 'unavailable' && !(err instanceof AppError)) outage?.failed(err);
    else if (e.status >= 500) {
      // One line per failure; the stack only for whoever asks for debug logs.
      logger.error({ event, socket: socket.id, err: errorSummary(err) }, 'socket handler failed');
      logger.debug({ err, event, socket: socket.id }, 'socket handler failed (stack)');
    }
    socket.emit('error', { message: e.message });
    const retryAfter = e.details?.retry_after;
    ack?.({
      ok: false,
      error: e.code,
      message: e.message,
      ...(typeof retryAfter === 'number' ? { retry_after: retryAfter } : {}),
    } satisfies AckError);
  }

  /**
   * One event's cycle, for every event (known or not): the limits first (the socket's at once,
   * before any I/O; then the IP's), then `run`, whose result is the ack's `{ ok: true, ...reply }`.
   */
  function handle(event: string, args: unknown[], run: (payload: unknown) => Promise<object>) {
    // Raw arguments: the payload is parsed from unknown (it may be a JSON string), and events
    // without a payload may still be sent one, so the ack is whatever function comes last.
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as RawAck) : undefined;
    if (inflight?.closing()) {
      const message = 'The server is restarting; send again after reconnecting';
      socket.emit('error', { message });
      ack?.({ ok: false, error: 'unavailable', message } satisfies AckError);
      return;
    }
    const refused = limits?.admitLocal();
    if (refused) return fail(event, refused, ack);
    const work = (async () => {
      try {
        await limits?.admitShared();
        const result = await run(args[0]);
        ack?.({ ok: true, ...result });
      } catch (err) {
        fail(event, err, ack);
      }
    })();
    inflight?.track(work);
  }

  /**
   * Registers a handler: validate (once, here), run, answer the ack with `{ ok: true, ...reply }`;
   * failures become the `error` event and `{ ok: false, error, message }`.
   */
  function on<E extends ClientEvent, S extends ZodType | null>(
    event: E,
    schema: S,
    fn: (input: Parsed<S>) => Promise<ClientEventReplies[E]>,
  ) {
    known.add(event);
    const listener = (...args: unknown[]) =>
      handle(event, args, (payload) => {
        const input = (schema ? parsePayload(schema, payload) : undefined) as Parsed<S>;
        return fn(input);
      });
    // socket.io's listener type does not resolve for a generic event name; `E` keeps it honest.
    socket.on(event, listener as never);
  }

  /**
   * Any event without a handler (socket.io's `onAny` sees every event): answered
   * `unknown_event` and the `error` event, after the same limits; nothing else happens.
   */
  function onUnknown() {
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && known.has(event)) return;
      const name = typeof event === 'string' ? event.slice(0, 64) : typeof event;
      handle(String(event), args, () =>
        Promise.reject(new AppError('unknown_event', `Unknown event '${name}'`)),
      );
    });
  }

  /** The agent of this socket, re-read now and then so a deactivated agent loses access. */
  async function requireAgent(): Promise<AgentActor> {
    if (!agent) throw signInFirst();
    // Marked when an admin changed their role or queues: re-read now, not at the next recheck.
    const marked = socket.rooms.has(refreshRoom(agent.userId));
    if (marked) await socket.leave(refreshRoom(agent.userId));
    if (marked || Date.now() - agentCheckedAt > AGENT_RECHECK_MS) {
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

  /**
   * The end user of a conversation, proven by external_id and, where the identity mode asks for
   * it, user_hash (remembered per socket: later events need neither).
   */
  async function requireEndUser(
    conversationId: string,
    externalId: string | undefined,
    userHash?: string,
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
    const prove = async () => {
      // Another event of this socket may have proven it while this one waited its turn.
      const again = endUsers.get(conversationId);
      if (again && again.externalId === externalId) return again;
      const actor = await services.conversations.requireForEndUser(conversationId, { externalId, userHash });
      endUsers.set(conversationId, actor);
      // Their own room from the first proof (typing, mark_read), so a revocation reaches this socket;
      // without a hash, also the room that is cut off once they are verified.
      await socket.join(
        userHash === undefined
          ? [endUserRoom(actor.endUserId), unprovenRoom(actor.endUserId)]
          : endUserRoom(actor.endUserId),
      );
      return actor;
    };
    return limits ? limits.proof(prove) : prove();
  }

  return {
    socket,
    on,
    onUnknown,
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
        await socket.leave(unprovenRoom(actor.endUserId));
      }
    },
  };
}
