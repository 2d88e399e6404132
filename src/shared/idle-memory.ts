import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';

export type MemoryMode = 'speed' | 'memory';

export type IdleMemoryOptions = {
  /** How often the event loop's utilization is read. */
  intervalMs?: number;
  /** Utilization (0–1) under which a reading counts as quiet. */
  quietBelow?: number;
  /** Quiet readings in a row before the node favours memory. */
  quietReadings?: number;
  /** Utilization over which the node favours speed again, at once. */
  busyAbove?: number;
  onChange?: (mode: MemoryMode, utilization: number) => void;
  /** Applies a mode; V8's `--optimize-for-size` by default (tests watch the calls instead). */
  apply?: (mode: MemoryMode) => void;
};

const applyToV8 = (mode: MemoryMode) =>
  v8.setFlagsFromString(mode === 'memory' ? '--optimize-for-size' : '--no-optimize-for-size');

/**
 * While the node is quiet, V8 favours memory over speed; busy again, speed (issue 23: memory per
 * idle connection). A connection ramp leaves the old generation's pages half garbage, and V8 gives
 * them back only in its memory reducer's collections, which wait for the allocation rate to fall
 * under 1 MB/s: 10,000 sockets' heartbeats alone allocate more, so the reducer ran only after its
 * 100 s watchdog. With `--optimize-for-size` on it runs at its next 8 s tick, compacts and returns
 * the free pages (RSS per 1,000 idle connections 22–30 MB → 5–14 in the benchmark). The flag also
 * makes V8 grow the heap less (more major collections: 35–40% more CPU per message when it was on
 * for a whole run), so it is on only while the event loop is quiet: quiet `quietReadings` times
 * in a row to turn it on, one busy reading to turn it off. The price is paid by the first seconds of
 * load after a quiet spell, which grow the heap back (README → Performance, issue 23, sixth and
 * seventh passes: with 10,100 connections, p99 at 1,000 msg/s right after 20 s idle 182–206 ms
 * against 17.7–20.7 without), so it is off unless `IDLE_MEMORY_MODE=on`. Node allows flags to change after start
 * and this one is read where it is used (heap growth, the memory reducer, compaction); a Node
 * whose V8 refuses the change keeps the default mode, and the node works as before.
 */
export function startIdleMemoryMode(opts: IdleMemoryOptions = {}) {
  const {
    intervalMs = 2000,
    quietBelow = 0.15,
    quietReadings = 2,
    busyAbove = 0.3,
    onChange,
    apply = applyToV8,
  } = opts;
  let mode: MemoryMode = 'speed';
  let quiet = 0;
  let last: EventLoopUtilization = performance.eventLoopUtilization();

  const set = (next: MemoryMode, utilization: number) => {
    if (next === mode) return;
    try {
      apply(next);
    } catch {
      return;
    }
    mode = next;
    onChange?.(next, utilization);
  };
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    quiet = utilization < quietBelow ? quiet + 1 : 0;
    if (utilization > busyAbove) set('speed', utilization);
    else if (quiet >= quietReadings) set('memory', utilization);
  }, intervalMs);
  timer.unref();

  return {
    get mode() {
      return mode;
    },
    /** Back to speed (the default), and no more readings. */
    stop() {
      clearInterval(timer);
      set('speed', 0);
    },
  };
}
