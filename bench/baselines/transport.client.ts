// Closed-loop room broadcast over one transport: `pairs` rooms, each with a sender and a receiver;
// a sender sends its next message when the receiver got the previous one. Prints one JSON line:
// deliveries per second and latency percentiles (one clock: both ends live in this process).
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { percentile } from '../lib/stats.js';

const [kind, url, pairsArg, durationArg] = process.argv.slice(2);
const pairs = Number(pairsArg ?? 100);
const durationMs = Number(durationArg ?? 5000);
const latencies: number[] = [];
let running = true;

type End = { send: (room: string, data: number) => void; onMessage: (fn: (data: number) => void) => void };

async function socketIoEnd(room: string): Promise<End> {
  const s = io(url!, { forceNew: true, transports: ['websocket'] });
  await s.timeout(10_000).emitWithAck('join_conversation', { conversation_id: room });
  return {
    send: (r, data) =>
      s.emit('send_message', { conversation_id: r, content: String(data), sender_type: 'end_user' }),
    onMessage: (fn) => s.on('message_received', (m: { content: string }) => fn(Number(m.content))),
  };
}

async function wsEnd(room: string): Promise<End> {
  const ws = new WebSocket(url!);
  const listeners: ((data: number) => void)[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as { t: string; data: number };
      if (f.t === 'joined') resolve();
      else for (const l of listeners) l(f.data);
    });
    ws.once('open', () => ws.send(JSON.stringify({ t: 'join', room })));
  });
  return {
    send: (r, data) => ws.send(JSON.stringify({ t: 'send', room: r, data })),
    onMessage: (fn) => listeners.push(fn),
  };
}

const open = kind === 'ws' ? wsEnd : socketIoEnd;
const loops = await Promise.all(
  Array.from({ length: pairs }, async (_, i) => {
    const room = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const [a, b] = await Promise.all([open(room), open(room)]);
    return { room, a, b };
  }),
);
const t0 = performance.now();
for (const { room, a, b } of loops) {
  b.onMessage((sentAt) => {
    latencies.push(performance.now() - sentAt);
    if (running) a.send(room, performance.now());
  });
  a.send(room, performance.now());
}
await new Promise((r) => setTimeout(r, durationMs));
running = false;
const seconds = (performance.now() - t0) / 1000;
const sorted = latencies.sort((x, y) => x - y);
process.stdout.write(
  JSON.stringify({
    kind,
    pairs,
    msgs_per_s: Math.round(sorted.length / seconds),
    p50_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
  }) + '\n',
);
process.exit(0);
