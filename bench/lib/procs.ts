// Child processes of the benchmark (servers, load generators) and what /proc says about them.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../test/helpers/process.js';
import type { Command, Report } from './protocol.js';

export { freePort };

export const rootDir = path.resolve(import.meta.dirname, '../..');
const TICKS_PER_S = 100; // CLK_TCK on Linux

export type ServerProc = { proc: ChildProcess; url: string; port: number; output: () => string };

/** Starts `node <args>` and resolves once its port accepts a TCP connection. */
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
  // Ready = the port accepts connections: every server here listens only once it is set up. Not
  // /healthz: a node restarted under 10,000 reconnecting clients answers it seconds late, which
  // read as a slow start (the 15:22 UTC full run: "start 23 s", half the clients back 7 s before).
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
    if (await accepts(port)) break;
    if (Date.now() > end) throw new Error(`server did not start in ${timeoutMs} ms:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, url, port, output: () => out };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
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

/** A process's /proc stat fields from the state on (field 3 of proc(5) is index 0), or null. */
function statOf(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far, or 0 when it is gone. */
export function cpuSecondsOf(pid: number): number {
  const f = statOf(pid);
  return f ? (Number(f[11]) + Number(f[12])) / TICKS_PER_S : 0;
}

/**
 * CPU seconds a process and all its children have used so far, those that exited included (their
 * time is added to the parent's cutime and cstime when it reaps them): PostgreSQL's postmaster
 * with every backend, those the pools open and close during a phase too.
 */
export function treeCpuSecondsOf(root: number): number {
  const own = statOf(root);
  if (!own) return 0;
  // utime, stime, cutime, cstime.
  const all = (f: string[]) => Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  let ticks = all(own);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statOf(Number(entry));
    if (f && Number(f[1]) === root) ticks += all(f);
  }
  return ticks / TICKS_PER_S;
}

/**
 * Seconds a process's main thread (a Node process's event loop) has spent ready to run but waiting
 * for a core so far (the second field of /proc/<pid>/schedstat), or null when it is gone.
 */
export function runQueueSecondsOf(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return null;
  }
}

/** The parent of a process (PostgreSQL's postmaster, from one of its backends), or null. */
export function parentOf(pid: number): number | null {
  const f = statOf(pid);
  return f ? Number(f[1]) : null;
}

/** A process's command name (`postgres`, `redis-server`), or null when it is gone. */
export function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** What a CPU meter adds up: processes, or a process with its children (past and present). */
export type CpuGroup = number[] | { tree: number };

const secondsOf = (g: CpuGroup) =>
  Array.isArray(g) ? g.reduce((s, p) => s + cpuSecondsOf(p), 0) : treeCpuSecondsOf(g.tree);

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
  constructor(private readonly groups: () => Record<string, CpuGroup>) {}
  begin() {
    this.t0 = performance.now();
    this.m0 = machineTicks();
    this.start.clear();
    for (const [name, group] of Object.entries(this.groups())) this.start.set(name, secondsOf(group));
  }
  end(): Record<string, number> {
    const seconds = (performance.now() - this.t0) / 1000;
    const out: Record<string, number> = {};
    for (const [name, group] of Object.entries(this.groups())) {
      const used = secondsOf(group) - (this.start.get(name) ?? 0);
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
