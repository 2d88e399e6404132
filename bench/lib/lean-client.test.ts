// The load generators' lean Socket.IO client against a real Socket.IO server over real sockets:
// handshake with auth and headers, events both ways, acknowledgements and their timeout, the send
// buffer while disconnected, reconnection after the server restarts, none after the server
// disconnects it, and a refused handshake reported as `connect_error`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Server } from 'socket.io';
import { LeanSocket } from './lean-client.js';
import { visitorAddress } from './run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}

/** A Socket.IO server on `port` (0: any) that echoes, acks and answers as the tests need. */
async function serve(port = 0) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'] });
  io.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: string };
    if (auth.token === 'bad') return next(new Error('not allowed'));
    next();
  });
  io.on('connection', (socket) => {
    socket.emit('hello', { auth: socket.handshake.auth, cookie: socket.handshake.headers.cookie ?? null });
    socket.on('whoami', (ack: (r: unknown) => void) => ack(socket.handshake.address));
    socket.on('echo', (x: unknown) => socket.emit('echoed', x));
    socket.on('add', (x: { a: number; b: number }, ack: (r: unknown) => void) => ack({ sum: x.a + x.b }));
    socket.on('silent', () => {});
    // An event the client does not listen to, whose body would not even decode, then one it does.
    socket.on('noise', () => {
      socket.conn.write('2["unheard",{"broken": ');
      socket.emit('echoed', 'after the noise');
    });
    socket.on('kick', () => socket.disconnect(true));
  });
  httpServer.listen(port, '127.0.0.1');
  await once(httpServer, 'listening');
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  return {
    io,
    url,
    port: (httpServer.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => io.close(() => r())),
  };
}

test('events, acknowledgements, auth and headers go through; an ack that never comes times out', async () => {
  const srv = await serve();
  const s = new LeanSocket(srv.url, {
    auth: { token: 'ok', activity: 'batch' },
    extraHeaders: { cookie: 'session=abc' },
  });
  try {
    const hello: unknown[] = [];
    const echoed: unknown[] = [];
    s.on('hello', (h: unknown) => hello.push(h));
    s.on('echoed', (x: unknown) => echoed.push(x));
    // Sent before the connection is up: buffered, then sent in order.
    s.emit('echo', { n: 1 });
    s.emit('echo', { n: 2, text: 'é "quoted" [x]' });
    await until(() => echoed.length === 2);
    assert.equal(s.connected, true);
    assert.deepEqual(hello, [{ auth: { token: 'ok', activity: 'batch' }, cookie: 'session=abc' }]);
    assert.deepEqual(echoed, [{ n: 1 }, { n: 2, text: 'é "quoted" [x]' }]);
    const sums = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.timeout(2000).emitWithAck('add', { a: i, b: 1 })),
    );
    assert.deepEqual(
      sums,
      Array.from({ length: 20 }, (_, i) => ({ sum: i + 1 })),
    );
    await assert.rejects(s.timeout(100).emitWithAck('silent', {}), /timed out/);
    // Nothing listens to `unheard`: its frame is dropped unread (it would not parse), and the
    // events after it still arrive.
    s.emit('noise');
    await until(() => echoed.length === 3);
    assert.deepEqual(echoed.at(-1), 'after the noise');
    assert.equal(s.connected, true);
  } finally {
    s.disconnect();
    await srv.close();
  }
});

test('the server restarts: disconnect, reconnect with backoff, connect again and send what waited', async () => {
  const srv = await serve();
  const s = new LeanSocket(srv.url, { reconnectionDelay: 50, reconnectionDelayMax: 200 });
  const events: string[] = [];
  s.on('connect', () => events.push('connect'));
  s.on('disconnect', (reason: string) => events.push(`disconnect ${reason}`));
  try {
    await until(() => s.connected);
    await srv.close();
    await until(() => !s.connected);
    // While it is down: buffered.
    const echoed: unknown[] = [];
    s.on('echoed', (x: unknown) => echoed.push(x));
    s.emit('echo', 'while down');
    await sleep(300);
    const again = await serve(srv.port);
    try {
      await until(() => s.connected && echoed.length === 1);
      assert.deepEqual(echoed, ['while down']);
      assert.deepEqual(events, ['connect', 'disconnect transport close', 'connect']);
    } finally {
      s.disconnect();
      await again.close();
    }
  } finally {
    s.disconnect();
  }
});

test('disconnected by the server it stays down; refused at the handshake it says why', async () => {
  const srv = await serve();
  const s = new LeanSocket(srv.url, { reconnectionDelay: 50, reconnectionDelayMax: 100 });
  let refused: LeanSocket | undefined;
  try {
    const reasons: string[] = [];
    s.on('disconnect', (r: string) => reasons.push(r));
    await until(() => s.connected);
    s.emit('kick');
    await until(() => reasons.length === 1);
    await sleep(300);
    assert.deepEqual(reasons, ['io server disconnect']);
    assert.equal(s.connected, false);
    assert.equal(srv.io.engine.clientsCount, 0, 'it did not come back');

    refused = new LeanSocket(srv.url, { auth: { token: 'bad' }, reconnectionDelay: 5000 });
    const errors: Error[] = [];
    refused.on('connect_error', (e: Error) => errors.push(e));
    await until(() => errors.length === 1);
    assert.equal(errors[0]!.message, 'not allowed');
    assert.equal(refused.connected, false);
  } finally {
    s.disconnect();
    refused?.disconnect();
    await srv.close();
  }
});

test('visitors connect each from a loopback address of their own, as the server sees them', async () => {
  assert.deepEqual([0, 1, 255, 256, 9_999, 70_000].map(visitorAddress), [
    '127.1.0.0',
    '127.1.0.1',
    '127.1.0.255',
    '127.1.1.0',
    '127.1.39.15',
    '127.2.17.112',
  ]);
  const srv = await serve();
  const sockets = [0, 1, 9_999].map((i) => new LeanSocket(srv.url, { localAddress: visitorAddress(i) }));
  try {
    const seen = await Promise.all(sockets.map((s) => s.timeout(5000).emitWithAck('whoami')));
    assert.deepEqual(seen, ['127.1.0.0', '127.1.0.1', '127.1.39.15']);
  } finally {
    for (const s of sockets) s.disconnect();
    await srv.close();
  }
});
