// Test-side access to the run's S3 endpoint (started by test/global-setup.ts).
// Runs in each vitest test-file process, on its main thread.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { createBucket } from '../../dist/lib/dev/minio-server.js';

export interface S3Env {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** True when S3MMAP_TEST_ENDPOINT pointed the run at a server we did not start. */
  external: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3Env;
  }
}

export interface TestS3 extends S3Env {
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A path-style client; `overrides` e.g. `{ maxAttempts: 1 }` or another endpoint (a proxy). */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  /** Create a bucket no other test (or earlier run against a kept server) uses; returns its name. */
  uniqueBucket(prefix?: string): Promise<string>;
}

export function testS3(): TestS3 {
  const env = inject('s3');
  const credentials = { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey };
  const client = (overrides: Partial<S3ClientConfig> = {}) => new S3Client({
    endpoint: env.endpoint, region: env.region, forcePathStyle: true, credentials, ...overrides,
  });
  let admin: S3Client | undefined;
  return {
    ...env,
    credentials,
    client,
    async uniqueBucket(prefix = 't') {
      const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20);
      const name = `s3mmap-${clean}-${process.pid}-${randomBytes(4).toString('hex')}`;
      await createBucket((admin ??= client()), name);
      return name;
    },
  };
}
