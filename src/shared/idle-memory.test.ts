import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { startIdleMemoryMode, type MemoryMode } from './idle-memory.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Keeps the event loop busy for `ms` in one go. */
const spin = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

test('memory while the event loop is quiet, speed as soon as it is busy, speed again when stopped', async () => {
  const applied: MemoryMode[] = [];
  const idle = startIdleMemoryMode({ intervalMs: 50, apply: (m) => applied.push(m) });
  assert.equal(idle.mode, 'speed');
  await sleep(400);
  assert.equal(idle.mode, 'memory');
  assert.deepEqual(applied, ['memory']);
  // Busy: most of each reading's time in JavaScript.
  for (let i = 0; i < 6 && idle.mode === 'memory'; i++) {
    spin(80);
    await sleep(5);
  }
  assert.equal(idle.mode, 'speed');
  await sleep(400);
  assert.equal(idle.mode, 'memory');
  idle.stop();
  assert.equal(idle.mode, 'speed');
  assert.deepEqual(applied, ['memory', 'speed', 'memory', 'speed']);
});

test('a mode V8 refuses leaves the node as it was', async () => {
  const idle = startIdleMemoryMode({
    intervalMs: 20,
    apply: () => {
      throw new Error('flags are frozen');
    },
  });
  await sleep(200);
  assert.equal(idle.mode, 'speed');
  idle.stop();
});

/** Runs the fragmented-heap fixture; resolves its readings as they come. */
function fragmented(mode: 'on' | 'off') {
  const readings: number[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, '../../test/fixtures/fragmented-heap.ts'), mode],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) readings.push((JSON.parse(line) as { committed: number }).committed);
  });
  return { readings, stop: () => child.kill() };
}

test('a quiet process gives back the heap a ramp left half garbage; without the mode it keeps it', async () => {
  const on = fragmented('on');
  const off = fragmented('off');
  try {
    // V8's memory reducer looks every 8 s; without the mode its watchdog waits 100 s.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const first = on.readings[0];
      if (first !== undefined && on.readings.at(-1)! <= first * 0.7) break;
      await sleep(250);
    }
    const [onFirst, onLast] = [on.readings[0]!, on.readings.at(-1)!];
    assert.ok(onLast <= onFirst * 0.7, `with the mode: ${onFirst} → ${onLast} MB committed`);
    // The same heap, the same quiet, without the mode: still held.
    const [offFirst, offLast] = [off.readings[0]!, off.readings.at(-1)!];
    assert.ok(off.readings.length > 3, 'the process without the mode ran as long');
    assert.ok(offLast >= offFirst * 0.9, `without the mode: ${offFirst} → ${offLast} MB committed`);
  } finally {
    on.stop();
    off.stop();
  }
});
