import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgres } from '../shared/db.js';
import { createEventBus } from '../shared/events.js';
import { freshPostgresDatabase } from '../../test/helpers/db.js';
import { ensureFirstRun } from './first-run.js';

test('nodes starting together on an empty database create the demo organization once', async () => {
  const fresh = await freshPostgresDatabase();
  const nodes = [1, 2, 3].map(() => openPostgres(fresh.url, { poolSize: 3 }));
  try {
    await nodes[0]!.migrate();
    const deps = (i: number) => ({
      database: nodes[i]!,
      encryptionKey: Buffer.alloc(32, 9),
      bus: createEventBus(() => {}),
    });
    const runs = await Promise.all([0, 1, 2].map((i) => ensureFirstRun(deps(i))));
    const made = runs.filter((r) => r !== null);
    assert.equal(made.length, 1, 'exactly one node prints credentials');
    assert.equal(await nodes[0]!.prisma.organization.count(), 1);
    assert.equal(await nodes[0]!.prisma.user.count(), 1);
    assert.equal(await nodes[0]!.prisma.embedToken.count(), 1);
    assert.equal(await ensureFirstRun(deps(0)), null, 'later starts do nothing');
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    await fresh.drop();
  }
});
