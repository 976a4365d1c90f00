// The @aws-sdk/client-s3 client the JS peers use (GetObject, parallel ranged
// download, one GET per read), built in the cell process on its main thread.
// Same settings as s3mmap's own client: keep-alive sockets, no whole-object
// checksum validation (ranged GETs have none to check).
import http from 'node:http';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Target } from './types.js';

export function peerClient(t: S3Target, sockets = 16): S3Client {
  return new S3Client({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: true,
    credentials: t.credentials,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: sockets }) }),
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

export async function headSize(client: S3Client, t: S3Target): Promise<{ size: number; etag: string }> {
  const h = await client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key }));
  return { size: Number(h.ContentLength), etag: h.ETag ?? '' };
}

/** GET [offset, offset+length) into `into` at `at`; checks the Content-Range and the byte count. */
export async function getRange(
  client: S3Client, t: S3Target, into: Uint8Array, at: number, offset: number, length: number, etag?: string,
): Promise<void> {
  const out = await client.send(new GetObjectCommand({
    Bucket: t.bucket, Key: t.key, Range: `bytes=${offset}-${offset + length - 1}`, IfMatch: etag,
  }));
  if (!out.ContentRange?.startsWith(`bytes ${offset}-${offset + length - 1}/`)) {
    throw new Error(`ranged GET ${offset}+${length}: Content-Range is ${out.ContentRange ?? 'missing'}`);
  }
  await readBody(out.Body, into, at, length);
}

/** Copies a response body into `into` at `at`; it must be exactly `length` bytes. */
export async function readBody(body: unknown, into: Uint8Array, at: number, length: number): Promise<void> {
  let n = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (n + chunk.length > length) throw new Error(`GET returned more than ${length} bytes`);
    into.set(chunk, at + n);
    n += chunk.length;
  }
  if (n !== length) throw new Error(`GET returned ${n} of ${length} bytes`);
}

/** Warm-up for the SDK peers: a throwaway client HEADs and GETs the warm-up
 *  object, so the SDK's code is loaded and initialized before the clock. */
export async function sdkWarmup(t: S3Target, warmupKey: string): Promise<void> {
  const client = peerClient(t, 1);
  const w = { ...t, key: warmupKey };
  const { size } = await headSize(client, w);
  await getRange(client, w, new Uint8Array(size), 0, 0, size);
  client.destroy();
}
