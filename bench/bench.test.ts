// Smoke test of the benchmark's machinery (not a performance assertion): a tiny run against the
// bare baseline must connect everyone, deliver everything once, and write its JSON, SVG and the
// summary line. Not part of `npm test`; run it with `npm test -- bench/bench.test.ts`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');

test('bench --quick --json: a tiny baseline run prints the summary and writes its files', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  try {
    const args = ['--out', out, '--visitors', '20', '--agents', '2', '--ramp', '1', '--idle', '0.2'];
    args.push('--steady', '1', '--capacity', '1', '--drain', '2', '--rate', '40');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/bench.ts', '--quick', '--json', '--skip', 'server,micro', ...args],
      {
        cwd: root,
        env: { ...process.env, BENCH_PG_URL: process.env.TEST_PG_ADMIN_URL ?? '' },
        stdio: 'pipe',
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    for (const key of ['msgs_per_s', 'p99_ms', 'baseline_msgs_per_s', 'ratio', 'lost', 'duplicated']) {
      assert.ok(key in summary, `summary has ${key}`);
    }
    assert.ok(Number(summary.baseline_msgs_per_s) > 0);
    const json = JSON.parse(readFileSync(path.join(out, 'quick.json'), 'utf8')) as {
      runs: {
        name: string;
        connections: number;
        steady: { lost: number; duplicated: number; p99_by_second: (number | null)[] };
      }[];
    };
    const base = json.runs.find((r) => r.name === 'baseline')!;
    assert.equal(base.connections, 22);
    assert.equal(base.steady.lost, 0);
    assert.equal(base.steady.duplicated, 0);
    // Where a stall sits: the p99 of each second's sends.
    assert.ok(base.steady.p99_by_second.some((ms) => ms !== null && ms > 0));
    assert.match(readFileSync(path.join(out, 'quick.svg'), 'utf8'), /^<svg /);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
