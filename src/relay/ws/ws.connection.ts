import { WebSocket } from 'ws';
import type { Services } from '../../services.js';
import type { EndUserActor } from '../../shared/auth/actor.js';
import { AppError } from '../../shared/errors.js';
import { errorSummary, toAppError } from '../../shared/http.js';
import type { Logger } from '../../shared/logger.js';
import type { Outage } from '../../shared/outage.js';
import { flushTurnWrites } from '../../shared/turn-writes.js';
import type { createEndUserLimiter } from '../../realtime/realtime.ratelimit.js';
import type { RealtimeServer } from '../../realtime/realtime.types.js';
import { convRoom } from '../../realtime/rooms.js';
import { typistKey, type TypingTracker } from '../../realtime/typing.js';
import { CLOSE, msgFrame, type ServerFrame } from './ws.frames.js';
import { sendInputOf, visitorFrameSchema, type msgFrame as msgFrameSchema } from './ws.schemas.js';
import type { z } from 'zod';

/** Who a connection speaks for, from its session row. */
export type VisitorActor = EndUserActor & { conversationId: string; rateLimitPerMin: number };

/** What every connection of a node shares. */
export type ConnectionDeps = {
  services: Services;
  io: RealtimeServer;
  typing: TypingTracker;
  limiter: ReturnType<typeof createEndUserLimiter>;
  logger: Logger;
  outage?: Outage | undefined;
  maxBufferedBytes: number;
  /** Frames one connection may send per window; beyond, it is closed with 4429. */
  framesPerWindow: number;
  windowMs: number;
  /** Shutdown: refuse new messages; track the ones under way until they are acked. */
  closing: () => boolean;
  track: (work: Promise<void>) => void;
};

/** client_msg_ids a connection remembers sending, so the echo of its own message is not sent back. */
const OWN_IDS = 200;

/**
 * One visitor's socket: parses each frame with the gateway's schemas (a bad frame gets an `error`
 * frame and the connection stays open), calls the message service as the Socket.IO gateway does
 * (flood limit, tenant quota, refunds), and sends frames with back-pressure checked.
 */
export function createConnection(id: string, ws: WebSocket, actor: VisitorActor, deps: ConnectionDeps) {
  const { services, logger } = deps;
  const typist = typistKey('end_user', actor.externalId);
  const openedAt = Date.now();
  /** Until `welcome` is sent, live frames wait here (and those the welcome holds are dropped). */
  let pending: ServerFrame[] | null = [];
  let welcomed: Set<string> | null = null;
  const own = new Set<string>();
  let alive = true;
  let windowStart = Date.now();
  let frames = 0;
  // Messages are stored in the order the visitor sent them: one at a time per connection.
  let queue: Promise<void> = Promise.resolve();

  function close(code: number, reason: string) {
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
  }

  /**
   * Sends now, unless more than the bound is still unsent from before: that client does not read,
   * and is cut off (4408). Checked before adding the frame, so one large frame (a long replay) to
   * a client that reads is never mistaken for it.
   */
  function sendNow(frame: ServerFrame) {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > deps.maxBufferedBytes) {
      logger.warn({ conn: id, buffered: ws.bufferedAmount }, 'relay ws client too slow; closing');
      close(CLOSE.slowConsumer, 'Too slow: the client did not read');
      // Its buffer may never drain: the close frame cannot wait for it.
      setTimeout(() => ws.terminate(), 1000).unref();
      return;
    }
    // What this client sees follows every broadcast issued before it (see batchPublishes).
    flushTurnWrites();
    ws.send(JSON.stringify(frame));
  }

  /** A live frame (fan-out): held until the welcome is out; the sender's own echo is skipped. */
  function deliver(frame: ServerFrame) {
    if (
      frame.type === 'msg' &&
      frame.role === 'visitor' &&
      frame.client_msg_id &&
      own.has(frame.client_msg_id)
    )
      return;
    if (pending) {
      pending.push(frame);
      return;
    }
    if (frame.type === 'msg' && welcomed?.has(frame.id)) return;
    sendNow(frame);
  }

  /** Sends the welcome, then whatever arrived meanwhile that it does not already hold. */
  function welcome(frame: ServerFrame, messageIds: string[]) {
    welcomed = new Set(messageIds);
    sendNow(frame);
    const held = pending ?? [];
    pending = null;
    for (const f of held) deliver(f);
    // A live frame after this point cannot be older than the welcome's read.
    setTimeout(() => (welcomed = null), 10_000).unref();
  }

  function error(
    code: string,
    message: string,
    extra: { client_msg_id?: string; retry_after?: number } = {},
  ) {
    sendNow({ type: 'error', code, message, ...extra });
  }

  function fail(err: unknown, clientMsgId?: string) {
    const e = toAppError(err);
    if (e.code === 'unavailable' && !(err instanceof AppError)) deps.outage?.failed(err);
    else if (e.status >= 500) {
      // One line per failure; the stack only for whoever asks for debug logs.
      logger.error({ conn: id, err: errorSummary(err) }, 'relay ws frame failed');
      logger.debug({ err, conn: id }, 'relay ws frame failed (stack)');
    }
    const retryAfter = e.details?.retry_after;
    error(e.code, e.message, {
      ...(clientMsgId ? { client_msg_id: clientMsgId } : {}),
      ...(typeof retryAfter === 'number' ? { retry_after: retryAfter } : {}),
    });
  }

  /** The Socket.IO gateway's send path (messages.handlers.ts), with an ack after the commit. */
  async function send(frame: z.infer<typeof msgFrameSchema>) {
    const cmid = frame.client_msg_id;
    let input;
    try {
      input = sendInputOf(frame, actor.conversationId);
    } catch (err) {
      return fail(err, cmid);
    }
    const quota = await deps.limiter.take(actor.organizationId, actor.externalId);
    if (!quota.allowed) {
      return error('rate_limited', 'Too many messages; this one was dropped', {
        client_msg_id: cmid,
        retry_after: quota.retryAfterS,
      });
    }
    let tenant;
    try {
      tenant = await services.quota?.take('messages', actor.organizationId, actor.rateLimitPerMin);
    } catch (err) {
      await quota.refund();
      const retryAfter = err instanceof AppError ? err.details?.retry_after : undefined;
      if (typeof retryAfter !== 'number') return fail(err, cmid);
      return error('rate_limited', 'Too many messages for this organization; this one was dropped', {
        client_msg_id: cmid,
        retry_after: retryAfter,
      });
    }
    const refund = () => Promise.all([quota.refund(), tenant?.refund()]);
    own.add(cmid);
    if (own.size > OWN_IDS) own.delete(own.values().next().value!);
    try {
      const { message, duplicate } = await services.messages.send(actor, input);
      if (duplicate) await refund();
      sendNow({
        type: 'ack',
        client_msg_id: cmid,
        id: message.id,
        seq: message.seq,
        created_at: message.createdAt.toISOString(),
        duplicate,
      });
    } catch (err) {
      await refund();
      fail(err, cmid);
    }
  }

  function typing(state: 'start' | 'stop') {
    if (state === 'stop') return deps.typing.stop(actor.conversationId, typist);
    if (deps.typing.touch(actor.conversationId, typist, id)) {
      deps.io.to(convRoom(actor.conversationId)).emit('typing_indicator', {
        conversation_id: actor.conversationId,
        sender_type: 'end_user',
      });
    }
  }

  /** Replays what followed the client's cursor, in order, then says where it stands. */
  async function resume(after: { seq: number } | { id: string }) {
    const { messages, lastSeq, hasMore } = await services.messages.since(actor.conversationId, after);
    for (const m of messages) sendNow(msgFrame(m));
    sendNow({ type: 'resumed', missed: messages.length, last_seq: lastSeq, has_more: hasMore });
  }

  function onFrame(data: Buffer, isBinary: boolean) {
    alive = true;
    const now = Date.now();
    if (now - windowStart >= deps.windowMs) {
      windowStart = now;
      frames = 0;
    }
    if (++frames > deps.framesPerWindow) return close(CLOSE.rateLimited, 'Too many frames');
    if (isBinary) return error('request/invalid', 'Frames are JSON text, not binary');
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      return error('request/invalid', 'Malformed JSON frame');
    }
    const parsed = visitorFrameSchema.safeParse(raw);
    if (!parsed.success) {
      const cmid = (raw as { client_msg_id?: unknown } | null)?.client_msg_id;
      return fail(parsed.error, typeof cmid === 'string' ? cmid : undefined);
    }
    const frame = parsed.data;
    switch (frame.type) {
      case 'ping':
        return sendNow({ type: 'pong', time: new Date().toISOString() });
      case 'typing':
        return typing(frame.state);
      case 'resume': {
        const work = resume(
          frame.last_seq !== undefined ? { seq: frame.last_seq } : { id: frame.last_message_id! },
        ).catch((err: unknown) => fail(err));
        return deps.track(work);
      }
      case 'delivered': {
        const work = services.messages
          .delivered(actor, actor.conversationId, frame.seq, true)
          .then(() => undefined)
          .catch((err: unknown) => fail(err));
        return deps.track(work);
      }
      case 'read': {
        const work = services.messages
          .markRead(actor, { conversation_id: actor.conversationId, message_ids: frame.message_ids }, true)
          .then(() => undefined)
          .catch((err: unknown) => fail(err));
        return deps.track(work);
      }
      case 'msg': {
        // Received before the shutdown began: stored and acked. After: refused, to send again.
        if (deps.closing()) {
          return error('unavailable', 'The server is restarting; send again after reconnecting', {
            client_msg_id: frame.client_msg_id,
            retry_after: 1,
          });
        }
        const work = (queue = queue
          .then(() => send(frame))
          .catch((err: unknown) => fail(err, frame.client_msg_id)));
        return deps.track(work);
      }
    }
  }

  ws.on('message', (data, isBinary) => onFrame(data as Buffer, isBinary));
  ws.on('pong', () => (alive = true));

  return {
    id,
    ws,
    actor,
    /** When it was opened (`Date.now()`): a connection opened after a node was lost caught up then. */
    openedAt,
    deliver,
    welcome,
    sendNow,
    close,
    /** Heartbeat: true if it answered since the last beat; pings it again. */
    beat(): boolean {
      if (!alive) return false;
      alive = false;
      if (ws.readyState === WebSocket.OPEN) ws.ping();
      return true;
    },
    /** The connection went away: its typing indicator ends. */
    dispose() {
      deps.typing.dropSocket(id);
    },
  };
}

export type Connection = ReturnType<typeof createConnection>;
