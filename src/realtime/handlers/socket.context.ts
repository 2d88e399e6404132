import type { LiveRooms } from '../live-rooms.js';
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
  /** Rooms of per-message queue activity, as the other nodes know them. */
  liveRooms?: Pick<LiveRooms, 'heard'>;
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

/** A handler: the payload parsed by its schema (nothing for payload-less events), the ack's reply. */
type Run<E extends ClientEvent, S extends ZodType | null> = (
  ctx: SocketContext,
  input: Parsed<S>,
) => Promise<ClientEventReplies[E]>;

/** Registers a handler in the node's table (the handler factories' `on`). */
export type On = <E extends ClientEvent, S extends ZodType | null>(
  event: E,
  schema: S,
  run: Run<E, S>,
) => void;

/** Every client event's handler, built once per node and shared by all of its sockets. */
export type HandlerTable = ReadonlyMap<
  string,
  { schema: ZodType | null; run: (ctx: SocketContext, input: unknown) => Promise<object> }
>;

/** An empty table and the `on` that fills it. */
export function createHandlerTable(): { table: HandlerTable; on: On } {
  const table = new Map<
    string,
    { schema: ZodType | null; run: (ctx: SocketContext, input: unknown) => Promise<object> }
  >();
  const on: On = (event, schema, run) => {
    table.set(event, { schema, run: run as (ctx: SocketContext, input: unknown) => Promise<object> });
  };
  return { table, on };
}

/** What a socket's context needs of its node. */
export type ContextDeps = Pick<HandlerDeps, 'services' | 'logger' | 'inflight' | 'outage'>;

/**
 * One socket's state — who it speaks for (its agent, the end users it proved) — and the helpers
 * every handler uses. A class, not closures: its methods are shared by every socket of the node,
 * so an idle connection costs one object, not a closure per event and helper (issue 23).
 */
export class SocketContext {
  private agent: AgentActor | null;
  private agentCheckedAt = Date.now();
  /**
   * Conversations this socket joined or wrote to as an end user: one, mostly, so an array replaced
   * whole on change (a Map's table alone is about 150 bytes an idle socket).
   */
  private endUsers: readonly ConversationEndUser[] = [];

  /** `agentAtConnect` comes from the session at handshake; null for end users' sockets. */
  constructor(
    readonly socket: RealtimeSocket,
    agentAtConnect: AgentActor | null,
    private readonly deps: ContextDeps,
    private readonly table: HandlerTable,
    private readonly limits: SocketLimits | undefined,
  ) {
    this.agent = agentAtConnect;
  }

  /** A failure: the `error` event (unless a silent drop) and `{ ok: false, error, message }`. */
  private fail(event: string, err: unknown, ack: RawAck | undefined) {
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
    const { socket } = this;
    if (e.code === 'unavailable' && !(err instanceof AppError)) this.deps.outage?.failed(err);
    else if (e.status >= 500) {
      // One line per failure; the stack only for whoever asks for debug logs.
      this.deps.logger.error({ event, socket: socket.id, err: errorSummary(err) }, 'socket handler failed');
      this.deps.logger.debug({ err, event, socket: socket.id }, 'socket handler failed (stack)');
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
   * One event's cycle, for every event (known or not; socket.io's `onAny` sees them all): the
   * limits first (the socket's at once, before any I/O; then the IP's), then the handler — its
   * schema validates the payload (parsed from unknown: it may be a JSON string) — whose result is
   * the ack's `{ ok: true, ...reply }`; failures become the `error` event and `{ ok: false, error,
   * message }`. An event without a handler is answered `unknown_event` after the same limits (a
   * client must not wait forever for an ack that never comes).
   */
  dispatch(event: unknown, args: unknown[]) {
    // Events without a payload may still be sent one, so the ack is whatever function comes last.
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as RawAck) : undefined;
    const name = typeof event === 'string' ? event : String(event);
    if (this.deps.inflight?.closing()) {
      const message = 'The server is restarting; send again after reconnecting';
      this.socket.emit('error', { message });
      ack?.({ ok: false, error: 'unavailable', message } satisfies AckError);
      return;
    }
    const refused = this.limits?.admitLocal();
    if (refused) return this.fail(name, refused, ack);
    const handler = typeof event === 'string' ? this.table.get(event) : undefined;
    const work = (async () => {
      try {
        await this.limits?.admitShared();
        if (!handler) {
          const shown = typeof event === 'string' ? event.slice(0, 64) : typeof event;
          throw new AppError('unknown_event', `Unknown event '${shown}'`);
        }
        const input = handler.schema ? parsePayload(handler.schema, args[0]) : undefined;
        const result = await handler.run(this, input);
        ack?.({ ok: true, ...result });
      } catch (err) {
        this.fail(name, err, ack);
      }
    })();
    this.deps.inflight?.track(work);
  }

  /** The agent of this socket, re-read now and then so a deactivated agent loses access. */
  async requireAgent(): Promise<AgentActor> {
    const { socket } = this;
    if (!this.agent) throw signInFirst();
    // Marked when an admin changed their role or queues: re-read now, not at the next recheck.
    const marked = socket.rooms.has(refreshRoom(this.agent.userId));
    if (marked) await socket.leave(refreshRoom(this.agent.userId));
    if (marked || Date.now() - this.agentCheckedAt > AGENT_RECHECK_MS) {
      const fresh = await this.deps.services.agents.actorFor(this.agent.userId);
      if (!fresh) {
        socket.disconnect(true);
        throw new AppError('auth/unauthenticated', 'Your session has ended; sign in again');
      }
      this.agent = fresh;
      this.agentCheckedAt = Date.now();
    }
    return this.agent;
  }

  /**
   * The end user of a conversation, proven by external_id and, where the identity mode asks for
   * it, user_hash (remembered per socket: later events need neither).
   */
  async requireEndUser(
    conversationId: string,
    externalId: string | undefined,
    userHash?: string,
  ): Promise<ConversationEndUser> {
    const known = this.endUserOf(conversationId);
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
      const again = this.endUserOf(conversationId);
      if (again && again.externalId === externalId) return again;
      const actor = await this.deps.services.conversations.requireForEndUser(conversationId, {
        externalId,
        userHash,
      });
      // `concat` makes the array exactly as long as it needs (a spread leaves room to grow).
      this.endUsers = this.endUsers.filter((a) => a.conversationId !== conversationId).concat(actor);
      // Their own room from the first proof (typing, mark_read), so a revocation reaches this socket;
      // without a hash, also the room that is cut off once they are verified.
      await this.socket.join(
        userHash === undefined
          ? [endUserRoom(actor.endUserId), unprovenRoom(actor.endUserId)]
          : endUserRoom(actor.endUserId),
      );
      return actor;
    };
    return this.limits ? this.limits.proof(prove) : prove();
  }

  /** Whether this socket proved an end user for the conversation. */
  speaksForEndUser(conversationId: string) {
    return this.endUserOf(conversationId) !== undefined;
  }

  private endUserOf(conversationId: string) {
    return this.endUsers.find((a) => a.conversationId === conversationId);
  }

  /** Conversation rooms of an end user: the conversation's, and their own (push checks it). */
  async joinAsEndUser(actor: ConversationEndUser) {
    await this.joinOnce([convRoom(actor.conversationId), endUserRoom(actor.endUserId)]);
  }

  /**
   * Joins the rooms this socket is not in yet. Every message sent joins its sender to the
   * conversation's rooms: almost always rooms it is already in, and a join allocates sets and
   * updates the adapter's maps even then. `socket.rooms` is this node's adapter's view, which
   * other nodes' `socketsLeave` also update.
   */
  async joinOnce(rooms: string[]) {
    const { rooms: current } = this.socket;
    if (rooms.every((r) => current.has(r))) return;
    await this.socket.join(rooms);
  }

  /** Forgets the conversation's end user; their own room goes with their last conversation here. */
  async leaveAsEndUser(conversationId: string) {
    const actor = this.endUserOf(conversationId);
    this.endUsers = this.endUsers.filter((a) => a.conversationId !== conversationId);
    if (actor && !this.endUsers.some((a) => a.endUserId === actor.endUserId)) {
      await this.socket.leave(endUserRoom(actor.endUserId));
      await this.socket.leave(unprovenRoom(actor.endUserId));
    }
  }
}
