// retryWhileUnavailable: work that follows an event is tried again while the database is away,
// and only then; it stops when told to.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { retryWhileUnavailable } from './outage.js';

function capture() {
  const lines: { level: number; msg: string; messageId?: string; tries?: number }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    }),
  );
  return { logger, lines };
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok());
};

test('tried again while the database is unavailable, warned once, until it works', async () => {
  const { logger, lines } = capture();
  let runs = 0;
  const pending = new Set<() => void>();
  retryWhileUnavailable(
    async () => {
      if (++runs < 4) throw refused();
    },
    { logger, what: 'push: queueing a reply', context: { messageId: 'm1' }, pending, everyMs: 20 },
  );
  assert.equal(pending.size, 1);
  await until(() => runs === 4);
  await until(() => pending.size === 0);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(runs, 4);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.messageId]),
    [[40, 'push: queueing a reply: the database is unavailable, retrying every 20 ms', 'm1']],
  );
});

test('another error, or the last try, is logged as a failure and ends it', async () => {
  const { logger, lines } = capture();
  let runs = 0;
  retryWhileUnavailable(
    async () => {
      runs++;
      throw new Error('column "x" does not exist');
    },
    { logger, what: 'bot: answering', everyMs: 20 },
  );
  await until(() => lines.length === 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(runs, 1);
  assert.deepEqual([lines[0]!.level, lines[0]!.msg, lines[0]!.tries], [50, 'bot: answering failed', 1]);

  const last = capture();
  let tried = 0;
  const pending = new Set<() => void>();
  retryWhileUnavailable(
    async () => {
      tried++;
      throw refused();
    },
    { logger: last.logger, what: 'bot: answering', pending, everyMs: 10, tries: 3 },
  );
  await until(() => last.lines.some((l) => l.level === 50));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(tried, 3);
  assert.deepEqual(
    last.lines.map((l) => l.level),
    [40, 50],
  );
  assert.equal(pending.size, 0, 'given up: no longer pending');
});

test('cancelled: nothing more runs, nothing is logged', async () => {
  const { logger, lines } = capture();
  let runs = 0;
  const cancel = retryWhileUnavailable(
    async () => {
      runs++;
      throw refused();
    },
    { logger, what: 'bot: answering', delayMs: 30, everyMs: 20 },
  );
  cancel();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(runs, 0);
  const again = retryWhileUnavailable(
    async () => {
      runs++;
      throw refused();
    },
    { logger, what: 'bot: answering', everyMs: 20 },
  );
  await until(() => runs === 1);
  again();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(runs, 1);
  assert.equal(lines.filter((l) => l.level === 50).length, 0);
});
