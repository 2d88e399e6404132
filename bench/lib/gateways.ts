// The gateways step (issue 23, point 4): the relay's own gateways under load, each against the
// nearest thing without it —
//   ws:       raw WebSocket visitors (`/api/v1/ws/widget`) sending `msg` frames closed loop, each
//             waiting for its `ack` (sent once the message is committed), against plain `ws`
//             answering the same frames with an `ack` and nothing behind it (baselines/ws-ack.ts);
//   signed:   HMAC#1-signed `GET /api/v1/relay/conversations/:id/messages` against the same page of
//             the same conversation read by the same tenant's operator with a session cookie
//             (`GET /api/conversations/:id/messages`), and the signature's own cost in-process;
//   webhooks: deliveries per second to a receiver in this process (webhook-receiver.ts);
//   bot:      the bot's answer time over a knowledge base of 1,000 documents (bot.ts).
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { parseHmacHeaders, signRequest, verifyRequest } from '../../src/relay/hmac.js';
import {
  botStep,
  ORIGIN,
  provisionTenant,
  signedCall,
  visitorToken,
  type BotResult,
  type Tenant,
} from './bot.js';
import { cpuSecondsOf, freePort, startServer, stopProcess } from './procs.js';
import { mapLimit } from './seed.js';
import { percentile, round } from './stats.js';
import { webhooksBench, type WebhooksResult } from './webhook-receiver.js';

export type LoopResult = {
  connections: number;
  connect_failed: number;
  /** Round trips completed in the measured window, per second. */
  per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  errors: Record<string, number>;
  /** CPU over the measured window, % of one core: the server process, and this (client) process. */
  server_cpu_pct: number | null;
  client_cpu_pct: number;
  /** Raw WebSocket only: seconds until every visitor's first message (opening its session) was answered. */
  warmup_s?: number;
};

/** CPU use of the server process and of this process from now until `end()`. */
function cpuWindow(serverPid: number | undefined) {
  const t0 = performance.now();
  const s0 = serverPid ? cpuSecondsOf(serverPid) : 0;
  const c0 = process.cpuUsage();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return {
      server_cpu_pct: serverPid ? Math.round(((cpuSecondsOf(serverPid) - s0) / seconds) * 100) : null,
      client_cpu_pct: Math.round(((c.user + c.system) / 1e6 / seconds) * 100),
    };
  };
}

export type GatewaysResult = {
  ws: {
    visitors: number;
    seconds: number;
    /** Visitor sessions created per second (`POST /api/v1/create/visitor-session`, 8 at a time). */
    sessions_per_s: number;
    server: LoopResult;
    plain_ws: LoopResult;
    ratio: number | null;
  };
  signed: {
    concurrency: number;
    seconds: number;
    route: string;
    signed: LoopResult;
    session: LoopResult;
    ratio: number | null;
    /** In this process, one core: signing a call, and checking one (headers parsed, HMAC compared). */
    hmac_sign_us: number;
    hmac_verify_us: number;
  };
  webhooks: WebhooksResult;
  bot: BotResult;
};

export type GatewaysParams = {
  visitors: number;
  seconds: number;
  concurrency: number;
  conversations: number;
  messages: number;
  documents: number;
  questions: number;
};

export const gatewaysParams = (quick: boolean): GatewaysParams =>
  quick
    ? {
        visitors: 100,
        seconds: 3,
        concurrency: 16,
        conversations: 50,
        messages: 500,
        documents: 1000,
        questions: 20,
      }
    : {
        visitors: 500,
        seconds: 5,
        concurrency: 16,
        conversations: 100,
        messages: 2000,
        documents: 1000,
        questions: 40,
      };

const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 3) : null);
const countError = (errors: Record<string, number>, code: string) => (errors[code] = (errors[code] ?? 0) + 1);

/** Opens a visitor socket and waits for its `welcome`. */
function openVisitor(wsUrl: string): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl, { origin: ORIGIN });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no welcome within 10 s'));
    }, 10_000);
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code} before the welcome`)));
    const first = (data: unknown) => {
      if ((JSON.parse(String(data)) as { type: string }).type !== 'welcome') return;
      clearTimeout(timer);
      ws.off('message', first);
      resolve(ws);
    };
    ws.on('message', first);
  });
}

/**
 * Every socket sends a `msg`, then the next as soon as its `ack` (or a refusal) comes back: one
 * second of warm-up (each visitor's first message opens its session), then `seconds` measured.
 */
async function wsClosedLoop(wsUrls: string[], seconds: number, serverPid?: number): Promise<LoopResult> {
  const errors: Record<string, number> = {};
  const opened = await mapLimit(wsUrls, 50, (u) =>
    openVisitor(u).catch((err: Error) => {
      countError(errors, `connect: ${err.message}`);
      return null;
    }),
  );
  const sockets = opened.filter((s): s is WebSocket => s !== null);
  const latencies: number[] = [];
  let measuring = false;
  let running = true;
  let t0 = Infinity;
  let acked = 0;
  const warmed: Promise<void>[] = [];
  const loops = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        let cmid = '';
        let sentAt = 0;
        let warm: () => void = () => {};
        warmed.push(new Promise<void>((r) => (warm = r)));
        const send = () => {
          cmid = randomUUID();
          sentAt = performance.now();
          ws.send(JSON.stringify({ type: 'msg', client_msg_id: cmid, content: `gateway bench ${cmid}` }));
        };
        ws.on('message', (data) => {
          const f = JSON.parse(String(data)) as { type: string; client_msg_id?: string; code?: string };
          if (f.client_msg_id !== cmid || (f.type !== 'ack' && f.type !== 'error')) return;
          warm();
          if (measuring && f.type === 'ack') acked += 1;
          else if (measuring) countError(errors, f.code ?? 'error');
          // Latency of the round trips that started inside the window only.
          if (measuring && sentAt >= t0 && f.type === 'ack') latencies.push(performance.now() - sentAt);
          if (running) send();
          else resolve();
        });
        ws.on('close', () => resolve());
        send();
      }),
  );
  // Warm-up: every visitor's first message (it opens the conversation's session) answered, then 1 s.
  const warmStart = performance.now();
  await Promise.race([Promise.all(warmed), new Promise((r) => setTimeout(r, 30_000))]);
  const warmupS = round((performance.now() - warmStart) / 1000, 2);
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  t0 = performance.now();
  const cpu = cpuWindow(serverPid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  running = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPct = cpu();
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 10_000))]);
  for (const ws of sockets) ws.terminate();
  latencies.sort((a, b) => a - b);
  return {
    connections: sockets.length,
    connect_failed: wsUrls.length - sockets.length,
    per_s: Math.round(acked / elapsed),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    errors,
    ...cpuPct,
    warmup_s: warmupS,
  };
}

/** `concurrency` callers, each making its next call when the last answered, for `seconds`. */
async function httpClosedLoop(
  concurrency: number,
  seconds: number,
  once: () => Promise<Response>,
  serverPid?: number,
): Promise<LoopResult> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const cpu = cpuWindow(serverPid);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        try {
          const res = await once();
          await res.arrayBuffer();
          if (res.status === 200) latencies.push(performance.now() - started);
          else countError(errors, String(res.status));
        } catch (err) {
          countError(errors, (err as Error).message.slice(0, 80));
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPct = cpu();
  latencies.sort((a, b) => a - b);
  return {
    connections: concurrency,
    connect_failed: 0,
    per_s: Math.round(latencies.length / elapsed),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    errors,
    ...cpuPct,
  };
}

/** µs per signature made, and per signed request checked (headers parsed, HMAC compared). */
function hmacCost(n = 20_000) {
  const tn = { tenantId: randomUUID(), secret: `sk_${'x'.repeat(43)}` };
  const path = `/api/v1/relay/conversations/${randomUUID()}/messages?limit=20`;
  let t = performance.now();
  const signed: Record<string, string>[] = [];
  for (let i = 0; i < n; i++) signed.push(signRequest({ method: 'GET', pathAndQuery: path, ...tn }));
  const signUs = ((performance.now() - t) * 1000) / n;
  t = performance.now();
  const nowMs = Date.now();
  for (const h of signed) {
    const headers = parseHmacHeaders(
      Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])),
    );
    verifyRequest({ method: 'GET', pathAndQuery: path, headers, secrets: [tn.secret], windowS: 300, nowMs });
  }
  return { sign: round(signUs, 2), verify: round(((performance.now() - t) * 1000) / n, 2) };
}

/** The tenant's operator (role admin) signed in through an operator token: its session cookie. */
async function operatorCookie(url: string, tn: Tenant): Promise<string> {
  await signedCall(url, tn, 'POST', '/api/v1/relay/operators', { external_id: 'bench-op', role: 'admin' });
  const t = await signedCall(url, tn, 'POST', '/api/v1/relay/operators/bench-op/token', {});
  const res = await fetch(`${url}/auth/operator?token=${encodeURIComponent(String(t.operator_token))}`, {
    redirect: 'manual',
  });
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  if (res.status >= 400 || !cookie) throw new Error(`operator sign-in: ${res.status}`);
  return cookie;
}

async function signedVsSession(
  url: string,
  tn: Tenant,
  p: GatewaysParams,
  pid: number | undefined,
): Promise<GatewaysResult['signed']> {
  const conv = await signedCall(url, tn, 'POST', '/api/v1/relay/conversations', {
    visitor_user_id: 'bench-reader',
  });
  const id = String(conv.id);
  for (let i = 0; i < 20; i++) {
    await signedCall(url, tn, 'POST', `/api/v1/relay/conversations/${id}/messages`, {
      role: 'visitor',
      content: `history ${i}`,
    });
  }
  const cookie = await operatorCookie(url, tn);
  const signedPath = `/api/v1/relay/conversations/${id}/messages?limit=20`;
  const sessionPath = `/api/conversations/${id}/messages?limit=20`;
  // Both answer the same 20 messages, or the comparison means nothing.
  const a = (await signedCall(url, tn, 'GET', signedPath)) as { items: unknown[] };
  const b = (await (await fetch(url + sessionPath, { headers: { cookie } })).json()) as unknown[];
  if (a.items.length !== 20 || b.length !== 20)
    throw new Error(`signed ${a.items.length} / session ${b.length} messages`);
  const secs = Math.max(2, Math.round(p.seconds * 0.6));
  const signed = await httpClosedLoop(
    p.concurrency,
    secs,
    () =>
      fetch(url + signedPath, {
        headers: signRequest({ method: 'GET', pathAndQuery: signedPath, tenantId: tn.id, secret: tn.secret }),
      }),
    pid,
  );
  const session = await httpClosedLoop(
    p.concurrency,
    secs,
    () => fetch(url + sessionPath, { headers: { cookie } }),
    pid,
  );
  const cost = hmacCost();
  return {
    concurrency: p.concurrency,
    seconds: secs,
    route: 'GET …/conversations/:id/messages?limit=20',
    signed,
    session,
    ratio: ratio(signed.per_s, session.per_s),
    hmac_sign_us: cost.sign,
    hmac_verify_us: cost.verify,
  };
}

/**
 * The whole step against a running server (`url`, with `adminKey` as ADMIN_KEY and
 * WEBHOOK_ALLOW_PRIVATE=true); the plain-ws baseline is started and stopped here. Each part has a
 * tenant of its own.
 */
export async function gatewaysStep(
  url: string,
  adminKey: string,
  p: GatewaysParams,
  log: (s: string) => void,
  serverPid?: number,
): Promise<GatewaysResult> {
  const tn = await provisionTenant(url, adminKey, 'Gateway bench');
  log(`gateways: ${p.visitors} raw WebSocket visitors, closed loop`);
  const sessionsStart = performance.now();
  const tokens = await mapLimit(
    Array.from({ length: p.visitors }, () => 0),
    8,
    () => visitorToken(url, tn, 'human'),
  );
  const sessionsPerS = Math.round(p.visitors / ((performance.now() - sessionsStart) / 1000));
  const wsBase = `${url.replace(/^http/, 'ws')}/api/v1/ws/widget?token=`;
  const server = await wsClosedLoop(
    tokens.map((t) => wsBase + encodeURIComponent(t)),
    p.seconds,
    serverPid,
  );
  const plain = await startServer(['--import', 'tsx', 'bench/baselines/ws-ack.ts'], {}, await freePort());
  let plainWs: LoopResult;
  try {
    plainWs = await wsClosedLoop(
      Array(p.visitors).fill(plain.url.replace(/^http/, 'ws')) as string[],
      p.seconds,
      plain.proc.pid,
    );
  } finally {
    await stopProcess(plain.proc);
  }
  log(`gateways: signed API against the operator's session, ${p.concurrency} callers`);
  const signed = await signedVsSession(url, tn, p, serverPid);
  log(`gateways: ${p.messages} messages into ${p.conversations} conversations, webhooks to a local receiver`);
  const webhooks = await webhooksBench(url, adminKey, {
    conversations: p.conversations,
    messages: p.messages,
    concurrency: p.concurrency,
    quietS: 10,
  });
  log(`gateways: bot over ${p.documents} documents`);
  const bot = await botStep(url, adminKey, { documents: p.documents, visitors: p.questions });
  return {
    ws: {
      visitors: p.visitors,
      seconds: p.seconds,
      sessions_per_s: sessionsPerS,
      server,
      plain_ws: plainWs,
      ratio: ratio(server.per_s, plainWs.per_s),
    },
    signed,
    webhooks,
    bot,
  };
}
