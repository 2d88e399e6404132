import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { openEmbedded, openPostgres, type Database } from '../../src/shared/db.js';

export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

/** The migrated empty PGlite that `npm test` dumps once (TEST_PGLITE_SNAPSHOT), read once per file. */
let snapshot: Promise<Blob | undefined> | undefined;
const pgliteSnapshot = () =>
  (snapshot ??= (async () => {
    const file = process.env.TEST_PGLITE_SNAPSHOT;
    return file ? new Blob([await readFile(file)]) : undefined;
  })());

/**
 * The two database modes every database test runs in. PGlite is in memory, one per call, started
 * from the runner's snapshot when there is one; `migrate()` then finds every migration applied.
 */
export const dbModes: { name: 'postgres' | 'pglite'; open: () => Promise<Database> }[] = [
  { name: 'postgres', open: async () => openPostgres(testDatabaseUrl(), { poolSize: 5 }) },
  {
    name: 'pglite',
    open: async () => {
      const loadDataDir = await pgliteSnapshot();
      const db = await openEmbedded(undefined, loadDataDir ? { loadDataDir } : {});
      await db.migrate();
      return db;
    },
  },
];

/** An empty PostgreSQL database of the test's own, for tests of migrations themselves. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `switchboard_t_${randomUUID().replaceAll('-', '')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}
