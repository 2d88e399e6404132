// The load generators' Socket.IO client: the protocol's frames written and read directly on a
// `ws` WebSocket (Engine.IO 4, Socket.IO 5, the main namespace, text packets), with the few parts
// of `socket.io-client` the benchmark uses: events, acknowledgements with a timeout, a send buffer
// while disconnected, and reconnection with its backoff. Issue 23: with `socket.io-client` the load
// generators used as much CPU per message as the server they measure (221 µs), on the same two
// cores; each of its frames goes through three emitters and a debug build's parser.
import WebSocket from 'ws';

type Listener = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

export type LeanOptions = {
  auth?: Record<string, unknown>;
  extraHeaders?: Record<string, string>;
  /** Reconnection backoff as `socket.io-client`'s: doubling from the delay up to the maximum, ±50%. */
  reconnectionDelay?: number;
  reconnectionDelayMax?: number;
  /** The connection (WebSocket and Socket.IO handshake) fails after this long, and is retried. */
  timeout?: number;
  /** The local address to connect from (`net.connect`'s `localAddress`). */
  localAddress?: string;
};

/** Why a socket disconnected, in `socket.io-client`'s words. */
export type DisconnectReason =
  'io server disconnect' | 'io client disconnect' | 'transport close' | 'ping timeout';

export class LeanSocket {
  connected = false;
  private ws: WebSocket | null = null;
  private readonly listeners = new Map<string, Listener[]>();
  private readonly acks = new Map<number, (args: unknown[]) => void>();
  private nextAck = 0;
  private buffer: string[] = [];
  /** Closed by `disconnect()` or by the server's DISCONNECT: no reconnection. */
  private stopped = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private heartbeatMs = 0;
  private readonly opts: Required<Omit<LeanOptions, 'auth' | 'extraHeaders' | 'localAddress'>> & LeanOptions;

  constructor(
    private readonly url: string,
    opts: LeanOptions = {},
  ) {
    this.opts = { reconnectionDelay: 1000, reconnectionDelayMax: 5000, timeout: 20_000, ...opts };
    this.open();
  }

  on(event: string, fn: Listener): this {
    const list = this.listeners.get(event);
    if (list) list.push(fn);
    else this.listeners.set(event, [fn]);
    return this;
  }

  /** An event to the server; buffered while disconnected, sent in order once connected. */
  emit(event: string, ...args: unknown[]): this {
    this.send(`42${JSON.stringify([event, ...args])}`);
    return this;
  }

  /** `socket.timeout(ms).emitWithAck(event, ...args)`: rejects when no acknowledgement came in time. */
  timeout(ms: number) {
    return {
      emitWithAck: (event: string, ...args: unknown[]): Promise<unknown> =>
        new Promise((resolve, reject) => {
          const id = this.nextAck++;
          const timer = setTimeout(() => {
            this.acks.delete(id);
            reject(new Error('operation has timed out'));
          }, ms);
          this.acks.set(id, (reply) => {
            clearTimeout(timer);
            resolve(reply[0]);
          });
          this.send(`42${id}${JSON.stringify([event, ...args])}`);
        }),
    };
  }

  disconnect(): this {
    if (this.connected) this.ws?.send('41');
    this.close('io client disconnect');
    return this;
  }

  private send(frame: string) {
    if (this.connected && this.ws) this.ws.send(frame);
    else this.buffer.push(frame);
  }

  private fire(event: string, ...args: unknown[]) {
    const list = this.listeners.get(event);
    if (list) for (const fn of list) fn(...args);
  }

  private open() {
    const u = new URL(this.url);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = '/socket.io/';
    u.search = 'EIO=4&transport=websocket';
    const ws = new WebSocket(u, {
      headers: this.opts.extraHeaders,
      perMessageDeflate: false,
      ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
    });
    this.ws = ws;
    this.timer = setTimeout(() => this.failed(new Error('timeout')), this.opts.timeout);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary || this.unheard(data)) return;
      this.onFrame(data.toString());
    });
    ws.on('error', (err) => {
      if (!this.connected) this.failed(err);
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      if (this.connected) this.lost('transport close');
      else this.failed(new Error('websocket closed'));
    });
  }

  /**
   * An event of the main namespace that nothing here listens to, read off the frame's first bytes
   * (`42["name",…`) and dropped undecoded. The agents take the queue's activity batches as the
   * inbox does but never read them; decoding them was a fifth of the load generators' CPU at
   * capacity, spent on the cores the server is measured on.
   */
  private unheard(data: Buffer): boolean {
    if (data[0] !== 0x34 || data[1] !== 0x32 || data[2] !== 0x5b || data[3] !== 0x22) return false;
    const end = data.indexOf(0x22, 4);
    return end > 4 && !this.listeners.has(data.toString('latin1', 4, end));
  }

  private onFrame(s: string) {
    switch (s[0]) {
      case '0': {
        // Engine.IO open: the server pings every pingInterval and waits pingTimeout for the pong.
        const o = JSON.parse(s.slice(1)) as { pingInterval: number; pingTimeout: number };
        this.heartbeatMs = o.pingInterval + o.pingTimeout;
        this.alive();
        this.ws!.send(`40${this.opts.auth ? JSON.stringify(this.opts.auth) : ''}`);
        return;
      }
      case '2':
        this.alive();
        this.ws!.send('3');
        return;
      case '1':
        this.lost('transport close');
        return;
      case '4':
        return this.onPacket(s);
    }
  }

  private onPacket(s: string) {
    switch (s[1]) {
      case '0':
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.connected = true;
        this.attempts = 0;
        for (const frame of this.buffer) this.ws!.send(frame);
        this.buffer = [];
        this.fire('connect');
        return;
      case '1':
        this.close('io server disconnect');
        return;
      case '2': {
        const body = s.indexOf('[');
        const args = JSON.parse(s.slice(body)) as [string, ...unknown[]];
        this.fire(...args);
        return;
      }
      case '3': {
        const body = s.indexOf('[');
        const ack = this.acks.get(Number(s.slice(2, body)));
        if (!ack) return;
        this.acks.delete(Number(s.slice(2, body)));
        ack(JSON.parse(s.slice(body)) as unknown[]);
        return;
      }
      case '4': {
        // The server's middleware refused the connection.
        const err = JSON.parse(s.slice(2)) as { message?: string };
        this.failed(Object.assign(new Error(err.message ?? 'refused'), { data: err }));
        return;
      }
    }
  }

  /** A heartbeat came: the connection is dead if the next does not come in time. */
  private alive() {
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.heartbeat = setTimeout(() => this.lost('ping timeout'), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private teardown() {
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.timer = this.heartbeat = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.terminate();
  }

  /** A connection that was up went down. */
  private lost(reason: DisconnectReason) {
    const was = this.connected;
    this.connected = false;
    this.teardown();
    if (was) this.fire('disconnect', reason);
    this.retry();
  }

  /** A connection attempt failed. */
  private failed(err: Error) {
    if (this.stopped || !this.ws) return;
    this.connected = false;
    this.teardown();
    this.fire('connect_error', err);
    this.retry();
  }

  private close(reason: DisconnectReason) {
    this.stopped = true;
    const was = this.connected;
    this.connected = false;
    this.teardown();
    if (was) this.fire('disconnect', reason);
  }

  private retry() {
    if (this.stopped) return;
    const { reconnectionDelay: min, reconnectionDelayMax: max } = this.opts;
    const base = Math.min(max, min * 2 ** this.attempts++);
    const rand = Math.random();
    const deviation = Math.floor(rand * 0.5 * base);
    const delay = Math.min(max, (Math.floor(rand * 10) & 1) === 0 ? base - deviation : base + deviation);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.open();
    }, delay);
  }
}

export const leanConnect = (url: string, opts?: LeanOptions) => new LeanSocket(url, opts);
