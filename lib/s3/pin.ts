// Pins an object at open: HEAD (with the retry policy's attempts) gives the
// size and the ETag that every ranged GET will send as If-Match (rule 9). A
// HEAD error has no body, so a bare 404/403 is asked again as a one-byte GET,
// whose answer names the S3 code. Fault worker thread, inside the S3 source's
// open(), while the libuv pool may still be used.
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { RetryPolicy } from '../shared/defaults.js';
import type { S3MmapError } from '../shared/errors.js';
import type { SourceInfo } from '../sources/source.js';
import { failureOf, isRetryable, type Failure } from './failures.js';
import { backoffDelay, sleep } from './retry.js';
import { testHooks } from '../shared/test-hooks.js';

export interface PinRequest {
  client: S3Client;
  bucket: string;
  key: string;
  retry: RetryPolicy;
  /** open()'s deadline, close() and the caller's abort in one. */
  deadline: AbortSignal;
  error: (code: string, message: string) => S3MmapError;
  where: { endpoint: string; url: string };
}

/** The pinned size, ETag and metadata; throws the SDK's error (the probe's, when it says more). */
export async function pinObject(p: PinRequest): Promise<SourceInfo> {
  return pin(await head(p), p);
}

async function head(p: PinRequest): Promise<HeadObjectCommandOutput> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await p.client.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.key }), { abortSignal: p.deadline });
    } catch (err) {
      const f = failureOf(err);
      if (p.deadline.aborted || !isRetryable(f) || f.code === 'ETIMEDOUT' || attempt >= p.retry.attempts) {
        throw await explainHeadFailure(err, f, p);
      }
      await sleep(backoffDelay(attempt, p.retry, testHooks.jitter), p.deadline);
    }
  }
}

/** A one-byte GET of the same key fails the same way as a bodiless HEAD but
 *  says why: NoSuchBucket or NoSuchKey, AccessDenied, InvalidAccessKeyId or SignatureDoesNotMatch. */
async function explainHeadFailure(err: unknown, f: Failure, p: PinRequest): Promise<unknown> {
  if (f.status === undefined || f.code !== String(f.status) || p.deadline.aborted) return err;
  try {
    const probe = await p.client.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.key, Range: 'bytes=0-0' }), { abortSignal: p.deadline });
    (probe.Body as Readable | undefined)?.destroy();
  } catch (probeErr) {
    const q = failureOf(probeErr);
    if (q.status === f.status && q.code !== String(q.status)) return probeErr;
  }
  return err;
}

function pin(head: HeadObjectCommandOutput, p: PinRequest): SourceInfo {
  const { endpoint, url } = p.where;
  if (typeof head.ContentLength !== 'number' || !Number.isSafeInteger(head.ContentLength) || head.ContentLength < 0) {
    throw p.error('BadResponse', `s3mmap: HEAD ${url} at ${endpoint} returned no usable Content-Length; the endpoint does not behave like S3`);
  }
  if (!head.ETag) {
    throw p.error('NoETag', `s3mmap: HEAD ${url} at ${endpoint} returned no ETag, so the object cannot be pinned against changes; use an S3 server that sends ETags`);
  }
  const meta: Record<string, string | number> = {};
  if (head.LastModified) meta.lastModified = head.LastModified.toISOString();
  if (head.ContentType) meta.contentType = head.ContentType;
  return { size: head.ContentLength, version: head.ETag, meta };
}
