// Visitors and agents that behave as the README tells clients to: a client_msg_id on every send,
// failed or unanswered sends resent with the same id after a back-off, unacked sends resent after
// a reconnect, a per-conversation cursor (the highest contiguous `seq` held) given to
// `join_conversation` on reconnect, on `resync` and on a gap, and de-duplication by message id.
// Every client also reports to a Ledger, which is what the suite counts.
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ClaimConversationReply,
  JoinConversationReply,
  MessageReceived,
  SendMessageReply,
} from '../../src/realtime/realtime.contract.js';

type Side = 'visitor' | 'agent';

/** One message the suite sent, from its first attempt to its delivery at the other side. */
export type MsgRecord = {
  cmid: string;
  conv: string;
  from: Side;
  /** Client id of the one who must receive it. */
  expected: string;
  /** Sender and receiver started on the same node (their traffic needs no Redis). */
  sameNode: boolean;
  firstSentAt: number;
  attempts: number;
  ackedAt?: number;
  /** The stored message answered `duplicate: true` (a retry of a stored send). */
  duplicateAck?: boolean;
  /** A final error code: the README's client gives such a send up. */
  rejected?: string;
  deliveredAt?: number;
};

const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

/** What every client saw: messages sent and delivered, and the protocol events on the way. */
export class Ledger {
  readonly msgs = new Map<string, MsgRecord>();
  readonly ackErrors: Record<string, number> = {};
  readonly joinErrors: Record<string, number> = {};
  ackTimeouts = 0;
  joinTimeouts = 0;
  reconnects = 0;
  resyncs = 0;
  gaps = 0;
  rejoins = 0;
  receivedTwice = 0;

  add(rec: Omit<MsgRecord, 'attempts'>) {
    this.msgs.set(rec.cmid, { ...rec, attempts: 0 });
  }

  delivered(clientId: string, m: MessageReceived) {
    const rec = m.client_msg_id ? this.msgs.get(m.client_msg_id) : undefined;
    if (rec && rec.expected === clientId && rec.deliveredAt === undefined) rec.deliveredAt = Date.now();
  }

  /** Messages not yet delivered and not given up. */
  pending(): number {
    let n = 0;
    for (const r of this.msgs.values()) if (r.deliveredAt === undefined && !r.rejected) n++;
    return n;
  }
}

export type ClientOptions = {
  id: string;
  /** The node this client uses first, then the others to fail over to. */
  urls: string[];
  ledger: Ledger;
  headers?: Record<string, string>;
  ackTimeoutMs: number;
};

type ConvState = {
  /** Highest seq up to which this client holds every message. */
  cursor: number;
  /** Seqs received above the cursor (a gap below them). */
  above: Set<number>;
  joining: boolean;
  again: boolean;
  gapTimer: NodeJS.Timeout | null;
};

type OutboxEntry = {
  cmid: string;
  payload: Record<string, unknown>;
  attempts: number;
  /** Bumped per attempt, so a late answer to an earlier attempt is ignored. */
  token: number;
  inFlight: boolean;
  timer: NodeJS.Timeout | null;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (ms: number) => Math.round(ms * (0.75 + Math.random() * 0.5));
/** Retry back-off after a failed or unanswered send: 0.5 s doubling to 5 s. */
const backoff = (attempt: number) => jitter(Math.min(500 * 2 ** Math.max(0, attempt - 1), 5000));
const RETRYABLE = new Set(['unavailable', 'rate_limited']);

abstract class ChaosClient {
  readonly id: string;
  protected socket: Socket | null = null;
  protected readonly convs = new Map<string, ConvState>();
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly seen = new Set<string>();
  private urlIndex = 0;
  private failures = 0;
  private everConnected = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private counter = 0;
  private firstConnect: { resolve: () => void; reject: (e: Error) => void } | null = null;

  constructor(protected readonly opts: ClientOptions) {
    this.id = opts.id;
  }

  protected abstract joinPayload(conversationId: string): Record<string, unknown>;
  protected abstract sendPayload(
    conversationId: string,
    content: string,
    cmid: string,
  ): Record<string, unknown>;
  /** Work after every (re)connect, before the conversations are re-joined. */
  protected async afterConnect(_s: Socket): Promise<void> {}

  get connected() {
    return this.socket?.connected ?? false;
  }

  /** Connects (to the first URL, failing over to the others) and resolves once connected. */
  start(timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.id}: did not connect`)), timeoutMs);
      this.firstConnect = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.connect();
    });
  }

  /** Follows a conversation: joins it now (if connected) and after every reconnect. */
  async follow(conversationId: string) {
    if (!this.convs.has(conversationId)) {
      this.convs.set(conversationId, {
        cursor: 0,
        above: new Set(),
        joining: false,
        again: false,
        gapTimer: null,
      });
    }
    await this.rejoin(conversationId);
  }

  /** Sends a new message: recorded in the ledger, then retried until acked or refused for good. */
  send(to: { conversationId: string; expected: string; from: Side; sameNode: boolean }, prefix: string) {
    const cmid = `${this.id}.${++this.counter}.${randomBytes(3).toString('hex')}`;
    const content = `${prefix}${cmid}`;
    const conversationId = to.conversationId;
    this.opts.ledger.add({
      cmid,
      conv: conversationId,
      from: to.from,
      expected: to.expected,
      sameNode: to.sameNode,
      firstSentAt: Date.now(),
    });
    const entry: OutboxEntry = {
      cmid,
      payload: this.sendPayload(conversationId, content, cmid),
      attempts: 0,
      token: 0,
      inFlight: false,
      timer: null,
    };
    this.outbox.set(cmid, entry);
    this.attempt(entry);
  }

  /** Drops the connection as a page reload would, and connects again. */
  reload() {
    const s = this.socket;
    if (!s) return;
    this.retire(s);
    this.scheduleReconnect(false);
  }

  close() {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const e of this.outbox.values()) if (e.timer) clearTimeout(e.timer);
    for (const c of this.convs.values()) if (c.gapTimer) clearTimeout(c.gapTimer);
    if (this.socket) this.retire(this.socket);
    this.socket = null;
  }

  // ---- connection -----------------------------------------------------------------------------

  private connect() {
    if (this.closed) return;
    const url = this.opts.urls[this.urlIndex % this.opts.urls.length]!;
    const s = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5000,
      extraHeaders: this.opts.headers ?? {},
    });
    this.socket = s;
    s.on('connect', () => {
      this.failures = 0;
      void this.onConnected(s);
    });
    s.on('connect_error', () => {
      if (s !== this.socket) return;
      this.retire(s);
      this.scheduleReconnect(true);
    });
    s.on('disconnect', () => {
      if (s !== this.socket || this.closed) return;
      this.retire(s);
      this.scheduleReconnect(false);
    });
    s.on('message_received', (m: MessageReceived) => this.onMessage(m));
    s.on('resync', () => {
      this.opts.ledger.resyncs++;
      for (const conv of this.convs.keys()) void this.rejoin(conv);
    });
  }

  /** Forgets a socket: its late events and answers are ignored. */
  private retire(s: Socket) {
    s.removeAllListeners();
    s.disconnect();
    if (this.socket === s) this.socket = null;
  }

  /** After a drop, the same node first; after a failed attempt, the next node. */
  private scheduleReconnect(failed: boolean) {
    if (this.closed || this.reconnectTimer) return;
    if (failed) {
      this.failures++;
      this.urlIndex++;
    }
    const delay = jitter(Math.min(200 * 2 ** Math.min(this.failures, 4), 3000));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private async onConnected(s: Socket) {
    if (s !== this.socket) return;
    if (this.everConnected) this.opts.ledger.reconnects++;
    this.everConnected = true;
    try {
      await this.afterConnect(s);
    } catch {
      // recorded by afterConnect; the conversations are still joined
    }
    if (s !== this.socket) return;
    for (const conv of this.convs.keys()) void this.rejoin(conv);
    // Unacked sends go out again at once, whatever their back-off said.
    for (const e of this.outbox.values()) {
      if (e.timer) clearTimeout(e.timer);
      e.timer = null;
      e.inFlight = false;
      this.attempt(e);
    }
    this.firstConnect?.resolve();
    this.firstConnect = null;
  }

  // ---- sending --------------------------------------------------------------------------------

  private attempt(e: OutboxEntry) {
    if (this.closed || e.inFlight || e.timer || !this.outbox.has(e.cmid)) return;
    const s = this.socket;
    if (!s?.connected) return; // goes out on the next connect
    const token = ++e.token;
    e.attempts++;
    e.inFlight = true;
    const rec = this.opts.ledger.msgs.get(e.cmid);
    if (rec) rec.attempts++;
    s.timeout(this.opts.ackTimeoutMs).emit(
      'send_message',
      e.payload,
      (err: Error | null, ack: Ack<SendMessageReply> | undefined) => {
        if (e.token !== token || this.closed) return;
        e.inFlight = false;
        const ledger = this.opts.ledger;
        if (err || !ack) {
          ledger.ackTimeouts++;
          return this.retryLater(e, backoff(e.attempts));
        }
        if (ack.ok) {
          this.outbox.delete(e.cmid);
          if (rec) {
            rec.ackedAt = Date.now();
            rec.duplicateAck = ack.duplicate;
          }
          return;
        }
        bump(ledger.ackErrors, ack.error);
        if (RETRYABLE.has(ack.error)) {
          const wait = ack.retry_after ? jitter(ack.retry_after * 1000) : backoff(e.attempts);
          return this.retryLater(e, wait);
        }
        // Not a failure the README says to retry: the client gives the message up.
        this.outbox.delete(e.cmid);
        if (rec) rec.rejected = ack.error;
      },
    );
  }

  private retryLater(e: OutboxEntry, ms: number) {
    e.timer = setTimeout(() => {
      e.timer = null;
      this.attempt(e);
    }, ms);
  }

  // ---- receiving and catch-up -----------------------------------------------------------------

  private onMessage(m: MessageReceived) {
    if (this.seen.has(m.id)) this.opts.ledger.receivedTwice++;
    else {
      this.seen.add(m.id);
      this.opts.ledger.delivered(this.id, m);
    }
    const st = this.convs.get(m.conversation_id);
    if (!st || typeof m.seq !== 'number' || m.seq <= st.cursor) return;
    st.above.add(m.seq);
    this.advance(st);
    // A seq beyond the next one: something was missed (or is still on its way from another
    // node); ask for the range if the hole is still there a moment later.
    if (st.above.size && !st.gapTimer) {
      st.gapTimer = setTimeout(() => {
        st.gapTimer = null;
        if (st.above.size) {
          this.opts.ledger.gaps++;
          void this.rejoin(m.conversation_id);
        }
      }, 250);
    }
  }

  private advance(st: ConvState) {
    while (st.above.has(st.cursor + 1)) st.above.delete(++st.cursor);
    for (const seq of st.above) if (seq <= st.cursor) st.above.delete(seq);
  }

  /** join_conversation with the cursor; one at a time per conversation, repeated if asked meanwhile. */
  private async rejoin(conversationId: string) {
    const st = this.convs.get(conversationId);
    if (!st) return;
    if (st.joining) {
      st.again = true;
      return;
    }
    st.joining = true;
    const ledger = this.opts.ledger;
    try {
      let failures = 0;
      do {
        st.again = false;
        const s = this.socket;
        if (this.closed || !s?.connected) break; // the next connect re-joins
        ledger.rejoins++;
        let reply: Ack<JoinConversationReply>;
        try {
          reply = (await s.timeout(this.opts.ackTimeoutMs).emitWithAck('join_conversation', {
            ...this.joinPayload(conversationId),
            last_seq: st.cursor,
          })) as Ack<JoinConversationReply>;
        } catch {
          ledger.joinTimeouts++;
          st.again = true;
          await sleep(backoff(++failures));
          continue;
        }
        if (!reply.ok) {
          bump(ledger.joinErrors, reply.error);
          if (!RETRYABLE.has(reply.error)) break;
          st.again = true;
          await sleep(reply.retry_after ? reply.retry_after * 1000 : backoff(++failures));
          continue;
        }
        if (typeof reply.last_seq !== 'number') continue; // a server without seq: nothing to track
        if (reply.has_more) {
          // The replay stopped at its limit: what arrived moved the cursor; ask for the rest.
          const top = Math.max(st.cursor, ...st.above);
          st.cursor = Math.max(st.cursor, Math.min(top, reply.last_seq));
          st.again = true;
        } else {
          st.cursor = Math.max(st.cursor, reply.last_seq);
        }
        this.advance(st);
      } while (st.again && !this.closed);
    } finally {
      st.joining = false;
    }
  }
}

/**
 * A visitor (widget or native app) with one conversation, proven by its external_id: a widget
 * visitor by a random visitor id (`v_…`), an app user by a stable id and the `user_hash` the
 * tenant's backend gave the app. The hash goes with every join and send: a new socket (after a
 * reconnect or failover) must prove the conversation again, and a send may reach it first.
 */
export class Visitor extends ChaosClient {
  constructor(
    opts: ClientOptions,
    readonly conversationId: string,
    readonly externalId: string,
    readonly userHash?: string,
  ) {
    super(opts);
  }

  private proof() {
    return {
      external_id: this.externalId,
      ...(this.userHash !== undefined && { user_hash: this.userHash }),
    };
  }

  protected joinPayload(conversationId: string) {
    return { conversation_id: conversationId, ...this.proof() };
  }

  protected sendPayload(conversationId: string, content: string, cmid: string) {
    return {
      conversation_id: conversationId,
      content,
      content_type: 'text',
      sender_type: 'end_user',
      ...this.proof(),
      client_msg_id: cmid,
    };
  }

  /** The first message of the session, so an agent can claim it (not counted). */
  async hello(prefix: string) {
    const ack = (await this.socket!.timeout(10_000).emitWithAck(
      'send_message',
      this.sendPayload(this.conversationId, `${prefix}${this.id}`, `${this.id}.hello`),
    )) as Ack<SendMessageReply>;
    if (!ack.ok) throw new Error(`${this.id}: first message refused: ${ack.error} ${ack.message}`);
  }
}

/** An agent's inbox session: the session cookie on the handshake, the queue, its conversations. */
export class Agent extends ChaosClient {
  constructor(
    opts: ClientOptions,
    readonly cookie: string,
  ) {
    super({ ...opts, headers: { ...opts.headers, cookie } });
  }

  protected override async afterConnect(s: Socket) {
    const ack = (await s.timeout(this.opts.ackTimeoutMs).emitWithAck('join_queue')) as Ack<object>;
    if (!ack.ok) bump(this.opts.ledger.joinErrors, `queue:${ack.error}`);
  }

  protected joinPayload(conversationId: string) {
    return { conversation_id: conversationId };
  }

  protected sendPayload(conversationId: string, content: string, cmid: string) {
    return {
      conversation_id: conversationId,
      content,
      content_type: 'text',
      sender_type: 'agent',
      client_msg_id: cmid,
    };
  }

  /** Claims a conversation and follows it. */
  async claim(conversationId: string) {
    const ack = (await this.socket!.timeout(10_000).emitWithAck('claim_conversation', {
      conversation_id: conversationId,
    })) as Ack<ClaimConversationReply>;
    if (!ack.ok) throw new Error(`${this.id}: claim refused: ${ack.error} ${ack.message}`);
    await this.follow(conversationId);
  }
}

/**
 * Opens a visitor's conversation the way its client would: the widget page (embed.js passes its
 * random visitor id as session_id, and user_hash only for a signed-in user) or the native open.
 */
export async function openConversation(
  url: string,
  kind: 'widget' | 'mobile',
  o: { embedToken: string; mobileChannelId: string; externalId: string; userHash?: string; ip: string },
): Promise<string> {
  const headers = { 'x-forwarded-for': o.ip };
  if (kind === 'widget') {
    const q = new URLSearchParams({ embed_token: o.embedToken, session_id: o.externalId });
    if (o.userHash !== undefined) q.set('user_hash', o.userHash);
    const res = await fetch(`${url}/chat-widget?${q}`, { headers });
    const html = await res.text();
    if (res.status !== 200) throw new Error(`widget page: ${res.status} ${html.slice(0, 200)}`);
    const json = /<script type="application\/json" id="cw-config">([\s\S]*?)<\/script>/.exec(html)?.[1];
    if (!json) throw new Error('widget page has no cw-config');
    return (JSON.parse(json) as { conversation_id: string }).conversation_id;
  }
  const res = await fetch(`${url}/api/mobile/conversations`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      channel_id: o.mobileChannelId,
      external_id: o.externalId,
      ...(o.userHash !== undefined && { user_hash: o.userHash }),
      display_name: 'Visitor',
    }),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`mobile open: ${res.status} ${body.slice(0, 200)}`);
  return (JSON.parse(body) as { conversation_id: string }).conversation_id;
}
