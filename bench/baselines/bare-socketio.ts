// The bare baseline: a minimal Socket.IO server with the same events and rooms as the real one
// and nothing else: no authentication, no validation, no persistence, no Redis. The ratio of the
// real server's throughput to this one's is what stays comparable across machines.
//
// With BARE_REDIS_URL set (the `baseline-redis` run) the same server broadcasts through
// @socket.io/redis-adapter, configured as the real server's (its own pub/sub connections, RESP2,
// no auto-pipelining, key BARE_REDIS_PREFIX): the difference between the two runs is what the
// adapter costs per message on its own.
import { createAdapter } from '@socket.io/redis-adapter';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

type Ack = ((res: unknown) => void) | undefined;
type Payload = Record<string, unknown> & { conversation_id: string };

const ORG = 'bench';
const queue = `org:${ORG}:queue`;
/** Conversations with a session: the real server announces only a new session to the queue. */
const open = new Set<string>();
const http = createServer();
const io = new Server(http);
const redisUrl = process.env.BARE_REDIS_URL;
const links: Redis[] = [];
if (redisUrl) {
  const link = () =>
    new Redis(redisUrl, { protocol: 2, enableAutoPipelining: false, maxRetriesPerRequest: null });
  links.push(link(), link());
  io.adapter(
    createAdapter(links[0]!, links[1]!, { key: process.env.BARE_REDIS_PREFIX ?? 'sbbench:bare:sio' }),
  );
}

io.on('connection', (socket) => {
  socket.on('join_queue', (ack: Ack) => {
    void socket.join(queue);
    ack?.({ ok: true });
  });
  socket.on('join_conversation', (p: Payload, ack: Ack) => {
    void socket.join(`conv:${p.conversation_id}`);
    ack?.({ ok: true, conversation_id: p.conversation_id });
  });
  socket.on('claim_conversation', (p: Payload, ack: Ack) => {
    // A claimed conversation has an open session, as on the real server.
    open.add(p.conversation_id);
    void socket.join(`conv:${p.conversation_id}`);
    const assigned = { conversation_id: p.conversation_id, assigned_to: socket.id };
    io.to(queue).emit('conversation_assigned', assigned);
    ack?.({ ok: true, ...assigned });
  });
  socket.on('send_message', (p: Payload, ack: Ack) => {
    const message = {
      id: randomUUID(),
      conversation_id: p.conversation_id,
      session_id: p.conversation_id,
      sender_type: p.sender_type,
      sender_id: p.external_id ?? socket.id,
      content_type: p.content_type ?? 'text',
      content: p.content,
      rich_media: p.rich_media ?? null,
      client_msg_id: p.client_msg_id ?? null,
      created_at: new Date().toISOString(),
    };
    io.to(`conv:${p.conversation_id}`).emit('message_received', message);
    if (p.sender_type === 'end_user' && !open.has(p.conversation_id)) {
      open.add(p.conversation_id);
      io.to(queue).emit('conversation_updated', {
        conversation_id: p.conversation_id,
        sender_type: p.sender_type,
        content_type: message.content_type,
        content: message.content,
      });
    }
    ack?.({ ok: true, message });
  });
  // `--read-receipts`: the reader's receipt to the conversation's room, as a chat with read ticks.
  socket.on('mark_read', (p: Payload & { message_ids?: string[] }) => {
    io.to(`conv:${p.conversation_id}`).emit('messages_read', {
      conversation_id: p.conversation_id,
      message_ids: p.message_ids ?? [],
      reader_id: p.external_id ?? socket.id,
      read_at: new Date().toISOString(),
    });
  });
});

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () =>
  io.close(() => {
    for (const l of links) l.disconnect();
    process.exit(0);
  }),
);
