// The webhook retry schedule (issue 17, part 4: "retries with exponential back-off and jitter for
// about a day"), with the policy the default configuration gives the worker.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testConfig } from '../../test/helpers/config.js';
import { WEBHOOK_MAX_DELAY_MS, webhookPolicy } from './webhooks.js';
import { webhookBackoffMs } from './webhooks.worker.js';

const HOUR = 3600_000;
const SAMPLES = 2000;
const policy = webhookPolicy(testConfig());

/** The wait after each failed attempt of a round, over `SAMPLES` draws. */
function draws(attempt: number): number[] {
  return Array.from({ length: SAMPLES }, () => webhookBackoffMs(attempt, policy));
}

describe('webhook back-off (webhookBackoffMs)', () => {
  test('the defaults: 5 s first, 12 attempts, waits capped at 6 h', () => {
    assert.equal(policy.retryBaseMs, 5000);
    assert.equal(policy.maxAttempts, 12);
    assert.equal(policy.maxDelayMs, 6 * HOUR);
    assert.equal(WEBHOOK_MAX_DELAY_MS, 6 * HOUR);
  });

  test('×3 per attempt from the base, then the cap; every draw within ±20 %, and spread across it', () => {
    const nominal = [5, 15, 45, 135, 405, 1215, 3645, 10_935].map((s) => s * 1000);
    for (let attempt = 1; attempt <= 11; attempt++) {
      const expected = nominal[attempt - 1] ?? 6 * HOUR;
      const got = draws(attempt);
      const min = Math.min(...got);
      const max = Math.max(...got);
      assert.ok(min >= Math.floor(expected * 0.8), `attempt ${attempt}: ${min} < 0.8 × ${expected}`);
      assert.ok(max <= Math.ceil(expected * 1.2), `attempt ${attempt}: ${max} > 1.2 × ${expected}`);
      // Jitter, not a constant: draws reach both ends of the band (2000 draws miss an end's
      // outer eighth with probability 0.875^2000).
      assert.ok(min < expected * 0.85, `attempt ${attempt}: lowest ${min} of ${expected}`);
      assert.ok(max > expected * 1.15, `attempt ${attempt}: highest ${max} of ${expected}`);
      const mean = got.reduce((a, b) => a + b, 0) / got.length;
      assert.ok(Math.abs(mean / expected - 1) < 0.02, `attempt ${attempt}: mean ${mean} of ${expected}`);
      assert.ok(got.every(Number.isInteger), 'whole milliseconds');
    }
    // Growth stops at the cap: 5 s × 3^8 would be over 9 h.
    assert.ok(5000 * 3 ** 8 > 6 * HOUR);
    for (const attempt of [9, 12, 30, 50]) {
      assert.ok(Math.max(...draws(attempt)) <= 6 * HOUR * 1.2, `attempt ${attempt} capped`);
    }
    // Attempt 0 (never passed by the worker) is treated as the first.
    assert.ok(Math.max(...draws(0)) <= 6000);
  });

  test('a round of 12 attempts spans about a day (11 waits: 18 h at the least, 27 h at the most)', () => {
    const waits = (draw: (attempt: number) => number) =>
      Array.from({ length: policy.maxAttempts - 1 }, (_, i) => draw(i + 1)).reduce((a, b) => a + b, 0);
    const nominal = waits((n) => Math.min(policy.maxDelayMs, policy.retryBaseMs * 3 ** (n - 1)));
    assert.ok(Math.abs(nominal / HOUR - 22.56) < 0.01, `nominal ${nominal / HOUR} h`);
    for (let i = 0; i < 200; i++) {
      const total = waits((n) => webhookBackoffMs(n, policy));
      assert.ok(total >= 18 * HOUR && total <= 27.1 * HOUR, `a round took ${total / HOUR} h`);
    }
    // A smaller base shrinks the whole schedule (tests run it at 50 ms).
    const fast = { retryBaseMs: 50, maxDelayMs: policy.maxDelayMs };
    assert.ok(webhookBackoffMs(1, fast) <= 60);
    assert.ok(webhookBackoffMs(3, fast) >= 360 && webhookBackoffMs(3, fast) <= 540);
  });
});
