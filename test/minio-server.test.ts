// The S3 server the other suites rely on, and lib/dev/minio-server.ts itself.
// Runs in a vitest fork (its main thread).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, findOrBuildMinio, putObject, startMinio } from '../dist/lib/dev/minio-server.js';
import { testS3 } from './helpers/s3.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('the run\'s S3 endpoint', () => {
  const s3 = testS3();
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 's3mmap-test-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it.skipIf(s3.external)('is live', async () => {
    const res = await fetch(`${s3.endpoint}/minio/health/live`);
    expect(res.status).toBe(200);
  });

  it('creates a bucket, uploads a file and a buffer, downloads the same bytes', async () => {
    const bucket = await s3.uniqueBucket('roundtrip');
    const client = s3.client();
    await client.send(new HeadBucketCommand({ Bucket: bucket }));

    // An odd size, so nothing lines up with a part or page boundary by luck.
    const data = randomBytes(3 * 1024 * 1024 + 12345);
    const file = join(dir, 'object.bin');
    await writeFile(file, data);
    await putObject(client, bucket, 'from-file', file);
    await putObject(client, bucket, 'from-buffer', data.subarray(0, 1000));

    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'from-file' }));
    expect(got.ContentLength).toBe(data.length);
    expect(sha256(await got.Body!.transformToByteArray())).toBe(sha256(data));

    const small = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'from-buffer' }));
    expect(sha256(await small.Body!.transformToByteArray())).toBe(sha256(data.subarray(0, 1000)));
  });
});

describe.skipIf(testS3().external)('startMinio', () => {
  it('finds the binary and reports its version', async () => {
    const bin = await findOrBuildMinio({ build: false });
    expect(existsSync(bin.path)).toBe(true);
    expect(bin.version).toMatch(/^minio version /);
  });

  it('keeps a fixed data folder across restarts and removes a temporary one', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 's3mmap-kept-'));
    try {
      const a = await startMinio({ dataDir });
      await createBucket(a.client(), 'kept');
      await putObject(a.client(), 'kept', 'k', Buffer.from('still here'));
      await a.stop();
      expect(() => process.kill(a.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' })); // the process is gone, not merely unsignalable

      const b = await startMinio({ dataDir });
      expect(b.accessKeyId).not.toBe(a.accessKeyId);
      const list = await b.client().send(new ListObjectsV2Command({ Bucket: 'kept' }));
      expect(list.Contents?.map((o) => o.Key)).toEqual(['k']);
      await b.stop();

      const c = await startMinio();
      expect(existsSync(c.dataDir)).toBe(true);
      await c.stop();
      expect(existsSync(c.dataDir)).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
