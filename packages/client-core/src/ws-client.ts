import type {
  AckFrame,
  Attachment,
  ClientFrame,
  ContentType,
  ErrorFrame,
  MsgFrame,
  OutgoingMsgFrame,
  RatingRequestFrame,
  DeliveredFrame,
  ReadFrame,
  ResumedFrame,
  ServerFrame,
  TypingFrame,
  WelcomeFrame,
} from './types.js';

/** What WSClient needs of a WebSocket: the browser's, Node 22's, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: never) => unknown) | null;
  onmessage: ((ev: { data: unknown }) => unknown) | null;
  onclose: ((ev: { code: number; reason: string }) => unknown) | null;
  onerror: ((ev: never) => unknown) | null;
}
/** Any WebSocket class: `globalThis.WebSocket`, or `ws`'s `WebSocket` (typed loosely so both fit). */
export type WebSocketConstructor = new (url: string) => object;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Close codes of the visitor WebSocket (root README, "Visitor WebSocket"). */
export const CloseCode = {
  invalidToken: 4401,
  sessionExpired: 4404,
  forbidden: 4403,
  badRequest: 4400,
  rateLimited: 4429,
  slowConsumer: 4408,
  tooBig: 1009,
  restart: 1012,
  tryAgainLater: 1013,
  internal: 1011,
} as const;

export type WSClientHandlers = {
  /** The first frame of every connection (history already de-duplicated into onMessage). */
  onWelcome?: (frame: WelcomeFrame) => void;
  /** Each message once, by id: live, from a welcome's history or from a replay. */
  onMessage?: (frame: MsgFrame) => void;
  /** One of your messages is stored (sent once, even if it was resent). */
  onAck?: (frame: AckFrame) => void;
  onTyping?: (frame: TypingFrame) => void;
  /** `error` frames, and `client/…` errors of this client (a refresh that failed, a fatal close). */
  onError?: (frame: ErrorFrame) => void;
  onStateChange?: (state: ConnectionState) => void;
  onResumed?: (frame: ResumedFrame) => void;
  /** Every close, with its code, before the client decides what to do. */
  onClose?: (code: number, reason: string) => void;
  /** An agent resolved the conversation: the visitor may rate it. */
  onRatingRequest?: (frame: RatingRequestFrame) => void;
  /** The agents' side received the visitor's messages up to `frame.seq`. */
  onDelivered?: (frame: DeliveredFrame) => void;
  /** An agent read these of the visitor's messages. */
  onRead?: (frame: ReadFrame) => void;
};

export type WSClientOptions = WSClientHandlers & {
  /** The full WebSocket URL (`wss://…/api/v1/ws/widget`); or give `baseUrl`. */
  url?: string;
  /** The chat server (`https://…`): the URL is `<baseUrl as ws(s)>/api/v1/ws/widget`. */
  baseUrl?: string;
  /** The visitor token (`visitorToken` is accepted too). */
  token?: string;
  visitorToken?: string;
  /** Asked for the token before each connection, when the host keeps it elsewhere. */
  getToken?: () => string | Promise<string>;
  /** On 4401 (token invalid or expired): answers a new token, e.g. via `ChatClient.refreshVisitorToken`. */
  refreshToken?: (oldToken: string) => string | Promise<string>;
  /** On 4404 (session ended): answers a new session's token; the cursor starts again. */
  recreateSession?: () => string | Promise<string>;
  /** The WebSocket constructor: `globalThis.WebSocket` by default; in Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  /** Where your copy of the conversation ends (e.g. kept across a page reload). */
  lastSeq?: number;
  /** Back-off: the first delay's cap and the maximum (full jitter in between). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Ping interval; by default the server's `heartbeat_s`. Nothing heard for two intervals: reconnect. */
  pingIntervalMs?: number;
  /** Tries before giving up (state `closed`); unlimited by default. */
  maxRetries?: number;
  /** For tests: the jitter's random source. */
  random?: () => number;
};

/** A message to send: its text, or its fields. */
export type SendInput =
  | string
  | {
      content: string;
      content_type?: ContentType;
      rich_media?: Record<string, unknown>;
      client_msg_id?: string;
    };

type Timer = ReturnType<typeof setTimeout>;

/**
 * The wait before reconnection attempt `attempt` (0-based): exponential from `minMs` (0.5 s) up to
 * `maxMs` (30 s), with full jitter (uniform between 0 and that bound), so that many clients cut
 * at once do not all come back at once.
 */
export function backoffDelay(attempt: number, minMs = 500, maxMs = 30_000, random = Math.random): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

const FATAL = new Set<number>([CloseCode.forbidden, CloseCode.badRequest]);

function randomId(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * The visitor WebSocket: connects with the token, pings, reconnects with exponential back-off
 * and full jitter, refreshes the token on 4401 and re-creates the session on 4404 (through your
 * callbacks), resumes from the last `seq` and de-duplicates by id, and queues messages while
 * offline (each with a `client_msg_id`, so a resend is stored once) until they are acked.
 */
export class WSClient {
  private opts: WSClientOptions;
  private ws: WebSocketLike | null = null;
  private token: string | undefined;
  private _state: ConnectionState = 'closed';
  private stopped = true;
  private attempt = 0;
  private welcomed = false;
  private connectedOnce = false;
  private seq: number;
  private readonly ahead = new Set<number>();
  private readonly seen = new Set<string>();
  private readonly outbox = new Map<string, OutgoingMsgFrame>();
  private retryTimer: Timer | undefined;
  private pingTimer: Timer | undefined;
  private heard = 0;
  private maxFrameBytes = Infinity;
  private welcomeFrame: WelcomeFrame | undefined;

  constructor(options: WSClientOptions, handlers: WSClientHandlers = {}) {
    this.opts = { ...options, ...handlers };
    this.token = options.token ?? options.visitorToken;
    this.seq = options.lastSeq ?? 0;
    if (!options.url && !options.baseUrl) throw new TypeError('WSClient: give url or baseUrl');
  }

  /** Adds or replaces handlers (e.g. once a UI is ready). */
  on(handlers: WSClientHandlers): this {
    Object.assign(this.opts, handlers);
    return this;
  }

  get state(): ConnectionState {
    return this._state;
  }
  /** Up to where this client holds every message of the conversation. */
  get lastSeq(): number {
    return this.seq;
  }
  /** The current token (changed by a refresh or a new session). */
  get visitorToken(): string | undefined {
    return this.token;
  }
  /** The last welcome frame. */
  get welcome(): WelcomeFrame | undefined {
    return this.welcomeFrame;
  }
  /** Messages not acked yet, in order (sent again on every connection until acked). */
  pending(): OutgoingMsgFrame[] {
    return [...this.outbox.values()];
  }

  /** Opens the connection (and keeps it open until `close()`). */
  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.setState(this.connectedOnce ? 'reconnecting' : 'connecting');
    void this.open();
  }

  /** Stops everything: the socket, the timers, the retries. Pending messages stay in `pending()`. */
  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      this.detach(ws);
      try {
        ws.close(1000, 'client closed');
      } catch {
        /* already closing */
      }
    }
    this.setState('closed');
  }

  /**
   * Sends a frame of the protocol. A `msg` goes through the queue (see `sendMessage`); `typing`,
   * `ping` and `resume` are sent only when open, else dropped (answers false).
   */
  send(frame: ClientFrame): boolean {
    if (frame.type === 'msg') {
      this.sendMessage(frame);
      return true;
    }
    return this.raw(frame);
  }

  /**
   * Queues a message and sends it now if connected, else as soon as the next welcome arrives.
   * Answers its `client_msg_id`; `onAck` says when it is stored.
   */
  sendMessage(input: SendInput): string {
    const m = typeof input === 'string' ? { content: input } : input;
    const frame: OutgoingMsgFrame = {
      type: 'msg',
      client_msg_id: m.client_msg_id ?? randomId(),
      content: m.content,
      ...(m.content_type ? { content_type: m.content_type } : {}),
      ...(m.rich_media ? { rich_media: m.rich_media } : {}),
    };
    const size = JSON.stringify(frame).length;
    if (size > this.maxFrameBytes) throw new RangeError(`message frame of ${size} bytes is over the limit`);
    this.outbox.set(frame.client_msg_id, frame);
    if (this.welcomed) this.raw(frame);
    return frame.client_msg_id;
  }

  /**
   * Sends an uploaded attachment (`ChatClient.uploadAttachment`) as a message: `image`
   * `{url, alt?}` for an image, else `file` `{url, filename, size, mime_type}`. Queued like any
   * message; answers its `client_msg_id`.
   */
  sendAttachment(attachment: Attachment, options: { alt?: string; client_msg_id?: string } = {}): string {
    const input: SendInput =
      attachment.kind === 'image'
        ? {
            content: options.alt ?? '',
            content_type: 'image',
            rich_media: { url: attachment.url, ...(options.alt ? { alt: options.alt } : {}) },
          }
        : {
            content: attachment.filename,
            content_type: 'file',
            rich_media: {
              url: attachment.url,
              filename: attachment.filename,
              size: attachment.size,
              mime_type: attachment.content_type,
            },
          };
    return this.sendMessage(
      options.client_msg_id ? { ...input, client_msg_id: options.client_msg_id } : input,
    );
  }

  /** The visitor's typing indicator (dropped while offline). */
  sendTyping(state: 'start' | 'stop'): boolean {
    return this.raw({ type: 'typing', state });
  }

  /** A receipt: this client holds the conversation up to `seq` (throttle it; dropped while offline). */
  sendDelivered(seq: number): boolean {
    return this.raw({ type: 'delivered', seq });
  }

  /** The visitor saw these messages (dropped while offline; send again after a reconnect). */
  sendRead(messageIds: string[]): boolean {
    return messageIds.length > 0 && this.raw({ type: 'read', message_ids: messageIds.slice(0, 500) });
  }

  private raw(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || !this.welcomed) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  private setState(s: ConnectionState) {
    if (s === this._state) return;
    this._state = s;
    this.opts.onStateChange?.(s);
  }

  private url(token: string): string {
    const base = this.opts.url ?? `${this.opts.baseUrl!.replace(/\/+$/, '')}/api/v1/ws/widget`;
    const u = new URL(base.replace(/^http/, 'ws'));
    u.searchParams.set('token', token);
    if (this.connectedOnce || this.seq > 0) u.searchParams.set('last_seq', String(this.seq));
    return u.toString();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let token: string | undefined;
    try {
      token = this.opts.getToken ? await this.opts.getToken() : this.token;
    } catch (err) {
      return this.failed('client/token', err);
    }
    if (this.stopped) return;
    if (!token) return this.fatal('client/token', 'no visitor token');
    this.token = token;
    const Ctor = this.opts.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketConstructor | undefined);
    if (!Ctor) return this.fatal('client/no_websocket', 'no WebSocket: pass options.WebSocket');
    let ws: WebSocketLike;
    try {
      ws = new Ctor(this.url(token)) as WebSocketLike;
    } catch (err) {
      return this.failed('client/connect', err);
    }
    this.ws = ws;
    this.welcomed = false;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.heard = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      void this.onClosed(ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  private detach(ws: WebSocketLike) {
    ws.onmessage = null;
    ws.onclose = null;
    ws.onopen = null;
    ws.onerror = () => {};
  }

  private onFrame(f: ServerFrame) {
    switch (f.type) {
      case 'welcome':
        return this.onWelcome(f);
      case 'msg':
        return this.onMsg(f);
      case 'ack': {
        this.outbox.delete(f.client_msg_id);
        this.seen.add(f.id);
        this.mark(f.seq);
        this.opts.onAck?.(f);
        return;
      }
      case 'typing':
        this.opts.onTyping?.(f);
        return;
      case 'error':
        return this.onErrorFrame(f);
      case 'resumed':
        this.opts.onResumed?.(f);
        if (f.has_more) this.raw({ type: 'resume', last_seq: this.seq });
        return;
      case 'resync':
        this.raw({ type: 'resume', last_seq: this.seq });
        return;
      case 'rating_request':
        this.opts.onRatingRequest?.(f);
        return;
      case 'delivered':
        this.opts.onDelivered?.(f);
        return;
      case 'read':
        this.opts.onRead?.(f);
        return;
      default:
        return; // pong, and frames of a newer server
    }
  }

  private onWelcome(w: WelcomeFrame) {
    this.welcomed = true;
    this.connectedOnce = true;
    this.attempt = 0;
    this.welcomeFrame = w;
    if (w.max_frame_bytes) this.maxFrameBytes = w.max_frame_bytes;
    this.setState('open');
    this.opts.onWelcome?.(w);
    // Without a cursor the history is the most recent messages: start counting from its first.
    const history = w.history ?? [];
    if (!w.resumed && history.length > 0 && this.seq === 0) this.seq = history[0]!.seq - 1;
    for (const m of history) this.onMsg(m, false);
    if (w.has_more) this.raw({ type: 'resume', last_seq: this.seq });
    for (const frame of this.outbox.values()) this.raw(frame);
    this.startPing((w.heartbeat_s || 25) * 1000);
  }

  private onMsg(m: MsgFrame, live = true) {
    if (this.seen.has(m.id)) return;
    this.seen.add(m.id);
    const gap = m.seq > this.seq + 1;
    this.mark(m.seq);
    if (gap && live) this.raw({ type: 'resume', last_seq: this.seq });
    // Our own message from another tab or from history, sent from here: it is acked now.
    if (m.client_msg_id) this.outbox.delete(m.client_msg_id);
    this.opts.onMessage?.(m);
  }

  /** Records `seq` as held and moves the cursor over every contiguous one. */
  private mark(seq: number) {
    if (seq <= this.seq) return;
    this.ahead.add(seq);
    while (this.ahead.delete(this.seq + 1)) this.seq++;
  }

  private onErrorFrame(f: ErrorFrame) {
    this.opts.onError?.(f);
    const id = f.client_msg_id;
    if (!id) return;
    const frame = this.outbox.get(id);
    if (!frame) return;
    if (f.code === 'rate_limited' || f.code === 'unavailable') {
      // Send it again later, same client_msg_id: stored once.
      setTimeout(() => this.raw(frame), Math.max(1, f.retry_after ?? 1) * 1000);
    } else {
      this.outbox.delete(id); // refused for good (invalid): resending would not help
    }
  }

  private startPing(intervalMs: number) {
    this.stopPing();
    const every = this.opts.pingIntervalMs ?? intervalMs;
    this.heard = Date.now();
    const tick = () => {
      if (Date.now() - this.heard > 2 * every) {
        // Nothing heard, not even a pong: the link is dead though no close came.
        const ws = this.ws;
        if (ws) {
          this.detach(ws);
          try {
            ws.close(4000, 'heartbeat timeout');
          } catch {
            /* ignore */
          }
        }
        void this.onClosed(1006, 'heartbeat timeout');
        return;
      }
      this.raw({ type: 'ping' });
      this.pingTimer = setTimeout(tick, every);
    };
    this.pingTimer = setTimeout(tick, every);
  }

  private stopPing() {
    clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
  }

  private async onClosed(code: number, reason: string) {
    this.ws = null;
    this.welcomed = false;
    this.stopPing();
    this.opts.onClose?.(code, reason);
    if (this.stopped) return;
    if (FATAL.has(code)) return this.fatal(`client/closed_${code}`, reason || `closed with ${code}`);
    this.setState('reconnecting');
    if (code === CloseCode.invalidToken || code === CloseCode.sessionExpired) {
      const refreshing = code === CloseCode.invalidToken && this.opts.refreshToken && this.attempt < 2;
      try {
        if (refreshing) {
          this.token = await this.opts.refreshToken!(this.token ?? '');
        } else if (this.opts.recreateSession) {
          this.token = await this.opts.recreateSession();
          this.newConversation();
        } else {
          return this.fatal(`client/closed_${code}`, reason || `closed with ${code}`);
        }
      } catch (err) {
        // A refresh the server refuses because the session is gone: a new session, if we may.
        const status = (err as { status_code?: number }).status_code;
        if (refreshing && (status === 404 || status === 401) && this.opts.recreateSession) {
          try {
            this.token = await this.opts.recreateSession();
            this.newConversation();
          } catch (err2) {
            return this.failed('client/session', err2);
          }
        } else {
          return this.failed(refreshing ? 'client/refresh' : 'client/session', err);
        }
      }
      if (this.stopped) return;
      // Straight back with the new token, once; a token refused again waits its turn.
      if (this.attempt > 0) return this.retry();
      this.attempt++;
      return void this.open();
    }
    // The node restarts: another is (or will be) there at once.
    this.retry(code === CloseCode.restart && this.attempt === 0 ? 0 : undefined);
  }

  /** A new session is a new conversation: its seq starts again. */
  private newConversation() {
    this.seq = 0;
    this.ahead.clear();
    this.connectedOnce = false;
  }

  private failed(code: string, err: unknown) {
    this.opts.onError?.({ type: 'error', code, message: err instanceof Error ? err.message : String(err) });
    if (!this.stopped) {
      this.setState('reconnecting');
      this.retry();
    }
  }

  private fatal(code: string, message: string) {
    this.opts.onError?.({ type: 'error', code, message });
    this.close();
  }

  /** Exponential back-off from minDelayMs to maxDelayMs, full jitter. */
  private retry(delayMs?: number) {
    const max = this.opts.maxRetries;
    if (max !== undefined && this.attempt >= max) return this.fatal('client/gave_up', 'too many retries');
    const delay =
      delayMs ?? backoffDelay(this.attempt, this.opts.minDelayMs, this.opts.maxDelayMs, this.opts.random);
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }
}
