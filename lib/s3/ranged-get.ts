// One ranged GET of a pinned object into a caller's buffer, accepted only
// whole: status 206, the Content-Range asked for, exactly that many body
// bytes, copied into place as they arrive (no whole-body buffer). Fault worker
// thread, inside the S3 source's retry loop: it throws S3MmapError for final
// outcomes and the raw error for anything the loop may retry. The body copy
// also serves the open's first GET (pin.ts).
import type { Readable } from 'node:stream';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { S3MmapError } from '../shared/errors.js';

export interface RangedGet {
  client: S3Client;
  bucket: string;
  key: string;
  /** Pinned at open: sent as If-Match, and the size Content-Range must name. */
  etag: string;
  size: number;
  offset: number;
  length: number;
  into: Uint8Array;
  signal: AbortSignal;
  /** Counts body bytes as they arrive, those of attempts that fail later included. */
  onBytes: (n: number) => void;
  /** Bytes `into[0..n)` are in place: only after the status, Content-Range
   *  and length were checked, so they are the pinned version's bytes. */
  placed?: (n: number) => void;
  /** Names the endpoint and the object in messages; scrubs them. */
  error: (code: string, message: string, opts?: { status?: number; cause?: unknown }) => S3MmapError;
  where: { endpoint: string; url: string };
}

export async function rangedGet(g: RangedGet): Promise<void> {
  const end = g.offset + g.length - 1;
  const { endpoint, url } = g.where;
  let body: Readable | undefined;
  try {
    const out: GetObjectCommandOutput = await g.client.send(
      new GetObjectCommand({ Bucket: g.bucket, Key: g.key, Range: `bytes=${g.offset}-${end}`, IfMatch: g.etag }),
      { abortSignal: g.signal },
    );
    body = out.Body as Readable | undefined;
    const status = out.$metadata.httpStatusCode;
    const expectedRange = `bytes ${g.offset}-${end}/${g.size}`;
    if (status !== 206 || out.ContentRange !== expectedRange || out.ContentLength !== g.length || !body) {
      throw g.error('BadRangeResponse', status === 200
        ? `s3mmap: ${endpoint} answered a ranged GET of ${url} bytes ${g.offset}-${end} with HTTP 200 and the whole object (BadRangeResponse); use an S3 server or proxy that honours Range headers`
        : `s3mmap: ${endpoint} answered a ranged GET of ${url} with HTTP ${status}, Content-Range '${out.ContentRange ?? ''}' and Content-Length ${out.ContentLength ?? 'none'} instead of 206 '${expectedRange}' and ${g.length} (BadRangeResponse); the server or a proxy is mangling ranged responses`,
      { status });
    }
    await copyBody(body, g);
  } finally {
    // A body left unread holds its socket; an ended one goes back to the pool.
    if (body && !body.readableEnded) body.destroy();
  }
}

/** Resolves only with exactly `length` bytes in `into`. Also reads the open's first GET (pin.ts). */
export function copyBody(body: Readable, g: Pick<RangedGet, 'into' | 'length' | 'signal' | 'onBytes' | 'placed' | 'error' | 'where'>): Promise<void> {
  const { into, length, signal } = g;
  return new Promise<void>((resolve, reject) => {
    let pos = 0;
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onEnd);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      g.onBytes(chunk.length);
      if (pos + chunk.length > length) {
        finish(g.error('BadRangeResponse', `s3mmap: ${g.where.endpoint} sent more than the ${length} bytes it announced for ${g.where.url} (BadRangeResponse); the server or a proxy is mangling ranged responses`));
        return;
      }
      into.set(chunk, pos);
      pos += chunk.length;
      g.placed?.(pos);
    };
    const onEnd = () => {
      if (pos === length) finish();
      else finish(Object.assign(new Error(`the body ended after ${pos} of ${length} bytes`), { code: 'TruncatedBody' }));
    };
    const onError = (err: NodeJS.ErrnoException) =>
      finish(Object.assign(new Error(`the body broke off after ${pos} of ${length} bytes: ${err.message}`), {
        code: err.code === 'ECONNRESET' || err.code === undefined ? 'TruncatedBody' : err.code,
        cause: err,
      }));
    const onAbort = () => finish(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    body.on('data', onData).once('end', onEnd).once('error', onError).once('close', onEnd);
  });
}
