// CPU accounting of the benchmark (part of `npm test`): a process tree counts the children that
// exited during the window (PostgreSQL's pools open and close backends mid-phase).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { commOf, cpuSecondsOf, CpuMeter, parentOf, runQueueSecondsOf, treeCpuSecondsOf } from './procs.js';

// 400 ms of CPU (not of wall time: on a busy machine the child gets less of a core).
const burn = 'while (process.cpuUsage().user < 400_000);';

test('a process tree counts the CPU of a child that exited meanwhile; a list of PIDs does not', () => {
  const tree = new CpuMeter(() => ({ tree: { tree: process.pid } }));
  const own = new CpuMeter(() => ({ own: [process.pid] }));
  tree.begin();
  own.begin();
  const ownBefore = cpuSecondsOf(process.pid);
  const treeBefore = treeCpuSecondsOf(process.pid);
  // A child busy for 400 ms of CPU, reaped before the window ends.
  assert.equal(spawnSync(process.execPath, ['-e', burn]).status, 0);
  const childSeconds = treeCpuSecondsOf(process.pid) - treeBefore - (cpuSecondsOf(process.pid) - ownBefore);
  assert.ok(childSeconds >= 0.3, `the child's ${childSeconds} s are counted`);
  const byTree = tree.end().tree!;
  const byList = own.end().own!;
  assert.ok(byTree > byList, `tree ${byTree}% of a core against ${byList}% for the PID alone`);
});

test('the parent and the name of a process, null when it is gone', () => {
  assert.equal(parentOf(process.pid), process.ppid);
  assert.equal(commOf(process.pid), 'node');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const pid = Number(gone.stdout.toString());
  assert.equal(parentOf(pid), null);
  assert.equal(commOf(pid), null);
  assert.equal(treeCpuSecondsOf(pid), 0);
  assert.equal(runQueueSecondsOf(pid), null);
});

test("a process's wait for a core grows when more processes want one than there are cores", async () => {
  // As many busy children as cores, and this process busy too: someone always waits.
  const children = Array.from({ length: availableParallelism() }, () =>
    spawn(process.execPath, [
      '-e',
      'process.stdout.write("go"); const t = Date.now(); while (Date.now() - t < 5000);',
    ]),
  );
  try {
    await Promise.all(children.map((c) => once(c.stdout!, 'data')));
    const before = runQueueSecondsOf(process.pid)!;
    const t = Date.now();
    while (Date.now() - t < 600);
    const waited = runQueueSecondsOf(process.pid)! - before;
    // About a third of the 600 ms with two cores; a tenth is enough to tell it from nothing.
    assert.ok(waited >= 0.06, `waited ${Math.round(waited * 1000)} ms of 600 for a core`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
});
