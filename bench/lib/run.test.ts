// Merging the load generators' reports into one phase (part of `npm test`): where in the phase a
// stall sits is read from the p99 of each second's sends, across every load generator. And the
// server's collections, event-loop stalls and message stages, read from its /metrics pages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../src/metrics/metrics.js';
import type { LoadReport } from './protocol.js';
import { gcTotalsOf, majorGcTotals, merge, serverSideOf } from './run.js';

function report(
  latencies: number[],
  sentSecond: number[],
  timeline: [number, number][],
  loopMaxBySecond: number[] = [],
  reloads: LoadReport['reloads'] = { done: 0, failed: 0, ms: [] },
  reads = 0,
): LoadReport {
  return {
    type: 'drained',
    sent: latencies.length,
    delivered: latencies.length,
    lost: 0,
    duplicated: 0,
    echoes: 0,
    queueEvents: 0,
    latencies,
    sentSecond,
    lastWall: 0,
    timeline,
    loopMaxBySecond,
    errors: [],
    prefix: 'w',
    reloads,
    reads,
  };
}

test('a phase keeps the p99 of each second it sent in, and the longest stall of any load generator, across load generators; a second with no delivery is null', () => {
  // Second 0: quick everywhere. Second 1: nothing delivered. Second 2: one generator saw a 400 ms
  // stall on its last message of the second (two of them, so it is the merged p99 too).
  const a = report(
    [3, 4, 5, 6, 7, 400],
    [0, 0, 0, 2, 2, 2],
    [
      [3, 3],
      [0, 0],
      [3, 3],
    ],
    [3, 40],
  );
  const b = report(
    [2, 8, 9, 410],
    [0, 2, 2, 2],
    [
      [1, 1],
      [0, 0],
      [3, 3],
    ],
    [12, 5, 7],
  );
  const phase = merge([a, b], 3, { server_pct: 50 }, 3);

  assert.deepEqual(phase.p99_by_second, [5, null, 410]);
  assert.deepEqual(phase.loadgen_stall_by_second, [12, 40, 7]);
  assert.deepEqual(phase.timeline, [
    [4, 4],
    [0, 0],
    [6, 6],
  ]);
  assert.equal(phase.delivered, 10);
  assert.equal(phase.latency_ms.max, 410);
  // 50% of a core for 3 s over 10 deliveries.
  assert.equal(phase.cpu_us_per_msg.server, 150_000);
  // Without `--inbox-reloads` no generator reloaded: the phase says nothing of reloads.
  assert.equal('inbox_reloads' in phase, false);
  assert.equal('read_receipts_per_s' in phase, false);
});

test("with --inbox-reloads a phase counts the agents' list reloads across load generators: per second, failed, p50 and p99", () => {
  const a = report([3], [0], [[1, 1]], [], { done: 3, failed: 1, ms: [10, 30, 20] });
  const b = report([4], [0], [[1, 1]], [], { done: 1, failed: 0, ms: [400] });
  const phase = merge([a, b], 2, { server_pct: 50 }, 2);
  assert.deepEqual(phase.inbox_reloads, { per_s: 2, failed: 1, p50_ms: 20, p99_ms: 400 });
});

test('with --read-receipts a phase counts the receipts of every load generator, per second', () => {
  const a = report([3, 4], [0, 0], [[2, 2]], [], undefined, 2);
  const b = report([5], [0], [[1, 1]], [], undefined, 1);
  const phase = merge([a, b], 2, { server_pct: 50 }, 2);
  assert.equal(phase.read_receipts_per_s, 2);
});

test("the server's collections, full and young, are read from its metrics page, each one counted", async () => {
  const registry = new Registry();
  collectProcessMetrics(registry, 'switchboard_');
  // Before any full collection the page has no such series: the run then reports none.
  assert.equal(majorGcTotals('switchboard_process_cpu_seconds_total 1\n'), null);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let totals = majorGcTotals(await registry.metrics());
  const before = totals?.count ?? 0;
  // Two in one turn reach the observer as one list of two entries (prom-client alone counts one).
  gc();
  gc();
  for (let i = 0; i < 100 && (totals?.count ?? 0) < before + 2; i++) {
    await sleep(20);
    totals = majorGcTotals(await registry.metrics());
  }
  assert.ok(totals, 'the page has the major collections');
  assert.ok(totals.count >= before + 2, `both forced full collections counted (${before} → ${totals.count})`);
  assert.ok(totals.seconds > 0);
  // Young collections come on their own as a process allocates short-lived objects.
  const youngBefore = gcTotalsOf(await registry.metrics(), 'minor')?.count ?? 0;
  let young = null;
  for (let i = 0; i < 100 && (young?.count ?? 0) <= youngBefore; i++) {
    for (let j = 0; j < 20_000; j++) void JSON.parse(`{"n":${j},"s":"${'x'.repeat(64)}"}`);
    await sleep(10);
    young = gcTotalsOf(await registry.metrics(), 'minor');
  }
  assert.ok(young, 'the page has the young collections');
  assert.ok(young.count > youngBefore, `young collections counted (${youngBefore} → ${young.count})`);
});

test("the server's view of a phase, from its metrics pages before and after: only the phase's messages, the bucket of each stage's p99, its event loop's stalls", async () => {
  const registry = new Registry();
  collectProcessMetrics(registry, 'switchboard_');
  const latency = new Histogram({
    name: 'switchboard_message_latency_seconds',
    help: 'as the server writes it',
    labelNames: ['stage'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  // Before the phase: slow broadcasts that are not the phase's.
  for (let i = 0; i < 50; i++) latency.observe({ stage: 'broadcast' }, 0.2);
  const before = await registry.metrics();
  // (The delay monitor measures from its first tick after a reset, as every scrape resets it.)
  await sleep(30);
  // The phase: 200 commits within 5 ms; 197 broadcasts within 10 ms and 3 at 60 ms; the event
  // loop held once for 120 ms.
  for (let i = 0; i < 200; i++) latency.observe({ stage: 'commit' }, 0.004);
  for (let i = 0; i < 197; i++) latency.observe({ stage: 'broadcast' }, 0.008);
  for (let i = 0; i < 3; i++) latency.observe({ stage: 'broadcast' }, 0.06);
  const until = performance.now() + 120;
  while (performance.now() < until);
  await sleep(50);
  const side = serverSideOf(before, await registry.metrics());

  assert.equal(side.commit_p99_at_most_ms, 5);
  // 3 of 200 over 50 ms: the p99 (the 198th) is in the (50, 100] bucket.
  assert.equal(side.broadcast_p99_at_most_ms, 100);
  assert.equal(side.broadcast_over_50ms_pct, 1.5);
  assert.ok((side.loop_stall_max_ms ?? 0) >= 100, `the 120 ms stall seen (${side.loop_stall_max_ms} ms)`);
  // The next phase starts afresh: no messages, and the stall was the previous page's.
  const quiet = serverSideOf(await registry.metrics(), await registry.metrics());
  assert.equal(quiet.commit_p99_at_most_ms, null);
  assert.ok((quiet.loop_stall_max_ms ?? 0) < 100, `no stall since (${quiet.loop_stall_max_ms} ms)`);
});
