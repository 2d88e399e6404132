import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openPostgres, type Database } from './shared/db.js';
import { decryptSecret, verifyPassword, sha256Hex } from './shared/crypto.js';
import { randomUUID } from 'node:crypto';
import { version as uuidVersion } from 'uuid';
import { startApp } from '../test/helpers/app.js';
import { createConversation, createOrg } from '../test/helpers/factories.js';
import { connectSocket, emitAck } from '../test/helpers/sockets.js';
import { readMigrations } from './shared/migrate.js';
import { testDatabaseUrl } from '../test/helpers/db.js';
import { entryArgs, lastJsonLine, run } from '../test/helpers/process.js';

const pgEnv = () => ({
  DATABASE_URL: testDatabaseUrl(),
  SESSION_SECRET: 'cli-test-secret-cli-test-secret-cli',
  ENCRYPTION_KEY: '22'.repeat(32),
});
const cli = (args: string[], env: Record<string, string> = pgEnv()) =>
  run([...entryArgs('cli'), ...args], env);

describe('operator CLI', () => {
  let database: Database;
  before(() => {
    database = openPostgres(testDatabaseUrl(), { poolSize: 2 });
  });
  after(() => database.close());
  // Other test files write to the same database at the same time: count only what these cases could touch.
  const counts = async (orgId: string) => ({
    orgs: await database.prisma.organization.count({ where: { name: 'x' } }),
    users: await database.prisma.user.count({ where: { email: 'a@b.co' } }),
    tokens: await database.prisma.embedToken.count({ where: { organizationId: orgId } }),
    bots: await database.prisma.bot.count({ where: { organizationId: orgId } }),
  });

  test('create-org, create-agent and create-embed-token print one JSON object on the last line', async () => {
    const org = await cli([
      'create-org',
      '--name',
      'Cli Co',
      '--origins',
      'https://shop.example, http://localhost:8080',
      '--json',
    ]);
    assert.equal(org.code, 0, org.stderr);
    const { organization_id } = lastJsonLine(org.stdout) as { organization_id: string };
    const saved = await database.prisma.organization.findUniqueOrThrow({ where: { id: organization_id } });
    assert.equal(saved.name, 'Cli Co');
    assert.deepEqual(saved.allowedOrigins, ['https://shop.example', 'http://localhost:8080']);
    assert.match(saved.widgetPublicKey, /^pk_/);
    assert.doesNotMatch(saved.tenantSecretEnc, /^sk_/, 'tenant secret is stored encrypted');

    const email = `Agent.${Date.now()}@Example.com`;
    const agent = await cli([
      'create-agent',
      '--org',
      organization_id,
      '--email',
      email,
      '--password',
      'pa55word!',
      '--role',
      'admin',
      '--name',
      'Ada',
      '--json',
    ]);
    assert.equal(agent.code, 0, agent.stderr);
    const { user_id } = lastJsonLine(agent.stdout) as { user_id: string };
    const user = await database.prisma.user.findUniqueOrThrow({ where: { id: user_id } });
    assert.equal(user.email, email.toLowerCase());
    assert.equal(user.role, 'admin');
    assert.equal(user.displayName, 'Ada');
    assert.equal(await verifyPassword(user.passwordHash!, 'pa55word!'), true);

    const tok = await cli([
      'create-embed-token',
      '--org',
      organization_id,
      '--origins',
      'https://shop.example',
      '--name',
      'Shop',
      '--json',
    ]);
    assert.equal(tok.code, 0, tok.stderr);
    const t = lastJsonLine(tok.stdout) as { token: string; channel_id: string; bot_id: string };
    assert.match(t.token, /^ew_/);
    const stored = await database.prisma.embedToken.findUniqueOrThrow({
      where: { tokenHash: sha256Hex(t.token) },
    });
    assert.equal(stored.channelId, t.channel_id);
    assert.deepEqual(stored.allowedOrigins, ['https://shop.example']);
    const channel = await database.prisma.channel.findUniqueOrThrow({ where: { id: t.channel_id } });
    assert.equal(channel.type, 'webchat');
    assert.equal(channel.botId, t.bot_id);

    // A second token for the same bot reuses its web-chat channel.
    const tok2 = lastJsonLine((await cli(['create-embed-token', '--org', organization_id, '--json'])).stdout);
    assert.equal(tok2.channel_id, t.channel_id);
    assert.notEqual(tok2.token, t.token);
  });

  test('bad arguments get a clear message, exit code 2, and change nothing', async () => {
    const org = lastJsonLine((await cli(['create-org', '--name', 'Bad Args Co', '--json'])).stdout)
      .organization_id as string;
    const before = await counts(org);
    const cases: [string[], RegExp][] = [
      [[], /a command is required/],
      [['launch-rockets'], /unknown command 'launch-rockets'/],
      [['create-org'], /missing --name/],
      [['create-org', '--name', 'x', '--colour', 'red'], /Unknown option '--colour'/],
      [['create-org', '--name', 'x', '--origins', 'not an origin'], /origins.*not an origin/i],
      [
        ['create-agent', '--org', org, '--email', 'a@b.co', '--password', 'pa55word', '--role', 'boss'],
        /'role'.*owner, admin, agent/,
      ],
      [
        ['create-agent', '--org', org, '--email', 'nope', '--password', 'pa55word', '--role', 'agent'],
        /'email'/,
      ],
      [
        ['create-agent', '--org', org, '--email', 'a@b.co', '--password', 'short', '--role', 'agent'],
        /'password'.*8 characters/,
      ],
      [
        ['create-agent', '--org', 'xyz', '--email', 'a@b.co', '--password', 'pa55word', '--role', 'agent'],
        /'organizationId'.*UUID/,
      ],
      [
        [
          'create-agent',
          '--org',
          '00000000-0000-4000-8000-000000000000',
          '--email',
          'a@b.co',
          '--password',
          'pa55word',
          '--role',
          'agent',
        ],
        /Organization not found/,
      ],
      [
        ['create-embed-token', '--org', org, '--bot', '00000000-0000-4000-8000-000000000000'],
        /Bot not found/,
      ],
      [
        [
          'create-agent',
          '--org',
          org,
          '--email',
          'a@b.co',
          '--password',
          'pa55word',
          '--role',
          'agent',
          '--routing-keys',
          `store-1,${'k'.repeat(101)}`,
        ],
        /'routingKeys\.1'/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => cli([...args, '--json'])));
    for (const [i, [args, re]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.match(String(lastJsonLine(r.stdout).error), re);
    }
    assert.deepEqual(await counts(org), before);
  });

  test('create-agent --routing-keys restricts the agent to those queues', async () => {
    const org = lastJsonLine((await cli(['create-org', '--name', 'Queues Co', '--json'])).stdout)
      .organization_id as string;
    const args = ['--org', org, '--password', 'pa55word!', '--role', 'agent'];
    const r = await cli([
      'create-agent',
      ...args,
      '--email',
      `store.${randomUUID()}@example.com`,
      '--routing-keys',
      'store-7, store-12,store-7,',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = lastJsonLine(r.stdout) as { user_id: string; routing_keys: string[] };
    assert.deepEqual(out.routing_keys, ['store-7', 'store-12']);
    const user = await database.prisma.user.findUniqueOrThrow({ where: { id: out.user_id } });
    assert.deepEqual(user.routingKeys, ['store-7', 'store-12']);
    // Without the option: every queue; the plain output says so.
    const plain = await cli(['create-agent', ...args, '--email', `all.${randomUUID()}@example.com`]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^routing_keys: \(none\)$/m);
  });

  test('create-org without --json prints the three credentials, one per line', async () => {
    const r = await cli(['create-org', '--name', 'Plain Co']);
    assert.equal(r.code, 0, r.stderr);
    const line = (key: string) => new RegExp(`^${key}: (\\S+)$`, 'm').exec(r.stdout)?.[1];
    const id = line('tenant_id');
    assert.ok(id, r.stdout);
    assert.equal(line('organization_id'), id);
    assert.match(line('widget_public_key') ?? '', /^pk_/);
    assert.match(line('tenant_secret') ?? '', /^sk_/);
    const saved = await database.prisma.organization.findUniqueOrThrow({ where: { id } });
    assert.equal(saved.name, 'Plain Co');
  });

  test('an email already in use is refused with exit code 2', async () => {
    const org = lastJsonLine((await cli(['create-org', '--name', 'Dup Co', '--json'])).stdout)
      .organization_id as string;
    const email = `dup.${Date.now()}@example.com`;
    const args = [
      'create-agent',
      '--org',
      org,
      '--email',
      email,
      '--password',
      'pa55word',
      '--role',
      'agent',
    ];
    assert.equal((await cli(args)).code, 0);
    const again = await cli(args);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
  });

  test('create-org prints the credentials once; suspend, identity mode and rotation reach running nodes', async () => {
    const created = await cli(['create-org', '--name', 'Keys Co', '--identity-mode', 'off', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const c = lastJsonLine(created.stdout) as Record<string, string>;
    assert.match(c.tenant_secret!, /^sk_[\w-]{40,}$/);
    assert.match(c.widget_public_key!, /^pk_/);
    // The relay's three credentials: tenant_id is the organization id (kept under its older name
    // too), a UUID v7 as the relay's documents show it.
    assert.equal(c.tenant_id, c.organization_id);
    assert.equal(uuidVersion(c.tenant_id!), 7);
    assert.equal(c.identity_mode, 'off');
    assert.match(c.notice!, /shown once/);
    const saved = await database.prisma.organization.findUniqueOrThrow({ where: { id: c.organization_id! } });
    assert.equal(decryptSecret(Buffer.from('22'.repeat(32), 'hex'), saved.tenantSecretEnc), c.tenant_secret);
    assert.ok(!saved.tenantSecretEnc.includes(c.tenant_secret!));

    const rotated = lastJsonLine(
      (await cli(['rotate-secret', '--org', c.organization_id!, '--grace-hours', '1', '--json'])).stdout,
    ) as Record<string, string>;
    assert.notEqual(rotated.tenant_secret, c.tenant_secret);
    const after = await database.prisma.organization.findUniqueOrThrow({ where: { id: c.organization_id! } });
    assert.equal(
      decryptSecret(Buffer.from('22'.repeat(32), 'hex'), after.tenantSecretEnc),
      rotated.tenant_secret,
    );
    assert.equal(after.tenantSecretPrevEnc, saved.tenantSecretEnc);
    assert.ok(Math.abs(Date.parse(rotated.previous_secret_valid_until!) - Date.now() - 3_600_000) < 60_000);

    // A node is running with Redis; the CLI's suspension disconnects its sockets there.
    const prefix = `sb:cli:${randomUUID().slice(0, 8)}`;
    const app = await startApp(database, { redis: true, env: { REALTIME_REDIS_PREFIX: prefix } });
    try {
      const { org, channelId } = await createOrg(app.services);
      const conv = await createConversation(app.services, { organizationId: org.id, channelId });
      const visitor = await connectSocket(app.url);
      const joined = await emitAck(visitor, 'join_conversation', {
        conversation_id: conv.conversation.id,
        external_id: conv.externalId,
      });
      assert.equal(joined.ok, true);
      const gone = new Promise<string>((resolve) => visitor.once('disconnect', resolve));
      const env = { ...pgEnv(), REDIS_URL: 'redis://127.0.0.1:6379', REALTIME_REDIS_PREFIX: prefix };
      const suspended = await cli(['suspend-org', '--org', org.id, '--json'], env);
      assert.equal(suspended.code, 0, suspended.stderr);
      assert.equal(lastJsonLine(suspended.stdout).status, 'suspended');
      assert.equal(await gone, 'io server disconnect');
      const again = await connectSocket(app.url);
      const refused = await emitAck(again, 'join_conversation', {
        conversation_id: conv.conversation.id,
        external_id: conv.externalId,
      });
      assert.equal(refused.error, 'organization/suspended');
      again.disconnect();
      const back = await cli(['reactivate-org', '--org', org.id, '--json'], env);
      assert.equal(lastJsonLine(back.stdout).status, 'active');

      // A stricter identity mode from the CLI: the app's unproven users must prove themselves.
      await cli(['set-identity-mode', '--org', org.id, '--mode', 'off'], env);
      const bare = `kiosk-${randomUUID()}`;
      const k = await createConversation(app.services, {
        organizationId: org.id,
        channelId,
        externalId: bare,
      });
      await database.prisma.endUser.update({ where: { id: k.endUser.id }, data: { verifiedAt: null } });
      const kiosk = await connectSocket(app.url);
      assert.equal(
        (await emitAck(kiosk, 'join_conversation', { conversation_id: k.conversation.id, external_id: bare }))
          .ok,
        true,
      );
      const kicked = new Promise<string>((resolve) => kiosk.once('disconnect', resolve));
      const strict = await cli(['set-identity-mode', '--org', org.id, '--mode', 'verified', '--json'], env);
      assert.equal(strict.code, 0, strict.stderr);
      assert.equal(await kicked, 'io server disconnect');
      const bad = await cli(['set-identity-mode', '--org', org.id, '--mode', 'lax', '--json'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /anonymous, verified or off/);
      const badOrg = await cli(['suspend-org', '--org', 'nope', '--json'], env);
      assert.equal(badOrg.code, 2);
      assert.match(badOrg.stderr, /UUID/);
    } finally {
      await app.stop();
    }
  });

  test('works on the embedded database too, and migrate reports what it applied', async () => {
    const env = { DATA_DIR: mkdtempSync(path.join(tmpdir(), 'cli-')) };
    const first = await cli(['migrate', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      lastJsonLine(first.stdout).applied,
      readMigrations().map((m) => m.name),
    );
    assert.deepEqual(lastJsonLine((await cli(['migrate', '--json'], env)).stdout).applied, []);
    const org = await cli(['create-org', '--name', 'Embedded Co', '--json'], env);
    assert.equal(org.code, 0, org.stderr);
    assert.match(String(lastJsonLine(org.stdout).organization_id), /^[0-9a-f-]{36}$/);
  });
});
