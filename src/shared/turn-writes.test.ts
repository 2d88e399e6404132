// A turn's publishes and client frames go out together, publishes first (issue 23): real Redis,
// real TCP connections.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { eventually } from '../../test/helpers/sockets.js';
import { publishesBeforeResponse } from './http.js';
import { closeRedis, connectRedis, duplicateRedis, type Redis } from './redis.js';
import { batchPublishes, flushTurnWrites, holdClientWrites } from './turn-writes.js';

const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const nextTurn = () => new Promise((r) => setImmediate(r));

/** A TCP connection to a local server, and what the server has read from it. */
async function tcpPair() {
  const got: string[] = [];
  const server = net.createServer((s) => s.on('data', (d) => got.push(d.toString())));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  return {
    socket,
    got,
    close: () => {
      socket.destroy();
      server.close();
    },
  };
}

describe('turn writes', () => {
  let app: Redis;
  let pub: Redis;
  let sub: Redis;
  const channel = `sb:test:turn:${randomUUID()}`;
  const heard: string[] = [];
  before(async () => {
    app = await connectRedis(url);
    [pub, sub] = await Promise.all([duplicateRedis(app, 'pub'), duplicateRedis(app, 'sub')]);
    batchPublishes(pub);
    sub.on('message', (_ch: string, m: string) => heard.push(m));
    await sub.subscribe(channel);
  });
  after(async () => {
    await Promise.all([closeRedis(pub), closeRedis(sub), closeRedis(app)]);
  });

  test("a turn's publishes and a client's frames are held until the turn's work is done, then sent in order", async () => {
    const client = await tcpPair();
    try {
      heard.length = 0;
      const acks = ['a', 'b', 'c'].map((m) => {
        const ack = pub.publish(channel, m);
        holdClientWrites(client.socket);
        client.socket.write(`frame ${m};`);
        return ack;
      });
      // Still this turn: nothing has left the process.
      assert.ok(pub.stream.writableLength > 0, 'the publishes wait in their connection');
      assert.equal(client.socket.writableLength, 'frame a;frame b;frame c;'.length);
      assert.deepEqual(await Promise.all(acks), [1, 1, 1]);
      await nextTurn();
      assert.equal(client.socket.writableLength, 0);
      await eventually(() => heard.length === 3 && client.got.join('').length === 24);
      assert.deepEqual(heard, ['a', 'b', 'c']);
      assert.equal(client.got.join(''), 'frame a;frame b;frame c;');
    } finally {
      client.close();
    }
  });

  test('a client connection is written only after the publishes held before it', async () => {
    // The client side is a stream that notes, when its data is handed on, what the publishing
    // connection still holds.
    const seen: number[] = [];
    const clientSide = new Writable({
      writev(chunks, cb) {
        seen.push(pub.stream.writableLength);
        cb();
      },
    });
    holdClientWrites(clientSide);
    clientSide.write('frame 1');
    void pub.publish(channel, 'published after the frame was queued');
    clientSide.write('frame 2');
    await nextTurn();
    assert.deepEqual(seen, [0], 'one write, once Redis had every publish of the turn');

    // The same when something flushes early (a response or a relay frame about to go out).
    seen.length = 0;
    void pub.publish(channel, 'one');
    holdClientWrites(clientSide);
    clientSide.write('frame 3');
    flushTurnWrites();
    assert.deepEqual(seen, [0]);
    assert.equal(pub.stream.writableLength, 0);
  });

  test('an HTTP response is written after the publishes issued before it', async () => {
    const atHeaders: number[] = [];
    const web = express();
    // Registered first, so it runs last: it sees what is held when the headers go out.
    web.use((_req, res, next) => {
      const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => typeof res;
      res.writeHead = ((...args: unknown[]) => {
        atHeaders.push(pub.stream.writableLength);
        return writeHead(...args);
      }) as typeof res.writeHead;
      next();
    });
    web.use(publishesBeforeResponse);
    web.post('/send', (_req, res) => {
      void pub.publish(channel, 'stored');
      res.json({ ok: true });
    });
    const server = web.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const r = await fetch(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/send`, {
        method: 'POST',
      });
      assert.equal(r.status, 200);
      assert.deepEqual(atHeaders, [0]);
    } finally {
      server.close();
    }
  });

  test('with Redis unreachable a publish waits in the offline queue, not the connection, and goes out on reconnect', async () => {
    const down = await duplicateRedis(app, 'down');
    try {
      batchPublishes(down);
      down.disconnect(true);
      const delivered = pub.publish(channel, 'before');
      const queued = down.publish(channel, 'while reconnecting');
      heard.length = 0;
      assert.equal(await delivered, 1);
      assert.equal(await queued, 1);
      await eventually(() => heard.length === 2);
      assert.deepEqual(heard.sort(), ['before', 'while reconnecting']);
    } finally {
      await closeRedis(down);
    }
  });
});
