// A counting, fault-injecting proxy in front of the run's S3 endpoint, with a
// client that talks through it. Runs in the test-file process, main thread.
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { startS3Proxy, type FaultRule, type S3Proxy } from '../../dist/lib/dev/s3-harness/s3-proxy.js';
import { testS3 } from './s3.js';

export interface TestProxy {
  proxy: S3Proxy;
  /** A client pointed at the proxy (it signs for the proxy's host:port). */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
}

export async function startTestProxy(rule?: FaultRule): Promise<TestProxy> {
  const s3 = testS3();
  const proxy = await startS3Proxy({ upstream: s3.endpoint, credentials: s3.credentials, rule });
  return { proxy, client: (overrides = {}) => s3.client({ endpoint: proxy.endpoint, ...overrides }) };
}
