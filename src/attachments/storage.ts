import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';

/** Where attachment bytes live. Keys are ours (`{organization}/{attachment id}`), never a client's. */
export type Storage = {
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The stored bytes as a stream, with their length; `attachment/not_found` when they are gone. */
  get(key: string): Promise<{ stream: Readable; size: number }>;
  /** Removes the bytes; removing what is not there is not an error. */
  delete(key: string): Promise<void>;
};

const gone = () => new AppError('attachment/not_found', 'Attachment not found');

/** Keys are built from UUIDs; anything else could climb out of the directory. */
const KEY = /^[0-9a-f-]{36}\/[0-9a-f-]{36}$/;

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new Error(`attachment storage: bad key ${JSON.stringify(key)}`);
  return key;
}

/** Files under `dir` (DATA_DIR/attachments), one per key; written to a temporary name, then renamed. */
export function localStorage(dir: string): Storage {
  const fileOf = (key: string) => path.join(dir, checkKey(key));
  return {
    async put(key, bytes) {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, bytes, { mode: 0o600 });
      await rename(tmp, file);
    },
    async get(key) {
      const file = fileOf(key);
      const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw gone();
        throw err;
      });
      return { stream: createReadStream(file), size: info.size };
    },
    async delete(key) {
      await rm(fileOf(key), { force: true });
    },
  };
}

type S3Settings = Extract<Config['attachments']['storage'], { driver: 's3' }>;

/** An S3-compatible bucket (AWS, MinIO, R2, …) through the AWS SDK v3. */
export function s3Storage(s: S3Settings): Storage {
  const client = new S3Client({
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    // Checksums only where S3 requires them: MinIO, R2 and older gateways refuse the newer headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
  });
  return {
    async put(key, bytes, contentType) {
      await client.send(
        new PutObjectCommand({
          Bucket: s.bucket,
          Key: checkKey(key),
          Body: bytes,
          ContentType: contentType,
          ContentLength: bytes.length,
        }),
      );
    },
    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: checkKey(key) }));
        return { stream: out.Body as Readable, size: out.ContentLength ?? 0 };
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') throw gone();
        throw err;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: checkKey(key) }));
    },
  };
}

/** The driver the configuration names (STORAGE_DRIVER). */
export function createStorage(storage: Config['attachments']['storage']): Storage {
  return storage.driver === 's3' ? s3Storage(storage) : localStorage(storage.dir);
}
