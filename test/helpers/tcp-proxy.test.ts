import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** A line-echo server that also remembers every byte it received. */
async function echoServer() {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      received.push(d.toString());
      s.write(d);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A client socket that records what it reads and how it ended. */
async function connect(port: number) {
  const s = createConnection({ host: '127.0.0.1', port });
  let data = '';
  let error: NodeJS.ErrnoException | null = null;
  let closed = false;
  s.on('data', (d: Buffer) => (data += d.toString()));
  s.on('error', (e) => (error = e));
  s.on('close', () => (closed = true));
  await once(s, 'connect');
  return {
    s,
    data: () => data,
    error: () => error,
    closed: () => closed,
  };
}

async function until(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('tcp proxy', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: TcpProxy;
  before(async () => {
    echo = await echoServer();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: echo.port });
  });
  after(async () => {
    await proxy.close();
    await echo.close();
  });

  test('url() swaps in the proxy host and port, keeping the rest', () => {
    assert.equal(
      proxy.url('postgres://postgres@db.internal:5432/db?x=1'),
      `postgres://postgres@127.0.0.1:${proxy.port}/db?x=1`,
    );
    assert.equal(proxy.url('redis://localhost:6379'), `redis://127.0.0.1:${proxy.port}`);
  });

  test('pass forwards both ways', async () => {
    proxy.set('pass');
    const c = await connect(proxy.port);
    c.s.write('hello');
    await until(() => c.data() === 'hello');
    await until(() => proxy.connections() >= 1);
    c.s.destroy();
    await until(() => proxy.connections() === 0);
  });

  test('refuse resets open connections and every new one', async () => {
    proxy.set('pass');
    const c = await connect(proxy.port);
    c.s.write('a');
    await until(() => c.data() === 'a');
    proxy.set('refuse');
    await until(() => c.closed());
    assert.equal(c.error()?.code, 'ECONNRESET');
    assert.equal(proxy.connections(), 0);
    const s = createConnection({ host: '127.0.0.1', port: proxy.port });
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
    proxy.set('pass');
    const d = await connect(proxy.port);
    d.s.write('back');
    await until(() => d.data() === 'back');
    d.s.destroy();
  });

  test('blackhole forwards nothing, new connections hang, and pass delivers what was held', async () => {
    proxy.set('pass');
    const c = await connect(proxy.port);
    c.s.write('1');
    await until(() => c.data() === '1');
    const before = echo.received.length;
    proxy.set('blackhole');
    c.s.write('2');
    const fresh = await connect(proxy.port); // accepted, then nothing
    fresh.s.write('x');
    await sleep(200);
    assert.equal(c.data(), '1');
    assert.equal(fresh.data(), '');
    assert.equal(echo.received.length, before);
    assert.equal(c.closed() || fresh.closed(), false);
    proxy.set('pass');
    await until(() => c.data() === '12' && fresh.data() === 'x');
    c.s.destroy();
    fresh.s.destroy();
  });

  test('drop-replies forwards requests but loses the answers', async () => {
    proxy.set('pass');
    const c = await connect(proxy.port);
    proxy.set('drop-replies');
    c.s.write('commit');
    await until(() => echo.received.includes('commit'));
    await sleep(150);
    assert.equal(c.data(), '');
    assert.equal(c.closed(), false);
    c.s.destroy();
  });

  test('cut resets every connection and keeps the mode', async () => {
    proxy.set('pass');
    const a = await connect(proxy.port);
    const b = await connect(proxy.port);
    await until(() => proxy.connections() === 2);
    proxy.cut();
    await until(() => a.closed() && b.closed());
    assert.equal(proxy.connections(), 0);
    const c = await connect(proxy.port);
    c.s.write('still pass');
    await until(() => c.data() === 'still pass');
    c.s.destroy();
  });
});
