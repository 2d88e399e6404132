// The transport baseline: the same room broadcast on plain `ws`, JSON frames, no framework.
// Against the bare Socket.IO server it shows what Socket.IO itself costs.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const http = createServer();
const wss = new WebSocketServer({ server: http });
const rooms = new Map<string, Set<WebSocket>>();

wss.on('connection', (ws) => {
  const joined = new Set<string>();
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as { t: string; room: string; data?: unknown };
    if (frame.t === 'join') {
      let members = rooms.get(frame.room);
      if (!members) rooms.set(frame.room, (members = new Set()));
      members.add(ws);
      joined.add(frame.room);
      ws.send(JSON.stringify({ t: 'joined', room: frame.room }));
    } else if (frame.t === 'send') {
      // Encoded once, written to every member, as Socket.IO does for a room.
      const out = JSON.stringify({ t: 'msg', room: frame.room, data: frame.data });
      for (const member of rooms.get(frame.room) ?? []) member.send(out);
    }
  });
  ws.on('close', () => {
    for (const room of joined) rooms.get(room)?.delete(ws);
  });
});

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close(() => http.close(() => process.exit(0)));
});
