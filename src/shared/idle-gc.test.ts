// The idle collection: a quiet node whose heap grew collects its garbage, and a busy one does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startIdleGc } from './idle-gc.js';
import { createLogger } from './logger.js';

type Line = { msg: string; heap_used_mb: [number, number]; pause_ms: number };

function sink() {
  const lines: Line[] = [];
  return { lines, write: (s: string) => void lines.push(JSON.parse(s) as Line) };
}

/** Garbage: `mb` megabytes of small objects, promoted to the old generation, then dropped. */
function makeGarbage(mb: number) {
  let keep: object[] = [];
  for (let i = 0; i < (mb * 2 ** 20) / 64; i++) keep.push({ i, s: `x${i}` });
  keep = [];
  return keep.length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a quiet process whose heap grew is collected once, and its heap shrinks', async () => {
  const out = sink();
  const stop = startIdleGc(16, createLogger('debug', out), 300);
  try {
    makeGarbage(96);
    for (let i = 0; i < 40 && !out.lines.length; i++) await sleep(100);
    const [line] = out.lines;
    assert.ok(line, 'a collection was logged');
    assert.equal(line.msg, 'idle full garbage collection');
    assert.ok(
      line.heap_used_mb[1] < line.heap_used_mb[0] - 16,
      `heap went ${line.heap_used_mb.join(' → ')} MB`,
    );
    // Nothing grew since: no second collection.
    await sleep(1000);
    assert.equal(out.lines.length, 1);
  } finally {
    stop();
  }
});

test('a busy process is not paused, and 0 turns it off', async () => {
  const busy = sink();
  const stop = startIdleGc(16, createLogger('debug', busy), 300);
  const off = sink();
  const stopOff = startIdleGc(0, createLogger('debug', off), 300);
  try {
    // The event loop busy for over a second, allocating all the while.
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      makeGarbage(8);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(busy.lines.length, 0);
    await sleep(1000);
    assert.equal(off.lines.length, 0);
  } finally {
    stop();
    stopOff();
  }
});
