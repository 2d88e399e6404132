// The README's quick start, run as written: its two files (the webhook server and the calls) are
// taken from README.md and run with node against a real relay, with the documented variables.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { TestApp } from '../../../test/helpers/app.js';
import { freshPostgresDatabase } from '../../../test/helpers/db.js';
import { openPostgres } from '../../../src/shared/db.js';
import { newTenant, startRelay, stopRelay, until } from './helpers.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The README's ```js block whose first line is `// <name>`. */
function snippet(name: string): string {
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].find((m) => m[1]!.startsWith(`// ${name}\n`));
  assert.ok(block, `README.md has no ${name}`);
  return block[1]!;
}

/** Runs a snippet as an ES module from the package's directory (so the package name resolves). */
function run(code: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: pkgDir,
    env: { ...process.env, ...env },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
  return { child, out };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

let t: TestApp;
let drop: () => Promise<void>;
const children: ChildProcess[] = [];

before(async () => {
  // Its own database, so no other test file's worker takes these deliveries.
  const fresh = await freshPostgresDatabase();
  drop = fresh.drop;
  const database = await openPostgres(fresh.url, { poolSize: 3 });
  await database.migrate();
  t = await startRelay(database);
});
after(async () => {
  for (const c of children) c.kill();
  await stopRelay(t);
  await drop?.();
});

test('the quick start works as written', async () => {
  // The provisioning example of the top-level README allows this app origin.
  const tn = await newTenant(t.url, { allowed_origins: ['https://shop.demo.com', 'app://my_shop_app'] });
  const port = await freePort();
  const env = {
    SWITCHBOARD_BASE_URL: t.url,
    SWITCHBOARD_TENANT_ID: tn.id,
    SWITCHBOARD_TENANT_SECRET: tn.secret,
    SWITCHBOARD_CALLBACK_BASE_URL: `http://127.0.0.1:${port}`,
    PORT: String(port),
  };

  const hooks = run(snippet('webhooks.mjs'), env);
  children.push(hooks.child);
  await until(() =>
    fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.status === 404,
      () => false,
    ),
  );

  const send = run(snippet('send.mjs'), env);
  children.push(send.child);
  const code = await new Promise<number | null>((resolve) => send.child.on('exit', resolve));
  assert.equal(code, 0, send.out.stderr);
  const [, conversationId] = /conversation (\S+) token until (\S+)/.exec(send.out.stdout) ?? [];
  assert.ok(conversationId, send.out.stdout);

  await until(() => hooks.out.stdout.includes('visitor: Where is my order?'), 15_000).catch(() =>
    assert.fail(`webhooks.mjs printed: ${hooks.out.stdout} ${hooks.out.stderr}`),
  );
  assert.ok(hooks.out.stdout.includes(`started ${conversationId}`), hooks.out.stdout);
  assert.equal(hooks.out.stderr, '');
});
