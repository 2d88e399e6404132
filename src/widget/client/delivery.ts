// Sending with retries, shared by the widget and the inbox composer (both bundle it). A message
// waits in an outbox until the server has stored it; a send whose ack says the server cannot
// store it now (`unavailable`, `rate_limited`, a 5xx-class code) or that gets no ack in time is
// sent again with the same `client_msg_id` after a back-off, so it is stored once however often it
// goes out. The caller renders each item (`renderOutboxNote` draws its state).
import type { Socket } from 'socket.io-client';
import type {
  Ack,
  AckError,
  ClientEventReplies,
  ClientToServerEvents,
  ServerToClientEvents,
} from '../../realtime/realtime.contract.js';

/** How long a send (or a join) may wait for its acknowledgement before it counts as failed. */
export const ACK_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
/** A server's `retry_after` is honoured, up to this much (a bad value must not strand a message). */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Codes that mean "not now" rather than "never": the same send may succeed later. */
const TRANSIENT: ReadonlySet<string> = new Set([
  'unavailable',
  'internal',
  'rate_limited',
  'auth/rate_limited',
]);

export function isTransient(code: AckError['error'] | string): boolean {
  return TRANSIENT.has(code);
}

/**
 * The wait before retry number `attempt` (1, 2, …): 1 s, 2 s, 4 s … capped at 30 s, each ±25 %
 * so that clients that failed together do not come back together; never sooner than the
 * server's `retry_after` (seconds) when it gave one.
 */
export function retryDelayMs(attempt: number, retryAfterS?: number): number {
  const base = 1000 * 2 ** Math.min(Math.max(0, attempt - 1), 5);
  const backoff = Math.min(MAX_BACKOFF_MS, base * (0.75 + Math.random() * 0.5));
  const told =
    typeof retryAfterS === 'number' && retryAfterS > 0
      ? Math.min(MAX_RETRY_AFTER_MS, retryAfterS * 1000 * (1 + Math.random() * 0.2))
      : 0;
  return Math.round(Math.max(backoff, told));
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type LooseEmitter = { emit(event: string, payload: unknown, cb: (err: unknown, ack: unknown) => void): void };

/**
 * Emits an event with a payload and resolves with its ack, or with null when none came within
 * ACK_TIMEOUT_MS (the server may still have acted on it: only idempotent events go through here).
 */
export function request<E extends 'join_conversation' | 'send_message'>(
  socket: ClientSocket,
  event: E,
  payload: Parameters<ClientToServerEvents[E]>[0],
): Promise<Ack<ClientEventReplies[E]> | null> {
  return new Promise((resolve) => {
    // socket.io's types decorate only required ack parameters; the contract's are optional.
    (socket.timeout(ACK_TIMEOUT_MS) as unknown as LooseEmitter).emit(event, payload, (err, ack) =>
      resolve(err ? null : (ack as Ack<ClientEventReplies[E]>)),
    );
  });
}

export type Outgoing = { client_msg_id: string };

/**
 * What the visitor or agent should see on a message not stored yet: under way, waiting for the
 * connection, or waiting `seconds` before the next automatic try.
 */
export type OutboxState = { kind: 'sending' } | { kind: 'offline' } | { kind: 'waiting'; seconds: number };

type OutboxDeps<I extends Outgoing, M> = {
  /** send_message for the item; resolves with the ack, or null when none came in time. */
  emit: (item: I) => Promise<Ack<{ message: M }> | null>;
  connected: () => boolean;
  /** The outbox changed (to persist it). */
  save?: (items: readonly I[]) => void;
  /** The server stored it; `message` is the stored message. */
  delivered: (item: I, message: M) => void;
  /** The server refused it for good (invalid, no access…); it has left the outbox. */
  refused: (item: I, message: string) => void;
  /** An item's state changed, or its countdown moved on. */
  render: (item: I, state: OutboxState) => void;
};

/**
 * An outbox kept in order: while a retry is scheduled, new messages wait behind the ones that
 * failed instead of overtaking them, and the retry sends them all, oldest first.
 */
export function createOutbox<I extends Outgoing, M>(d: OutboxDeps<I, M>, initial: readonly I[] = []) {
  const items: I[] = [...initial];
  /** client_msg_id → the emit under way (a number, so a superseded answer is recognised). */
  const inFlight = new Map<string, number>();
  let emits = 0;
  let failures = 0;
  let retryAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;

  function stateOf(item: I): OutboxState {
    if (inFlight.has(item.client_msg_id)) return { kind: 'sending' };
    if (retryAt) return { kind: 'waiting', seconds: Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)) };
    return d.connected() ? { kind: 'sending' } : { kind: 'offline' };
  }

  function renderAll() {
    for (const item of items) d.render(item, stateOf(item));
  }

  function remove(id: string): I | undefined {
    const i = items.findIndex((p) => p.client_msg_id === id);
    inFlight.delete(id);
    if (i < 0) return undefined;
    const [item] = items.splice(i, 1);
    d.save?.(items);
    return item;
  }

  function stopWaiting() {
    clearTimeout(timer);
    clearInterval(ticker);
    timer = ticker = undefined;
    retryAt = 0;
  }

  /** Retries the whole outbox later; failures of one round count once. */
  function scheduleRetry(retryAfterS?: number) {
    const now = Date.now();
    if (timer) {
      // Already waiting: only a longer `retry_after` from the server moves the retry later.
      if (typeof retryAfterS !== 'number') return;
      const at = now + retryDelayMs(failures, retryAfterS);
      if (at <= retryAt) return;
      retryAt = at;
    } else {
      failures++;
      retryAt = now + retryDelayMs(failures, retryAfterS);
      ticker = setInterval(renderAll, 1000);
    }
    clearTimeout(timer);
    timer = setTimeout(flush, retryAt - now);
  }

  function send(item: I) {
    const id = item.client_msg_id;
    const mine = ++emits;
    inFlight.set(id, mine);
    d.render(item, { kind: 'sending' });
    void d.emit(item).then(
      (ack) => answered(item, mine, ack),
      () => answered(item, mine, null),
    );
  }

  function answered(item: I, mine: number, ack: Ack<{ message: M }> | null) {
    const id = item.client_msg_id;
    // Superseded (the connection dropped and it went out again) or settled by the room's echo.
    if (inFlight.get(id) !== mine) return;
    inFlight.delete(id);
    if (!items.includes(item)) return;
    if (ack?.ok) {
      failures = 0;
      remove(id);
      d.delivered(item, ack.message);
      return;
    }
    if (ack && !isTransient(ack.error)) {
      remove(id);
      d.refused(item, ack.message);
      return;
    }
    // No answer, or the server cannot store it now. Offline, the reconnect sends it again.
    if (d.connected()) scheduleRetry(ack?.retry_after);
    d.render(item, stateOf(item));
  }

  /** Sends every message not under way now, oldest first (after a reconnect, or "Retry now"). */
  function flush() {
    stopWaiting();
    if (!d.connected()) return renderAll();
    for (const item of [...items]) if (!inFlight.has(item.client_msg_id)) send(item);
  }

  return {
    items: items as readonly I[],
    /**
     * Queues a new message: sent at once unless offline or older ones wait to go out (their
     * retry, or the flush after a reconnect, sends it behind them).
     */
    add(item: I) {
      const queued = items.some((i) => !inFlight.has(i.client_msg_id));
      items.push(item);
      d.save?.(items);
      if (d.connected() && !retryAt && !queued) send(item);
      else d.render(item, stateOf(item));
    },
    flush,
    /** The stored message arrived another way (the room's echo, a replay): done. */
    settle(id: string): boolean {
      return remove(id) !== undefined;
    },
    /** The connection dropped: acks under way will never come; everything goes out on reconnect. */
    disconnected() {
      inFlight.clear();
      stopWaiting();
      renderAll();
    },
    stateOf,
  };
}

export type Outbox<I extends Outgoing, M> = ReturnType<typeof createOutbox<I, M>>;

const NOTES = { sending: 'Sending…', offline: 'Not sent yet — waiting for the connection' };

/**
 * The note under a message not stored yet: "Sending…", waiting for the connection, or "Not sent
 * yet — retrying in N s" with a "Retry now" button. While it waits only the countdown changes, so
 * the button keeps its focus, and a screen reader hears the state once, not every tick.
 */
export function renderOutboxNote(
  note: HTMLElement,
  state: OutboxState,
  retryNow: () => void,
  buttonClass = '',
): void {
  if (state.kind === 'waiting' && note.dataset.state === 'waiting') {
    const countdown = note.querySelector('[data-countdown]');
    if (countdown) countdown.textContent = `${state.seconds} s`;
    return;
  }
  if (state.kind === note.dataset.state) return;
  note.dataset.state = state.kind;
  if (state.kind !== 'waiting') return note.replaceChildren(NOTES[state.kind]);
  const countdown = document.createElement('span');
  countdown.dataset.countdown = '';
  countdown.setAttribute('aria-live', 'off');
  countdown.textContent = `${state.seconds} s`;
  const retry = document.createElement('button');
  retry.type = 'button';
  retry.className = buttonClass;
  retry.textContent = 'Retry now';
  retry.addEventListener('click', retryNow);
  note.replaceChildren('Not sent yet — retrying in ', countdown, ' ', retry);
}
