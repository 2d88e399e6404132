// The abuse step: one anonymous client floods a node with joins of random conversations (the
// attack of issue 14: 20 sockets, 10,000 `join_conversation`s in a few seconds, reconnecting
// whenever the node drops a socket) while a real visitor, from another address, keeps joining
// their own conversation and an operator polls /readyz. What counts: real visitors' join latency
// (quiet, then under the flood) and whether /readyz stayed 200.
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { percentile, round } from './stats.js';

export type AbuseResult = {
  flood: {
    sockets: number;
    seconds: number;
    events_sent: number;
    answered: number;
    refused: number;
    reconnects: number;
  };
  visitor_quiet: JoinStats;
  visitor_under_flood: JoinStats;
  readyz: { polls: number; ok: number; statuses: Record<string, number> };
};
type JoinStats = {
  joins: number;
  failed: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
};

const ATTACKER_IP = '203.0.113.66';

function connect(url: string, ip: string): Promise<Socket> {
  const socket = io(url, {
    transports: ['websocket'],
    extraHeaders: { 'x-forwarded-for': ip },
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Conv = { conversationId: string; externalId: string; userHash?: string | undefined };

/**
 * Real visitors, one after another until `until()`: each from an address of its own connects and
 * joins its conversation once, as a widget does on page load; the join's latency (after the
 * connection) is what is measured.
 */
async function visitorJoins(
  url: string,
  convs: Conv[],
  next: { i: number },
  until: () => boolean,
): Promise<JoinStats> {
  const times: number[] = [];
  let failed = 0;
  while (!until()) {
    const i = next.i++;
    const conv = convs[i % convs.length]!;
    const socket = await connect(url, `198.51.${(i >> 8) & 255}.${i & 255}`).catch(() => null);
    if (!socket) {
      failed += 1;
      continue;
    }
    const t0 = performance.now();
    const ack = (await socket
      .timeout(10_000)
      .emitWithAck('join_conversation', {
        conversation_id: conv.conversationId,
        external_id: conv.externalId,
        ...(conv.userHash ? { user_hash: conv.userHash } : {}),
      })
      .catch(() => ({ ok: false }))) as { ok: boolean };
    if (ack.ok) times.push(performance.now() - t0);
    else failed += 1;
    socket.close();
    await sleep(10);
  }
  times.sort((a, b) => a - b);
  const r = (x: number | null) => (x === null ? null : round(x, 1));
  return {
    joins: times.length,
    failed,
    p50_ms: r(percentile(times, 50)),
    p99_ms: r(percentile(times, 99)),
    max_ms: r(times.at(-1) ?? null),
  };
}

/**
 * Runs the step against a node started with `TRUST_PROXY=true` (so the attacker and the visitor
 * are told apart by `X-Forwarded-For`, as behind a load balancer).
 */
export async function abuseStep(
  url: string,
  convs: Conv[],
  opts: { sockets?: number; events?: number; seconds?: number } = {},
): Promise<AbuseResult> {
  const sockets = opts.sockets ?? 20;
  const events = opts.events ?? 10_000;
  const seconds = opts.seconds ?? 4;

  // Quiet first: the same visitor's joins on an idle node, for comparison.
  const quietEnd = Date.now() + 3000;
  const next = { i: 0 };
  const visitor_quiet = await visitorJoins(url, convs, next, () => Date.now() > quietEnd);

  let sent = 0;
  let answered = 0;
  let refused = 0;
  let reconnects = 0;
  let flooding = true;
  const perSocket = Math.ceil(events / sockets);
  const gapMs = (seconds * 1000) / perSocket;

  // One attacker lane: a socket sending joins of random ids at its share of the rate; when the
  // node drops it (too many failed joins), a new one takes its place.
  async function lane() {
    let mine = 0;
    while (flooding && mine < perSocket) {
      let s: Socket;
      try {
        s = await connect(url, ATTACKER_IP);
      } catch {
        reconnects += 1;
        await sleep(100);
        continue;
      }
      while (flooding && mine < perSocket && s.connected) {
        mine += 1;
        sent += 1;
        s.timeout(15_000)
          .emitWithAck('join_conversation', { conversation_id: randomUUID(), external_id: `user-${mine}` })
          .then(
            (ack: { ok: boolean; error?: string }) => {
              answered += 1;
              if (ack.error === 'rate_limited') refused += 1;
            },
            () => {},
          );
        await sleep(gapMs);
      }
      s.close();
      if (flooding && mine < perSocket) reconnects += 1;
    }
  }

  const readyz = { polls: 0, ok: 0, statuses: {} as Record<string, number> };
  async function pollReadyz() {
    while (flooding) {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(() => null);
      const status = res ? String(res.status) : 'no answer';
      await res?.body?.cancel().catch(() => {});
      readyz.polls += 1;
      if (status === '200') readyz.ok += 1;
      readyz.statuses[status] = (readyz.statuses[status] ?? 0) + 1;
      await sleep(250);
    }
  }

  const t0 = Date.now();
  const lanes = Promise.all(Array.from({ length: sockets }, lane));
  const polling = pollReadyz();
  const visitor_under_flood = await visitorJoins(url, convs, next, () => Date.now() - t0 > seconds * 1000);
  flooding = false;
  await Promise.all([lanes, polling]);
  return {
    flood: { sockets, seconds, events_sent: sent, answered, refused, reconnects },
    visitor_quiet,
    visitor_under_flood,
    readyz,
  };
}
