// Free ports and the suite's child processes: every one is killed when the suite exits, however
// it exits (an exception, a timeout, Ctrl-C).
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../test/helpers/process.js';

export { freePort };

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
