// Pins an object at open with its first GET: one ranged GET of the object's
// first bytes answers the size (Content-Range's total), the ETag that every
// later GET sends as If-Match (rule 9), and those bytes, which the mapping
// keeps so the first chunk costs no second request. A HEAD follows only when
// that answer lacks what a pin needs: no Content-Range, no ETag, or 416 (an
// empty object has no byte 0). A HEAD error has no body, so a bare 404/403 is
// asked again as a one-byte GET, whose answer names the S3 code. Fault worker
// thread, inside the S3 source's open(), while the libuv pool may still be used.
import type { Readable } from 'node:stream';
import {
  GetObjectCommand, HeadObjectCommand, type GetObjectCommandOutput, type HeadObjectCommandOutput, type S3Client,
} from '@aws-sdk/client-s3';
import type { RetryPolicy } from '../shared/defaults.js';
import { S3MmapError } from '../shared/errors.js';
import type { SourceInfo } from '../sources/source.js';
import { failureOf, isRetryable, type Failure } from './failures.js';
import { copyBody } from './ranged-get.js';
import { sleep, withRetries } from './retry.js';

export interface PinRequest {
  client: S3Client;
  bucket: string;
  key: string;
  retry: RetryPolicy;
  /** open()'s deadline, close() and the caller's abort in one. */
  deadline: AbortSignal;
  /** Bytes from the object's start the first GET asks for (at least one). */
  firstBytes: number;
  error: (code: string, message: string) => S3MmapError;
  where: { endpoint: string; url: string };
}

export interface Pinned {
  info: SourceInfo;
  /** Bytes [0, first.length) of the pinned version, when the first GET pinned it. */
  first?: Buffer;
}

/** The request an open failed on (its error is the SDK's, or the probe's when that says more). */
export class PinFailure extends Error {
  constructor(
    readonly request: 'GET' | 'HEAD',
    readonly cause: unknown,
  ) {
    super(`${request} failed`);
  }
}

/** The pinned size, ETag and metadata, with the first GET's bytes when it pinned them. */
export async function pinObject(p: PinRequest): Promise<Pinned> {
  return (await firstGet(p)) ?? { info: pinFromHead(await head(p), p) };
}

/** Opening fails fast where a read would retry: on our own timeout (the
 *  open's deadline is the bound) and on a refused connection. */
function retryableAtOpen(f: Failure, p: PinRequest): boolean {
  return !p.deadline.aborted && isRetryable(f) && f.code !== 'ETIMEDOUT';
}

/** undefined when the answer cannot pin the object (or the object is empty): ask HEAD. */
async function firstGet(p: PinRequest): Promise<Pinned | undefined> {
  const want = Math.max(1, p.firstBytes);
  try {
    return await withRetries({
      policy: p.retry,
      attempt: () => getOnce(p, want),
      retryable: (f) => retryableAtOpen(f, p),
      pause: (ms) => sleep(ms, p.deadline),
      giveUp: (f) => f.cause,
    });
  } catch (err) {
    if (err instanceof S3MmapError) throw err;
    const f = failureOf(err);
    if (f.status === 416 || f.code === 'InvalidRange') return undefined;
    throw new PinFailure('GET', err);
  }
}

async function getOnce(p: PinRequest, want: number): Promise<Pinned | undefined> {
  let body: Readable | undefined;
  try {
    // No If-Match: there is no ETag to match yet; this answer names it.
    const out = await p.client.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.key, Range: `bytes=0-${want - 1}` }), { abortSignal: p.deadline });
    body = out.Body as Readable | undefined;
    const size = sizeOf(out, want);
    if (size === undefined || !out.ETag || !body) return undefined;
    const info = { size, version: out.ETag, meta: metaOf(out) };
    // A server that ignores Range (200) sends the whole object: kept only when it is no more than was asked for.
    const length = Math.min(size, want);
    if (out.ContentLength !== length) return { info };
    const first = Buffer.allocUnsafe(length);
    await copyBody(body, { into: first, length, signal: p.deadline, onBytes: () => {}, error: p.error, where: p.where });
    return { info, first };
  } finally {
    // A body left unread holds its socket; an ended one goes back to the pool.
    if (body && !body.readableEnded) body.destroy();
  }
}

/** The object's size from a 206's Content-Range ('bytes 0-E/T', E the last byte
 *  asked for or T-1), or from a 200's Content-Length; undefined otherwise. */
function sizeOf(out: GetObjectCommandOutput, want: number): number | undefined {
  const status = out.$metadata.httpStatusCode;
  if (status === 200) return isSize(out.ContentLength) ? out.ContentLength : undefined;
  const m = status === 206 ? /^bytes 0-(\d+)\/(\d+)$/.exec(out.ContentRange ?? '') : null;
  if (!m) return undefined;
  const [end, total] = [Number(m[1]), Number(m[2])];
  return isSize(total) && end === Math.min(want, total) - 1 ? total : undefined;
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

async function head(p: PinRequest): Promise<HeadObjectCommandOutput> {
  return withRetries({
    policy: p.retry,
    attempt: () => p.client.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.key }), { abortSignal: p.deadline }),
    retryable: (f) => retryableAtOpen(f, p),
    pause: (ms) => sleep(ms, p.deadline),
    giveUp: async (f) => new PinFailure('HEAD', await explainHeadFailure(f, p)),
  });
}

/** A one-byte GET of the same key fails the same way as a bodiless HEAD but
 *  says why: NoSuchBucket or NoSuchKey, AccessDenied, InvalidAccessKeyId or SignatureDoesNotMatch. */
async function explainHeadFailure(f: Failure, p: PinRequest): Promise<unknown> {
  if (f.status === undefined || f.code !== String(f.status) || p.deadline.aborted) return f.cause;
  try {
    const probe = await p.client.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.key, Range: 'bytes=0-0' }), { abortSignal: p.deadline });
    (probe.Body as Readable | undefined)?.destroy();
  } catch (probeErr) {
    const q = failureOf(probeErr);
    if (q.status === f.status && q.code !== String(q.status)) return probeErr;
  }
  return f.cause;
}

function pinFromHead(head: HeadObjectCommandOutput, p: PinRequest): SourceInfo {
  const { endpoint, url } = p.where;
  if (!isSize(head.ContentLength)) {
    throw p.error('BadResponse', `s3mmap: HEAD ${url} at ${endpoint} returned no usable Content-Length; the endpoint does not behave like S3`);
  }
  if (!head.ETag) {
    throw p.error('NoETag', `s3mmap: HEAD ${url} at ${endpoint} returned no ETag, so the object cannot be pinned against changes; use an S3 server that sends ETags`);
  }
  return { size: head.ContentLength, version: head.ETag, meta: metaOf(head) };
}

function metaOf(out: { LastModified?: Date; ContentType?: string }): Record<string, string | number> {
  const meta: Record<string, string | number> = {};
  if (out.LastModified) meta.lastModified = out.LastModified.toISOString();
  if (out.ContentType) meta.contentType = out.ContentType;
  return meta;
}
