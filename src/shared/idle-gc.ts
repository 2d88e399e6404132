import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from './logger.js';

/** How often the node looks at its load and heap. */
const CHECK_MS = 10_000;
/** Below this event-loop utilization over the last check, the node counts as quiet. */
const QUIET_ELU = 0.1;

/**
 * V8's full collection, made callable without `--expose-gc` on the command line (the flag is
 * read when a context is created, so a fresh context carries `gc`). Null when this runtime does
 * not allow it.
 */
function fullGc(): (() => void) | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * A full garbage collection when the node is quiet and its heap has grown by `growthMb` since the
 * last one. After a burst (thousands of clients connecting, joining, being claimed) V8 keeps the
 * garbage and the heap it grew to while the node holds idle connections: their pings and the
 * limiter's syncs allocate just enough that its own memory reducer does not start. Measured with
 * 10,100 idle sockets: 534 MB resident before one full collection, 413 MB after. The pause (about
 * 100–200 ms for a heap of a few hundred MB) falls in a quiet moment, at most once per check
 * interval, only after such growth. `growthMb` 0 turns it off. Returns a function that stops it.
 */
export function startIdleGc(growthMb: number, logger: Logger, checkMs = CHECK_MS): () => void {
  const gc = growthMb > 0 ? fullGc() : null;
  if (!gc) return () => {};
  let baseline = process.memoryUsage().heapUsed;
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    const used = process.memoryUsage().heapUsed;
    if (busy >= QUIET_ELU || used - baseline < growthMb * 2 ** 20) return;
    const before = process.memoryUsage();
    const started = performance.now();
    gc();
    const after = process.memoryUsage();
    baseline = after.heapUsed;
    logger.debug(
      {
        pause_ms: Math.round(performance.now() - started),
        heap_used_mb: [before.heapUsed, after.heapUsed].map((b) => Math.round(b / 2 ** 20)),
        rss_mb: [before.rss, after.rss].map((b) => Math.round(b / 2 ** 20)),
      },
      'idle full garbage collection',
    );
  }, checkMs);
  timer.unref();
  return () => clearInterval(timer);
}
