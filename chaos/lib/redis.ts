// The suite's own redis-server on a free port: killed, frozen and restarted empty on demand,
// never the machine's shared one.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { freePort, track, untrack } from './procs.js';

export type ChaosRedis = {
  port: number;
  url: string;
  /** SIGKILL: the server and everything in it are gone. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers (a hung server). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** A new, empty server on the same port (after kill()). */
  restart(): Promise<void>;
  running(): boolean;
  close(): Promise<void>;
};

/** Resolves once something accepts TCP connections on the port and answers PING. */
async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => done(d.toString().startsWith('+PONG')));
  });
}

/** Starts `redis-server` on a free loopback port with persistence off. */
export async function startRedis(): Promise<ChaosRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  let log = '';
  // A fault still running when its scenario timed out must not start a server after teardown.
  let closed = false;

  const spawnServer = async () => {
    const p = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(p);
    let spawnError: Error | null = null;
    p.on('error', (err) => (spawnError = err)); // e.g. no redis-server on PATH
    const keep = (d: Buffer) => (log = (log + d.toString()).slice(-5000));
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    proc = p;
    const end = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (spawnError) throw new Error(`cannot start redis-server: ${(spawnError as Error).message}`);
      if (p.exitCode !== null) throw new Error(`redis-server exited with ${p.exitCode}:\n${log}`);
      if (Date.now() > end) throw new Error(`redis-server did not start on ${port}:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const kill = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGKILL');
    await exited;
    untrack(p);
  };

  await spawnServer();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    freeze: () => void proc?.kill('SIGSTOP'),
    thaw: () => void proc?.kill('SIGCONT'),
    restart: async () => {
      await kill();
      if (!closed) await spawnServer();
    },
    running: () => proc !== null && proc.exitCode === null && proc.signalCode === null,
    close: async () => {
      closed = true;
      await kill();
    },
  };
}
