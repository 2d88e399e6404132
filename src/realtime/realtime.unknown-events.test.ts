// Issue 14, point 7: an event outside the contract got neither an ack nor `error`, so a client
// waited forever.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createConversation, createOrg } from '../../test/helpers/factories.js';
import { connectSocket, emitAck, eventually, nextEvent, record } from '../../test/helpers/sockets.js';

let app: TestApp;
const sockets: Socket[] = [];
before(async () => {
  app = await startApp(await dbModes[0]!.open(), {
    redis: true,
    env: { REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}` },
  });
});
after(async () => {
  for (const s of sockets) s.close();
  await app.stop();
  await app.database.close();
});

test('an unknown event is answered unknown_event (ack and `error`), and stores nothing', async () => {
  const { org, channelId } = await createOrg(app.services);
  const conv = await createConversation(app.services, { organizationId: org.id, channelId });
  const socket = await connectSocket(app.url);
  sockets.push(socket);
  const payload = {
    conversation_id: conv.conversation.id,
    external_id: conv.externalId,
    content: 'sneaky',
    sender_type: 'end_user',
  };

  for (const event of ['send_messages', 'delete_conversation', 'SEND_MESSAGE', 'x'.repeat(500)]) {
    const error = nextEvent<{ message: string }>(socket, 'error');
    const ack = await emitAck(socket, event, payload);
    assert.equal(ack.ok, false);
    assert.equal(ack.error, 'unknown_event');
    assert.equal(typeof ack.message, 'string');
    assert.ok(String(ack.message).length < 100, 'the event name is not echoed whole');
    assert.equal((await error).message, ack.message);
  }

  // Without an ack (no payload, several arguments): the `error` event still comes.
  const errors = record(socket, 'error');
  socket.emit('no_such_event');
  socket.emit('no_such_event', 1, 2, 3);
  const ack = await emitAck(socket, 'also_unknown');
  assert.equal(ack.error, 'unknown_event');
  assert.equal(errors.length, 3);

  // Known events still work on the same socket, and nothing was stored by the unknown ones.
  const sent = await emitAck(socket, 'send_message', { ...payload, content: 'hello' });
  assert.equal(sent.ok, true);
  const stored = await app.database.prisma.message.findMany({
    where: { conversationId: conv.conversation.id },
  });
  assert.deepEqual(
    stored.map((m) => m.content),
    ['hello'],
  );
});

test('unknown events count against the socket limit like any other', async () => {
  const limited = await startApp(app.database, {
    redis: true,
    env: { REALTIME_REDIS_PREFIX: `sb:test:${randomUUID()}`, SOCKET_EVENT_LIMIT: '5' },
  });
  try {
    const socket = await connectSocket(limited.url);
    const acks = await Promise.all(Array.from({ length: 8 }, () => emitAck(socket, 'nope')));
    assert.deepEqual(
      acks.map((a) => a.error),
      [...Array(5).fill('unknown_event'), ...Array(3).fill('rate_limited')],
    );
    socket.close();
  } finally {
    await limited.stop();
  }
});

test("an event named 'error' from a client is unknown_event, and the socket carries on", async () => {
  const { org, channelId } = await createOrg(app.services);
  const conv = await createConversation(app.services, { organizationId: org.id, channelId });
  const socket = await connectSocket(app.url);
  sockets.push(socket);
  // socket.io-client keeps `error` for itself: the packet (2, an event) is written by hand, as an
  // attacker's client would. Socket.IO's parser refuses the other reserved names itself.
  const errors = record<{ message: string }>(socket, 'error');
  (socket.io.engine as unknown as { write: (frame: string) => void }).write('2["error","forged"]');
  await eventually(() => errors.length === 1);
  assert.match(errors[0]!.message, /Unknown event 'error'/);
  const ref = { conversation_id: conv.conversation.id, external_id: conv.externalId };
  assert.equal((await emitAck(socket, 'join_conversation', ref)).ok, true);
  assert.equal(socket.connected, true);
  assert.equal(errors.length, 1);
});

test('a middleware added on connection runs before the handlers and may answer an event itself', async () => {
  const { org, channelId } = await createOrg(app.services);
  const conv = await createConversation(app.services, { organizationId: org.id, channelId });
  const seen: string[] = [];
  const hold = (server: { use: (fn: (packet: unknown[], next: () => void) => void) => void }) =>
    server.use((packet, next) => {
      seen.push(String(packet[0]));
      if (packet[0] !== 'send_message') return next();
      (packet.at(-1) as (reply: unknown) => void)({ ok: false, error: 'held', message: 'Held here' });
    });
  app.io.on('connection', hold);
  try {
    const socket = await connectSocket(app.url);
    sockets.push(socket);
    const ref = { conversation_id: conv.conversation.id, external_id: conv.externalId };
    assert.equal((await emitAck(socket, 'join_conversation', ref)).ok, true);
    const held = await emitAck(socket, 'send_message', { ...ref, content: 'held', sender_type: 'end_user' });
    assert.deepEqual(held, { ok: false, error: 'held', message: 'Held here' });
    assert.equal((await emitAck(socket, 'nope')).error, 'unknown_event');
    assert.deepEqual(seen, ['join_conversation', 'send_message', 'nope']);
    const stored = await app.database.prisma.message.count({
      where: { conversationId: conv.conversation.id },
    });
    assert.equal(stored, 0);
  } finally {
    app.io.off('connection', hold);
  }
});
