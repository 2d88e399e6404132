// Free ports and the suite's child processes: every one is killed when the suite exits, however
// it exits (an exception, a timeout, Ctrl-C).
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A free TCP port on loopback, chosen up front so a restarted process can take it again. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

const children = new Set<ChildProcess>();

/** Remembers a child so that it is killed if the suite ends without stopping it. */
export function track(proc: ChildProcess) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
}

export function untrack(proc: ChildProcess) {
  children.delete(proc);
}

/** SIGKILLs every child still running (a frozen one is thawed first, so it can die). */
export function killChildren() {
  for (const proc of children) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    try {
      proc.kill('SIGKILL');
      proc.kill('SIGCONT');
    } catch {
      // already gone
    }
  }
  children.clear();
}

// Synchronous last resort: on any exit of this process, no child outlives it.
process.once('exit', killChildren);
