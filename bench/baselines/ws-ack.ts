// The raw-WebSocket visitor baseline: plain `ws` speaking the relay visitor socket's frames with
// nothing behind them — a `welcome` on connect, then each `msg` frame parsed and answered with its
// `ack` — no token, session, validation, flood limit, persistence or fan-out. Against
// `/api/v1/ws/widget` it shows what the gateway and the message path cost per frame round trip.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http });
const seqs = new WeakMap<object, number>();

wss.on('connection', (ws) => {
  seqs.set(ws, 0);
  ws.send(JSON.stringify({ type: 'welcome', session_id: randomUUID(), history: [] }));
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as { type: string; client_msg_id?: string };
    if (frame.type !== 'msg') return;
    const seq = seqs.get(ws)! + 1;
    seqs.set(ws, seq);
    ws.send(
      JSON.stringify({
        type: 'ack',
        client_msg_id: frame.client_msg_id,
        id: randomUUID(),
        seq,
        created_at: new Date().toISOString(),
        duplicate: false,
      }),
    );
  });
});

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close(() => http.close(() => process.exit(0)));
});
