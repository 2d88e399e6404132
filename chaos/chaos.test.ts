// The fault suite's short run inside `npm test`: a 2 s Redis outage and a lost commit, each on
// its own Redis, TCP proxy, pair of nodes and database, with messages flowing both ways across
// the nodes. The full suite is `npm run chaos`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { runChaos } from './lib/run.js';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const profile = { visitors: 20, rate: 10, warmMs: 1500, afterMs: 2000, settleMs: 10_000 };

for (const name of ['redis-down-2s', 'lost-commit']) {
  test(
    `fault suite, short: ${name} loses nothing, stores nothing twice, crashes no node`,
    { timeout: 90_000, skip: hasRedisServer ? false : 'needs the redis-server binary' },
    async () => {
      const lines: string[] = [];
      const summary = await runChaos({
        short: true,
        scenarios: [name],
        profile,
        log: (m) => lines.push(m),
        removeLogsIfOk: true,
      });
      const r = summary.scenarios[0];
      assert.ok(r, `no result:\n${lines.join('\n')}`);
      const detail = `${JSON.stringify(r)}\n${lines.join('\n')}`;
      assert.equal(r.crashed_nodes, 0, `a node crashed\n${detail}`);
      assert.equal(r.lost, 0, `messages lost\n${detail}`);
      assert.equal(r.duplicated, 0, `messages stored twice\n${detail}`);
      assert.ok(r.sent > 0 && r.stored === r.sent, `sent ${r.sent}, stored ${r.stored}\n${detail}`);
      assert.deepEqual(r.failures, [], detail);
    },
  );
}
