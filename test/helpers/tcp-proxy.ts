// A TCP proxy on loopback in front of one server (PostgreSQL, Redis, …) whose link can be broken
// on demand, the way networks and servers fail: reset, partitioned, or losing only the replies.
import { createConnection, createServer, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'drop-replies';

export type TcpProxy = {
  /** The proxy's listening port on 127.0.0.1. */
  port: number;
  /** `base` with its host and port replaced by the proxy's. */
  url(base: string): string;
  /**
   * - `pass`: forwards both ways (and delivers what a partition held back, as TCP would).
   * - `refuse`: resets every open connection and every new one at once (a dead server: ECONNRESET).
   * - `blackhole`: forwards nothing either way and lets new connections hang (a network partition).
   * - `drop-replies`: forwards client → server, silently discards server → client (a statement runs
   *   and commits, its answer never arrives).
   */
  set(mode: ProxyMode): void;
  /** Resets every open connection now (both sides); the mode stays. */
  cut(): void;
  /** Open client connections. */
  connections(): number;
  close(): Promise<void>;
};

type Link = {
  client: Socket;
  /** Null while a connection accepted during a partition waits for it to heal. */
  server: Socket | null;
  /** Bytes read during a partition, delivered when it heals. */
  heldUp: Buffer[];
  heldDown: Buffer[];
};

/** Resets a socket (RST, so the peer sees ECONNRESET) rather than closing it politely. */
function reset(socket: Socket) {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function' && !socket.connecting) socket.resetAndDestroy();
  else socket.destroy();
}

/** Starts a proxy on a free loopback port forwarding to `target`, in mode `pass`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const links = new Set<Link>();

  const drop = (link: Link) => {
    if (!links.delete(link)) return;
    reset(link.client);
    if (link.server) reset(link.server);
  };

  /** Forwards `chunk` read from `from` to `to`, pausing `from` while `to` is full. */
  const forward = (from: Socket, to: Socket, chunk: Buffer) => {
    if (to.destroyed) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => {
        if (mode !== 'blackhole' && !from.destroyed) from.resume();
      });
    }
  };

  const onUp = (link: Link, chunk: Buffer) => {
    if (mode === 'blackhole' || !link.server) {
      link.heldUp.push(chunk);
      link.client.pause();
      return;
    }
    forward(link.client, link.server, chunk);
  };

  const onDown = (link: Link, chunk: Buffer) => {
    if (mode === 'drop-replies') return;
    if (mode === 'blackhole') {
      link.heldDown.push(chunk);
      link.server!.pause();
      return;
    }
    forward(link.server!, link.client, chunk);
  };

  const connectUpstream = (link: Link) => {
    const server = createConnection({ host: target.host, port: target.port });
    server.setNoDelay(true);
    link.server = server;
    server.on('data', (chunk: Buffer) => onDown(link, chunk));
    server.on('end', () => link.client.end());
    server.on('error', () => drop(link));
    server.on('close', () => drop(link));
  };

  /** After a partition: deliver what was held back (replies only in `pass`) and read again. */
  const heal = (link: Link) => {
    if (!link.server) connectUpstream(link);
    for (const chunk of link.heldUp.splice(0)) link.server!.write(chunk);
    const down = link.heldDown.splice(0);
    if (mode === 'pass') for (const chunk of down) link.client.write(chunk);
    link.client.resume();
    link.server!.resume();
  };

  const server = createServer((client) => {
    if (mode === 'refuse') {
      client.on('error', () => {});
      reset(client);
      return;
    }
    client.setNoDelay(true);
    const link: Link = { client, server: null, heldUp: [], heldDown: [] };
    links.add(link);
    client.on('data', (chunk: Buffer) => onUp(link, chunk));
    client.on('end', () => link.server?.end());
    client.on('error', () => drop(link));
    client.on('close', () => drop(link));
    if (mode === 'blackhole') client.pause();
    else connectUpstream(link);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url(base) {
      const u = new URL(base);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    set(next) {
      const prev = mode;
      mode = next;
      if (next === 'refuse') {
        for (const link of [...links]) drop(link);
      } else if (next === 'blackhole') {
        for (const link of links) {
          link.client.pause();
          link.server?.pause();
        }
      } else if (prev === 'blackhole' || prev === 'refuse') {
        for (const link of links) heal(link);
      }
    },
    cut() {
      for (const link of [...links]) drop(link);
    },
    connections: () => links.size,
    async close() {
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
