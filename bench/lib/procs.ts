// Child processes of the benchmark (servers, load generators) and what /proc says about them.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/helpers/process.js';
import type { Command, Report } from './protocol.js';

export { freePort };

export const rootDir = path.resolve(import.meta.dirname, '../..');
const TICKS_PER_S = 100; // CLK_TCK on Linux

export type ServerProc = { proc: ChildProcess; url: string; port: number; output: () => string };

/** Starts `node <args>` and resolves once GET /healthz answers (or the process prints "listening"). */
export async function startServer(
  args: string[],
  env: Record<string, string>,
  port: number,
  timeoutMs = 60_000,
): Promise<ServerProc> {
  const proc = spawn(process.execPath, args, {
    cwd: rootDir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // Thousands of visitors and a few very busy agents from one address: the abuse limits still
      // run (one Redis call per event, a slot per socket) but never refuse the benchmark's load.
      SOCKETS_PER_IP: '1000000',
      SOCKET_EVENT_LIMIT: '1000000',
      SOCKET_IP_EVENT_LIMIT: '10000000',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
    if (process.env.BENCH_DEBUG) process.stderr.write(d);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
    if (out.includes('listening')) break;
    // Bounded: a server that accepts the connection but never answers plain HTTP (a bare `ws`
    // baseline) must not hold the loop past its deadline.
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > end) throw new Error(`server did not start in ${timeoutMs} ms:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, url, port, output: () => out };
}

export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size in bytes, or null when /proc has no such process. */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far, or 0 when it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** Busy and total jiffies of the whole machine. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU use over a window, in percent of one core, for a set of process groups and the machine. */
export class CpuMeter {
  private start = new Map<string, number>();
  private t0 = 0;
  private m0 = machineTicks();
  constructor(private readonly groups: () => Record<string, number[]>) {}
  begin() {
    this.t0 = performance.now();
    this.m0 = machineTicks();
    this.start.clear();
    for (const [name, pids] of Object.entries(this.groups())) {
      this.start.set(
        name,
        pids.reduce((s, p) => s + cpuSecondsOf(p), 0),
      );
    }
  }
  end(): Record<string, number> {
    const seconds = (performance.now() - this.t0) / 1000;
    const out: Record<string, number> = {};
    for (const [name, pids] of Object.entries(this.groups())) {
      const used = pids.reduce((s, p) => s + cpuSecondsOf(p), 0) - (this.start.get(name) ?? 0);
      out[name] = Math.round((used / seconds) * 100);
    }
    const m1 = machineTicks();
    out.machine_busy_pct = Math.round(((m1.busy - this.m0.busy) / (m1.total - this.m0.total || 1)) * 100);
    return out;
  }
}

/** A load-generator child process, spoken to over IPC. */
export class Worker {
  readonly proc: ChildProcess;
  private waiting = new Map<string, (r: Report) => void>();
  private log = '';
  constructor(extraExecArgv: string[] = []) {
    this.proc = fork(path.join(rootDir, 'bench/loadgen.worker.ts'), [], {
      cwd: rootDir,
      execArgv: ['--import', 'tsx', ...extraExecArgv],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-5000));
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.proc.on('message', (r: Report) => {
      const w = this.waiting.get(r.type);
      this.waiting.delete(r.type);
      w?.(r);
    });
  }
  send(cmd: Command) {
    this.proc.send(cmd);
  }
  /** The next report of this type. */
  next<T extends Report['type']>(type: T, timeoutMs = 600_000): Promise<Extract<Report, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`load generator: no ${type} in ${timeoutMs} ms\n${this.log}`)),
        timeoutMs,
      );
      this.proc.once('exit', (code) => reject(new Error(`load generator exited (${code}):\n${this.log}`)));
      this.waiting.set(type, (r) => {
        clearTimeout(timer);
        resolve(r as Extract<Report, { type: T }>);
      });
    });
  }
  async close() {
    if (this.proc.exitCode !== null) return;
    const exited = once(this.proc, 'exit');
    this.send({ type: 'close' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
