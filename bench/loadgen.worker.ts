// One load-generator process: a share of the visitors and the agents that serve them, each a real
// Socket.IO connection of its own (lib/lean-client.ts: the protocol's frames on a WebSocket). A
// visitor's agent lives in the same process, so every latency is measured on one clock
// (performance.now) from the sender's emit to the other party's event.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { leanConnect, type LeanSocket as Socket } from './lib/lean-client.js';
import type { AgentPlan, Command, LoadReport, Report, VisitorPlan, WorkerPlan } from './lib/protocol.js';

type Agent = {
  plan: AgentPlan;
  socket: Socket;
  /** Conversations this agent has claimed (its rooms to rejoin after a reconnect). */
  claimed: Set<string>;
  ready: boolean;
};
type Visitor = {
  plan: VisitorPlan;
  socket: Socket;
  agent: Agent;
  joined: boolean;
  helloSent: boolean;
  hellos: number;
  claimState: 'none' | 'asked' | 'done';
  /** Alternates who speaks next in this conversation. */
  turn: number;
};
type Pending = {
  t0: number;
  /** Second of the load phase it was sent in. */
  second: number;
  conv: string;
  /** The receiver that counts for latency and loss: the conversation's other party. */
  to: 'agent' | 'end_user';
  delivered: boolean;
  echoed: boolean;
  /** Closed loop: the slot that sent it. */
  slot: number;
};

const ACK_MS = 15_000;
const report = (r: Report) => process.send!(r);

let plan: WorkerPlan;
let prefix = '';
const agents: Agent[] = [];
const visitors: Visitor[] = [];
const visitorByConv = new Map<string, Visitor>();
const errors = new Map<string, number>();
const pending = new Map<string, Pending>();
let loadStartWall = 0;
let measuring = false;
/** Message sequence, unique across phases: client_msg_id must not repeat. */
let seq = 0;
/** This process's event-loop delay, read and reset each second of a load phase: its own stalls. */
const LOOP_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
let loopTick: NodeJS.Timeout | undefined;
/** Closed loop: called on each delivery to send the slot's next message. */
let onDelivered: ((slot: number) => void) | null = null;
let stats = freshStats();
let reconnectWatch: {
  dropped: Set<Socket>;
  back: Set<Socket>;
  backWalls: number[];
  done: (wall: number | null) => void;
} | null = null;

function freshStats() {
  return {
    sent: 0,
    delivered: 0,
    duplicated: 0,
    echoes: 0,
    queueEvents: 0,
    latencies: [] as number[],
    /** The second of the phase each latency's message was sent in (parallel to `latencies`). */
    sentSecond: [] as number[],
    timeline: [] as [number, number][],
    /** Per second of the phase and its drain: the longest this process's event loop was held, ms. */
    loopMaxBySecond: [] as number[],
    lastWall: 0,
    reloads: { done: 0, failed: 0, ms: [] as number[] },
    reads: 0,
  };
}

function noteError(where: string, message: unknown) {
  const key = `${where}: ${typeof message === 'string' ? message : JSON.stringify(message)}`.slice(0, 200);
  errors.set(key, (errors.get(key) ?? 0) + 1);
}

function bucket(): [number, number] {
  const i = Math.max(0, Math.floor((Date.now() - loadStartWall) / 1000));
  while (stats.timeline.length <= i) stats.timeline.push([0, 0]);
  return stats.timeline[i]!;
}

function connect(
  url: string,
  extraHeaders?: Record<string, string>,
  auth?: Record<string, string>,
  localAddress?: string,
): Socket {
  // One connection per client (no multiplexing), WebSocket only, as a native app connects.
  return leanConnect(url, {
    ...(auth ? { auth } : {}),
    ...(localAddress ? { localAddress } : {}),
    extraHeaders,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    timeout: 30_000,
  });
}

/** Counts a `message_received` on `socket` of kind `kind`; bench messages carry their id in `content`. */
function onMessage(
  kind: 'agent' | 'end_user',
  msg: { id?: string; conversation_id?: string; content?: string },
) {
  const content = msg?.content;
  if (typeof content !== 'string' || !content.startsWith('bench ')) return;
  const id = content.slice(6);
  const p = pending.get(id);
  if (!p || p.conv !== msg.conversation_id) return;
  if (kind !== p.to) {
    if (p.echoed) stats.duplicated++;
    else {
      p.echoed = true;
      stats.echoes++;
    }
    // The hello is stored and its session open: the visitor's agent may claim now.
    if (id.startsWith('h')) claim(visitorByConv.get(p.conv)!);
    return;
  }
  if (p.delivered) {
    stats.duplicated++;
    return;
  }
  p.delivered = true;
  if (plan.readReceipts && msg.id) markRead(kind, p.conv, msg.id);
  if (id.startsWith('h')) return; // hello: only its persistence is checked
  stats.delivered++;
  stats.latencies.push(performance.now() - p.t0);
  stats.sentSecond.push(p.second);
  stats.lastWall = Date.now();
  bucket()[1]++;
  onDelivered?.(p.slot);
}

/**
 * `--read-receipts`: the receiver reads the message as soon as it arrives, as the inbox does with
 * the conversation open in front of the agent (src/inbox/client/thread.ts) and the widget does while
 * it is open and visible (its ticks): one `mark_read` per message, no acknowledgement asked. A
 * refusal comes back as an `error` event, which the generator counts.
 */
function markRead(kind: 'agent' | 'end_user', conv: string, messageId: string) {
  const v = visitorByConv.get(conv);
  if (!v) return;
  if (measuring) stats.reads++;
  if (kind === 'agent') v.agent.socket.emit('mark_read', { conversation_id: conv, message_ids: [messageId] });
  else {
    v.socket.emit('mark_read', {
      conversation_id: conv,
      message_ids: [messageId],
      external_id: v.plan.externalId,
    });
  }
}

function emitAck<T>(socket: Socket, event: string, payload?: unknown): Promise<T> {
  const args = payload === undefined ? [] : [payload];
  return socket.timeout(ACK_MS).emitWithAck(event, ...args) as Promise<T>;
}

/** An acknowledgement that reports failure, in whichever shape the server uses. */
function ackError(ack: unknown): string | null {
  if (ack && typeof ack === 'object') {
    const a = ack as { ok?: boolean; error?: unknown; message?: unknown };
    if (a.ok === false || a.error) return String(a.message ?? a.error ?? 'failed');
  }
  return null;
}

function trackReconnect(socket: Socket) {
  socket.on('disconnect', () => reconnectWatch?.dropped.add(socket));
}
function markBack(socket: Socket) {
  const w = reconnectWatch;
  if (!w || !w.dropped.has(socket)) return;
  w.back.add(socket);
  w.backWalls.push(Date.now());
  if (w.back.size === agents.length + visitors.length) w.done(Date.now());
}

function startAgent(p: AgentPlan): Agent {
  // As the inbox: the queue's activity in batches, not an event per message (the baselines send none).
  const socket = connect(p.url, { cookie: p.cookie }, { activity: 'batch' });
  const agent: Agent = { plan: p, socket, claimed: new Set(), ready: false };
  trackReconnect(socket);
  // As the inbox on (re)connecting: the queue, and the rooms of its conversations in one call
  // (`follow_mine`; none to follow on the first connect, nor on the bare baselines).
  const join = () => {
    const joins = [
      emitAck(socket, 'join_queue'),
      ...(agent.claimed.size ? [emitAck(socket, 'follow_mine')] : []),
    ];
    Promise.all(joins).then(
      (acks) => {
        for (const a of acks) if (ackError(a)) noteError('agent join', ackError(a));
        agent.ready = true;
        markBack(socket);
      },
      (err: Error) => {
        noteError('agent join', err.message);
        if (socket.connected) join();
      },
    );
  };
  socket.on('connect', join);
  socket.on('connect_error', (err) => noteError('agent connect', err.message));
  socket.on('error', (e: { message?: string }) => noteError('agent error event', e?.message ?? e));
  socket.on('message_received', (m) => onMessage('agent', m));
  const reload = plan.inboxReloads ? inboxReloads(agent, plan.inboxFilter ?? 'unassigned') : null;
  // Told again after a lost answer (`redelivered`): the inbox reads its counts instead.
  socket.on(
    'conversation_updated',
    (e: { conversation_id?: string; conversation?: unknown; redelivered?: true }) => {
      if (measuring) stats.queueEvents++;
      reload?.(e?.conversation !== undefined && !e.redelivered);
      const v = e?.conversation_id ? visitorByConv.get(e.conversation_id) : undefined;
      if (v && v.agent === agent) claim(v);
    },
  );
  socket.on(
    'conversation_assigned',
    (e: { conversation_id?: string; assigned_to?: string; redelivered?: true }) => {
      if (measuring) stats.queueEvents++;
      reload?.(!e?.redelivered);
      const v = e?.conversation_id ? visitorByConv.get(e.conversation_id) : undefined;
      if (v && e.assigned_to === v.agent.plan.userId) markClaimed(v);
    },
  );
  return agent;
}

/** The inbox's list (src/inbox/client/inbox.ts `refreshList`): the filter's first page (`PAGE`)… */
const listPath = (filter: string) => `/api/conversations/?filter=${filter}&limit=200&offset=0`;
/** …the unread counts, with the filters' counts or when 10 s old… */
const UNREAD_PATH = '/api/inbox/unread';
/** …and the filters' counts, after an event that can change them (not after messages alone). */
const COUNT_PATHS = [
  '/api/conversations/?filter=unassigned&limit=1',
  '/api/conversations/?filter=mine&limit=1',
];
/** The inbox's `RECONCILE_MS`: how long after the last reading events followed in place read again. */
const RECONCILE_MS = 15_000;

/**
 * `--inbox-reloads`: the agent reads its list again as the inbox does, showing `filter`: the
 * inbox's default (unassigned, which holds none of the agents' claimed conversations), or mine
 * (`--inbox-filter mine`: all the agent's, about a hundred rows, whose rooms its tab is in). Queue
 * events (a new conversation with its row, a claim, a release, a resolve) move the list and its
 * counts in place: the list, the unread counts and the filters' counts are read RECONCILE_MS after
 * the last reading began; an event without what the list needs (a new conversation without its row)
 * asks for them at the earliest 150 ms after it. An event during a reload has it read again once, a
 * gap later (the answer may have been read before the event). After an activity batch that left out
 * activity that can be in the list (under Unassigned `omitted_unassigned`; under Mine none, its
 * rows move with `message_received`; and under both activity whose holder the server did not know)
 * the list, at the earliest 300 ms after it, with the unread counts when those are 10 s old. At
 * most once a second, one at a time, and twice as long after the last as it took; a reload due
 * sooner stands. Returns the queue event's scheduler: `followed` true when the event could be
 * followed in place.
 */
function inboxReloads(agent: Agent, filter: 'unassigned' | 'mine'): (followed: boolean) => void {
  let timer: NodeJS.Timeout | undefined;
  let due = 0;
  let last = 0;
  let unreadAt = 0;
  let counts = false;
  // One reload at a time, the next twice as long after as the last took (at least a second).
  let busy = false;
  let again = false;
  let took = 0;
  // An event while a reload was under way, and whether the last reload was such a follow-up.
  let overlapped = false;
  let followingUp = false;
  const gap = () => Math.max(1000, 2 * took);
  const headers = { cookie: agent.plan.cookie };
  const run = async () => {
    timer = undefined;
    if (busy) {
      again = true;
      return;
    }
    // Set while the last reload was under way, this timer knew only the one before's duration.
    const wait = last + gap() - Date.now();
    if (wait > 0) return schedule(wait, false);
    busy = true;
    overlapped = false;
    try {
      await reload();
    } finally {
      busy = false;
      took = Date.now() - last;
      const follow = overlapped && !followingUp;
      followingUp = follow;
      if (again || follow) {
        again = false;
        schedule(Math.max(150, last + gap() - Date.now()), follow);
      }
    }
  };
  const reload = async () => {
    const started = (last = Date.now());
    const withUnread = counts || started - unreadAt >= 10_000;
    const paths = [listPath(filter), ...(withUnread ? [UNREAD_PATH] : []), ...(counts ? COUNT_PATHS : [])];
    counts = false;
    if (withUnread) unreadAt = started;
    const t0 = performance.now();
    const got = await Promise.allSettled(
      paths.map(async (path) => {
        const res = await fetch(agent.plan.url + path, { headers });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
      }),
    );
    if (!measuring) return;
    const failed = got.find((r) => r.status === 'rejected');
    if (failed) {
      stats.reloads.failed++;
      noteError('inbox reload', String(failed.reason));
    } else {
      stats.reloads.done++;
      stats.reloads.ms.push(performance.now() - t0);
    }
  };
  const schedule = (delayMs: number, withCounts = true) => {
    if (withCounts) counts = true;
    const at = Date.now() + delayMs;
    if (timer !== undefined && due <= at) return;
    clearTimeout(timer);
    due = at;
    timer = setTimeout(() => void run(), delayMs);
  };
  // Activity left out that can be in the list: under Unassigned in conversations nobody held, and
  // whose holder the server did not know (the inbox's `leftOutConcerns`).
  type Left = { omitted?: number; omitted_unassigned?: number; omitted_held?: number };
  agent.socket.on(
    'conversation_activity_batch',
    ({ omitted = 0, omitted_unassigned: u, omitted_held: h }: Left) => {
      if (!omitted) return;
      if (u === undefined || h === undefined || omitted > u + h || (filter === 'unassigned' && u > 0)) {
        schedule(Math.max(300, last + gap() - Date.now()), false);
      }
    },
  );
  return (followed: boolean) => {
    if (busy) overlapped = true;
    schedule(Math.max(150, last + (followed ? RECONCILE_MS : gap()) - Date.now()));
  };
}

function markClaimed(v: Visitor) {
  if (v.claimState === 'done') return;
  v.claimState = 'done';
  v.agent.claimed.add(v.plan.conversationId);
  checkConnected();
}

/** The visitor's agent claims the conversation once its session is open (after the hello). */
function claim(v: Visitor) {
  if (v.claimState !== 'none') return;
  v.claimState = 'asked';
  emitAck(v.agent.socket, 'claim_conversation', { conversation_id: v.plan.conversationId }).then(
    (ack) => {
      const err = ackError(ack);
      if (!err) return markClaimed(v);
      v.claimState = 'none';
      noteError('claim', err);
      // The hello failed to open a session (an error the visitor was told): say hello again;
      // its echo triggers the next claim. Other failures retry the claim.
      if ((ack as { error?: string }).error === 'conversation/no_open_session') hello(v);
      else setTimeout(() => claim(v), 500);
    },
    (err: Error) => {
      v.claimState = 'none';
      noteError('claim', err.message);
    },
  );
}

function sendMessage(from: 'agent' | 'end_user', v: Visitor, id: string, slot = -1) {
  const payload: Record<string, unknown> = {
    conversation_id: v.plan.conversationId,
    content: `bench ${id}`,
    content_type: 'text',
    sender_type: from,
    client_msg_id: id,
  };
  if (from === 'end_user') payload.external_id = v.plan.externalId;
  pending.set(id, {
    t0: performance.now(),
    second: Math.max(0, Math.floor((Date.now() - loadStartWall) / 1000)),
    conv: v.plan.conversationId,
    to: from === 'agent' ? 'end_user' : 'agent',
    delivered: false,
    echoed: false,
    slot,
  });
  (from === 'agent' ? v.agent.socket : v.socket).emit('send_message', payload);
}

/** The hello opens the session; the agent claims when its echo or the queue event arrives. */
function hello(v: Visitor) {
  v.helloSent = true;
  sendMessage('end_user', v, `h${prefix}:${v.plan.conversationId.slice(0, 8)}:${v.hellos++}`);
  setTimeout(() => claim(v), 10_000);
}

function startVisitor(p: VisitorPlan): Visitor {
  const socket = connect(p.url, undefined, undefined, p.localAddress);
  const v: Visitor = {
    plan: p,
    socket,
    agent: agents.find((a) => a.plan.index === p.agent)!,
    joined: false,
    helloSent: false,
    hellos: 0,
    claimState: 'none',
    turn: 0,
  };
  visitorByConv.set(p.conversationId, v);
  trackReconnect(socket);
  const join = () =>
    emitAck(socket, 'join_conversation', {
      conversation_id: p.conversationId,
      external_id: p.externalId,
    }).then(
      (ack) => {
        const err = ackError(ack);
        if (err) return noteError('visitor join', err);
        v.joined = true;
        markBack(socket);
        // A chat under way: its agent takes it (a no-op claim of their own conversation, which
        // joins its room). A new one: hello first, which opens the session to claim.
        if (!p.fresh) claim(v);
        else if (!v.helloSent) hello(v);
      },
      (err: Error) => {
        // A busy server timed the ack out: ask again while connected.
        noteError('visitor join', err.message);
        if (socket.connected) void join();
      },
    );
  socket.on('connect', () => void join());
  socket.on('connect_error', (err) => noteError('visitor connect', err.message));
  socket.on('error', (e: { message?: string }) => noteError('visitor error event', e?.message ?? e));
  socket.on('message_received', (m) => onMessage('end_user', m));
  visitors.push(v);
  return v;
}

const MAX_SETTING_UP = 100;
const settingUp = () => visitors.filter((v) => !v.joined || v.claimState !== 'done').length;

let connectDone: (() => void) | null = null;
function checkConnected() {
  if (!connectDone) return;
  if (
    visitors.length === plan.visitors.length &&
    agents.every((a) => a.ready) &&
    visitors.every((v) => v.joined && v.claimState === 'done')
  ) {
    connectDone();
  }
}

async function doConnect(rampMs: number, timeoutMs: number) {
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => (connectDone = resolve));
  for (const a of plan.agents) agents.push(startAgent(a));
  await waitFor(() => agents.every((a) => a.ready), timeoutMs);
  const gap = plan.visitors.length ? rampMs / plan.visitors.length : 0;
  for (let i = 0; i < plan.visitors.length; i++) {
    // At most MAX_SETTING_UP visitors between connect and claimed: past the server's pace the ramp
    // slows down instead of piling up handshakes that time out.
    await waitFor(() => settingUp() < MAX_SETTING_UP, timeoutMs);
    startVisitor(plan.visitors[i]!);
    const due = t0 + (i + 1) * gap;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
  }
  checkConnected();
  await Promise.race([done, sleep(timeoutMs)]);
  connectDone = null;
  report({
    type: 'connected',
    visitors: visitors.filter((v) => v.joined).length,
    agents: agents.filter((a) => a.ready).length,
    claimed: visitors.filter((v) => v.claimState === 'done').length,
    failed: visitors.filter((v) => !v.joined || v.claimState !== 'done').length,
    errors: errorList(),
    ms: performance.now() - t0,
  });
}

async function doLoad(cmd: Extract<Command, { type: 'load' }>) {
  stats = freshStats();
  loadStartWall = cmd.startWall;
  measuring = true;
  loopDelay.enable();
  loopDelay.reset();
  clearInterval(loopTick);
  loopTick = setInterval(() => {
    stats.loopMaxBySecond.push(Math.max(0, Math.round(loopDelay.max / 1e6 - LOOP_RESOLUTION_MS)));
    loopDelay.reset();
  }, 1000);
  const ready = visitors.filter((v) => v.joined && v.claimState === 'done');
  if (!ready.length) return;
  let next = 0;
  let stopped = false;
  const send = (v: Visitor, slot?: number) => {
    sendMessage(v.turn++ % 2 === 0 ? 'end_user' : 'agent', v, `${prefix}:${seq++}`, slot);
    stats.sent++;
    bucket()[0]++;
  };
  const t0 = performance.now();
  if (cmd.mode === 'closed') {
    // Slot k owns conversations k, k + slots, …: at most one message in flight per conversation.
    const slots = Math.min(cmd.inFlight, ready.length);
    const cursor = Array.from({ length: slots }, (_, k) => k);
    const sendSlot = (k: number) => {
      if (stopped || k < 0) return;
      send(ready[cursor[k]!]!, k);
      cursor[k] = (cursor[k]! + slots) % ready.length;
      if (cursor[k]! % slots !== k) cursor[k] = k;
    };
    onDelivered = sendSlot;
    for (let k = 0; k < slots; k++) sendSlot(k);
    await sleep(cmd.durationMs);
    stopped = true;
    onDelivered = null;
    return;
  }
  for (;;) {
    const elapsed = performance.now() - t0;
    if (elapsed >= cmd.durationMs) break;
    const due = Math.floor((cmd.rate * elapsed) / 1000) - stats.sent;
    for (let k = 0; k < due; k++) send(ready[next++ % ready.length]!);
    await sleep(5);
  }
}

async function doDrain(timeoutMs: number) {
  const outstanding = () => [...pending.entries()].filter(([id, p]) => !p.delivered && !id.startsWith('h'));
  // Late is not lost: an overloaded server may deliver a backlog all at once, long after.
  await waitFor(() => outstanding().length === 0, Math.max(timeoutMs, 60_000));
  // Late duplicates show up shortly after the last delivery.
  await sleep(300);
  measuring = false;
  clearInterval(loopTick);
  loopDelay.disable();
  const lost = outstanding().length;
  const r: LoadReport = {
    type: 'drained',
    sent: stats.sent,
    delivered: stats.delivered,
    lost,
    duplicated: stats.duplicated,
    echoes: stats.echoes,
    queueEvents: stats.queueEvents,
    latencies: stats.latencies,
    reloads: stats.reloads,
    reads: stats.reads,
    sentSecond: stats.sentSecond,
    lastWall: stats.lastWall,
    timeline: stats.timeline,
    loopMaxBySecond: stats.loopMaxBySecond,
    errors: errorList(),
    prefix,
  };
  pending.clear();
  report(r);
}

function errorList() {
  const list = [...errors].map(([k, n]) => `${k} (×${n})`);
  errors.clear();
  return list.slice(0, 20);
}

function watchReconnect(timeoutMs: number) {
  const timer = setTimeout(() => finish(null), timeoutMs);
  const finish = (wall: number | null) => {
    clearTimeout(timer);
    const w = reconnectWatch!;
    reconnectWatch = null;
    report({
      type: 'reconnected',
      doneWall: wall,
      dropped: w.dropped.size,
      back: w.back.size,
      backWalls: w.backWalls,
    });
  };
  reconnectWatch = { dropped: new Set(), back: new Set(), backWalls: [], done: finish };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, timeoutMs: number) {
  const end = performance.now() + timeoutMs;
  while (!cond() && performance.now() < end) await sleep(20);
}

process.on('message', (cmd: Command) => {
  switch (cmd.type) {
    case 'init':
      plan = cmd.plan;
      prefix = `${plan.runTag}w${plan.workerId}`;
      report({ type: 'ready' });
      break;
    case 'connect':
      void doConnect(cmd.rampMs, cmd.timeoutMs);
      break;
    case 'load':
      void doLoad(cmd).then(() => doDrain(cmd.drainMs));
      break;
    case 'watch-reconnect':
      watchReconnect(cmd.timeoutMs);
      break;
    case 'close':
      for (const s of [...agents.map((a) => a.socket), ...visitors.map((v) => v.socket)]) s.disconnect();
      report({ type: 'closed' });
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
