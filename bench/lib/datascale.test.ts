// The data-scale step's arithmetic, without a database: `--scale` parsing and the growth verdict
// (the median's log(n) between consecutive sizes past the first, a 2 ms noise margin, net of the
// reference request's drift). The seed itself is checked by bench/datascale.test.ts (PostgreSQL, not in
// `npm test`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conversationsFor } from './datascale-seed.js';
import { parseScale, verdict, type DataScaleSize } from './datascale.js';

test('--scale is parsed and checked; growth is judged against log(n)', () => {
  assert.deepEqual(parseScale('10000,100000'), [10_000, 100_000]);
  assert.throws(() => parseScale('100000,10000'), /must grow/);
  assert.throws(() => parseScale('10k'), /whole message counts/);
  const size = (messages: number, p95: number): DataScaleSize => ({
    messages,
    conversations: conversationsFor(messages),
    seed_s: 0,
    vacuum_s: 0,
    database_mb: 0,
    sql_ms: {},
    ops: { unread: { samples: 1, errors: 0, p50_ms: p95, p95_ms: p95, max_ms: p95 } },
  });
  // 100k → 1M: log ratio 1.2; ×1.1 passes, ×3 fails, +1.5 ms is noise.
  assert.equal(verdict([size(1e4, 1), size(1e5, 10), size(1e6, 11)]).targets.growth_ok, true);
  assert.equal(verdict([size(1e4, 1), size(1e5, 10), size(1e6, 30)]).targets.growth_ok, false);
  assert.equal(verdict([size(1e4, 1), size(1e5, 1), size(1e6, 2.5)]).targets.growth_ok, true);
  // ×1.4 while the reference request (no data behind it) went ×1.4 too: the machine, not the data.
  const withRef = (messages: number, p95: number, ref: number): DataScaleSize => ({
    ...size(messages, p95),
    reference: { samples: 1, errors: 0, p50_ms: ref, p95_ms: ref, max_ms: ref },
  });
  const drifted = verdict([withRef(1e4, 10, 5), withRef(1e5, 10, 5), withRef(1e6, 14, 7)]);
  assert.equal(drifted.targets.growth_ok, true);
  assert.equal(drifted.growth.unread![0]!.reference_ratio, 1.4);
  // ×1.4 with the reference flat: the operation grew.
  assert.equal(
    verdict([withRef(1e4, 10, 5), withRef(1e5, 10, 5), withRef(1e6, 14, 5)]).targets.growth_ok,
    false,
  );
  // ×3 with the reference ×1.4: still grew.
  assert.equal(
    verdict([withRef(1e4, 10, 5), withRef(1e5, 10, 5), withRef(1e6, 30, 7)]).targets.growth_ok,
    false,
  );
  // The median is judged, the tail only shown: a p95 doubled over a flat median is the machine's
  // tail; a median tripled under a flat p95 is growth.
  const split = (messages: number, p50: number, p95: number): DataScaleSize => ({
    ...size(messages, p95),
    ops: { unread: { samples: 100, errors: 0, p50_ms: p50, p95_ms: p95, max_ms: p95 } },
  });
  const tail = verdict([split(1e4, 8, 15), split(1e5, 8, 15), split(1e6, 8.4, 30)]);
  assert.equal(tail.targets.growth_ok, true);
  assert.deepEqual(
    { p50: tail.growth.unread![0]!.p50_ratio, p95: tail.growth.unread![0]!.p95_ratio },
    { p50: 1.05, p95: 2 },
  );
  assert.equal(verdict([split(1e4, 8, 30), split(1e5, 8, 30), split(1e6, 24, 30)]).targets.growth_ok, false);
});
