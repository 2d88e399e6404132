import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';
import { createServer } from 'node:net';

export const rootDir = path.resolve(import.meta.dirname, '../..');

/**
 * Node's arguments that run the server or the CLI: under `npm test` the production bundle the runner
 * has just built from this source (`dist/`, what `npm start` runs; TEST_BUILT_DIST), which starts in
 * half the CPU; run alone (`node --test file`), the source itself through tsx.
 */
export function entryArgs(entry: 'server' | 'cli'): string[] {
  return process.env.TEST_BUILT_DIST ? [`dist/${entry}.js`] : ['--import', 'tsx', `src/${entry}.ts`];
}

export type RunningServer = {
  proc: ChildProcess;
  port: number;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
};

/** Starts the server (`entryArgs`) in a child process and resolves once it logs "listening". */
export async function startServer(
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<RunningServer> {
  const proc = spawn(process.execPath, entryArgs('server'), {
    cwd: rootDir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}\n${err}`)), timeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+).*"msg":"listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}\n${err}`));
    });
  });
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      // A process killed by a signal has exitCode null and signalCode set.
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const [code] = (await once(proc, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Runs a command to completion. */
export async function run(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, args, {
    cwd: rootDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

export const lastJsonLine = (s: string) =>
  JSON.parse(s.trim().split('\n').at(-1)!) as Record<string, unknown>;

/** A free TCP port on loopback, chosen up front so a restarted process can take it again. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}
