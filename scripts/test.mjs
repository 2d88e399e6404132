// Runs the whole suite the same way locally and in CI: a fresh PostgreSQL database per run,
// migrated once, shared by every test file through TEST_DATABASE_URL; each file also runs its
// database tests on an in-memory PGlite of its own. Usage: npm test [-- files...]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(import.meta.dirname, '..');
const adminUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function testFiles(dir) {
  return readdirSync(path.join(root, dir), { recursive: true })
    .filter((f) => f.endsWith('.test.ts') && !/(^|\/)(node_modules|dist)\//.test(f))
    .map((f) => path.join(dir, f));
}

const requested = process.argv.slice(2);
// chaos/chaos.test.ts is the fault suite's short run (its own Redis and nodes, under a minute).
// bench/lib holds the benchmark's own unit tests (seconds); bench/*.test.ts run benchmarks and
// stay out (`npm test -- bench/bench.test.ts`).
const files = requested.length
  ? requested
  : [
      ...testFiles('src'),
      ...testFiles('test'),
      ...testFiles('chaos'),
      ...testFiles('bench/lib'),
      ...testFiles('packages'),
      ...testFiles('sdk'),
    ].sort();

const dbName = `switchboard_test_${Date.now()}_${process.pid}`;
const testDbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE "${dbName}"`);

const pgliteSnapshot = path.join(mkdtempSync(path.join(tmpdir(), 'switchboard-test-')), 'pglite.tar');
const env = {
  ...process.env,
  TEST_PGLITE_SNAPSHOT: pgliteSnapshot,
  TEST_BUILT_DIST: '1',
  TEST_DATABASE_URL: testDbUrl,
  TEST_PG_ADMIN_URL: adminUrl,
  TEST_REDIS_URL: redisUrl,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
  NODE_ENV: 'test',
};

let code;
try {
  // Browser tests load the bundles from public/build/, and tests that start the server or the CLI
  // as a process run dist/ (test/helpers/process.ts, `entryArgs`): build both from this source
  // once, before any test starts.
  const built = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('building the server and the browser bundles failed');
  const migrated = spawnSync(process.execPath, ['dist/cli.js', 'migrate'], {
    cwd: root,
    env: { ...env, DATABASE_URL: testDbUrl, SESSION_SECRET: 'x'.repeat(32), ENCRYPTION_KEY: '0'.repeat(64) },
    stdio: 'inherit',
  });
  if (migrated.status !== 0) throw new Error('migrating the test database failed');
  // The embedded mode's tests start from one migrated PGlite, dumped here (test/helpers/db.ts).
  const snapshotted = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/pglite-snapshot.ts', pgliteSnapshot],
    { cwd: root, stdio: 'inherit' },
  );
  if (snapshotted.status !== 0) throw new Error('dumping the migrated embedded database failed');
  // The SDK packages (packages/*) are built as they are published: their tests use the builds.
  const packages = spawnSync('npm', ['run', 'build', '--workspaces', '--if-present'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (packages.status !== 0) throw new Error('building the packages failed');
  const concurrency = process.env.TEST_CONCURRENCY ?? '3';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files],
    { cwd: root, env, stdio: 'inherit' },
  );
  code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
} finally {
  rmSync(path.dirname(pgliteSnapshot), { recursive: true, force: true });
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
  await admin.end();
}
process.exit(code);
