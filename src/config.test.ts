import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

const pgEnv = {
  DATABASE_URL: 'postgres://u@localhost/db',
  SESSION_SECRET: 's'.repeat(32),
  ENCRYPTION_KEY: 'ab'.repeat(32),
};
const tmp = () => mkdtempSync(path.join(tmpdir(), 'cfg-'));

describe('config', () => {
  test('defaults: port 3000, embedded database, info logs, public URL from the port', () => {
    const dir = tmp();
    const c = loadConfig({ DATA_DIR: dir });
    assert.equal(c.port, 3000);
    assert.equal(c.dbMode, 'embedded');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.publicUrl, 'http://localhost:3000');
    assert.equal(c.encryptionKey.length, 32);
    assert.equal(c.listenBacklog, 4096);
    assert.equal(c.idleMemoryMode, false);
    assert.equal(loadConfig({ DATA_DIR: dir, IDLE_MEMORY_MODE: 'on' }).idleMemoryMode, true);
  });

  test('every bad value stops start-up with one line naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'abc' }, /^PORT: /],
      [{ PORT: '70000' }, /^PORT: /],
      [{ DATABASE_URL: 'mysql://x/y' }, /^DATABASE_URL: must be a URL starting with postgres:/],
      [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL: /],
      [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
      [{ PUBLIC_URL: 'ftp://x' }, /^PUBLIC_URL: /],
      [{ SESSION_SECRET: 'short' }, /^SESSION_SECRET: must be at least 32 characters/],
      [{ ENCRYPTION_KEY: 'abcd' }, /^ENCRYPTION_KEY: must be 32 bytes/],
      [{ LISTEN_BACKLOG: '0' }, /^LISTEN_BACKLOG: /],
      [{ IDLE_MEMORY_MODE: 'yes' }, /^IDLE_MEMORY_MODE: /],
    ];
    for (const [env, re] of cases) {
      assert.throws(
        () => loadConfig({ DATA_DIR: tmp(), ...env }),
        (err: Error) => err instanceof ConfigError && re.test(err.message) && !err.message.includes('\n'),
        JSON.stringify(env),
      );
    }
  });

  test('PostgreSQL mode requires the secrets, since every node must share them', () => {
    assert.throws(() => loadConfig({ DATABASE_URL: pgEnv.DATABASE_URL }), {
      message: /^SESSION_SECRET: required when DATABASE_URL/,
    });
    assert.throws(
      () => loadConfig({ DATABASE_URL: pgEnv.DATABASE_URL, SESSION_SECRET: pgEnv.SESSION_SECRET }),
      { message: /^ENCRYPTION_KEY: required/ },
    );
    const c = loadConfig(pgEnv);
    assert.equal(c.dbMode, 'postgres');
    assert.equal(c.encryptionKey.toString('hex'), 'ab'.repeat(32));
  });

  test('embedded mode generates its secrets once, keeps them private in DATA_DIR, and reuses them', () => {
    const dir = tmp();
    const a = loadConfig({ DATA_DIR: dir });
    const file = path.join(dir, 'secrets.json');
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const b = loadConfig({ DATA_DIR: dir });
    assert.equal(a.sessionSecret, b.sessionSecret);
    assert.ok(a.encryptionKey.equals(b.encryptionKey));
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).SESSION_SECRET, a.sessionSecret);
    // A configured value wins over the kept one.
    assert.equal(loadConfig({ DATA_DIR: dir, SESSION_SECRET: 'z'.repeat(40) }).sessionSecret, 'z'.repeat(40));
  });

  test('an empty variable counts as unset; base64 keys are accepted', () => {
    const c = loadConfig({ ...pgEnv, PORT: '', ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') });
    assert.equal(c.port, 3000);
    assert.ok(c.encryptionKey.equals(Buffer.alloc(32, 1)));
  });

  test('attachments: local disk under DATA_DIR by default; S3 needs its bucket and both keys or neither', () => {
    const dir = tmp();
    const local = loadConfig({ ...pgEnv, DATA_DIR: dir });
    assert.deepEqual(local.attachments, {
      maxBytes: 26_214_400,
      storage: { driver: 'local', dir: path.join(dir, 'attachments') },
    });
    const s3 = loadConfig({
      ...pgEnv,
      STORAGE_DRIVER: 's3',
      S3_BUCKET: 'chat-files',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
      ATTACHMENT_MAX_BYTES: '5000000',
    });
    assert.deepEqual(s3.attachments, {
      maxBytes: 5_000_000,
      storage: {
        driver: 's3',
        bucket: 'chat-files',
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:9000',
        credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
        forcePathStyle: true,
      },
    });
    // Without keys: the SDK's own chain (an instance role).
    const role = loadConfig({ ...pgEnv, STORAGE_DRIVER: 's3', S3_BUCKET: 'chat-files' }).attachments.storage;
    assert.equal(role.driver === 's3' && role.credentials, undefined);
    const cases: [Record<string, string>, RegExp][] = [
      [{ STORAGE_DRIVER: 'ftp' }, /^STORAGE_DRIVER: /],
      [{ STORAGE_DRIVER: 's3' }, /^S3_BUCKET: required when STORAGE_DRIVER=s3$/],
      [{ STORAGE_DRIVER: 's3', S3_BUCKET: 'Bad_Bucket' }, /^S3_BUCKET: must be a bucket name/],
      [
        { STORAGE_DRIVER: 's3', S3_BUCKET: 'ok-bucket', S3_ACCESS_KEY_ID: 'id' },
        /^S3_SECRET_ACCESS_KEY: set both/,
      ],
      [{ S3_ENDPOINT: 'minio:9000' }, /^S3_ENDPOINT: must be a URL/],
      [{ S3_FORCE_PATH_STYLE: 'yes' }, /^S3_FORCE_PATH_STYLE: /],
      [{ ATTACHMENT_MAX_BYTES: '10' }, /^ATTACHMENT_MAX_BYTES: /],
    ];
    for (const [env, re] of cases) {
      assert.throws(
        () => loadConfig({ ...pgEnv, ...env }),
        (err: Error) => err instanceof ConfigError && re.test(err.message),
        JSON.stringify(env),
      );
    }
  });
});
