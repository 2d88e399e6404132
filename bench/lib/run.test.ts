// Merging the load generators' reports into one phase (part of `npm test`): where in the phase a
// stall sits is read from the p99 of each second's sends, across every load generator. And the
// server's full garbage collections, read from its /metrics page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { LoadReport } from './protocol.js';
import { gcTotalsOf, majorGcTotals, merge } from './run.js';

function report(latencies: number[], sentSecond: number[], timeline: [number, number][]): LoadReport {
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
    errors: [],
    prefix: 'w',
  };
}

test('a phase keeps the p99 of each second it sent in, across load generators; a second with no delivery is null', () => {
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
  );
  const b = report(
    [2, 8, 9, 410],
    [0, 2, 2, 2],
    [
      [1, 1],
      [0, 0],
      [3, 3],
    ],
  );
  const phase = merge([a, b], 3, { server_pct: 50 }, 3);

  assert.deepEqual(phase.p99_by_second, [5, null, 410]);
  assert.deepEqual(phase.timeline, [
    [4, 4],
    [0, 0],
    [6, 6],
  ]);
  assert.equal(phase.delivered, 10);
  assert.equal(phase.latency_ms.max, 410);
  // 50% of a core for 3 s over 10 deliveries.
  assert.equal(phase.cpu_us_per_msg.server, 150_000);
});

test("the server's collections, full and young, are read from a metrics page as prom-client writes it", async () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  // Before any full collection the page has no such series: the run then reports none.
  assert.equal(majorGcTotals('switchboard_process_cpu_seconds_total 1\n'), null);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let totals = majorGcTotals(await registry.metrics());
  const before = totals?.count ?? 0;
  gc();
  for (let i = 0; i < 50 && (totals?.count ?? 0) < before + 1; i++) {
    await sleep(20);
    totals = majorGcTotals(await registry.metrics());
  }
  assert.ok(totals, 'the page has the major collections');
  assert.ok(totals.count > before, `the forced full collection counted (${before} → ${totals.count})`);
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
