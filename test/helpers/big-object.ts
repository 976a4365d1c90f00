// Uploads an object whose bytes are a function of the offset
// (fixtures/content.mjs), any size, streaming: a multipart upload whose parts
// are generated one at a time, so a 4.5 GiB object costs 2 parts of memory,
// not 4.5 GiB, and no file. Runs in the test-file process, main thread.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { fillContent } from '../fixtures/content.mjs';

const PART = 64 * 1024 * 1024;
const PARALLEL = 2;

/** Returns the ETag. `client` should skip flexible checksums (requestChecksumCalculation: 'WHEN_REQUIRED'): CRC32 in JS is the slow part. */
export async function putGenerated(client: S3Client, bucket: string, key: string, size: number, seed: number): Promise<string> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts = Math.ceil(size / PART);
  const etags: string[] = new Array(parts);
  let next = 0;
  const lane = async () => {
    const body = Buffer.allocUnsafe(PART);
    for (let p = next++; p < parts; p = next++) {
      const offset = p * PART;
      const length = Math.min(PART, size - offset);
      fillContent(body, offset, length, seed);
      const out = await client.send(new UploadPartCommand({
        Bucket: bucket, Key: key, UploadId, PartNumber: p + 1, Body: body.subarray(0, length), ContentLength: length,
      }));
      etags[p] = out.ETag!;
    }
  };
  try {
    await Promise.all(Array.from({ length: PARALLEL }, lane));
    const done = await client.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: key, UploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }));
    return done.ETag!;
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw err;
  }
}
