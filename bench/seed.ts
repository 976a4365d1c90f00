// Seeding: the benchmark objects, generated from a seed and uploaded to MinIO
// (multipart, parts generated on the fly), and local copies where a system
// needs a file. Orchestrator process, main thread. Uploads go to MinIO
// directly, not through the counting proxy.
import { closeSync, createReadStream, existsSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, PutObjectCommand,
  UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { BLOCK, fillBlocks } from './content.js';
import { inParts } from './parts.js';

const PART = 64 * 1024 * 1024;
const UPLOADS_IN_FLIGHT = 3;

/** A part of the object, [offset, offset+length), generated. */
function generatedPart(seed: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.ceil(length / BLOCK) * BLOCK);
  fillBlocks(seed, offset, buf);
  return buf.subarray(0, length);
}

type PartSource = (offset: number, length: number) => Buffer | Readable;

async function upload(client: S3Client, bucket: string, key: string, size: number, part: PartSource): Promise<void> {
  const existing = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
  if (existing && Number(existing.ContentLength) === size) return;
  if (size <= PART) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: part(0, size), ContentLength: size }));
    return;
  }
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts: Array<{ ETag: string; PartNumber: number }> = [];
  await inParts(size, PART, UPLOADS_IN_FLIGHT, async (offset, length) => {
    const PartNumber = offset / PART + 1;
    const out = await client.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId, PartNumber, Body: part(offset, length), ContentLength: length,
    }));
    parts.push({ ETag: out.ETag!, PartNumber });
  });
  parts.sort((a, b) => a.PartNumber - b.PartNumber);
  await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
}

/** Uploads the seeded object of `size` bytes under `key`. */
export function uploadGenerated(client: S3Client, bucket: string, key: string, size: number, seed: number): Promise<void> {
  return upload(client, bucket, key, size, (offset, length) => generatedPart(seed, offset, length));
}

/** Uploads a local file under `key`, streamed part by part. */
export function uploadFile(client: S3Client, bucket: string, key: string, path: string): Promise<void> {
  const size = statSync(path).size;
  return upload(client, bucket, key, size, (offset, length) => createReadStream(path, { start: offset, end: offset + length - 1 }));
}

/** Writes the seeded object to a local file unless a file of that size is there. */
export async function writeGenerated(path: string, size: number, seed: number): Promise<void> {
  if (existsSync(path) && statSync(path).size === size) return;
  await mkdir(dirname(path), { recursive: true });
  const tmp = path + '.part';
  const fd = openSync(tmp, 'w');
  try {
    for (let offset = 0; offset < size; offset += PART) {
      const part = generatedPart(seed, offset, Math.min(PART, size - offset));
      let n = 0;
      while (n < part.length) n += writeSync(fd, part, n, part.length - n, offset + n);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
