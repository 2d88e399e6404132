// Delivery ticks on the visitor's messages in <switchboard-chat> (pending → sent → delivered →
// read), and the receipts (`delivered` frames, throttled) and reads (`read` frames, when the
// message is on screen, the panel open and the tab visible) for the agents' and bot's. Works on the
// list's DOM: rows carry `data-id` and `data-seq` once stored. The embed widget and the inbox use
// this module too (bundled from here: the element ships on its own, so the code lives with it).

export type TickState = 'pending' | 'sent' | 'delivered' | 'read';

/** Where the other side stands, from a join answer or a relay welcome (`delivery`). */
export type TickSnapshot = { delivered_seq: number; read_seq: number; read_at: string | null };

export type TicksOptions = {
  list: HTMLElement;
  /** Rows of this side's messages (ticks drawn on them). */
  mine: (row: HTMLElement) => boolean;
  /** Rows of the other side's messages (receipts and reads sent for them). */
  theirs: (row: HTMLElement) => boolean;
  /** Class of the tick element (`cw-ticks`, `ticks`). */
  className: string;
  /** Visually hidden class for the accessible text. */
  srClass: string;
  /** Sends the receipt: this client holds everything up to `seq`. */
  sendDelivered: (seq: number) => void;
  /** Sends the read: these of the other side's messages were seen. Omit when reads go elsewhere. */
  sendRead?: (ids: string[]) => void;
  /** Whether the reader can see the list now (panel open, tab focused). */
  canRead?: () => boolean;
  throttleMs?: number;
  /** The accessible words (English when omitted). */
  words?: () => TickWords;
  /** Whether a row is still unsent (default: the `pending` class). */
  isPending?: (row: HTMLElement) => boolean;
  /** A row of this class failed to send: no tick (default `failed`). */
  failedClass?: string;
};

const ENGLISH: TickWords = { sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read {time}' };

const GLYPH: Record<TickState, string> = { pending: '🕓', sent: '✓', delivered: '✓✓', read: '✓✓' };

const hhmm = (iso: string | null) => {
  const d = iso ? new Date(iso) : null;
  return d && !Number.isNaN(d.getTime())
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : '';
};

/** The accessible words of each state; `read` has `{time}`. */
export type TickWords = { sending: string; sent: string; delivered: string; read: string };

export function tickLabel(words: TickWords, state: TickState, readAt: string | null): string {
  switch (state) {
    case 'pending':
      return words.sending;
    case 'sent':
      return words.sent;
    case 'delivered':
      return words.delivered;
    case 'read':
      return words.read.replace('{time}', hhmm(readAt)).trim();
  }
}

export function createTicks(o: TicksOptions) {
  const throttleMs = o.throttleMs ?? 500;
  const isPending = o.isPending ?? ((row: HTMLElement) => row.classList.contains('pending'));
  const failedClass = o.failedClass ?? 'failed';
  let deliveredSeq = 0;
  let readSeq = 0;
  let readAt: string | null = null;
  const readIds = new Map<string, string>();
  let sentSeq = 0;
  let receiptTimer: ReturnType<typeof setTimeout> | undefined;
  const readSent = new Set<string>();
  let readQueue: string[] = [];
  let readTimer: ReturnType<typeof setTimeout> | undefined;

  const rows = () => [...o.list.children].filter((c): c is HTMLElement => c instanceof HTMLElement);
  const seqOf = (row: HTMLElement) => (row.dataset.seq ? Number(row.dataset.seq) : NaN);

  function stateOf(row: HTMLElement): [TickState, string | null] {
    if (isPending(row) || !row.dataset.id) return ['pending', null];
    const at = readIds.get(row.dataset.id);
    if (at !== undefined) return ['read', at];
    const seq = seqOf(row);
    if (seq <= readSeq) return ['read', readAt];
    if (seq <= deliveredSeq) return ['delivered', null];
    return ['sent', null];
  }

  function draw(row: HTMLElement) {
    const [state, at] = stateOf(row);
    let t = row.querySelector<HTMLElement>(`:scope > .${o.className}`);
    if (row.classList.contains(failedClass)) return t?.remove();
    const label = tickLabel(o.words?.() ?? ENGLISH, state, at);
    if (t && t.dataset.state === state && t.dataset.label === label) return;
    if (!t) {
      t = document.createElement('span');
      t.className = o.className;
      row.append(t);
    }
    t.dataset.state = state;
    t.dataset.label = label;
    const glyph = document.createElement('span');
    glyph.setAttribute('aria-hidden', 'true');
    glyph.textContent = GLYPH[state];
    const sr = document.createElement('span');
    sr.className = o.srClass;
    sr.textContent = label;
    t.replaceChildren(glyph, sr);
  }

  function receipt() {
    let top = 0;
    for (const r of rows()) if (o.theirs(r) && seqOf(r) > top) top = seqOf(r);
    if (top <= sentSeq || receiptTimer) return;
    receiptTimer = setTimeout(() => {
      receiptTimer = undefined;
      let now = 0;
      for (const r of rows()) if (o.theirs(r) && seqOf(r) > now) now = seqOf(r);
      if (now > sentSeq) {
        sentSeq = now;
        o.sendDelivered(now);
      }
    }, throttleMs);
  }

  // Reads: the other side's rows seen while the reader can see them.
  const visible = new Set<HTMLElement>();
  const io =
    o.sendRead && typeof IntersectionObserver !== 'undefined'
      ? new IntersectionObserver((entries) => {
          for (const e of entries) {
            const row = e.target as HTMLElement;
            if (e.isIntersecting) visible.add(row);
            else visible.delete(row);
          }
          markVisible();
        })
      : null;

  function markVisible() {
    if (!o.sendRead || !(o.canRead?.() ?? true)) return;
    for (const row of visible) {
      const id = row.dataset.id;
      if (!row.isConnected || !id || readSent.has(id)) continue;
      readSent.add(id);
      readQueue.push(id);
    }
    if (readQueue.length && !readTimer) {
      readTimer = setTimeout(() => {
        readTimer = undefined;
        const ids = readQueue.splice(0, 500);
        readQueue = readQueue.slice(0);
        if (ids.length) o.sendRead?.(ids);
      }, 150);
    }
  }

  function refresh() {
    for (const r of rows()) {
      if (o.mine(r)) draw(r);
      else if (io && o.theirs(r) && r.dataset.id && !readSent.has(r.dataset.id)) io.observe(r);
    }
    receipt();
  }

  new MutationObserver(refresh).observe(o.list, { childList: true });
  if (o.sendRead) {
    document.addEventListener('visibilitychange', markVisible);
    window.addEventListener('focus', markVisible);
  }
  refresh();

  return {
    refresh,
    /** Re-check visible rows (the panel was opened). */
    markVisible,
    /** A new conversation in the same list: everything starts over. */
    reset() {
      deliveredSeq = readSeq = sentSeq = 0;
      readAt = null;
      readIds.clear();
      readSent.clear();
      visible.clear();
      io?.disconnect();
    },
    snapshot(s: TickSnapshot) {
      deliveredSeq = Math.max(deliveredSeq, s.delivered_seq);
      if (s.read_seq > readSeq) {
        readSeq = s.read_seq;
        readAt = s.read_at;
      }
      refresh();
    },
    delivered(seq: number) {
      deliveredSeq = Math.max(deliveredSeq, seq);
      refresh();
    },
    read(ids: string[], at: string) {
      for (const id of ids) readIds.set(id, at);
      // Reading a message means the ones before it were seen.
      for (const r of rows()) {
        if (r.dataset.id && ids.includes(r.dataset.id) && seqOf(r) > readSeq) {
          readSeq = seqOf(r);
          readAt = at;
        }
      }
      deliveredSeq = Math.max(deliveredSeq, readSeq);
      refresh();
    },
  };
}

export type Ticks = ReturnType<typeof createTicks>;
