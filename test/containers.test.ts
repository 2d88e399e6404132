// Issue 24, point 3: the Dockerfile, compose.yaml and deploy/Caddyfile, checked without a container
// runtime (none runs here) and without hadolint (Debian does not package it). Instead:
//   - the Dockerfile's structure: multi-stage, pinned bases, `npm ci` (never `npm install`), no
//     remote ADD, a non-root USER, a HEALTHCHECK on /healthz that needs no curl, EXPOSE, NODE_ENV;
//   - its file set, by replaying the stages: the build context (minus .dockerignore) is built with
//     scripts/build.mjs in a temporary directory, the runtime stage's COPYs and its
//     `npm ci --omit=dev` (the lockfile's non-dev packages) fill another, and the image's CMD runs
//     there: /healthz, pages, bundles and the HEALTHCHECK command itself must work;
//   - compose.yaml: PostgreSQL, Redis, a one-shot migration, two app nodes with the same settings
//     (every variable one src/config.ts knows), healthchecks, depends_on conditions, one published
//     port, the proxy;
//   - the proxy's config: both nodes, sticky cookie, readiness checks, upgrades not stripped.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';

const root = path.resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

// ---- Dockerfile ------------------------------------------------------------------------------------

type Instruction = { cmd: string; args: string; line: number };
type Stage = { image: string; name: string | undefined; workdir: string; body: Instruction[] };

/** Instructions with continuation lines joined; comments (and the syntax directive) dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    if (/^\s*#/.test(raw) || (!buf && !raw.trim())) return;
    if (!buf) start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, ' ');
      return;
    }
    buf += raw;
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(buf);
    assert.ok(m, `Dockerfile:${start}: cannot parse "${buf}"`);
    out.push({ cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  });
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.cmd === 'FROM') {
      const [image, as, name] = ins.args.replace(/--platform=\S+\s+/, '').split(/\s+/);
      assert.ok(image, `Dockerfile:${ins.line}: FROM without an image`);
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, workdir: '/', body: [] });
      continue;
    }
    const stage = stages.at(-1);
    assert.ok(stage, `Dockerfile:${ins.line}: ${ins.cmd} before any FROM`);
    if (ins.cmd === 'WORKDIR') stage.workdir = path.posix.resolve(stage.workdir, ins.args);
    stage.body.push(ins);
  }
  return stages;
}

type Copy = { from: string | undefined; sources: string[]; dest: string; line: number };

function copyOf(ins: Instruction): Copy {
  const words = ins.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  const paths: string[] = rest[0]?.startsWith('[') ? JSON.parse(rest.join(' ')) : rest;
  assert.ok(paths.length >= 2, `Dockerfile:${ins.line}: COPY needs a source and a destination`);
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)!, line: ins.line };
}

/** An exec-form (JSON array) CMD or HEALTHCHECK CMD. */
function execForm(args: string, line: number): string[] {
  const json = args.slice(args.indexOf('['));
  assert.ok(json.startsWith('['), `Dockerfile:${line}: use the exec (JSON) form: ${args}`);
  return JSON.parse(json) as string[];
}

/** A tag with a version number (not `latest`, not bare); `@sha256:` digests count as pinned. */
function pinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return Boolean(tag && tag !== 'latest' && /\d/.test(tag));
}

// ---- .dockerignore ---------------------------------------------------------------------------------

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (glob.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Docker's rules, as far as this repository uses them: the last matching line wins, `!` re-includes,
 * and a path is excluded when it or a directory above it matches. */
function dockerignore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const glob = path.posix.normalize(negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      return { negate, re: globToRegExp(glob) };
    });
  return (rel) => {
    const parts = rel.split('/');
    let ignored = false;
    for (const { negate, re } of rules)
      for (let n = 1; n <= parts.length; n++)
        if (re.test(parts.slice(0, n).join('/'))) {
          ignored = !negate;
          break;
        }
    return ignored;
  };
}

// ---- copying (hard links where the file system allows: the production tree is large) -------------

function place(src: string, dest: string, skip: (rel: string) => boolean = () => false, rel = '') {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    mkdirSync(path.dirname(dest), { recursive: true });
    symlinkSync(readlinkSync(src), dest);
  } else if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const name of readdirSync(src)) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (!skip(childRel)) place(path.join(src, name), path.join(dest, name), skip, childRel);
    }
  } else {
    mkdirSync(path.dirname(dest), { recursive: true });
    try {
      linkSync(src, dest);
    } catch {
      copyFileSync(src, dest);
    }
  }
}

/** COPY semantics: a directory's contents go into the destination; a file into it when it ends in /. */
function dockerCopy(src: string, destDir: string, dest: string) {
  const target = path.join(destDir, dest);
  if (lstatSync(src).isDirectory()) place(src, target);
  else place(src, dest.endsWith('/') ? path.join(target, path.basename(src)) : target);
}

type LockEntry = {
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  link?: boolean;
  resolved?: string;
};

/** What `npm ci --omit=dev` leaves in node_modules: the lockfile's non-dev packages, taken from this
 * checkout's node_modules (installed from the same lockfile). Nested node_modules have their own
 * entries, so each package is placed without its own. Returns the packages placed. */
function installProduction(dir: string): number {
  const lock = JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  let placed = 0;
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.includes('node_modules/') || entry.dev) continue;
    const dest = path.join(dir, key);
    if (entry.link) {
      mkdirSync(path.dirname(dest), { recursive: true });
      symlinkSync(path.relative(path.dirname(dest), path.join(dir, entry.resolved!)), dest);
      continue;
    }
    const src = path.join(root, key);
    if (!existsSync(src)) {
      // Another platform's native build (optional), or a peer nobody here installed.
      assert.ok(entry.optional || entry.devOptional, `${key} is a production dependency missing here`);
      continue;
    }
    place(src, dest, (rel) => rel === 'node_modules');
    placed++;
  }
  return placed;
}

/** Bare package names the bundles import (statically at a line's start, or with import()). */
function importedPackages(file: string): Set<string> {
  const code = readFileSync(file, 'utf8');
  const specifiers = [
    ...code.matchAll(/^(?:import|export)\s[^;'"]*?["']([^"']+)["'];?$/gm),
    ...code.matchAll(/^import\s*["']([^"']+)["'];?$/gm),
    ...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]!);
  const names = new Set<string>();
  for (const s of specifiers) {
    if (s.startsWith('.') || s.startsWith('/') || s.startsWith('node:')) continue;
    const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!;
    if (!builtinModules.includes(name)) names.add(name);
  }
  return names;
}

function runNode(
  args: string[],
  cwd: string,
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return once(proc, 'exit').then(([code]) => ({ code: code as number | null, out }));
}

// ---- the tests -----------------------------------------------------------------------------------

const instructions = parseDockerfile(read('Dockerfile'));
const stages = stagesOf(instructions);
const runtime = stages.at(-1)!;
const runs = (stage: Stage) => stage.body.filter((i) => i.cmd === 'RUN').map((i) => i.args);
const only = (stage: Stage, cmd: string) => stage.body.filter((i) => i.cmd === cmd);

describe('Dockerfile', () => {
  test('multi-stage, on pinned bases that satisfy package.json engines', () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    assert.ok(
      stages.slice(0, -1).every((s) => s.name),
      'every stage but the last is named (COPY --from uses it)',
    );
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const minMajor = Number(/(\d+)/.exec(engines)![1]);
    for (const s of stages) {
      assert.ok(pinned(s.image), `FROM ${s.image}: pin a version tag (or digest)`);
      if (s.image.startsWith('node:')) {
        const major = Number(/^node:(\d+)/.exec(s.image)?.[1]);
        assert.ok(major >= minMajor, `FROM ${s.image}: package.json wants node ${engines}`);
      }
    }
  });

  test('dependencies come from the lockfile: npm ci, never npm install; no remote ADD', () => {
    for (const ins of instructions) {
      if (ins.cmd === 'RUN')
        assert.doesNotMatch(ins.args, /\bnpm\s+(install|i|add)\b|\byarn\s+add\b/, `Dockerfile:${ins.line}`);
      if (ins.cmd === 'ADD')
        assert.doesNotMatch(ins.args, /:\/\/|git@/, `Dockerfile:${ins.line}: ADD of a URL`);
    }
    const build = stages.slice(0, -1);
    assert.ok(
      build.some((s) => runs(s).some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))),
      'a build stage installs every dependency with npm ci',
    );
    assert.ok(
      build.some((s) => runs(s).some((r) => /\bnpm run build\b/.test(r))),
      'a build stage runs npm run build',
    );
    assert.ok(
      runs(runtime).some((r) => /\bnpm ci\b/.test(r) && /--omit=dev/.test(r)),
      'the runtime stage installs production dependencies only (npm ci --omit=dev)',
    );
  });

  test('the runtime stage: production env, non-root user, port, healthcheck without curl, exec CMD', () => {
    const env = only(runtime, 'ENV')
      .map((i) => i.args)
      .join(' ');
    assert.match(env, /\bNODE_ENV=production\b/);
    const users = only(runtime, 'USER');
    assert.ok(users.length, 'USER in the final stage');
    assert.doesNotMatch(users.at(-1)!.args, /^(root|0)(:|$)/, 'the last USER is not root');
    const port = /\bPORT=(\d+)/.exec(env)?.[1] ?? '3000';
    assert.ok(
      only(runtime, 'EXPOSE').some((i) => i.args.split(/\s+/).includes(port)),
      `EXPOSE ${port} (the PORT the server listens on)`,
    );
    const checks = only(runtime, 'HEALTHCHECK');
    assert.equal(checks.length, 1, 'one HEALTHCHECK');
    assert.match(checks[0]!.args, /\/healthz/);
    assert.doesNotMatch(checks[0]!.args, /\b(curl|wget)\b/, 'slim images have neither');
    assert.equal(execForm(checks[0]!.args, checks[0]!.line)[0], 'node');
    const cmd = only(runtime, 'CMD');
    assert.deepEqual(execForm(cmd.at(-1)!.args, cmd.at(-1)!.line), ['node', 'dist/server.js']);
    assert.equal(only(runtime, 'ENTRYPOINT').length, 0, 'node is PID 1 and gets SIGTERM itself');
  });

  test('.dockerignore keeps generated files, secrets and data out of the context', () => {
    const ignored = dockerignore(read('.dockerignore'));
    for (const p of ['node_modules', 'packages/angular/node_modules', 'dist', 'data', '.env', '.git'])
      assert.ok(ignored(p), `${p} is ignored`);
    for (const p of ['src/server.ts', 'scripts/build.mjs', 'prisma/schema.prisma', 'views/login.eta'])
      assert.ok(!ignored(p), `${p} is in the context`);
  });

  describe('its file set, replayed without Docker', () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'containers-'));
    const buildDir = path.join(tmp, 'build');
    const runDir = path.join(tmp, 'runtime');
    const dataDir = path.join(tmp, 'data');
    const ignored = dockerignore(read('.dockerignore'));
    const buildStage = stages[0]!;
    let build: { code: number | null; out: string };

    before(async () => {
      // The build stage: `COPY . .` of the context, the node_modules `npm ci` makes (with the
      // Prisma client its postinstall generates), then `npm run build`.
      place(root, buildDir, ignored);
      symlinkSync(path.join(root, 'node_modules'), path.join(buildDir, 'node_modules'));
      symlinkSync(path.join(root, 'src/generated'), path.join(buildDir, 'src/generated'));
      build = await runNode(['scripts/build.mjs'], buildDir, { PATH: process.env.PATH });
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    test('the build stage builds from the context .dockerignore leaves', () => {
      assert.equal(build.code, 0, build.out);
      assert.ok(existsSync(path.join(buildDir, 'dist/server.js')));
    });

    test('the runtime stage has every file the server, its CLI and the healthcheck need', async () => {
      assert.equal(build.code, 0, 'the build stage failed');
      const stageNames = new Set(stages.map((s) => s.name));
      for (const ins of runtime.body) {
        if (ins.cmd === 'COPY') {
          const c = copyOf(ins);
          for (const source of c.sources) {
            assert.doesNotMatch(source, /[*?[]/, `Dockerfile:${c.line}: name the files (no globs)`);
            let src: string;
            if (c.from) {
              assert.ok(stageNames.has(c.from), `Dockerfile:${c.line}: --from=${c.from} is a stage`);
              assert.equal(c.from, buildStage.name, 'copied from the build stage');
              const rel = path.posix.relative(
                buildStage.workdir,
                path.posix.resolve(buildStage.workdir, source),
              );
              assert.ok(
                !rel.startsWith('..'),
                `Dockerfile:${c.line}: ${source} is outside the build's WORKDIR`,
              );
              src = path.join(buildDir, rel);
              assert.ok(existsSync(src), `Dockerfile:${c.line}: the build stage has no ${source}`);
            } else {
              const rel = path.posix.normalize(source).replace(/\/$/, '');
              src = path.join(root, rel);
              assert.ok(existsSync(src), `Dockerfile:${c.line}: ${source} is not in the repository`);
              assert.ok(!ignored(rel), `Dockerfile:${c.line}: ${source} is excluded by .dockerignore`);
            }
            dockerCopy(
              src,
              runDir,
              path.posix.relative(runtime.workdir, path.posix.resolve(runtime.workdir, c.dest)) +
                (c.dest.endsWith('/') ? '/' : ''),
            );
          }
        } else if (ins.cmd === 'RUN' && /\bnpm ci\b/.test(ins.args)) {
          assert.ok(
            existsSync(path.join(runDir, 'package-lock.json')),
            'the lockfile is copied before npm ci',
          );
          assert.ok(installProduction(runDir) > 0);
        }
      }
      for (const dev of ['esbuild', 'typescript-eslint', 'tsx', 'eslint'])
        assert.ok(
          !existsSync(path.join(runDir, 'node_modules', dev)),
          `dev dependency ${dev} is not installed`,
        );

      // Every package the bundles import (dynamic imports too, e.g. the S3 driver) is installed.
      for (const bundle of ['dist/server.js', 'dist/cli.js'])
        for (const name of importedPackages(path.join(runDir, bundle)))
          assert.ok(
            existsSync(path.join(runDir, 'node_modules', name, 'package.json')),
            `${bundle} imports ${name}, not installed by npm ci --omit=dev`,
          );

      // The image's environment, with this machine's paths: the embedded database (no DATABASE_URL)
      // exercises migrations, views and public files as PostgreSQL would.
      const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'production',
        DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
      };
      // compose.yaml's one-shot `migrate` service.
      const migrated = await runNode(['dist/cli.js', 'migrate'], runDir, env);
      assert.equal(migrated.code, 0, migrated.out);

      const cmd = execForm(only(runtime, 'CMD').at(-1)!.args, 0);
      const server = spawn(process.execPath, cmd.slice(1), {
        cwd: runDir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      server.stderr.on('data', (d: Buffer) => (out += d.toString()));
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no "listening" within 60 s:\n${out}`)), 60_000);
          server.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const m = /"port":(\d+).*"msg":"listening"/.exec(out);
            if (m) {
              clearTimeout(timer);
              resolve(Number(m[1]));
            }
          });
          server.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`the server exited with ${code}:\n${out}`));
          });
        });
        const base = `http://127.0.0.1:${port}`;
        const get = (p: string) => fetch(base + p);
        assert.equal((await get('/healthz')).status, 200);
        assert.equal((await get('/readyz')).status, 200, 'migrations applied, database answers');
        // views/ (templates), public/static, public/build (the bundles).
        const login = await get('/auth/login');
        assert.equal(login.status, 200);
        assert.match(await login.text(), /<form/);
        const demo = /Demo page: +(\S+)/.exec(out)?.[1];
        assert.ok(demo, `the first-run banner names the demo page:\n${out}`);
        const demoUrl = new URL(demo);
        assert.equal((await get(demoUrl.pathname + demoUrl.search)).status, 200);
        for (const file of [
          '/static/app.css',
          '/chat-widget/embed.js',
          '/build/inbox.js',
          '/build/uplot.css',
        ])
          assert.equal((await get(file)).status, 200, file);

        // The HEALTHCHECK command as Docker runs it, in the same environment.
        const check = only(runtime, 'HEALTHCHECK')[0]!;
        const [, ...checkArgs] = execForm(check.args.slice(check.args.indexOf('CMD')), check.line);
        const healthy = await runNode(checkArgs, runDir, { ...env, PORT: String(port) });
        assert.equal(healthy.code, 0, `HEALTHCHECK failed: ${healthy.out}`);
        const unhealthy = await runNode(checkArgs, runDir, { ...env, PORT: '1' });
        assert.equal(unhealthy.code, 1, 'HEALTHCHECK fails when nothing answers');
      } finally {
        if (server.exitCode === null && server.signalCode === null) {
          server.kill('SIGTERM');
          const [code] = (await once(server, 'exit')) as [number | null];
          assert.equal(code, 0, `SIGTERM: graceful exit\n${out}`);
        }
      }
    });
  });
});

// ---- compose.yaml and the proxy ----------------------------------------------------------------------

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
};
const compose = parseYaml(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const apps = Object.entries(services).filter(
  ([name, s]) => s.build !== undefined && !s.command && name !== 'migrate',
);
const configVariables = (() => {
  const src = read('src/config.ts');
  const body = src.slice(
    src.indexOf('const schema = z.object({'),
    src.indexOf('\n});', src.indexOf('const schema')),
  );
  return new Set([...body.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
})();

describe('compose.yaml', () => {
  test('PostgreSQL, Redis, a migration, two app nodes and a proxy, on pinned images', () => {
    for (const name of ['postgres', 'redis', 'migrate', 'proxy'])
      assert.ok(services[name], `service ${name}`);
    assert.ok(apps.length >= 2, `two app nodes (found ${apps.map(([n]) => n).join(', ')})`);
    for (const [name, s] of Object.entries(services))
      if (s.image && !s.build) assert.ok(pinned(s.image), `${name}: pin ${s.image}`);
    assert.deepEqual(services.migrate!.command, ['node', 'dist/cli.js', 'migrate']);
  });

  test('the app nodes share one configuration of variables src/config.ts knows', () => {
    const [[, first], ...others] = apps as [[string, Service], ...[string, Service][]];
    const env = first.environment ?? {};
    for (const key of [
      'DATABASE_URL',
      'REDIS_URL',
      'SESSION_SECRET',
      'ENCRYPTION_KEY',
      'ADMIN_KEY',
      'PUBLIC_URL',
    ])
      assert.ok(env[key], `${key} is set`);
    assert.equal(String(env.TRUST_PROXY), 'true', 'TRUST_PROXY=true behind the proxy');
    for (const [name, s] of [...apps, ['migrate', services.migrate!] as const])
      for (const key of Object.keys(s.environment ?? {}))
        assert.ok(configVariables.has(key), `${name}: ${key} is not a variable of src/config.ts`);
    for (const [name, s] of others)
      for (const key of [
        'DATABASE_URL',
        'REDIS_URL',
        'SESSION_SECRET',
        'ENCRYPTION_KEY',
        'ADMIN_KEY',
        'PUBLIC_URL',
      ])
        assert.equal(s.environment?.[key], env[key], `${name} shares ${key}`);
    assert.equal(services.migrate!.environment?.DATABASE_URL, env.DATABASE_URL);
    // Secrets come from the env file, required: never a value written here.
    for (const key of ['SESSION_SECRET', 'ENCRYPTION_KEY', 'ADMIN_KEY'])
      assert.match(env[key]!, new RegExp(`^\\$\\{${key}:\\?`), `${key} comes from .env and is required`);
    assert.equal(new URL(env.DATABASE_URL!.replace(/\$\{[^}]+\}/g, 'x')).hostname, 'postgres');
    assert.equal(new URL(env.REDIS_URL!).hostname, 'redis');
    // Attachments stored locally must be on one volume both nodes mount.
    const volumes = apps.map(([, s]) => (s.volumes ?? []).join(','));
    assert.ok(
      volumes.every((v) => v === volumes[0]),
      'the app nodes mount the same volumes',
    );
  });

  test('healthchecks, start-up order and ports', () => {
    for (const name of ['postgres', 'redis', 'proxy', ...apps.map(([n]) => n)]) {
      const hc = services[name]!.healthcheck;
      assert.ok(hc?.test && !hc.disable, `${name} has a healthcheck`);
    }
    for (const [name, s] of apps) {
      assert.match(s.healthcheck!.test!.join(' '), /\/healthz/, `${name} is checked on /healthz`);
      assert.doesNotMatch(s.healthcheck!.test!.join(' '), /\b(curl|wget)\b/, `${name}: no curl in the image`);
      assert.deepEqual(s.depends_on, {
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
      assert.equal(s.ports, undefined, `${name} is reached through the proxy only`);
    }
    assert.equal(services.migrate!.depends_on?.postgres?.condition, 'service_healthy');
    for (const [name] of apps)
      assert.equal(
        services.proxy!.depends_on?.[name]?.condition,
        'service_healthy',
        `proxy waits for ${name}`,
      );
    assert.equal(services.proxy!.ports?.length, 1, 'the proxy publishes one port');
    for (const name of ['postgres', 'redis'])
      assert.equal(services[name]!.ports, undefined, `${name} stays internal`);
  });

  test('deploy/Caddyfile: both nodes, sticky sessions, readiness, upgrades passed through', () => {
    const mount = services.proxy!.volumes?.find((v) => v.includes('Caddyfile'));
    assert.ok(mount, 'the proxy mounts its config');
    const file = mount.split(':')[0]!;
    assert.ok(existsSync(path.join(root, file)), `${file} exists`);
    const caddy = readFileSync(path.join(root, file), 'utf8').replace(/#.*$/gm, '');
    const upstreams = /reverse_proxy\s+([^{\n]+)\{/.exec(caddy)?.[1]?.trim().split(/\s+/) ?? [];
    assert.deepEqual(
      upstreams.sort(),
      apps.map(([n]) => `${n}:${services[n]!.environment?.PORT ?? 3000}`).sort(),
      'every app node, on its port',
    );
    // Socket.IO's long-polling requests must reach the node that holds the session.
    assert.match(caddy, /^\s*lb_policy\s+cookie\b/m);
    assert.match(caddy, /^\s*health_uri\s+\/readyz\b/m);
    // Caddy proxies WebSocket upgrades by itself; removing the headers would break them.
    assert.doesNotMatch(caddy, /header_up\s+-(Upgrade|Connection)\b/i);
    const published = services.proxy!.ports![0]!.split(':').at(-1);
    assert.match(caddy, new RegExp(`^:${published}\\s*\\{`, 'm'), `Caddy listens on ${published}`);
  });
});
