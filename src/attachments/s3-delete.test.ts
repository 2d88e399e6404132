// The S3 driver's delete against a real S3-protocol server (s3rver): the driver removes an object
// and removing a missing one is no error; deleting an organization through the console's
// DELETE /api/organization purges its files from the bucket and leaves another tenant's alone.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { AppError } from '../shared/errors.js';
import { pdfBytes, pngBytes } from './attachments.fixtures.js';
import { s3Storage } from './storage.js';

const BUCKET = 'sb-attachments';

describe('the S3 driver deletes (s3rver)', () => {
  let t: TestApp;
  let s3: S3rver;
  let endpoint: string;
  let bucket: S3Client;
  before(async () => {
    s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: mkdtempSync(path.join(tmpdir(), 'sb-s3-del-')),
      configureBuckets: [{ name: BUCKET }],
    });
    const { port } = await s3.run();
    endpoint = `http://127.0.0.1:${port}`;
    bucket = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    t = await startApp(await dbModes[0]!.open(), {
      env: {
        STORAGE_DRIVER: 's3',
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: endpoint,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        S3_FORCE_PATH_STYLE: 'true',
      },
    });
  });
  after(async () => {
    bucket.destroy();
    await t.stop();
    await t.database.close();
    await s3.close();
  });

  /** The keys in the bucket under this organization's prefix. */
  const keysOf = async (organizationId: string) =>
    (
      (await bucket.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${organizationId}/` })))
        .Contents ?? []
    )
      .map((o) => o.Key!)
      .sort();
  const exists = (key: string) =>
    bucket.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
      () => true,
      (err: { name?: string }) => {
        if (err.name === 'NotFound' || err.name === 'NoSuchKey') return false;
        throw err;
      },
    );

  /** An organization whose owner is signed in, with `n` files uploaded into one conversation. */
  async function orgWithFiles(n: number) {
    const { org, channelId } = await createOrg(t.services);
    const owner = await createAgent(t.services, org.id, { role: 'owner' });
    const session = await loginAgent(t.url, owner.user.email, owner.password);
    const conv = await createConversation(t.services, { organizationId: org.id, channelId });
    for (let i = 0; i < n; i++) {
      const [bytes, name] = i % 2 ? [pdfBytes(), `doc-${i}.pdf`] : [pngBytes(8, 8), `pic-${i}.png`];
      const res = await fetch(`${t.url}/api/conversations/${conv.conversation.id}/attachments`, {
        method: 'POST',
        headers: {
          cookie: session.cookie,
          'x-csrftoken': session.csrf,
          'x-filename': name,
          'content-type': 'application/octet-stream',
        },
        body: new Uint8Array(bytes),
      });
      assert.equal(res.status, 201, await res.text());
    }
    return { org, session };
  }

  test('the driver: delete removes the object; deleting it again, or a key never stored, is no error', async () => {
    const storage = s3Storage({
      driver: 's3',
      bucket: BUCKET,
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const key = `${randomUUID()}/${randomUUID()}`;
    await storage.put(key, pngBytes(), 'image/png');
    assert.equal(await exists(key), true);
    await storage.delete(key);
    assert.equal(await exists(key), false);
    await assert.rejects(
      storage.get(key),
      (e: unknown) => e instanceof AppError && e.code === 'attachment/not_found',
    );
    await storage.delete(key);
    await storage.delete(`${randomUUID()}/${randomUUID()}`);
    await assert.rejects(storage.delete('../../etc/passwd'), /bad key/);
  });

  test('deleting an organization purges its files from the bucket, and only its own', async () => {
    const doomed = await orgWithFiles(3);
    const kept = await orgWithFiles(2);
    const doomedKeys = await keysOf(doomed.org.id);
    assert.equal(doomedKeys.length, 3);
    assert.equal((await keysOf(kept.org.id)).length, 2);

    const res = await fetch(`${t.url}/api/organization`, {
      method: 'DELETE',
      headers: {
        cookie: doomed.session.cookie,
        'x-csrftoken': doomed.session.csrf,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ confirm_name: doomed.org.name }),
    });
    assert.equal(res.status, 204, await res.text());
    assert.deepEqual(await keysOf(doomed.org.id), []);
    for (const key of doomedKeys) assert.equal(await exists(key), false);
    assert.equal(await t.database.prisma.attachment.count({ where: { organizationId: doomed.org.id } }), 0);

    // The other tenant's files are untouched and still download through the app.
    const keptRows = await t.database.prisma.attachment.findMany({ where: { organizationId: kept.org.id } });
    assert.equal(keptRows.length, 2);
    assert.deepEqual(await keysOf(kept.org.id), keptRows.map((r) => r.storageKey).sort());
    const { stream, size } = await t.services.attachments.storage.get(keptRows[0]!.storageKey);
    stream.resume();
    assert.ok(size > 0);
  });
});
