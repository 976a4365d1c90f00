// Vitest globalSetup: one S3 endpoint for the whole test run, handed to test
// files through provide/inject. Runs in the vitest main process; the MinIO it
// starts is a child of that process and is stopped in the teardown.
// With S3MMAP_TEST_ENDPOINT set, that endpoint is used and nothing is started.
import type { TestProject } from 'vitest/node';
import { startMinio, type MinioServer } from '../dist/lib/dev/minio-server.js';
import type { S3Env } from './helpers/s3.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.S3MMAP_TEST_ENDPOINT;
  let server: MinioServer | undefined;
  let env: S3Env;
  if (external) {
    const accessKeyId = process.env.S3MMAP_TEST_ACCESS_KEY_ID;
    const secretAccessKey = process.env.S3MMAP_TEST_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new Error('S3MMAP_TEST_ENDPOINT needs S3MMAP_TEST_ACCESS_KEY_ID and S3MMAP_TEST_SECRET_ACCESS_KEY');
    }
    env = { endpoint: external, accessKeyId, secretAccessKey, region: process.env.S3MMAP_TEST_REGION || 'us-east-1', external: true };
  } else {
    server = await startMinio();
    const { endpoint, accessKeyId, secretAccessKey, region } = server;
    env = { endpoint, accessKeyId, secretAccessKey, region, external: false };
  }
  project.provide('s3', env);
  return async () => { await server?.stop(); };
}
