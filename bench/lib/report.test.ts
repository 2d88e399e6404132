import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ratioBudget } from './report.js';

// The fifteenth pass's run of record (capacity phases, µs of a core per message).
const ours = { server: 101.8, postgres: 67.4, loadgen: 48.7, redis: 5.7 };
const bare = { server: 42.4, postgres: 0, loadgen: 33.7 };

test("the ratio's budget: bare's CPU per message over ours, with our server as it is, free, or as cheap as bare Socket.IO", () => {
  assert.deepEqual(ratioBudget(ours, bare), {
    ratio_by_cpu: 0.34, // 76.1 / 223.6
    ratio_ceiling_server_free: 0.62, // 76.1 / 121.8
    ratio_ceiling_server_as_bare: 0.46, // 76.1 / 164.2
  });
  // Redis is a hint (shared with anything else): a run without it counts none.
  const { redis: _r, ...noRedis } = ours;
  assert.equal(ratioBudget(noRedis, bare).ratio_ceiling_server_free, round(76.1 / 116.1));
});

test('without every part measured there is no budget: PostgreSQL elsewhere (0 µs here), a missing run, a failed reading', () => {
  const none = { ratio_by_cpu: null, ratio_ceiling_server_free: null, ratio_ceiling_server_as_bare: null };
  assert.deepEqual(ratioBudget({ ...ours, postgres: 0 }, bare), none);
  assert.deepEqual(ratioBudget(ours, undefined), none);
  assert.deepEqual(ratioBudget(undefined, bare), none);
  assert.deepEqual(ratioBudget({ ...ours, loadgen: null }, bare), none);
  assert.deepEqual(ratioBudget(ours, { ...bare, server: null }), none);
});

function round(x: number) {
  return Math.round(x * 100) / 100;
}
