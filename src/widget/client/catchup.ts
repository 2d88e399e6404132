// Gap-safe catch-up for one conversation on screen, shared by the widget and the inbox thread
// (both bundle it). Every message carries its per-conversation `seq`. The client keeps a cursor:
// the highest seq up to which it holds every message. A message one past the cursor moves it; a
// message further on is shown (in seq order) but leaves the cursor where it is, and the range is
// asked for with `join_conversation {last_seq: cursor}`; the server's answer (`last_seq`) is the
// truth, holes that never existed included. So a live message that arrives while a rejoin is under
// way (the visitor sent something, and so joined the room) can never carry the cursor past what
// was missed.
import type { Ack, JoinConversationReply } from '../../realtime/realtime.contract.js';
import { isTransient, retryDelayMs } from './delivery.js';

export type Sequenced = { id: string; seq?: number | undefined };

type CatchUpDeps<M extends Sequenced> = {
  /**
   * `join_conversation`, with `last_seq` when given (a plain join before the cursor is known);
   * resolves with the ack, or null when none came in time.
   */
  join: (lastSeq: number | undefined) => Promise<Ack<JoinConversationReply> | null>;
  /** Displays a message not shown before (in seq order). */
  show: (m: M) => void;
  connected: () => boolean;
  /** The room is joined and every message up to the cursor has been shown. */
  onJoined?: () => void;
  /** A join was refused for good (no access any more, say). */
  onRefused?: (message: string) => void;
};

export function createCatchUp<M extends Sequenced>(d: CatchUpDeps<M>) {
  const seen = new Set<string>();
  /** Seqs held beyond the cursor: shown, but something before them is missing. */
  const ahead = new Set<number>();
  let cursor = 0;
  /** Until the cursor is known (history loaded), joins are plain and gaps are not chased. */
  let ready = false;
  let busy = false;
  /** Another join was asked for while one was under way (a reconnect, `resync`). */
  let again = false;
  let failures = 0;
  /** Bumped when the connection drops, so the answer of a join sent before is ignored. */
  let epoch = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  function advance() {
    while (ahead.delete(cursor + 1)) cursor++;
  }

  function raise(to: number) {
    if (!(to > cursor)) return;
    cursor = to;
    for (const s of ahead) if (s <= cursor) ahead.delete(s);
    advance();
  }

  const hasGap = () => ahead.size > 0;

  function retryLater(retryAfterS?: number) {
    failures++;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(
      () => {
        retryTimer = undefined;
        sync();
      },
      retryDelayMs(failures, retryAfterS),
    );
  }

  async function run(): Promise<void> {
    busy = true;
    again = false;
    const mine = epoch;
    const plain = !ready;
    const from = cursor;
    const ack = await d.join(plain ? undefined : from).catch(() => null);
    if (mine !== epoch) return;
    busy = false;
    if (!ack) {
      if (d.connected()) retryLater();
      return;
    }
    if (!ack.ok) {
      if (isTransient(ack.error)) retryLater(ack.retry_after);
      else d.onRefused?.(ack.message);
      return;
    }
    failures = 0;
    // Every later message was replayed before this ack: everything up to `last_seq` is held
    // (with `has_more`, it is the last one replayed).
    if (!plain && typeof ack.last_seq === 'number') raise(ack.last_seq);
    d.onJoined?.();
    // A plain join answered after the cursor became known: the history may predate the room.
    if (plain && ready) again = true;
    if (again) return run();
    if (plain) return;
    const progressed = cursor > from;
    if (ack.has_more || hasGap()) {
      // Each round reads after the messages that revealed the gap, so it closes it; a server
      // that answers without progress is asked again only after a pause.
      if (progressed) return run();
      retryLater();
    }
  }

  /** Joins (again) and fetches everything after the cursor: on connect and on `resync`. */
  function sync() {
    if (!d.connected()) return;
    if (busy) {
      again = true;
      return;
    }
    clearTimeout(retryTimer);
    retryTimer = undefined;
    void run();
  }

  /** A hole was seen: ask for the range, unless a join is under way or waiting to retry. */
  function chase() {
    if (!ready || busy || retryTimer || !d.connected()) return;
    void run();
  }

  return {
    /**
     * A message from anywhere (history, live, replay, a send's ack). Returns whether it was new;
     * only new ones are shown, so each appears once whatever path brought it.
     */
    receive(m: M): boolean {
      if (!m || typeof m.id !== 'string' || seen.has(m.id)) return false;
      seen.add(m.id);
      d.show(m);
      if (typeof m.seq === 'number' && m.seq > cursor) {
        ahead.add(m.seq);
        advance();
        if (hasGap()) chase();
      }
      return true;
    },
    /** Marks messages shown by other means (older history pages) as known. */
    known(messages: readonly M[]) {
      for (const m of messages) seen.add(m.id);
    },
    /** The history is shown, complete up to `lastSeq`: from now on gaps are chased. */
    start(lastSeq: number) {
      ready = true;
      raise(lastSeq);
      if (hasGap()) chase();
    },
    sync,
    /** The connection dropped: the join under way will never be answered. */
    reset() {
      epoch++;
      busy = false;
      again = false;
      failures = 0;
      clearTimeout(retryTimer);
      retryTimer = undefined;
    },
    get cursor() {
      return cursor;
    },
  };
}

export type CatchUp<M extends Sequenced> = ReturnType<typeof createCatchUp<M>>;

/**
 * Puts a message row into a list in seq order: after the last row with a lower seq, before rows
 * with a higher one, and always above rows still being sent (`data-pending`), which stay at the
 * bottom until stored. Rows without a seq keep their place.
 */
export function placeBySeq(list: Element, row: HTMLElement, seq: number | undefined): void {
  let before: Element | null = null;
  for (let c = list.lastElementChild; c; c = c.previousElementSibling) {
    const el = c as HTMLElement;
    if (el.dataset.pending !== undefined) {
      before = el;
      continue;
    }
    const s = el.dataset.seq === undefined ? NaN : Number(el.dataset.seq);
    if (typeof seq === 'number' && s > seq) {
      before = el;
      continue;
    }
    break;
  }
  list.insertBefore(row, before);
}
