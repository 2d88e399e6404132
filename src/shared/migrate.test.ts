import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import pg from 'pg';
import { freshPostgresDatabase } from '../../test/helpers/db.js';
import { pgliteRunner } from './db.js';
import { migrate, readMigrations, type SqlRunner } from './migrate.js';

function pgRunner(client: pg.Client): SqlRunner {
  return {
    exec: async (sql) => void (await client.query(sql)),
    query: async (sql, params) => (await client.query(sql, params)).rows,
  };
}

async function withPg<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const db = await freshPostgresDatabase();
  try {
    return await fn(db.url);
  } finally {
    await db.drop();
  }
}

async function connect(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

describe('migrations', () => {
  test('apply once, record Prisma-compatible rows, and a second run applies nothing', () =>
    withPg(async (url) => {
      const c = await connect(url);
      try {
        const all = readMigrations();
        assert.deepEqual(
          await migrate(pgRunner(c)),
          all.map((m) => m.name),
        );
        assert.deepEqual(await migrate(pgRunner(c)), []);
        const rows = (
          await c.query(
            `SELECT id, checksum, migration_name, finished_at, rolled_back_at, applied_steps_count, logs, started_at
             FROM _prisma_migrations ORDER BY migration_name`,
          )
        ).rows;
        assert.equal(rows.length, all.length);
        for (const [i, row] of rows.entries()) {
          assert.equal(row.migration_name, all[i]!.name);
          assert.equal(row.checksum, all[i]!.checksum);
          assert.match(row.checksum, /^[0-9a-f]{64}$/);
          assert.match(row.id, /^[0-9a-f-]{36}$/);
          assert.ok(row.finished_at instanceof Date);
          assert.equal(row.rolled_back_at, null);
          assert.equal(row.applied_steps_count, 1);
        }
        const types = (
          await c.query(
            `SELECT column_name, data_type, is_nullable FROM information_schema.columns
             WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
          )
        ).rows.map((r) => `${r.column_name}:${r.data_type}:${r.is_nullable}`);
        // Column for column what `prisma migrate deploy` creates and expects.
        assert.deepEqual(types, [
          'id:character varying:NO',
          'checksum:character varying:NO',
          'finished_at:timestamp with time zone:YES',
          'migration_name:character varying:NO',
          'logs:text:YES',
          'rolled_back_at:timestamp with time zone:YES',
          'started_at:timestamp with time zone:NO',
          'applied_steps_count:integer:NO',
        ]);
      } finally {
        await c.end();
      }
    }));

  test('two nodes migrating at the same moment apply each migration exactly once', () =>
    withPg(async (url) => {
      const clients = await Promise.all([connect(url), connect(url), connect(url)]);
      try {
        const results = await Promise.all(clients.map((c) => migrate(pgRunner(c))));
        const applied = results.flat();
        assert.deepEqual(
          applied.sort(),
          readMigrations()
            .map((m) => m.name)
            .sort(),
        );
        const { rows } = await clients[0]!.query('SELECT count(*)::int AS n FROM _prisma_migrations');
        assert.equal(rows[0].n, readMigrations().length);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    }));

  test('a failing migration is rolled back whole and not recorded', () =>
    withPg(async (url) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'mig-'));
      const write = (name: string, sql: string) => {
        mkdirSync(path.join(dir, name));
        writeFileSync(path.join(dir, name, 'migration.sql'), sql);
      };
      write('1_ok', 'CREATE TABLE a (id int);');
      write('2_bad', 'CREATE TABLE b (id int);\nINSERT INTO nowhere VALUES (1);');
      const c = await connect(url);
      try {
        await assert.rejects(migrate(pgRunner(c), readMigrations(dir)), /migration 2_bad failed: .*nowhere/);
        const tables = (
          await c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema='public'`)
        ).rows
          .map((r) => r.table_name)
          .sort();
        assert.deepEqual(tables, ['_prisma_migrations', 'a'], 'table b was rolled back with its migration');
        const names = (await c.query('SELECT migration_name FROM _prisma_migrations')).rows.map(
          (r) => r.migration_name,
        );
        assert.deepEqual(names, ['1_ok']);
        // The lock is released after a failure: a fixed migration then applies.
        writeFileSync(path.join(dir, '2_bad', 'migration.sql'), 'CREATE TABLE b (id int);');
        assert.deepEqual(await migrate(pgRunner(c), readMigrations(dir)), ['2_bad']);
      } finally {
        await c.end();
      }
    }));

  test('a migration edited after it was applied stops start-up', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mig-'));
    mkdirSync(path.join(dir, '1_a'));
    writeFileSync(path.join(dir, '1_a', 'migration.sql'), 'CREATE TABLE a (id int);');
    const db = new PGlite();
    try {
      await migrate(pgliteRunner(db), readMigrations(dir));
      writeFileSync(path.join(dir, '1_a', 'migration.sql'), 'CREATE TABLE a (id bigint);');
      await assert.rejects(
        migrate(pgliteRunner(db), readMigrations(dir)),
        /1_a was changed after it was applied/,
      );
    } finally {
      await db.close();
    }
  });

  test('PGlite: applies the project migrations, then nothing on a second run', async () => {
    // As `openEmbedded` builds it: the search's trigram indexes need pg_trgm.
    const db = new PGlite({ extensions: { pg_trgm } });
    try {
      assert.equal((await migrate(pgliteRunner(db))).length, readMigrations().length);
      assert.deepEqual(await migrate(pgliteRunner(db)), []);
    } finally {
      await db.close();
    }
  });
});
